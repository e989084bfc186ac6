import ArtifactFormats
import Foundation
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// gzip inputs read the same as plain ones; a truncated stream is an error naming the byte offset.
@Suite struct CompressedInputTests {
  static let directory = "movielens/ml-100k"

  /// `gzip -c -n source > destination` (the test target cannot import the Zlib module).
  static func gzip(_ source: String, to destination: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "gzip -c -n \"$0\" > \"$1\"", source, destination]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
  }

  static let parameters: [String: JSONValue] = ["source": "movielens-100k"]

  @Test(.enabled(if: SharedData.shouldRun(directory + "/u.data"), "needs ../shared/data/movielens/ml-100k"))
  func gzipInputGivesIdenticalOutput() throws {
    guard SharedData.available(Self.directory + "/u.data") else { return }
    let temporary = try TemporaryDirectory()
    let items = SharedData.path(Self.directory + "/u.item")
    let ratings = SharedData.path(Self.directory + "/u.data")
    try Self.gzip(ratings, to: temporary.file("u.data.gz"))
    try Self.gzip(items, to: temporary.file("u.item.gz"))
    let plain = try IngestRun(Self.parameters, rawFiles: ["ratings": ratings, "items": items])
    let compressed = try IngestRun(
      Self.parameters, rawFiles: ["ratings": temporary.file("u.data.gz"), "items": temporary.file("u.item.gz")])
    var plainFiles = try plain.outputBytes()
    var compressedFiles = try compressed.outputBytes()
    // The report names the files it read; everything else is byte-identical.
    plainFiles["report.json"] = nil
    compressedFiles["report.json"] = nil
    #expect(plainFiles == compressedFiles)
    #expect(compressed.report["files"]?["ratings"]?["name"] == "u.data.gz")
    #expect(compressed.report["events"] == 100_000)
  }

  @Test(.enabled(if: SharedData.shouldRun(directory + "/u.data"), "needs ../shared/data/movielens/ml-100k"))
  func truncatedGzipIsAnErrorNamingTheByteOffset() throws {
    guard SharedData.available(Self.directory + "/u.data") else { return }
    let temporary = try TemporaryDirectory()
    let items = SharedData.path(Self.directory + "/u.item")
    try Self.gzip(SharedData.path(Self.directory + "/u.data"), to: temporary.file("whole.gz"))
    let whole = try FileSystem.readFile(temporary.file("whole.gz"))
    let cut = whole.count / 2
    try FileSystem.writeFile(temporary.file("u.data.gz"), whole[0..<cut])
    let files = ["ratings": temporary.file("u.data.gz"), "items": items]
    let message = errorMessage { _ = try IngestRun(Self.parameters, rawFiles: files) }
    #expect(message.contains("'u.data.gz' is truncated at byte \(cut)"), "\(message)")

    var parameters = Self.parameters
    parameters["allow_truncated"] = true
    let run = try IngestRun(parameters, rawFiles: files)
    #expect(run.report["truncated_at"]?["ratings"]?["byte"]?.integerValue == Int64(cut))
    #expect(run.log.eventCount > 10_000 && run.log.eventCount < 100_000)
    #expect(run.metrics["skipped_lines"] == 0, "only complete lines are kept")
    try run.validate()
  }
}
