import ArtifactFormats
import Foundation
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// `TCA4RecMetaLineReader`'s fast path (the scanner finds the members the rules read, and only
/// those are parsed) against its fallback (`JSONParser` on the whole line): the same outcome,
/// record, skip reason and message for every real Amazon 2018 meta line and for mutations of them,
/// with every set of extra columns.
@Suite struct TCA4RecMetaLineReaderTests {
  static let files = [
    "amazon-2018/Gift_Cards/meta_Gift_Cards.json.gz",
    "amazon-2018/Magazine_Subscriptions/meta_Magazine_Subscriptions.json.gz",
  ]
  /// No extra column (most categories), brand (Toys_and_Games), all (Sports_and_Outdoors), and an
  /// order of our own.
  static let columnSets: [[String]] = [[], ["brand"], ["brand", "style", "category"], ["category", "style"]]

  /// Every line of the real meta files, without its line end.
  static func realLines() throws -> [[UInt8]] {
    var lines: [[UInt8]] = []
    for file in files where SharedData.available(file) {
      lines += try ReaderFuzzTests.lines(SharedData.path(file), count: Int.max).map { Array($0.dropLast()) }
    }
    return lines
  }

  /// Reads `lines` in order through a fast reader and a full-parse reader with the same columns;
  /// records an issue for every line where they differ.
  /// - Returns: the fast reader (for its counts) and the outcomes by kind.
  @discardableResult
  static func compare(
    _ lines: [[UInt8]], columns: [String], sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> (TCA4RecMetaLineReader, [String: Int]) {
    var fast = try TCA4RecMetaLineReader(columns: columns)
    var full = try TCA4RecMetaLineReader(columns: columns)
    var kinds: [String: Int] = [:]
    var disagreements = 0
    for line in lines {
      let (fastOutcome, fullOutcome) = line.withUnsafeBufferPointer { bytes in
        (fast.read(bytes), full.read(bytes, fullParse: true))
      }
      switch fullOutcome {
      case .item: kinds["item", default: 0] += 1
      case .withoutTitle: kinds["without_title", default: 0] += 1
      case .brandRejected: kinds["brand_rejected", default: 0] += 1
      case .skipped(let reason, _, _): kinds[reason, default: 0] += 1
      }
      if fastOutcome != fullOutcome {
        disagreements += 1
        if disagreements <= 10 {
          Issue.record(
            "columns \(columns): fast \(fastOutcome), full \(fullOutcome) for \(String(decoding: line.prefix(400), as: UTF8.self))",
            sourceLocation: sourceLocation)
        }
      }
    }
    #expect(disagreements == 0, "columns \(columns)", sourceLocation: sourceLocation)
    return (fast, kinds)
  }

  // MARK: Real lines

  @Test(arguments: columnSets)
  func everyRealMetaLineGivesTheSameOutcomeOnBothPaths(_ columns: [String]) throws {
    let lines = try Self.realLines()
    guard !lines.isEmpty else { return }
    let (fast, kinds) = try Self.compare(lines, columns: columns)
    print("meta lines with columns \(columns): \(kinds), \(fast.scannedLines) of \(lines.count) on the fast path")
    #expect(kinds["item", default: 0] > lines.count / 2)
    #expect(fast.scannedLines * 100 >= lines.count * 99, "the fast path should take nearly every real line")
  }

  @Test func titlesAreCutToTheirFirstFiftyCodePointsBeforeFiltering() throws {
    var titles = [
      String(repeating: "\u{E9}", count: 49), String(repeating: "\u{E9}", count: 50),
      String(repeating: "\u{E9}", count: 51), String(repeating: "e\u{301}", count: 30),
      String(repeating: "a", count: 50) + "\u{1F600}", String(repeating: "\u{1F600}b", count: 40),
      String(repeating: "Long Title ", count: 9), "\u{6F22}\u{5B57} Title" + String(repeating: "x", count: 60),
      "Short", "ab",
      // What `filter_title` does to plain ASCII: runs of spaces, the ends, "abcdefg", letters, length.
      "  Two  spaces   here  ", " a ", "abc", "a b", "12 34", "!!! ???", "xABCDEFGx", "abcdef g", "aabcdefgh",
      "abcabcdefg", "abcdefabcdefg", "ab1cdefg", "AbCdEfG", "Q&A Title",
      "Tab\there", "\u{7F}Del", "Caf\u{E9}", "A\u{2019}s", String(repeating: "Word ", count: 40),
    ]
    var lines: [[UInt8]] = titles.enumerated().map { index, title in
      Array(JSONValue.object(["title": .string(title), "asin": .string("B\(index)")]).canonicalText().utf8)
    }
    // And every real title.
    for line in try Self.realLines() {
      guard case .string(let title)? = (try? JSONParser.parse(line))?["title"] else { continue }
      titles.append(title)
      lines.append(
        Array(JSONValue.object(["title": .string(title), "asin": .string("R\(lines.count)")]).canonicalText().utf8))
    }
    var reader = try TCA4RecMetaLineReader(columns: [])
    var checked = 0
    for (title, line) in zip(titles, lines) {
      let outcome = line.withUnsafeBufferPointer { reader.read($0) }
      guard case .item(let record) = outcome else { continue }
      let cut = String(String.UnicodeScalarView(title.unicodeScalars.prefix(50)))
      #expect(record.title == TCA4RecText.filterTitle(cut), "\(title)")
      checked += 1
    }
    #expect(checked >= 8)
  }

  // MARK: Mutated lines

  /// A random edit aimed at what the rules read: the title, ids, `details` and the extra columns'
  /// keys (escaped, repeated, of another kind), or one of the scanner fuzz's edits.
  static func mutate(_ line: inout [UInt8], generator: inout SplitMix64) {
    let members: [String] = [
      #""title": "#, #""asin": "#, #""parent_asin": "#, #""details": "#, #""brand": "#, #""Brand": "#,
      #""Style": "#, #""category": "#, #""Category": "#, #""categories": "#, #""cate": "#, #""cates": "#,
      #""ti\u0074le": "#, #""details.Brand": "#,
    ]
    let values: [String] = [
      #""""#, #""x""#, #""unknown""#, #""None""#, #""caf\u00e9 \"ok\"""#, #""ABCDE""#, #""a\nb""#, "null", "0",
      "1", "-0.5", "1.5e3", "true", "false", "[]", "{}", #"["x", "y"]"#, #"["Cat", " Sub "]"#, #"[null]"#,
      #"[1, 2]"#, #"{"k": 1, "j": [2]}"#, #"{"Brand": "X", "\n  Size: \n": "L"}"#, #"{"Brand": 3}"#,
      #"{"Style": ["S"], "Brand": ["Y"]}"#, #"{"a": 1, "\u0061": 2}"#, "\"\(String(repeating: "\u{E9}", count: 60))\"",
    ]
    guard line.first == UInt8(ascii: "{") else {
      ReviewLineScannerTests.mutate(&line, generator: &generator)
      return
    }
    switch generator.next() % 4 {
    case 0:
      // A member added (maybe a duplicate) at the front.
      let member = members[Int(generator.next() % UInt64(members.count))]
      let value = values[Int(generator.next() % UInt64(values.count))]
      line.insert(contentsOf: Array((member + value + ", ").utf8), at: 1)
    case 1:
      // A wanted member's value replaced.
      let member = members[Int(generator.next() % UInt64(members.count))]
      guard let range = line.firstRange(of: Array(member.utf8)) else { return }
      var end = range.upperBound
      var depth = 0
      var inString = false
      while end < line.count {
        let byte = line[end]
        if inString {
          if byte == UInt8(ascii: "\\") { end += 1 } else if byte == UInt8(ascii: "\"") { inString = false }
        } else if byte == UInt8(ascii: "\"") {
          inString = true
        } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
          depth += 1
        } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
          if depth == 0 { break }
          depth -= 1
        } else if byte == UInt8(ascii: ","), depth == 0 {
          break
        }
        end += 1
      }
      let value = values[Int(generator.next() % UInt64(values.count))]
      line.replaceSubrange(range.upperBound..<min(end, line.count), with: Array(value.utf8))
    default:
      ReviewLineScannerTests.mutate(&line, generator: &generator)
    }
  }

  @Test(arguments: columnSets)
  func mutatedRealMetaLinesGiveTheSameOutcomeOnBothPaths(_ columns: [String]) throws {
    var seeds = try Self.realLines()
    seeds += [
      #"{"title": "Trail Shoe", "asin": "S1", "brand": "Acme", "details": {"Style": "Trail", "\n  Size: \n": "9"}}"#,
      #"{"title": "Tent", "parent_asin": "S2", "asin": null, "category": ["Sports", " Camping "], "Brand": ["Big"]}"#,
    ].map { Array($0.utf8) }
    let seconds = Double(FileSystem.environment("TCA_FUZZ_SECONDS") ?? "") ?? 1
    var generator = SplitMix64(seed: UInt64(40 + columns.count))
    var lines: [[UInt8]] = []
    let start = monotonicSeconds()
    while (monotonicSeconds() - start < seconds || lines.count < 5000) && lines.count < 100_000 {
      var line = seeds[Int(generator.next() % UInt64(seeds.count))]
      for _ in 0..<(1 + Int(generator.next() % 3)) { Self.mutate(&line, generator: &generator) }
      lines.append(line)
    }
    let (fast, kinds) = try Self.compare(lines, columns: columns)
    print("\(lines.count) mutated meta lines with columns \(columns): \(kinds), \(fast.scannedLines) on the fast path")
    #expect(kinds["item", default: 0] > 0 && kinds["bad_json", default: 0] > 0)
    #expect(fast.scannedLines > 0)
  }

  // MARK: Hand-worked examples

  @Test func unusualLinesGiveTheFullParsersOutcome() throws {
    let lines = [
      // An escaped title, `details` keys with escaped line breaks, a duplicate nested key.
      #"{"title": "Caf\u0065 \"Noir\"", "asin": "A1", "details": {"\n    Brand: \n    ": "x", "Brand": "Acme"}}"#,
      #"{"title": "Dup", "asin": "A2", "details": {"\u0042rand": "x", "Brand": "y"}}"#,
      // A top-level key spelled with an escape is the same key.
      #"{"ti\u0074le": "Escaped key", "asin": "A3"}"#, #"{"title": "Twice", "ti\u0074le": "x", "asin": "A4"}"#,
      // `details.Brand` of another kind: the message names the field, whose top-level member is missing.
      #"{"title": "Odd details", "asin": "A5", "details": {"Brand": 7}}"#,
      #"{"title": "Dotted", "asin": "A6", "details": {"Brand": 7}, "details.Brand": [1]}"#,
      #"{"title": 5, "asin": "A7"}"#, #"{"title": "No id", "asin": 5}"#, #"{"title": "Parent", "parent_asin": "P8"}"#,
      #"{"title": "Brandless", "asin": "A9", "brand": []}"#, #"{"title": "Num", "asin": "A10", "Style": -1.5}"#,
      #"[1, 2]"#, #"{"title": "x", "asin": "A11",}"#,
      #"{"title": "Cut \#(String(repeating: "\u{E9}", count: 60))", "asin": "A12"}"#,
    ].map { Array($0.utf8) }
    for columns in Self.columnSets { try Self.compare(lines, columns: columns) }
    var reader = try TCA4RecMetaLineReader(columns: ["brand", "style", "category"])
    let outcomes = lines.map { line in line.withUnsafeBufferPointer { reader.read($0) } }
    #expect(outcomes[0] != .skipped(reason: "bad_json", field: nil, problem: ""))
    guard case .item(let first) = outcomes[0] else {
      Issue.record("line 1: \(outcomes[0])")
      return
    }
    #expect(first.title == "Cafe \"Noir\"")
    #expect(first.metadata["brand"] == "Acme")
    #expect(
      outcomes[1]
        == .skipped(reason: "bad_json", field: nil, problem: #"is not JSON (duplicate key "Brand" at byte 62)"#))
    #expect(
      outcomes[4]
        == .skipped(reason: "bad_metadata", field: "details.Brand", problem: "is missing"))
    #expect(
      outcomes[5]
        == .skipped(
          reason: "bad_metadata", field: "details.Brand", problem: "is array [1], expected a string or a list"))
    #expect(reader.scannedLines >= 6)
  }
}
