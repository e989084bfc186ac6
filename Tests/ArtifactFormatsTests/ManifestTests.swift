import ArtifactFormats
import PipelineCore
import TestSupport
import Testing

@Suite("Manifests")
struct ManifestTests {
  static let digest = String(repeating: "ab", count: 32)

  func sample() -> Manifest {
    Manifest(
      stage: "ingest", stageVersion: 1, key: Self.digest, params: ["seed": 1], inputs: [:],
      rawFiles: ["ratings": .init(path: "ml/u.data", size: 3, sha256: Self.digest)],
      files: [.init(path: "a.txt", size: 2, sha256: Self.digest)], metrics: ["events": 3], toolVersion: "0.1.0")
  }

  @Test func jsonRoundTrips() throws {
    let manifest = sample()
    #expect(try Manifest(json: manifest.json, path: "m") == manifest)
  }

  @Test(arguments: ["extra", "key", "files", "stage_version"])
  func rejectsEditedManifests(field: String) throws {
    var object = sample().json.objectValue!
    switch field {
    case "extra": object["timestamp"] = "2026-01-01"
    case "key": object["key"] = "not-a-digest"
    case "files": object["files"] = [["path": "../escape", "size": 1, "sha256": .string(Self.digest)]]
    default: object["stage_version"] = "1"
    }
    #expect(throws: PipelineError.self) { _ = try Manifest(json: .object(object), path: "m") }
  }

  @Test func verifyFilesCatchesFlippedMissingAndExtraFiles() throws {
    let directory = try TemporaryDirectory()
    try FileSystem.writeText(directory.path + "/a.txt", "hello")
    try FileSystem.createDirectory(directory.path + "/sub")
    try FileSystem.writeText(directory.path + "/sub/b.txt", "world")
    let manifest = Manifest(
      stage: "ingest", stageVersion: 1, key: Self.digest, params: [:], inputs: [:], rawFiles: [:],
      files: try Manifest.fileRecords(directory: directory.path), metrics: [:], toolVersion: "0.1.0")
    #expect(manifest.files.map(\.path) == ["a.txt", "sub/b.txt"])
    try manifest.verifyFiles(directory: directory.path)

    try FileSystem.writeText(directory.path + "/a.txt", "hellp")
    #expect { try manifest.verifyFiles(directory: directory.path) } throws: { "\($0)".contains("a.txt' has sha256") }
    try FileSystem.writeText(directory.path + "/a.txt", "hello")
    try FileSystem.writeText(directory.path + "/c.txt", "extra")
    #expect { try manifest.verifyFiles(directory: directory.path) } throws: { "\($0)".contains("not listed") }
    try FileSystem.removeTree(directory.path + "/c.txt")
    try FileSystem.removeTree(directory.path + "/sub/b.txt")
    #expect { try manifest.verifyFiles(directory: directory.path) } throws: { "\($0)".contains("is missing") }
  }
}
