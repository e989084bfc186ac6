// swift-tools-version:6.0
// The TCA4Rec offline data pipeline. Layering (ARCHITECTURE.md §6): executables → StageCommands →
// stage modules / PipelineGraph → ArtifactFormats → PipelineCore; only a wrapper imports its C module.
import PackageDescription

let strictSettings: [SwiftSetting] = [
  .unsafeFlags(["-warnings-as-errors"], .when(configuration: .release))
]

func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
  .systemLibrary(name: name, path: "Sources/\(name)", pkgConfig: pkgConfig, providers: [.apt([apt])])
}

let package = Package(
  name: "tca4rec-pipeline",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "tca", targets: ["tca"]),
    .executable(name: "tca-ingest", targets: ["tca-ingest"]),
    .executable(name: "tca-prepare", targets: ["tca-prepare"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
  ],
  targets: [
    // C libraries: module map + shim header only.
    systemLibrary("CSQLite", pkgConfig: "sqlite3", apt: "libsqlite3-dev"),
    systemLibrary("CZstd", pkgConfig: "libzstd", apt: "libzstd-dev"),
    systemLibrary("COpenBLAS", pkgConfig: "openblas", apt: "libopenblas-dev"),
    systemLibrary("CZlib", pkgConfig: "zlib", apt: "zlib1g-dev"),

    // The one Swift wrapper over each C library.
    .target(name: "SQLiteStore", dependencies: ["CSQLite"], swiftSettings: strictSettings),
    .target(name: "Zstd", dependencies: ["CZstd"], swiftSettings: strictSettings),
    .target(name: "Zlib", dependencies: ["CZlib"], swiftSettings: strictSettings),
    .target(name: "DenseLinearAlgebra", dependencies: ["COpenBLAS"], swiftSettings: strictSettings),

    .target(
      name: "PipelineCore",
      dependencies: [.product(name: "Crypto", package: "swift-crypto")],
      swiftSettings: strictSettings),
    .target(
      name: "ArtifactFormats", dependencies: ["PipelineCore", "Zstd", "Zlib"],
      swiftSettings: strictSettings),
    .target(
      name: "PipelineGraph",
      dependencies: ["ArtifactFormats", "PipelineCore", "SQLiteStore", "Yams"],
      swiftSettings: strictSettings),

    // One module per stage.
    .target(
      name: "LogIngest", dependencies: ["ArtifactFormats", "PipelineCore"],
      swiftSettings: strictSettings),
    .target(
      name: "Interactions", dependencies: ["LogIngest", "ArtifactFormats", "PipelineCore"],
      swiftSettings: strictSettings),

    .target(
      name: "StageCommands",
      dependencies: [
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        "PipelineGraph", "LogIngest", "Interactions", "ArtifactFormats", "PipelineCore",
      ],
      swiftSettings: strictSettings),

    // Three-line mains.
    .executableTarget(name: "tca", dependencies: ["StageCommands"], swiftSettings: strictSettings),
    .executableTarget(name: "tca-ingest", dependencies: ["StageCommands"], swiftSettings: strictSettings),
    .executableTarget(name: "tca-prepare", dependencies: ["StageCommands"], swiftSettings: strictSettings),

    .testTarget(name: "PipelineCoreTests", dependencies: ["PipelineCore"]),
    .testTarget(name: "WrapperTests", dependencies: ["SQLiteStore", "Zstd", "Zlib", "DenseLinearAlgebra"]),
    .testTarget(name: "ArtifactFormatsTests", dependencies: ["ArtifactFormats", "PipelineCore"]),
    .testTarget(name: "PipelineGraphTests", dependencies: ["PipelineGraph", "ArtifactFormats", "PipelineCore", "StageCommands"]),
    .testTarget(name: "LogIngestTests", dependencies: ["LogIngest", "ArtifactFormats", "PipelineCore"]),
    .testTarget(name: "InteractionsTests", dependencies: ["Interactions", "LogIngest", "ArtifactFormats", "PipelineCore"]),
    .testTarget(name: "EndToEndTests", dependencies: ["PipelineCore", "ArtifactFormats"]),
  ]
)
