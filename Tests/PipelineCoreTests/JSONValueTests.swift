import PipelineCore
import Testing

@Suite("Canonical JSON")
struct CanonicalJSONTests {
  @Test func sortsKeysByCodePointAndDropsWhitespace() {
    let value: JSONValue = ["b": 1, "a": ["z": true, "Z": nil], "é": "x", "B": 2.5]
    #expect(value.canonicalText() == #"{"B":2.5,"a":{"Z":null,"z":true},"b":1,"é":"x"}"#)
  }

  @Test func writesIntegersAsIntegersAndFloatsInShortestRoundTripForm() {
    #expect(JSONValue.integer(5).canonicalText() == "5")
    #expect(JSONValue.number(5).canonicalText() == "5.0")
    #expect(JSONValue.number(0.1).canonicalText() == "0.1")
    #expect(JSONValue.number(1e-5).canonicalText() == "1e-05")
    #expect(JSONValue.number(-2.5e20).canonicalText() == "-2.5e+20")
  }

  @Test func escapesControlCharactersQuotesAndBackslashes() {
    let value = JSONValue.string("a\"b\\c\nd\u{01}é")
    #expect(value.canonicalText() == #""a\"b\\c\nd\u0001é""#)
  }

  @Test func parseInvertsCanonicalText() throws {
    let value: JSONValue = [
      "list": [1, 2.25, "three", nil, false], "nested": ["deep": ["x": -7]], "text": "tab\there",
    ]
    #expect(try JSONParser.parse(value.canonicalText()) == value)
    #expect(try JSONParser.parse(value.prettyText()) == value)
  }

  @Test func prettyTextIsSortedIndentedAndEndsWithNewline() {
    let value: JSONValue = ["b": [1, 2], "a": [:]]
    #expect(value.prettyText() == "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2\n  ]\n}\n")
  }
}

@Suite("JSON parser")
struct JSONParserTests {
  @Test func keepsIntegersApartFromFloats() throws {
    #expect(
      try JSONParser.parse("[1, 1.0, 1e2, -0, 9223372036854775807]")
        == [.integer(1), .number(1), .number(100), .integer(0), .integer(Int64.max)])
  }

  @Test func decodesEscapesAndSurrogatePairs() throws {
    #expect(try JSONParser.parse(#""\u00e9\ud83d\ude00\n\/""#) == .string("é😀\n/"))
  }

  @Test(arguments: [
    ("{\"a\":1,}", 7), ("[1 2]", 3), ("\"abc", 4), ("{\"a\":1,\"a\":2}", 7), ("01", 1), ("[1]x", 3), ("\"\\ud800\"", 7),
  ])
  func reportsTheByteOffsetOfAnError(text: String, offset: Int) {
    #expect {
      _ = try JSONParser.parse(text)
    } throws: { error in
      (error as? JSONParser.SyntaxError)?.offset == offset
    }
  }

  @Test func rejectsInvalidUTF8InStrings() {
    #expect(throws: JSONParser.SyntaxError.self) { _ = try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
  }

  @Test func numbersBeyondDoubleAreAnErrorNotInfinity() throws {
    // Infinity has no JSON text, so a value holding it could not be reported or written back.
    for text in ["1e999", "-1e999", "[1, 2e400]", "{\"overall\": 1E+309}"] {
      let error = #expect(throws: JSONParser.SyntaxError.self) { _ = try JSONParser.parse(Array(text.utf8)) }
      #expect(error?.reason == "number out of range", "\(text)")
    }
    #expect(try JSONParser.parse(Array("1e308".utf8)) == .number(1e308))
    #expect(try JSONParser.parse(Array("1e-999".utf8)) == .number(0))
  }
}
