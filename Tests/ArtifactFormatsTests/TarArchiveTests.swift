import ArtifactFormats
import Foundation
import PipelineCore
import TestSupport
import Testing

@Suite("Tar archives")
struct TarArchiveTests {
  /// Members of every kind the bundles need: empty, one block exactly, odd sizes, a name ustar
  /// splits at a slash, and names only a pax record can hold (one of them not ASCII).
  let members: [(String, [UInt8])] = [
    ("bundle.json", Array("{}\n".utf8)),
    ("entries/empty", []),
    ("entries/block", [UInt8](repeating: 7, count: 512)),
    ("entries/odd", (0..<1537).map { UInt8($0 % 251) }),
    (String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 60), [1, 2, 3]),
    (String(repeating: "x", count: 120), [4]),
    ("lineage/" + String(repeating: "é", count: 70) + ".json", [5, 6]),
  ]

  func write(_ path: String) throws {
    let writer = try TarArchive.Writer(path: path)
    for (name, bytes) in members { try writer.add(name: name, bytes: bytes) }
    try writer.finish()
  }

  func readAll(_ path: String) throws -> [(String, [UInt8])] {
    let reader = try TarArchive.Reader(path: path)
    var result: [(String, [UInt8])] = []
    while let member = try reader.next() {
      var bytes: [UInt8] = []
      try reader.readContents { (chunk: UnsafeRawBufferPointer) throws(PipelineError) in bytes += chunk }
      #expect(Int64(bytes.count) == member.size)
      result.append((member.name, bytes))
    }
    return result
  }

  @Test func readingGivesBackWhatWasWritten() throws {
    let work = try TemporaryDirectory()
    try write(work.file("a.tar"))
    let read = try readAll(work.file("a.tar"))
    #expect(read.map(\.0) == members.map(\.0))
    #expect(read.map(\.1) == members.map(\.1))
  }

  @Test func theSameMembersGiveTheSameBytes() throws {
    let work = try TemporaryDirectory()
    try write(work.file("a.tar"))
    try write(work.file("b.tar"))
    let bytes = try FileSystem.readFile(work.file("a.tar"))
    #expect(bytes == (try FileSystem.readFile(work.file("b.tar"))))
    #expect(bytes.count % 512 == 0)
  }

  @Test func pythonTarfileReadsEveryNameAndByte() throws {
    let work = try TemporaryDirectory()
    try write(work.file("a.tar"))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "python3", "-c",
      "import sys, tarfile, hashlib\nfor m in tarfile.open(sys.argv[1]):\n print(m.name, m.size, m.mtime, m.uid, hashlib.sha256(tarfile.open(sys.argv[1]).extractfile(m.name).read()).hexdigest())",
      work.file("a.tar"),
    ]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let expected = members.map { "\($0.0) \($0.1.count) 0 0 \(ContentHash.sha256($0.1))" }
    #expect(text.split(separator: "\n").map(String.init) == expected)
  }

  @Test func aCorruptHeaderAndACutArchiveAreErrorsThatSaySo() throws {
    let work = try TemporaryDirectory()
    try write(work.file("a.tar"))
    var bytes = try FileSystem.readFile(work.file("a.tar"))
    try FileSystem.writeFile(work.file("cut.tar"), bytes.prefix(512 + 512 + 100))
    #expect(throws: PipelineError.self) { try readAll(work.file("cut.tar")) }
    do {
      _ = try readAll(work.file("cut.tar"))
    } catch let error as PipelineError {
      #expect(error.message.contains("truncated"))
    }
    // No end-of-archive blocks: truncated, not complete.
    try FileSystem.writeFile(work.file("noend.tar"), bytes.prefix(bytes.count - 1024))
    #expect(throws: PipelineError.self) { try readAll(work.file("noend.tar")) }
    bytes[5] ^= 0x20
    try FileSystem.writeFile(work.file("bad.tar"), bytes)
    do {
      _ = try readAll(work.file("bad.tar"))
      Issue.record("a corrupt header was read")
    } catch let error as PipelineError {
      #expect(error.message.contains("header at byte 0 is corrupt"))
    }
  }
}
