// swift-tools-version:6.0
// The TCA4Rec offline data pipeline. Layering (ARCHITECTURE.md §6): executables → StageCommands →
// stage modules / PipelineGraph → ArtifactFormats → PipelineCore; only a wrapper imports its C module.
// `make check-imports` enforces the directions the compiler does not.
import Foundation
import PackageDescription

/// Release builds (what `make` and CI build) treat warnings as errors.
let strictSettings: [SwiftSetting] = [
  .unsafeFlags(["-warnings-as-errors"], .when(configuration: .release))
]

/// The soft-label kernels (the score product and an exponential over every item of every sample)
/// are compiled for x86-64 with AVX2 and FMA (Haswell, 2013, and later), and with AVX-512 when the
/// building machine has it (`/proc/cpuinfo`; `TCA_NO_AVX512=1` opts out, for a binary that must run
/// on older CPUs): twice the throughput per step each time. Every width gives the same bits (the
/// lanes never mix; a·b + c is written as an explicit fused multiply-add where it is meant to be
/// one). `TCA_PORTABLE=1 swift build` builds them for any x86-64 (same bits, FMA becomes a library
/// call: much slower); the tools check the CPU before they run them.
let vectorKernels: Bool = {
  #if arch(x86_64)
    return ProcessInfo.processInfo.environment["TCA_PORTABLE"] == nil
  #else
    return false
  #endif
}()
let avx512Kernels: Bool = {
  guard vectorKernels, ProcessInfo.processInfo.environment["TCA_NO_AVX512"] == nil,
    let cpuInfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
    let flags = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
  else { return false }
  let present = Set(flags.split(separator: " ").map(String.init))
  return ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(present.contains)
}()
let vectorSettings: [SwiftSetting] =
  avx512Kernels
  ? [.unsafeFlags(["-target-cpu", "skylake-avx512"]), .define("TCA_AVX512")]
  : vectorKernels ? [.unsafeFlags(["-target-cpu", "haswell"])] : []
let kernelDefines: [SwiftSetting] =
  (vectorKernels ? [.define("TCA_VECTOR_KERNELS")] : []) + (avx512Kernels ? [.define("TCA_AVX512")] : [])

/// A C library found through pkg-config: module map + shim header only.
func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
  .systemLibrary(name: name, path: "Sources/\(name)", pkgConfig: pkgConfig, providers: [.apt([apt])])
}

/// A Swift module of ours; each folder has a README.md saying what it may import.
func module(_ name: String, _ dependencies: [Target.Dependency], settings: [SwiftSetting] = []) -> Target {
  .target(name: name, dependencies: dependencies, exclude: ["README.md"], swiftSettings: strictSettings + settings)
}

/// A three-line main that calls one command of StageCommands.
func executable(_ name: String) -> Target {
  .executableTarget(name: name, dependencies: ["StageCommands"], swiftSettings: strictSettings)
}

let package = Package(
  name: "tca4rec-pipeline",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "tca", targets: ["tca"]),
    .executable(name: "tca-ingest", targets: ["tca-ingest"]),
    .executable(name: "tca-prepare", targets: ["tca-prepare"]),
    .executable(name: "tca-tokenize", targets: ["tca-tokenize"]),
    .executable(name: "tca-trie", targets: ["tca-trie"]),
    .executable(name: "tca-train-cf", targets: ["tca-train-cf"]),
    .executable(name: "tca-soft-labels", targets: ["tca-soft-labels"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
  ],
  targets: [
    systemLibrary("CSQLite", pkgConfig: "sqlite3", apt: "libsqlite3-dev"),
    systemLibrary("CZstd", pkgConfig: "libzstd", apt: "libzstd-dev"),
    systemLibrary("COpenBLAS", pkgConfig: "openblas", apt: "libopenblas-dev"),
    systemLibrary("CZlib", pkgConfig: "zlib", apt: "zlib1g-dev"),
    systemLibrary("CIsal", pkgConfig: "libisal", apt: "libisal-dev"),

    // The one Swift wrapper over each C library.
    module("SQLiteStore", ["CSQLite"]),
    module("Zstd", ["CZstd"]),
    module("Zlib", ["CZlib", "CIsal"]),
    module("DenseLinearAlgebra", ["COpenBLAS"]),

    module("PipelineCore", [.product(name: "Crypto", package: "swift-crypto")]),
    module("ArtifactFormats", ["PipelineCore", "Zstd", "Zlib"]),
    module("PipelineGraph", ["ArtifactFormats", "PipelineCore", "SQLiteStore", "Yams"]),

    // One module per stage; a stage may use upstream stages only.
    module("LogIngest", ["ArtifactFormats", "PipelineCore"]),
    module("Interactions", ["LogIngest", "ArtifactFormats", "PipelineCore"]),
    module("BPETokenizer", ["Interactions", "LogIngest", "ArtifactFormats", "PipelineCore"]),
    module("TitleTrie", ["BPETokenizer", "Interactions", "LogIngest", "ArtifactFormats", "PipelineCore"]),
    module(
      "CollaborativeFiltering", ["Interactions", "LogIngest", "DenseLinearAlgebra", "ArtifactFormats", "PipelineCore"]),
    module(
      "SoftLabels",
      [
        "CollaborativeFiltering", "TitleTrie", "BPETokenizer", "Interactions", "LogIngest", "DenseLinearAlgebra",
        "ArtifactFormats", "PipelineCore",
      ], settings: vectorSettings),

    // The HTML report of a pipeline (`tca report`): reads the store and the ledger, knows no stage module.
    module("PipelineReport", ["PipelineGraph", "ArtifactFormats", "PipelineCore"]),

    module(
      "StageCommands",
      [
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        "PipelineGraph", "PipelineReport", "LogIngest", "Interactions", "BPETokenizer", "TitleTrie",
        "CollaborativeFiltering",
        "SoftLabels", "ArtifactFormats",
        "PipelineCore",
      ], settings: kernelDefines),

    executable("tca"),
    executable("tca-ingest"),
    executable("tca-prepare"),
    executable("tca-tokenize"),
    executable("tca-trie"),
    executable("tca-train-cf"),
    executable("tca-soft-labels"),

    // Test helpers shared by every test target (temporary folders, the shared real data).
    .target(name: "TestSupport", dependencies: ["PipelineCore"], path: "Tests/TestSupport"),
    .testTarget(name: "PipelineCoreTests", dependencies: ["TestSupport", "PipelineCore"]),
    .testTarget(
      name: "WrapperTests", dependencies: ["TestSupport", "SQLiteStore", "Zstd", "Zlib", "DenseLinearAlgebra"]),
    .testTarget(name: "ArtifactFormatsTests", dependencies: ["TestSupport", "ArtifactFormats", "PipelineCore"]),
    .testTarget(
      name: "PipelineGraphTests",
      dependencies: ["TestSupport", "PipelineGraph", "ArtifactFormats", "PipelineCore", "StageCommands"]),
    .testTarget(
      name: "PipelineReportTests", dependencies: ["TestSupport", "PipelineReport", "PipelineGraph", "PipelineCore"]),
    .testTarget(name: "LogIngestTests", dependencies: ["TestSupport", "LogIngest", "ArtifactFormats", "PipelineCore"]),
    .testTarget(
      name: "InteractionsTests",
      dependencies: ["TestSupport", "Interactions", "LogIngest", "ArtifactFormats", "PipelineCore"]),
    .testTarget(
      name: "BPETokenizerTests", dependencies: ["TestSupport", "BPETokenizer", "ArtifactFormats", "PipelineCore"]),
    .testTarget(
      name: "TitleTrieTests",
      dependencies: [
        "TestSupport", "TitleTrie", "BPETokenizer", "Interactions", "LogIngest", "ArtifactFormats", "PipelineCore",
      ]),
    .testTarget(
      name: "CollaborativeFilteringTests",
      dependencies: [
        "TestSupport", "CollaborativeFiltering", "Interactions", "LogIngest", "DenseLinearAlgebra", "ArtifactFormats",
        "PipelineCore",
      ]),
    .testTarget(
      name: "SoftLabelsTests",
      dependencies: [
        "TestSupport", "SoftLabels", "CollaborativeFiltering", "TitleTrie", "Interactions", "LogIngest",
        "ArtifactFormats", "PipelineCore",
      ]),
    .testTarget(
      name: "EndToEndTests", dependencies: ["TestSupport", "DenseLinearAlgebra", "PipelineCore"], exclude: ["Goldens"]),
  ]
)
