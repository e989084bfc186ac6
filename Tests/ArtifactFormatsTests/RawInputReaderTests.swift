import ArtifactFormats
import Foundation
import PipelineCore
import TestSupport
import Testing

/// Every line of `path` through `RawInputReader`, checking the line numbers and that a complete
/// read consumed the whole file.
func readAllLines(_ path: String, allowTruncated: Bool = false) throws -> [String] {
  let reader = try RawInputReader(path: path, allowTruncated: allowTruncated)
  var result: [String] = []
  try reader.forEachLine { line, number in
    #expect(number == result.count + 1)
    result.append(String(decoding: line, as: UTF8.self))
  }
  if !allowTruncated || reader.truncatedAt == nil { #expect(reader.bytesRead == reader.fileSize) }
  return result
}

/// Runs a command line tool (`gzip`, `zstd`) through `env`, expecting it to succeed.
func runTool(_ arguments: [String]) throws {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = arguments
  try process.run()
  process.waitUntilExit()
  #expect(process.terminationStatus == 0, "\(arguments)")
}

@Suite("Raw input reader")
struct RawInputReaderTests {
  func lines(_ path: String, allowTruncated: Bool = false) throws -> [String] {
    try readAllLines(path, allowTruncated: allowTruncated)
  }

  func run(_ arguments: [String]) throws { try runTool(arguments) }

  @Test func stripsBOMAndCarriageReturnsAndKeepsALastLineWithoutNewline() throws {
    let directory = try TemporaryDirectory()
    let path = directory.path + "/in.txt"
    try FileSystem.writeFile(path, [0xEF, 0xBB, 0xBF] + Array("a\tb\r\nc\n\nlast".utf8))
    #expect(try lines(path) == ["a\tb", "c", "", "last"])
  }

  @Test func gzipAndZstdGiveTheSameLinesAsPlain() throws {
    let directory = try TemporaryDirectory()
    let path = directory.path + "/big.txt"
    let text =
      (0..<200_000).map { "line \($0) \(String(repeating: "x", count: $0 % 50))" }.joined(separator: "\n") + "\n"
    try FileSystem.writeText(path, text)
    try run(["gzip", "-k", "-1", path])
    try run(["zstd", "-q", "-k", "-1", path])
    let plain = try lines(path)
    #expect(plain.count == 200_000)
    #expect(try lines(path + ".gz") == plain)
    #expect(try lines(path + ".zst") == plain)
  }

  @Test func truncatedGzipIsAnErrorNamingTheByteOffset() throws {
    let directory = try TemporaryDirectory()
    let path = directory.path + "/t.txt"
    try FileSystem.writeText(path, (0..<100_000).map { "row \($0 * 7919 % 100_003)" }.joined(separator: "\n"))
    try run(["gzip", "-k", path])
    var bytes = try FileSystem.readFile(path + ".gz")
    bytes.removeLast(bytes.count / 2)
    try FileSystem.writeFile(path + ".gz", bytes)
    #expect {
      _ = try lines(path + ".gz")
    } throws: { error in
      "\(error)".contains("'t.txt.gz' is truncated at byte \(bytes.count)")
    }
    let kept = try lines(path + ".gz", allowTruncated: true)
    #expect(!kept.isEmpty && kept.count < 100_000)
  }
}
