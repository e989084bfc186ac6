import ArtifactFormats
import PipelineCore
import TestSupport
import Testing

/// The members `JSONLines.scanStringMembers` reports for a line, or `nil` when it declines it.
private func scannedMembers(_ line: [UInt8]) -> [(key: String, value: String)]? {
  var members: [(key: String, value: String)] = []
  let scanned = line.withUnsafeBufferPointer { line in
    JSONLines.scanStringMembers(line) { key, value in
      members.append((String(decoding: key, as: UTF8.self), value))
    }
  }
  return scanned ? members : nil
}

/// Canonical lines of flat string objects, as `items.jsonl` and `users.jsonl` hold them.
private let baseLines: [String] = [
  #"{"raw_id":"AG774916NPLFEB"}"#,
  #"{"mapping_iid":"B0DSJBY4IU","raw_id":"B0DSJBY4IU","title":"Crayola Buy zonika, hibo"}"#,
  #"{"brand":"Crème","raw_id":"日本","title":"emoji 😀 𝄞"}"#,
  #"{"":"","a":"b"}"#,
]

/// Bytes a mutation inserts or writes over: JSON structure, escapes, whitespace, control bytes and
/// bytes that break UTF-8.
private let mutationBytes: [UInt8] = [
  0x22, 0x5C, 0x20, 0x09, 0x2C, 0x3A, 0x7B, 0x7D, 0x5B, 0x6E, 0x31, 0x61, 0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xE6, 0xF0,
  0xFF,
]

/// Lines mutated from `baseLines`: a byte dropped, inserted or replaced, members swapped or
/// repeated; `count` of them from `seed`.
private func mutatedLines(seed: UInt64, count: Int) -> [[UInt8]] {
  var generator = SeededGenerator(seed: seed)
  var lines: [[UInt8]] = []
  for _ in 0..<count {
    var line = Array(baseLines[generator.nextInt(below: baseLines.count)].utf8)
    for _ in 0...generator.nextInt(below: 2) {
      let position = generator.nextInt(below: line.count)
      switch generator.nextInt(below: 5) {
      case 0: line.remove(at: position)
      case 1: line.insert(mutationBytes[generator.nextInt(below: mutationBytes.count)], at: position)
      case 2: line[position] = mutationBytes[generator.nextInt(below: mutationBytes.count)]
      case 3:
        // Repeat the first member: a duplicate key.
        if let comma = line.firstIndex(of: 0x2C) ?? line.lastIndex(of: 0x7D), comma > 1 {
          line.insert(contentsOf: Array(line[1..<comma]) + [0x2C], at: 1)
        }
      default:
        // Swap the first two members: keys out of order.
        let text = String(decoding: line, as: UTF8.self)
        let members = text.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
        if members.count >= 2 {
          let swapped = [members[1], members[0]] + members.dropFirst(2)
          line = Array(("{" + swapped.joined(separator: ",") + "}").utf8)
        }
      }
      if line.isEmpty { line = [0x7B] }
    }
    lines.append(line)
  }
  return lines
}

@Suite("JSON Lines fast path")
struct JSONLinesFastPathTests {
  @Test func scansCanonicalFlatObjectsOfStrings() throws {
    for text in baseLines {
      let members = try #require(scannedMembers(Array(text.utf8)), "\(text)")
      let parsed = try #require(JSONParser.parse(text).objectValue)
      #expect(members.count == parsed.count)
      for (key, value) in members { #expect(parsed[key] == .string(value)) }
    }
  }

  @Test func declinesWhatItIsNotSureAbout() {
    for text in [
      #"{"raw_id": "a"}"#, #" {"raw_id":"a"}"#, #"{"raw_id":"a"} "#, #"{"raw_id":"a\"b"}"#, #"{"raw_id":"a\u0041"}"#,
      #"{"raw_id":1}"#, #"{"raw_id":null}"#, #"{"raw_id":["a"]}"#, #"{"b":"x","a":"y"}"#, #"{"a":"x","a":"y"}"#,
      #"{"é":"x"}"#, "{}", "[]", #""a""#, "", #"{"raw_id":"a""#, #"{"raw_id":"a"}}"#, #"{"raw_id":"a",}"#,
    ] {
      #expect(scannedMembers(Array(text.utf8)) == nil, "\(text)")
    }
    // Invalid UTF-8 and raw control characters.
    #expect(scannedMembers(Array(#"{"raw_id":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)) == nil)
    #expect(scannedMembers(Array(#"{"raw_id":""#.utf8) + [0x01] + Array(#""}"#.utf8)) == nil)
  }

  @Test(arguments: 0..<8)
  func acceptsOnlyWhatTheParserReadsTheSame(seed: UInt64) {
    for line in mutatedLines(seed: seed, count: 500) {
      guard let members = scannedMembers(line) else { continue }
      let text = String(decoding: line, as: UTF8.self)
      guard let parsed = try? JSONParser.parse(line), let object = parsed.objectValue else {
        Issue.record("the fast path accepted \(text), which the parser rejects")
        continue
      }
      #expect(object.count == members.count, "\(text)")
      for (key, value) in members { #expect(object[key] == .string(value), "\(text)") }
    }
  }

  @Test(arguments: 0..<6)
  func readsFilesAsTheParserDoes(seed: UInt64) throws {
    let directory = try TemporaryDirectory()
    var generator = SeededGenerator(seed: seed &+ 100)
    for file in 0..<40 {
      // Mostly good lines, with a mutated one or two among them.
      var lines = (0..<12).map { _ in Array(baseLines[generator.nextInt(below: baseLines.count)].utf8) }
      for mutated in mutatedLines(seed: seed &* 1000 &+ UInt64(file), count: generator.nextInt(below: 3)) {
        lines[generator.nextInt(below: lines.count)] = mutated
      }
      let path = directory.file("f\(file).jsonl")
      try FileSystem.writeFile(path, Array(lines.joined(separator: [0x0A])) + [0x0A])
      let fast = Result { () throws(PipelineError) in
        try JSONLines.read(path, fast: { line in scannedMembers(Array(line)).map { JSONValue.object(object($0)) } }) {
          value, _ in value
        }
      }
      let full = Result { () throws(PipelineError) in try JSONLines.read(path) }
      switch (fast, full) {
      case (.success(let fastValues), .success(let fullValues)): #expect(fastValues == fullValues)
      case (.failure(let fastError), .failure(let fullError)): #expect(fastError.message == fullError.message)
      default: Issue.record("fast path \(fast) but parser \(full) for \(path)")
      }
    }
  }

  @Test func theFirstSyntaxErrorWinsOverAnEarlierRecordError() throws {
    let directory = try TemporaryDirectory()
    let path = try directory.write("r.jsonl", "{\"raw_id\":\"a\"}\n{\"id\":1}\n{\"raw_id\":\"b\"}\n{\"raw_id\":\n")
    func read() throws(PipelineError) -> [String] {
      try JSONLines.read(path, fast: { _ in nil }) { value, line throws(PipelineError) in
        guard let rawID = value["raw_id"]?.stringValue else { throw .invalidArtifact("line \(line): no raw_id") }
        return rawID
      }
    }
    #expect(errorMessage { _ = try read() }.contains("r.jsonl' line 4"))
    try FileSystem.writeText(path, "{\"raw_id\":\"a\"}\n{\"id\":1}\n{\"raw_id\":\"b\"}\n{\"id\":2}\n")
    #expect(errorMessage { _ = try read() } == "line 2: no raw_id")
  }

  @Test func writesLinesFromAByteWriter() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("w.jsonl")
    let names = ["a\"b", "c\\d", "e\u{01}f", "😀"]
    try JSONLines.write(names.count, to: path) { index, bytes in
      bytes.append(contentsOf: #"{"raw_id":"#.utf8)
      JSONValue.appendCanonical(string: names[index], to: &bytes)
      bytes.append(UInt8(ascii: "}"))
    }
    let expected = names.map { JSONValue.object(["raw_id": .string($0)]).canonicalText() + "\n" }.joined()
    #expect(try FileSystem.readText(path) == expected)
    #expect(try JSONLines.read(path).map { $0["raw_id"]?.stringValue } == names)
  }
}

/// The members as an object (the last of a repeated key wins; the fast path never repeats one).
private func object(_ members: [(key: String, value: String)]) -> [String: JSONValue] {
  var object: [String: JSONValue] = [:]
  for (key, value) in members { object[key] = .string(value) }
  return object
}
