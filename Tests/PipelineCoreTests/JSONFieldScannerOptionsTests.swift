import Foundation
import PipelineCore
import TestSupport
import Testing

/// `JSONFieldScanner`'s options (`valuesOfAnyKind`, `decodesNestedKeys`) against `JSONParser`:
/// whenever the scanner accepts a line, `JSONParser` accepts it and each wanted member, parsed
/// alone from the reported range, is the member of the full tree; whenever `JSONParser` rejects a
/// line, the scanner does too. And the options only widen: a line the default scanner accepts is
/// accepted with the same fields.
@Suite struct JSONFieldScannerOptionsTests {
  static let names = ["title", "asin", "details", "brand", "n"]
  static let options: JSONFieldScanner.Options = [.valuesOfAnyKind, .decodesNestedKeys]

  enum Verdict: Hashable {
    case accepted, fallbackValid, fallbackInvalid
  }

  /// The member value the scanner reports for `field` of `line`, parsed as the caller would.
  static func value(_ field: JSONFieldScanner.Field, in line: [UInt8]) throws -> JSONValue? {
    switch field.kind {
    case .missing: return nil
    case .string: return .string(String(decoding: line[field.range], as: UTF8.self))
    case .integer: return .integer(field.integer)
    case .number: return .number(field.number)
    case .value: return try JSONParser.parse(Array(line[field.range]))
    }
  }

  /// Scans `line` with the options and checks the answer against `JSONParser` and against the
  /// default scanner; records an issue on any disagreement.
  static func check(
    _ line: [UInt8], _ scanner: inout JSONFieldScanner, _ plain: inout JSONFieldScanner,
    sourceLocation: SourceLocation = #_sourceLocation
  ) -> Verdict {
    let accepted = line.withUnsafeBufferPointer { scanner.scan($0) }
    let acceptedPlainly = line.withUnsafeBufferPointer { plain.scan($0) }
    let text = String(decoding: line.prefix(300), as: UTF8.self)
    let parsed: JSONValue?
    do throws(JSONParser.SyntaxError) {
      parsed = try JSONParser.parse(line)
    } catch {
      parsed = nil
    }
    if acceptedPlainly {
      #expect(accepted, "the options narrowed what is accepted: \(text)", sourceLocation: sourceLocation)
      if accepted {
        for index in names.indices where plain.fields[index].kind != .missing {
          #expect(
            scanner.fields[index] == plain.fields[index], "\(names[index]) in \(text)", sourceLocation: sourceLocation)
        }
      }
    }
    guard accepted else { return parsed == nil ? .fallbackInvalid : .fallbackValid }
    guard let object = parsed?.objectValue else {
      Issue.record(
        "the scanner accepted a line JSONParser rejects or not an object: \(text)", sourceLocation: sourceLocation)
      return .accepted
    }
    for (index, name) in names.enumerated() {
      let field = scanner.fields[index]
      do {
        let found = try value(field, in: line)
        #expect(found == object[name], "\(name) (\(field.kind)) in \(text)", sourceLocation: sourceLocation)
        if case .number(let number)? = found, case .number(let expected)? = object[name] {
          #expect(number.bitPattern == expected.bitPattern, "\(name) in \(text)", sourceLocation: sourceLocation)
        }
      } catch {
        Issue.record("\(name): the reported range does not parse (\(error)) in \(text)", sourceLocation: sourceLocation)
      }
    }
    return .accepted
  }

  // MARK: Hand-worked examples

  @Test func valuesOfAnyKindAreReportedByTheRangeOfTheirText() throws {
    var scanner = JSONFieldScanner(names: Self.names, options: [.valuesOfAnyKind])
    let line = Array(
      #"{"title": "caf\u00e9 \"ok\"", "asin": "B01", "details": {"k": [1, -2.5, null]}, "brand": null, "n": -0.5}"#
        .utf8)
    #expect(line.withUnsafeBufferPointer { scanner.scan($0) })
    #expect(scanner.fields[0].kind == .value)
    #expect(String(decoding: line[scanner.fields[0].range], as: UTF8.self) == #""caf\u00e9 \"ok\"""#)
    #expect(scanner.fields[1].kind == .string)
    #expect(String(decoding: line[scanner.fields[1].range], as: UTF8.self) == "B01")
    #expect(String(decoding: line[scanner.fields[2].range], as: UTF8.self) == #"{"k": [1, -2.5, null]}"#)
    #expect(String(decoding: line[scanner.fields[3].range], as: UTF8.self) == "null")
    #expect(scanner.fields[4].kind == .value, "a negative decimal is not computed here")
    #expect(try Self.value(scanner.fields[4], in: line) == .number(-0.5))
    // Exponents are still left to JSONParser, which rejects numbers beyond Double's range.
    for text in [#"{"n": 1e999}"#, #"{"n": 1e2}"#] {
      #expect(!Array(text.utf8).withUnsafeBufferPointer { scanner.scan($0) }, "\(text)")
    }
    // Without the option, the same line is left to JSONParser.
    var plain = JSONFieldScanner(names: Self.names)
    #expect(!line.withUnsafeBufferPointer { plain.scan($0) })
  }

  @Test func nestedEscapedKeysAreDecodedAndTheirDuplicatesFound() throws {
    var scanner = JSONFieldScanner(names: Self.names, options: Self.options)
    var plain = JSONFieldScanner(names: Self.names)
    let accepted = [
      #"{"details": {"\n    Product Dimensions: \n    ": "3 x 2", "ASIN: ": "B0"}, "asin": "B0"}"#,
      #"{"details": {"a": 1, "caf\u00e9": 2, "café2": 3, "b": {"\"": 4}}}"#,
      "{\"details\": {\"\u{E9}\": 1, \"e\": 2}}",
    ]
    for line in accepted {
      #expect(Self.check(Array(line.utf8), &scanner, &plain) == .accepted, "\(line)")
    }
    let duplicates = [
      #"{"details": {"\u0061": 1, "a": 2}}"#, #"{"details": {"a": 1, "\u0061": 2}}"#,
      #"{"details": {"K": 1, "\u212A": 2}}"#, "{\"details\": {\"e\u{301}\": 1, \"\\u00e9\": 2}}",
      #"{"details": {"x\n": 1, "y": 2, "x\u000a": 3}}"#,
    ]
    for line in duplicates {
      #expect(Self.check(Array(line.utf8), &scanner, &plain) == .fallbackInvalid, "\(line)")
    }
    // Top-level keys stay plain: an escaped one (maybe a wanted name) is left to JSONParser.
    for line in [#"{"ti\u0074le": "x"}"#, "{\"t\u{ED}tle\": \"x\"}"] {
      #expect(Self.check(Array(line.utf8), &scanner, &plain) == .fallbackValid, "\(line)")
    }
  }

  // MARK: Real lines and their mutations

  /// The real Amazon 2018 meta lines (decompressed with `gzip`).
  static func realLines() throws -> [[UInt8]] {
    var lines: [[UInt8]] = []
    for file in [
      "amazon-2018/Gift_Cards/meta_Gift_Cards.json.gz",
      "amazon-2018/Magazine_Subscriptions/meta_Magazine_Subscriptions.json.gz",
    ]
    where SharedData.available(file) {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = ["gzip", "-dc", SharedData.path(file)]
      let pipe = Pipe()
      process.standardOutput = pipe
      try process.run()
      let bytes = Array(pipe.fileHandleForReading.readDataToEndOfFile())
      process.waitUntilExit()
      lines += bytes.split(separator: 0x0A).map(Array.init)
    }
    return lines
  }

  @Test func realMetaLinesAreAcceptedWithTheMembersOfTheFullTree() throws {
    let lines = try Self.realLines()
    guard !lines.isEmpty else { return }
    var scanner = JSONFieldScanner(names: Self.names, options: Self.options)
    var plain = JSONFieldScanner(names: Self.names)
    var verdicts: [Verdict: Int] = [:]
    for line in lines { verdicts[Self.check(line, &scanner, &plain), default: 0] += 1 }
    print("scanner with options on \(lines.count) real meta lines: \(verdicts)")
    #expect(verdicts[.fallbackInvalid] == nil)
    #expect(verdicts[.accepted, default: 0] * 100 >= lines.count * 99, "\(verdicts)")
  }

  /// A random edit aimed at the options: escapes and non-ASCII in keys and values, duplicated and
  /// canonically equivalent keys, values of every kind; or a byte flip, deletion or insertion.
  static func mutate(_ line: inout [UInt8], generator: inout SeededGenerator) {
    guard !line.isEmpty else { return }
    let pieces: [String] = [
      #"\""#, #"\\"#, #"\n"#, #"\u00e9"#, #"\u212A"#, #"\u0061"#, #"\ud83d\ude00"#, #"\ud83d"#, #"\u00"#, #"\q"#,
      "\u{E9}", "e\u{301}", "\u{212A}", "K", "a", "\u{1F600}", "{", "}", "[", "]", ",", ":", "\"", "true", "null",
      "-0.5", "1e5", "1e999", "12345678901234567890", "0.1234567890123456789", #"{"a": 1, "a": 2}"#,
      #""title": "x", "#, #""details": {"\u0061": 1, "a": 2}, "#, #""details": {"K": 1, "\u212A": 2}, "#,
      #""brand": ["a\"b", {"c\n": null}], "#, #""n": -12.5e-3, "#,
    ]
    let position = Int(generator.next() % UInt64(line.count + 1))
    switch generator.next() % 5 {
    case 0, 1:
      line.insert(contentsOf: Array(pieces[Int(generator.next() % UInt64(pieces.count))].utf8), at: position)
    case 2:
      guard position < line.count else { return }
      line[position] ^= UInt8(truncatingIfNeeded: 1 << (generator.next() % 8))
    case 3:
      line.removeSubrange(position..<min(line.count, position + 1 + Int(generator.next() % 8)))
    default:
      // Replace a value after a ':' with a piece.
      guard let colon = line[position...].firstIndex(of: UInt8(ascii: ":")) else { return }
      var end = colon + 1
      while end < line.count && line[end] != UInt8(ascii: ",") && line[end] != UInt8(ascii: "}") { end += 1 }
      let piece = pieces[Int(generator.next() % UInt64(pieces.count))]
      line.replaceSubrange((colon + 1)..<end, with: Array((" " + piece).utf8))
    }
  }

  @Test func mutatedLinesGiveWhatJSONParserGives() throws {
    var seeds = try Self.realLines().prefix(500).map { $0 }
    seeds += [
      #"{"title": "T", "asin": "B1", "details": {"Brand": "X", "k\n": [1, 2]}, "brand": ["Y"], "n": 3}"#,
      #"{"asin": "B2", "title": ["a", {"b": null}], "details": "none", "n": -0.25}"#,
    ].map { Array($0.utf8) }
    let seconds = Double(FileSystem.environment("TCA_FUZZ_SECONDS") ?? "") ?? 2
    var scanner = JSONFieldScanner(names: Self.names, options: Self.options)
    var plain = JSONFieldScanner(names: Self.names)
    var generator = SeededGenerator(seed: 2023)
    var verdicts: [Verdict: Int] = [:]
    var runs = 0
    let start = monotonicSeconds()
    while (monotonicSeconds() - start < seconds || runs < 5000) && runs < 200_000 {
      runs += 1
      var line = seeds[Int(generator.next() % UInt64(seeds.count))]
      for _ in 0..<(1 + Int(generator.next() % 3)) { Self.mutate(&line, generator: &generator) }
      verdicts[Self.check(line, &scanner, &plain), default: 0] += 1
    }
    print("scanner with options on \(runs) mutated lines: \(verdicts)")
    #expect(verdicts[.accepted, default: 0] > 0 && verdicts[.fallbackInvalid, default: 0] > 0)
    #expect(verdicts[.fallbackValid, default: 0] > 0)
  }
}
