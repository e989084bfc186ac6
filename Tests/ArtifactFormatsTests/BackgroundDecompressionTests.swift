import ArtifactFormats
import Foundation
import PipelineCore
import TestSupport
import Testing

/// `RawInputReader` decompresses .gz and .zst files on a second thread into a few 4 MiB buffers:
/// the lines, their order, the errors and their byte offsets are those of a plain read.
@Suite("Background decompression")
struct BackgroundDecompressionTests {
  struct Stop: Error {}

  func lines(_ path: String, allowTruncated: Bool = false) throws -> [String] {
    try readAllLines(path, allowTruncated: allowTruncated)
  }

  /// Lines read until `body` throws, and the error.
  func linesUntilError(_ path: String) -> (lines: [String], message: String) {
    var result: [String] = []
    do {
      let reader = try RawInputReader(path: path)
      try reader.forEachLine { line, _ in result.append(String(decoding: line, as: UTF8.self)) }
    } catch {
      return (result, "\(error)")
    }
    return (result, "")
  }

  func run(_ arguments: [String]) throws { try runTool(arguments) }

  /// Writes `text` as `name`, `name.gz` and `name.zst`; returns the plain file's path.
  func compressedCopies(_ directory: TemporaryDirectory, _ name: String, _ text: [UInt8]) throws -> String {
    let path = directory.file(name)
    try FileSystem.writeFile(path, text)
    try run(["gzip", "-k", "-1", "-f", path])
    try run(["zstd", "-q", "-k", "-1", "-f", path])
    return path
  }

  /// Lines of pseudo-random lengths (some longer than a buffer's tail), so that lines straddle the
  /// buffer boundaries at varied offsets.
  func text(bytes: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var text: [UInt8] = []
    text.reserveCapacity(bytes + 1000)
    var number = 0
    while text.count < bytes {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      let length = Int(state >> 33) % (state % 17 == 0 ? 20000 : 300)
      text += Array("\(number) ".utf8)
      for index in 0..<length { text.append(UInt8(97 + (index * 7 + number) % 26)) }
      text.append(0x0A)
      number += 1
    }
    return text
  }

  @Test(arguments: [0, 1, 100, 4 << 20, (4 << 20) + 1, 8 << 20, 21 << 20])
  func compressedFilesGiveThePlainLinesAtAnySize(_ size: Int) throws {
    let directory = try TemporaryDirectory()
    var text = size == 1 ? Array("x".utf8) : Array(self.text(bytes: size, seed: UInt64(size)).prefix(size))
    if size == 0 { text = [] }
    let path = try compressedCopies(directory, "in.txt", text)
    let plain = text.isEmpty ? [] : try lines(path)
    // Compared as one flag: a failure would print millions of lines.
    let sameGzip = try lines(path + ".gz") == plain
    let sameZstd = try lines(path + ".zst") == plain
    #expect(sameGzip && sameZstd, "gzip: \(sameGzip), zstd: \(sameZstd), \(plain.count) lines")
  }

  @Test func concatenatedGzipMembersAreOneStream() throws {
    let directory = try TemporaryDirectory()
    let first = try compressedCopies(directory, "a.txt", text(bytes: 5 << 20, seed: 1))
    let second = try compressedCopies(directory, "b.txt", text(bytes: 1000, seed: 2))
    let both = directory.file("both.txt.gz")
    try FileSystem.writeFile(both, try FileSystem.readFile(first + ".gz") + FileSystem.readFile(second + ".gz"))
    let same = try lines(both) == lines(first) + lines(second)
    #expect(same)
  }

  @Test(arguments: ["gz", "zst"])
  func truncatedStreamsAreAnErrorAtTheirLastByteOrKeepTheCompleteLines(_ suffix: String) throws {
    let directory = try TemporaryDirectory()
    let path = try compressedCopies(directory, "t.txt", text(bytes: 12 << 20, seed: 3))
    let full = try lines(path)
    let compressed = path + "." + suffix
    var bytes = try FileSystem.readFile(compressed)
    bytes.removeLast(bytes.count / 3)
    try FileSystem.writeFile(compressed, bytes)
    let stopped = linesUntilError(compressed)
    #expect(stopped.message.contains("'t.txt.\(suffix)' is truncated at byte \(bytes.count) ("), "\(stopped.message)")
    #expect(stopped.message.contains("ends early); re-download it, or set allow_truncated: true"))
    #expect(!stopped.lines.isEmpty && stopped.lines.count < full.count)
    #expect(full.prefix(stopped.lines.count).elementsEqual(stopped.lines))

    let reader = try RawInputReader(path: compressed, allowTruncated: true)
    var kept: [String] = []
    try reader.forEachLine { line, _ in kept.append(String(decoding: line, as: UTF8.self)) }
    #expect(reader.truncatedAt == Int64(bytes.count))
    #expect(kept.count == stopped.lines.count - 1 || kept.count == stopped.lines.count)
    #expect(full.prefix(kept.count).elementsEqual(kept), "only complete lines are kept")
  }

  @Test(arguments: ["gz", "zst"])
  func corruptStreamsFailAtTheSameOffsetAfterTheSameLines(_ suffix: String) throws {
    let directory = try TemporaryDirectory()
    let path = try compressedCopies(directory, "c.txt", text(bytes: 30 << 20, seed: 4))
    let full = try lines(path)
    let compressed = path + "." + suffix
    var bytes = try FileSystem.readFile(compressed)
    for index in stride(from: bytes.count / 2, to: bytes.count / 2 + 4000, by: 7) { bytes[index] ^= 0x5A }
    try FileSystem.writeFile(compressed, bytes)
    let first = linesUntilError(compressed)
    #expect(first.message.contains("c.txt.\(suffix)' is corrupt at byte "), "\(first.message)")
    let offset = first.message.split(separator: " ").drop { $0 != "byte" }.dropFirst().first.flatMap { Int($0) }
    #expect(offset.map { $0 > 0 && $0 < bytes.count } == true, "\(first.message)")
    // Lines before the damage are intact (damaged data may come out before zlib or zstd notices).
    #expect(first.lines.count > 1000)
    #expect(full.prefix(1000).elementsEqual(first.lines.prefix(1000)))
    for _ in 0..<3 {
      let again = linesUntilError(compressed)
      #expect(again.message == first.message && again.lines.count == first.lines.count, "deterministic")
    }
  }

  @Test func aReaderThatStopsEarlyStopsTheDecompressingThread() throws {
    let directory = try TemporaryDirectory()
    let path = try compressedCopies(directory, "s.txt", text(bytes: 20 << 20, seed: 5))
    #expect(try lines(path).count > 20000)
    for stopAt in [1, 1000, 20000] {
      for suffix in ["gz", "zst"] {
        let reader = try RawInputReader(path: path + "." + suffix)
        #expect(throws: Stop.self) {
          try reader.forEachLine { _, number in if number == stopAt { throw Stop() } }
        }
      }
    }
    let same = try lines(path + ".gz") == lines(path)
    #expect(same, "a stopped reader leaves nothing behind for the next")
  }
}
