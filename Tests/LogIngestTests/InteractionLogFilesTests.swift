import ArtifactFormats
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// Ids and titles that need every escaping rule of canonical JSON.
private let awkwardIDs = [
  "plain", "quote\"d", "back\\slash", "\\\"", "new\nline\r\t", "\u{00}\u{01}\u{1F}\u{7F}", "Crème", "日本語",
  "astral 😀𝄞", "e\u{301}", "", "comma, and space", "/",
]

/// A log with awkward raw ids and titles, metadata of every kind, and one event per user.
private func awkwardLog() -> InteractionLog {
  var log = InteractionLog()
  for (index, id) in awkwardIDs.enumerated() {
    var metadata: [String: JSONValue] = ["mapping_iid": .string("m" + id)]
    if index % 3 == 1 { metadata["category"] = ["Office", "Pens \"fine\""] }
    if index % 4 == 2 { metadata["year"] = 2018 }
    if index % 5 == 3 { metadata["brand"] = .string(id + " brand") }
    log.items.append(ItemRecord(rawID: "i" + id, title: index % 6 == 5 ? nil : "t" + id, metadata: metadata))
    log.users.append("u" + id)
    log.appendEvent(user: UInt32(index), item: UInt32(index), time: Int64(index), rating: Float(index % 5 + 1))
  }
  return log
}

/// What the log's JSON Lines files read to through `JSONParser` alone (the oracle of the fast
/// path): the items and users, or the error message.
private func parsedRecords(_ directory: String) -> Result<([ItemRecord], [String]), PipelineError> {
  Result { () throws(PipelineError) in
    let itemsPath = FileSystem.join(directory, InteractionLog.itemsFile)
    var items: [ItemRecord] = []
    for (index, value) in try JSONLines.read(itemsPath).enumerated() {
      guard var object = value.objectValue, let rawID = object["raw_id"]?.stringValue else {
        throw .invalidArtifact(
          "'\(itemsPath)' line \(index + 1): field 'raw_id' must be a string; rerun the ingest stage with --force")
      }
      let title = object["title"]?.stringValue
      object["raw_id"] = nil
      object["title"] = nil
      items.append(ItemRecord(rawID: rawID, title: title, metadata: object))
    }
    let usersPath = FileSystem.join(directory, InteractionLog.usersFile)
    var users: [String] = []
    for (index, value) in try JSONLines.read(usersPath).enumerated() {
      guard let rawID = value["raw_id"]?.stringValue else {
        throw .invalidArtifact(
          "'\(usersPath)' line \(index + 1): field 'raw_id' must be a string; rerun the ingest stage with --force")
      }
      users.append(rawID)
    }
    return (items, users)
  }
}

@Suite struct InteractionLogFilesTests {
  @Test func writeThenReadGivesTheSameLog() throws {
    let directory = try TemporaryDirectory()
    let log = awkwardLog()
    try log.write(to: directory.path)
    #expect(try InteractionLog.read(from: directory.path) == log)
  }

  @Test func linesAreTheCanonicalJSONOfEachRecord() throws {
    let directory = try TemporaryDirectory()
    let log = awkwardLog()
    try log.write(to: directory.path)
    let items = log.items.map { item in
      var object = item.metadata
      object["raw_id"] = .string(item.rawID)
      object["title"] = item.title.map(JSONValue.string) ?? .null
      return JSONValue.object(object).canonicalText() + "\n"
    }
    let users = log.users.map { JSONValue.object(["raw_id": .string($0)]).canonicalText() + "\n" }
    #expect(try FileSystem.readText(directory.file(InteractionLog.itemsFile)) == items.joined())
    #expect(try FileSystem.readText(directory.file(InteractionLog.usersFile)) == users.joined())
  }

  @Test(arguments: 0..<6)
  func mutatedLinesReadAsThroughTheParser(seed: UInt64) throws {
    let directory = try TemporaryDirectory()
    let log = awkwardLog()
    try log.write(to: directory.path)
    let original = try [InteractionLog.itemsFile, InteractionLog.usersFile].map {
      try FileSystem.readFile(directory.file($0))
    }
    let replacements: [[UInt8]] = [
      Array(" ".utf8), Array("\\".utf8), Array("\"".utf8), Array(",".utf8), Array(":1".utf8), Array("\\u0041".utf8),
      Array("\\ud83d\\ude00".utf8), Array(#","raw_id":"x""#.utf8), Array(#","extra":[1,{"a":null}]"#.utf8),
      Array("null".utf8), [0xC3], [0xFF], [0x01], Array("é".utf8),
    ]
    var generator = SeededGenerator(seed: seed)
    for _ in 0..<60 {
      // Damage one or two places of one file (never a line end).
      let file = generator.nextInt(below: 2)
      var bytes = original[file]
      for _ in 0...generator.nextInt(below: 1) {
        var position = generator.nextInt(below: bytes.count)
        while bytes[position] == 0x0A { position = generator.nextInt(below: bytes.count) }
        let replacement = replacements[generator.nextInt(below: replacements.count)]
        if generator.nextInt(below: 2) == 0 {
          bytes.replaceSubrange(position..<(position + 1), with: replacement)
        } else {
          bytes.insert(contentsOf: replacement, at: position)
        }
      }
      try FileSystem.writeFile(directory.file([InteractionLog.itemsFile, InteractionLog.usersFile][file]), bytes)
      let read = Result { () throws(PipelineError) in try InteractionLog.read(from: directory.path) }
      switch (read, parsedRecords(directory.path)) {
      case (.success(let fast), .success(let (items, users))):
        var expected = log
        expected.items = items
        expected.users = users
        #expect(fast == expected, "\(String(decoding: bytes, as: UTF8.self))")
      case (.failure(let fastError), .failure(let parserError)):
        #expect(fastError.message == parserError.message)
      case (let fast, let parser):
        Issue.record("read \(fast), the parser \(parser), for \(String(decoding: bytes, as: UTF8.self))")
      }
      try FileSystem.writeFile(
        directory.file([InteractionLog.itemsFile, InteractionLog.usersFile][file]), original[file])
    }
  }

  @Test func aUserWithoutARawIDNamesTheFileTheLineAndTheField() throws {
    let directory = try TemporaryDirectory()
    try awkwardLog().write(to: directory.path)
    var lines = try FileSystem.readText(directory.file(InteractionLog.usersFile)).split(separator: "\n")
    lines[2] = #"{"raw_id":7}"#
    try FileSystem.writeText(directory.file(InteractionLog.usersFile), lines.joined(separator: "\n") + "\n")
    let message = errorMessage { _ = try InteractionLog.read(from: directory.path) }
    #expect(message.contains("users.jsonl' line 3: field 'raw_id' must be a string"))
    #expect(message.hasSuffix("rerun the ingest stage with --force"))
  }
}
