import Foundation
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// `JSONFieldScanner` (the fast path of the Amazon review reader) against `JSONParser` (the full
/// parse it falls back to): whenever the scanner accepts a line, `JSONParser` accepts it too and
/// gives the same field values; whenever `JSONParser` rejects a line, the scanner falls back.
@Suite struct ReviewLineScannerTests {
  static let fields = ["reviewerID", "asin", "overall", "unixReviewTime"]

  /// The real review (and meta) files the lines come from.
  static let files = [
    "amazon-2018/All_Beauty/All_Beauty_5.json.gz", "amazon-2018/Gift_Cards/Gift_Cards_5.json.gz",
    "amazon-2018/Gift_Cards/meta_Gift_Cards.json.gz",
    "amazon-2018/Magazine_Subscriptions/Magazine_Subscriptions_5.json.gz",
    "amazon-2018/Magazine_Subscriptions/meta_Magazine_Subscriptions.json.gz",
    "amazon-2014/Digital_Music-truncated/reviews_Digital_Music_5.complete-lines.json.gz",
  ]

  enum Verdict: Equatable {
    /// The scanner accepted the line (and agreed with `JSONParser`).
    case fast
    /// The scanner left it to `JSONParser`, which accepts it.
    case fallbackValid
    /// The scanner left it to `JSONParser`, which rejects it.
    case fallbackInvalid
  }

  /// Scans `line` and checks the scanner's answer against `JSONParser`'s; records an issue on any
  /// disagreement.
  static func check(
    _ line: [UInt8], _ scanner: inout JSONFieldScanner, sourceLocation: SourceLocation = #_sourceLocation
  ) -> Verdict {
    let accepted = line.withUnsafeBufferPointer { scanner.scan($0) }
    let parsed: JSONValue?
    do throws(JSONParser.SyntaxError) {
      parsed = try JSONParser.parse(line)
    } catch {
      parsed = nil
    }
    guard accepted else { return parsed == nil ? .fallbackInvalid : .fallbackValid }
    let text = String(decoding: line.prefix(300), as: UTF8.self)
    guard let object = parsed?.objectValue else {
      Issue.record(
        "the scanner accepted a line JSONParser rejects or not an object: \(text)", sourceLocation: sourceLocation)
      return .fast
    }
    for (index, name) in fields.enumerated() {
      let field = scanner.fields[index]
      switch (field.kind, object[name]) {
      case (.missing, nil): break
      case (.string, .string(let expected)?):
        let bytes = Array(line[field.range])
        #expect(bytes == Array(expected.utf8), "\(name) in \(text)", sourceLocation: sourceLocation)
      case (.integer, .integer(let expected)?):
        #expect(field.integer == expected, "\(name) in \(text)", sourceLocation: sourceLocation)
      case (.number, .number(let expected)?):
        #expect(field.number.bitPattern == expected.bitPattern, "\(name) in \(text)", sourceLocation: sourceLocation)
      default:
        Issue.record(
          "\(name): the scanner says \(field.kind), JSONParser \(String(describing: object[name])) in \(text)",
          sourceLocation: sourceLocation)
      }
    }
    return .fast
  }

  // MARK: Hand-worked examples

  @Test func simpleFieldsAreFoundWhereverTheyAre() throws {
    var scanner = JSONFieldScanner(names: Self.fields)
    let line = Array(
      #"  {"style": {"Size:": " Small", "a": [1, -2.5e3, true, null, {}]}, "overall": 4.0, "asin": "B01", "reviewerID": "A\u00e9x", "reviewText": "caf\u00e9 \"ok\" \ud83d\ude00", "reviewerID2": "Zé", "unixReviewTime": -1457390467}  "#
        .utf8)
    // An escaped id is left to JSONParser.
    #expect(!line.withUnsafeBufferPointer { scanner.scan($0) })
    let plain = Array(
      #"{"style": {"Size:": " Small", "a": [1, -2.5, true, null, {}]}, "overall": 4.0, "asin": "B01", "reviewerID": "Zé", "reviewText": "caf\u00e9 \"ok\" \ud83d\ude00", "unixReviewTime": -1457390467}"#
        .utf8)
    // An exponent anywhere is left to JSONParser (which rejects numbers beyond Double's range).
    var exponent = plain
    exponent.replaceSubrange(exponent.firstRange(of: Array("-2.5".utf8))!, with: Array("-2.5e3".utf8))
    #expect(Self.check(exponent, &scanner) == .fallbackValid)
    var overflow = plain
    overflow.replaceSubrange(overflow.firstRange(of: Array("-2.5".utf8))!, with: Array("1e999".utf8))
    #expect(Self.check(overflow, &scanner) == .fallbackInvalid)
    #expect(Self.check(plain, &scanner) == .fast)
    #expect(scanner.fields[0].kind == .string)
    #expect(String(decoding: plain[scanner.fields[0].range], as: UTF8.self) == "Zé")
    #expect(String(decoding: plain[scanner.fields[1].range], as: UTF8.self) == "B01")
    #expect(scanner.fields[2] == JSONFieldScanner.Field(kind: .number, number: 4.0))
    #expect(scanner.fields[3] == JSONFieldScanner.Field(kind: .integer, integer: -1_457_390_467))
  }

  @Test func everyRejectionOfJSONParserFallsBack() throws {
    var scanner = JSONFieldScanner(names: Self.fields)
    let lines = [
      #"{"asin": "B", "asin": "C"}"#, #"{"a": {"k": 1, "k": 2}}"#, #"{"a": 1,}"#, #"{"a": 1} x"#, #"{"a": 01}"#,
      #"{"a": 1.}"#, #"{"a": 1e}"#, #"{"a": -}"#, #"{"a": tru}"#, #"{"a": "\x"}"#, #"{"a": "\ud800"}"#,
      #"{"a": "\udc00"}"#, #"{"a": "\ud800\u0041"}"#, #"{"a": "\u12"}"#, "{\"a\": \"\u{1}\"}", #"{"a" 1}"#,
      #"{"a": [1 2]}"#, #"{"a": "b"#, #"{"#, "", "   ", #"{"a": 1}}"#, #"{'a': 1}"#, #"{"a": NaN}"#,
    ]
    for line in lines {
      #expect(Self.check(Array(line.utf8), &scanner) == .fallbackInvalid, "\(line)")
    }
    for bytes: [UInt8] in [
      [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x84], [0xFF], [0x80],
    ] {
      let line = Array(#"{"asin": "a"#.utf8) + bytes + Array(#"b"}"#.utf8)
      #expect(Self.check(line, &scanner) == .fallbackInvalid, "\(bytes)")
    }
    let deep = "{\"a\": " + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}"
    #expect(Self.check(Array(deep.utf8), &scanner) == .fallbackInvalid)
  }

  @Test func unusualButValidLinesFallBackOrAgree() throws {
    var scanner = JSONFieldScanner(names: Self.fields)
    let lines = [
      #"{"overall": 5, "unixReviewTime": 9223372036854775807}"#, #"{"overall": 1e2, "unixReviewTime": 1.0}"#,
      #"{"overall": -0.0, "unixReviewTime": -0}"#, #"{"overall": 0.1234567890123456789, "unixReviewTime": 1E3}"#,
      #"{"overall": 12345678901234567890, "unixReviewTime": -9223372036854775809}"#,
      #"{"overall": 4.50, "asin": null, "reviewerID": 7, "unixReviewTime": "1"}"#,
      #"{"a\"": 1, "a\\": 2}"#, "{\"asin\"\r\n:\t\"x\" }",
      "{\"a\": " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}",
      "{" + (0..<100).map { "\"k\($0)\": \($0)" }.joined(separator: ", ") + "}",
    ]
    for line in lines {
      #expect(Self.check(Array(line.utf8), &scanner) != .fallbackInvalid, "\(line)")
    }
    // Canonically equivalent keys are one key, a duplicate, for JSONParser: the scanner must not
    // tell them apart by their bytes.
    for line in [
      #"{"Kelvin": 1, "\u212A": 2, "K": 3}"#, "{\"\u{212A}\": 1, \"K\": 2}",
      "{\"a\": {\"e\u{301}\": 1, \"\u{E9}\": 2}}",
    ] {
      #expect(Self.check(Array(line.utf8), &scanner) == .fallbackInvalid, "\(line)")
    }
  }

  // MARK: Real lines and their mutations

  static func realLines() throws -> [[UInt8]] {
    var lines: [[UInt8]] = []
    for file in files where SharedData.available(file) {
      lines += try ReaderFuzzTests.lines(SharedData.path(file), count: 3000).map { Array($0.dropLast()) }
    }
    return lines
  }

  @Test func realReviewLinesTakeTheFastPathWithTheSameValues() throws {
    let lines = try Self.realLines()
    guard !lines.isEmpty else { return }
    var scanner = JSONFieldScanner(names: Self.fields)
    var verdicts: [Verdict: Int] = [:]
    for line in lines { verdicts[Self.check(line, &scanner), default: 0] += 1 }
    print("scanner on \(lines.count) real lines: \(verdicts)")
    #expect(verdicts[.fallbackInvalid] == nil)
    #expect(verdicts[.fast, default: 0] * 100 >= lines.count * 99, "\(verdicts)")
  }

  /// A random edit aimed at JSON: an escape, a duplicated member, unicode, nesting, a number or
  /// literal in place of a value, control bytes; or one of the byte-level edits of the reader fuzz.
  static func mutate(_ line: inout [UInt8], generator: inout SplitMix64) {
    guard !line.isEmpty else { return }
    let pieces: [String] = [
      #"\""#, #"\\"#, #"\/"#, #"\n"#, #"\u00e9"#, #"\u212A"#, #"\ud83d\ude00"#, #"\ud83d"#, #"\ude00"#, #"\u00"#,
      #"\q"#, "\u{E9}", "\u{212A}", "e\u{301}", "\u{1F600}", "\t", " ", "\r", "\u{7F}", "{", "}", "[", "]",
      "[[[[", "]]]]", #"{"a": {"b": [1, {"c": null}]}}"#, "true", "false", "null", "nul", "0", "-0", "01", "1.",
      "1.5", "-2.25", "1e5", "1E-5", "1e+400", "9223372036854775807", "9223372036854775808", "12345678901234567",
      "0.30000000000000004", "5.0", "4", #""""#, #""x""#, ",", ":", #""reviewerID": "A1", "#,
      #""asin": "B1", "#, #""overall": 3, "#, #""unixReviewTime": 7, "#, #""style": {"k": 1, "k": 2}, "#,
    ]
    let bytes: [[UInt8]] = [
      [0xC3], [0xA9], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x98, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x00], [0x1F], [0xFE],
    ]
    let position = Int(generator.next() % UInt64(line.count + 1))
    switch generator.next() % 6 {
    case 0:
      let piece = pieces[Int(generator.next() % UInt64(pieces.count))]
      line.insert(contentsOf: Array(piece.utf8), at: position)
    case 1: line.insert(contentsOf: bytes[Int(generator.next() % UInt64(bytes.count))], at: position)
    case 2:
      // Replace a value after a ':' with a piece.
      guard let colon = line[position...].firstIndex(of: UInt8(ascii: ":")) else { return }
      var end = colon + 1
      while end < line.count && line[end] != UInt8(ascii: ",") && line[end] != UInt8(ascii: "}") { end += 1 }
      let piece = pieces[Int(generator.next() % UInt64(pieces.count))]
      line.replaceSubrange((colon + 1)..<end, with: Array((" " + piece).utf8))
    case 3:
      // Repeat the first member (a duplicate key).
      guard let comma = line.firstIndex(of: UInt8(ascii: ",")), line.first == UInt8(ascii: "{") else { return }
      line.insert(contentsOf: line[1...comma], at: comma + 1)
    default:
      var withNewline = line + [0x0A]
      ReaderFuzzTests.mutate(&withNewline, generator: &generator)
      line = Array(withNewline.prefix { $0 != 0x0A })
    }
  }

  @Test func mutatedRealLinesGiveTheSameOutcomeAsTheFullParser() throws {
    let seeds = try Self.realLines()
    guard !seeds.isEmpty else { return }
    let seconds = Double(FileSystem.environment("TCA_FUZZ_SECONDS") ?? "") ?? 2
    var scanner = JSONFieldScanner(names: Self.fields)
    var generator = SplitMix64(seed: 2018)
    var verdicts: [Verdict: Int] = [:]
    var runs = 0
    let start = monotonicSeconds()
    while monotonicSeconds() - start < seconds || runs < 5000 {
      runs += 1
      var line = seeds[Int(generator.next() % UInt64(seeds.count))]
      for _ in 0..<(1 + Int(generator.next() % 3)) { Self.mutate(&line, generator: &generator) }
      verdicts[Self.check(line, &scanner), default: 0] += 1
    }
    print("scanner on \(runs) mutated lines: \(verdicts)")
    #expect(verdicts[.fast, default: 0] > 0 && verdicts[.fallbackInvalid, default: 0] > 0)
    #expect(verdicts[.fallbackValid, default: 0] > 0)
  }

  // MARK: Through the reader

  @Test func readerGivesTheSameEventsAndSkipsOnBothPaths() throws {
    let temporary = try TemporaryDirectory()
    let reviews = try temporary.write(
      "reviews.json",
      """
      {"reviewerID": "U1", "asin": "A", "overall": 5.0, "unixReviewTime": 100}
      {"reviewerID": "U\\u0031", "asin": "A", "overall": 4, "unixReviewTime": 101}
      {"reviewerID": "K", "asin": "A", "overall": 1e0, "unixReviewTime": 102}
      {"reviewerID": "\u{212A}", "asin": "B", "overall": 2.5, "unixReviewTime": 103}
      {"reviewerID": "\\u212A", "asin": "B", "overall": 0.1, "unixReviewTime": 104}
      {"reviewerID": "U2", "asin": "B", "overall": 3.0, "unixReviewTime": 105, "reviewerID": "U3"}
      {"reviewerID": "U2", "asin": "B", "overall": 3.0, "unixReviewTime": 1e2}
      {"reviewerID": "U2", "asin": "", "overall": 3.0, "unixReviewTime": 107}
      {"reviewerID": "U2", "asin": "B", "overall": 3.0, "unixReviewTime": 9223372036854775808}
      {"reviewerID": "U2", "asin": "B\u{E9}", "overall": 3.0, "unixReviewTime": 108}
      {"reviewerID": "U2", "asin": "Be\u{301}", "overall": 3.0, "unixReviewTime": 109}

      """)
    let run = try IngestRun(
      ["source": "amazon-2018", "category": "x", "metadata": false], rawFiles: ["reviews": reviews])
    #expect(run.log.users == ["U1", "K", "U2"], "canonically equivalent ids are one id, as String keys are")
    #expect(run.log.items.map(\.rawID) == ["A", "B", "B\u{E9}"])
    #expect(run.log.eventUser == [0, 0, 1, 1, 1, 2, 2])
    #expect(run.log.eventItem == [0, 0, 0, 1, 1, 2, 2])
    #expect(run.log.eventTime == [100, 101, 102, 103, 104, 108, 109])
    #expect(run.log.eventRating == [5, 4, 1, 2.5, Float(0.1), 3, 3])
    let expectedSkips: [(String, [Int])] = [
      ("bad_json", [6]), ("bad_timestamp", [7, 9]), ("bad_item_id", [8]),
    ]
    for (reason, lines) in expectedSkips {
      #expect(
        run.skipped(reason)?["first_lines"]?.arrayValue?.compactMap(\.integerValue) == lines.map(Int64.init),
        "\(reason)")
    }
    #expect(
      run.skipped("bad_json")?["example"]
        == #"'reviews.json' line 6: is not JSON (duplicate key "reviewerID" at byte 73)"#)
  }
}
