import ArtifactFormats
import Foundation
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// The Python literal parser: hand-worked examples of every construct and escape, errors with
/// their byte offsets, and every line of the real Amazon 2014 meta file (against `ast.literal_eval`
/// where `python3` is installed).
@Suite struct PythonLiteralTests {
  func parse(_ text: String) throws -> JSONValue { try PythonLiteral.parse(text) }

  func error(_ text: String) -> String? {
    error(Array(text.utf8))
  }

  func error(_ bytes: [UInt8]) -> String? {
    do throws(PythonLiteral.SyntaxError) {
      _ = try bytes.withUnsafeBufferPointer { (buffer) throws(PythonLiteral.SyntaxError) in
        try PythonLiteral.parse(buffer)
      }
      return nil
    } catch {
      return error.description
    }
  }

  @Test func constantsAndNumbersParseAsPythonReadsThem() throws {
    #expect(try parse("True") == .bool(true))
    #expect(try parse("False") == .bool(false))
    #expect(try parse("None") == .null)
    let integers: [(String, Int64)] = [
      ("0", 0), ("00", 0), ("-5", -5), ("+5", 5), ("- 7", -7), ("1_000", 1000), ("0x1F", 31), ("0X_ff", 255),
      ("0o17", 15), ("0b101", 5), ("-0x10", -16), ("9223372036854775807", .max), ("-9223372036854775808", .min),
    ]
    for (text, value) in integers { #expect(try parse(text) == .integer(value), "\(text)") }
    let floats: [(String, Double)] = [
      ("1.5", 1.5), (".5", 0.5), ("5.", 5), ("1e3", 1000), ("-2.5e-3", -0.0025), ("1_0.5", 10.5), ("1E+2", 100),
      ("01.5", 1.5), ("0e0", 0), ("9.49", 9.49), ("1.e1", 10),
    ]
    for (text, value) in floats { #expect(try parse(text) == .number(value), "\(text)") }
  }

  @Test func everyStringEscapeDecodes() throws {
    #expect(try parse(#"'a\nb\tc\'d\"e\\f'"#) == "a\nb\tc'd\"e\\f")
    #expect(try parse(#"'\a\b\f\v\r'"#) == .string("\u{07}\u{08}\u{0C}\u{0B}\r"))
    #expect(try parse(#"'\x41\xe9\xFF'"#) == "Aéÿ", "\\x is a code point, not a byte")
    #expect(try parse(#"'\u00e9\u20AC'"#) == "é€")
    #expect(try parse(#"'\U0001F600'"#) == "😀")
    #expect(try parse(#"'\ud83d\ude00'"#) == "😀", "a UTF-16 pair becomes its scalar")
    #expect(try parse(#"'\101\0\7\377\1234'"#) == "A\u{0}\u{07}ÿS4", "octal takes at most three digits")
    #expect(try parse(#"'\d\ é'"#) == #"\d\ é"#, "unknown escapes keep their backslash")
    #expect(try parse("'a\\\nb'") == "ab", "backslash-newline continues the string")
    #expect(try parse(#"r'\n\''"#) == #"\n\'"#, "raw strings keep backslashes")
    #expect(try parse(#"u'caf\xe9'"#) == "café")
    #expect(try parse(#""it's""#) == "it's")
    #expect(try parse(#"'say "hi"'"#) == #"say "hi""#)
    #expect(try parse("'''a 'quoted' \"\"\" b'''") == #"a 'quoted' """ b"#)
    #expect(try parse("\"\"\"x\"y\"\"\"") == #"x"y"#)
    #expect(try parse("'café ☕ 😀'") == "café ☕ 😀", "raw UTF-8 passes through")
    #expect(try parse(#"'a' "b" r'\c' u'd'"#) == #"ab\cd"#, "adjacent strings concatenate")
    #expect(try parse("''") == "")
  }

  @Test func containersNestAndKeepPythonSemantics() throws {
    #expect(try parse("[]") == [])
    #expect(try parse("()") == [])
    #expect(try parse("{}") == .object([:]))
    #expect(try parse("(1)") == 1, "parentheses alone make no tuple")
    #expect(try parse("(1,)") == [1])
    #expect(try parse("(1, 'a', None)") == [1, "a", nil])
    #expect(try parse("[1, 2,]") == [1, 2])
    #expect(try parse("{'a': 1,}") == ["a": 1])
    #expect(try parse("{'a': 1, 'a': 2}") == ["a": 2], "a repeated key keeps the last value")
    #expect(try parse("1, 2") == [1, 2], "a bare tuple at the top level")
    #expect(try parse(" \n[ 1 ,\n\t2 ] \n") == [1, 2])
    #expect(
      try parse("{'a': [(1, 2.5), {'b': [[], ()]}], 'c': {'d': {'e': (True,)}}}")
        == ["a": [[1, 2.5], ["b": [[], []]]], "c": ["d": ["e": [true]]]])
    let line =
      #"{'asin': '6308051551', 'description': 'NEW\tCombo', 'title': "Don't Drink His Blood", 'price': 8.91, "#
      + #"'salesRank': {'Music': 939190}, 'categories': [['Digital Music', 'Alternative Rock'], ['CDs & Vinyl']]}"#
    #expect(
      try parse(line)
        == [
          "asin": "6308051551", "description": "NEW\tCombo", "title": "Don't Drink His Blood", "price": 8.91,
          "salesRank": ["Music": 939_190], "categories": [["Digital Music", "Alternative Rock"], ["CDs & Vinyl"]],
        ])
    let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
    #expect(try parse(deep) != .null)
  }

  @Test func errorsNameTheByteOffsetAndWhatWasExpected() {
    let cases: [(String, String)] = [
      ("", "expected a value before the end at byte 0"),
      ("{'a' 1}", "expected ':' at byte 5"),
      ("{'a': 1 'b': 2}", "expected ',' or '}' at byte 8"),
      ("[1, 2", "expected ',' or ']' before the end at byte 5"),
      ("[1 2]", "expected ',' or ']' at byte 3"),
      ("(1 2)", "expected ',' or ')' at byte 3"),
      ("'abc", "expected the closing quote before the end (unterminated string) at byte 0"),
      ("'a\nb'", "expected the closing quote before the line break (unterminated string) at byte 2"),
      ("{1: 2}", "expected a string key, found integer at byte 1"),
      ("{1, 2}", "sets are not supported (expected a dict) at byte 1"),
      (#"'\x4'"#, #"expected 2 hex digits after \x (found 1) at byte 4"#),
      (#"'\u12'"#, #"expected 4 hex digits after \u (found 2) at byte 5"#),
      (#"'\N{DASH}'"#, #"named escapes \N{…} are not supported at byte 1"#),
      (#"'\ud83d'"#, "expected a low surrogate after the high surrogate at byte 1"),
      (#"'\udc00'"#, "lone low surrogate (not a character) at byte 1"),
      (#"'\U00110000'"#, #"\U escape names U+110000, not a character at byte 1"#),
      ("b'x'", "bytes literals are not supported at byte 0"),
      ("f'x'", "f-strings are not literals at byte 0"),
      ("ur'x'", "unknown string prefix 'ur' at byte 0"),
      ("true", "expected a value, found the name 'true' (only True, False and None are literals) at byte 0"),
      ("[1, null]", "expected a value, found the name 'null' (only True, False and None are literals) at byte 4"),
      ("01", "integer with a leading zero (Python 3 writes octal as 0o…) at byte 0"),
      ("1j", "complex numbers are not supported at byte 1"),
      ("10L", "expected the end of the number, found 'L' at byte 2"),
      ("1__0", "'_' must sit between two digits at byte 1"),
      ("99999999999999999999", "integer does not fit in 64 bits at byte 0"),
      ("1e999", "float out of range at byte 0"),
      ("1e", "expected the digits of an exponent at byte 2"),
      ("-x", "expected a number after '-' at byte 1"),
      ("[1] x", "expected the end of the literal at byte 4"),
      ("1, 2 3", "expected ',' or the end of the literal at byte 5"),
      ("{'a': 1} {", "expected the end of the literal at byte 9"),
      ("[.]", "expected a value, found '.' at byte 1"),
      ("@", "expected a value, found '@' at byte 0"),
    ]
    for (text, expected) in cases { #expect(error(text) == expected, "\(text)") }
    #expect(error([0x27, 0xFF, 0x27]) == "invalid UTF-8 in string at byte 0")
    #expect(error(String(repeating: "[", count: 600)) == "nesting deeper than 512 levels at byte 512")
  }

  /// The `hist_id` fast path reads what the general parser reads, and fails where it fails on
  /// lists that are not plain integers.
  @Test func integerListsAgreeWithTheGeneralParser() throws {
    for text in ["[13452, 14024, 13517]", "[]", " [ 1 ,2,3 ] ", "[1, 2,]", "[0, -4]"] {
      var values: [Int64] = []
      try Array(text.utf8).withUnsafeBufferPointer { (buffer) throws(PythonLiteral.SyntaxError) in
        try PythonLiteral.parseIntegerList(buffer, into: &values)
      }
      #expect(try parse(text) == .array(values.map(JSONValue.integer)), "\(text)")
    }
  }

  static let metaFile = "amazon-2014/Digital_Music-truncated/meta_Digital_Music.complete-lines.json.gz"

  /// The decompressed lines of a shared .gz file (`gzip -dc`, so the test does not use our reader).
  static func gunzippedLines(_ relative: String) throws -> [Data] {
    let process = Process()
    let pipe = Pipe()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "gzip -dc \"$0\"", SharedData.path(relative)]
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "gzip -dc \(relative)")
    return data.split(separator: 0x0A, omittingEmptySubsequences: true)
  }

  @Test(.enabled(if: SharedData.shouldRun(metaFile), "needs ../shared/data/amazon-2014"))
  func everyAmazon2014MetaLineParses() throws {
    guard SharedData.available(Self.metaFile) else { return }
    let lines = try Self.gunzippedLines(Self.metaFile)
    #expect(lines.count == 7419, "PROVENANCE.md: 7,419 complete lines")
    var titled = 0
    var parsed: [JSONValue] = []
    for (index, line) in lines.enumerated() {
      let value = try Array(line).withUnsafeBufferPointer { (buffer) throws(PythonLiteral.SyntaxError) in
        try PythonLiteral.parse(buffer)
      }
      let object = try #require(value.objectValue, "line \(index + 1)")
      #expect(object["asin"]?.stringValue?.isEmpty == false, "line \(index + 1)")
      if object["title"]?.stringValue != nil { titled += 1 }
      parsed.append(.object(object))
    }
    #expect(titled == 7321, "PROVENANCE.md: 7,321 lines have a title")
    try compareWithPython(parsed)
  }

  /// Every line against `json.dumps(ast.literal_eval(line))`, when `python3` is installed.
  func compareWithPython(_ parsed: [JSONValue]) throws {
    let temporary = try TemporaryDirectory()
    let output = temporary.file("oracle.jsonl")
    let script = """
      import ast, gzip, json, sys
      with gzip.open(sys.argv[1], 'rt', encoding='utf-8') as lines, open(sys.argv[2], 'w') as out:
          for line in lines:
              if line.strip():
                  out.write(json.dumps(ast.literal_eval(line)) + '\\n')
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, SharedData.path(Self.metaFile), output]
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch {
      print("skipping the ast.literal_eval comparison: python3 not found")
      return
    }
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      print("skipping the ast.literal_eval comparison: python3 exited \(process.terminationStatus)")
      return
    }
    let oracle = try JSONLines.read(output)
    #expect(oracle.count == parsed.count)
    for (index, (ours, theirs)) in zip(parsed, oracle).enumerated() where ours != theirs {
      Issue.record("line \(index + 1) differs from ast.literal_eval")
      break
    }
  }
}
