import PipelineCore
import Testing

/// Canonical JSON written as `String`s, scalar by scalar: the writer `canonicalText()` had before it
/// wrote bytes, kept as the oracle of the byte writer.
private func naiveCanonicalText(_ value: JSONValue) -> String {
  func string(_ text: String) -> String {
    var output = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": output += "\\\""
      case "\\": output += "\\\\"
      case "\n": output += "\\n"
      case "\r": output += "\\r"
      case "\t": output += "\\t"
      case "\u{08}": output += "\\b"
      case "\u{0C}": output += "\\f"
      default:
        if scalar.value < 0x20 {
          let hex = String(scalar.value, radix: 16)
          output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          output.unicodeScalars.append(scalar)
        }
      }
    }
    return output + "\""
  }
  switch value {
  case .null: return "null"
  case .bool(let flag): return flag ? "true" : "false"
  case .integer(let number): return String(number)
  case .number(let number):
    let text = "\(number)"
    return text.contains(".") || text.contains("e") || text.contains("E") ? text : text + ".0"
  case .string(let text): return string(text)
  case .array(let elements): return "[" + elements.map(naiveCanonicalText).joined(separator: ",") + "]"
  case .object(let members):
    let keys = members.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    return "{" + keys.map { string($0) + ":" + naiveCanonicalText(members[$0]!) }.joined(separator: ",") + "}"
  }
}

/// Strings that need every escaping rule, and text that needs none.
let awkwardStrings = [
  "", "plain", "quote \" inside", "back\\slash", "\\\"", "new\nline", "\r\n\t", "\u{00}\u{01}\u{08}\u{0C}\u{1F}",
  "\u{7F} delete stays", "Crème brûlée", "日本語", "emoji 😀 and 𝄞", "e\u{301} combining", "\u{2028}\u{2029}",
  "ends with backslash \\", "/ slash",
]

@Suite("Canonical JSON bytes")
struct CanonicalJSONBytesTests {
  @Test(arguments: awkwardStrings)
  func stringBytesMatchTheScalarWriter(text: String) {
    var bytes: [UInt8] = []
    JSONValue.appendCanonical(string: text, to: &bytes)
    #expect(String(decoding: bytes, as: UTF8.self) == naiveCanonicalText(.string(text)))
    #expect(JSONValue.string(text).canonicalText() == naiveCanonicalText(.string(text)))
  }

  @Test(arguments: 0..<20)
  func nestedValuesMatchTheScalarWriter(seed: UInt64) throws {
    var generator = SeededGenerator(seed: seed)
    func value(depth: Int) -> JSONValue {
      switch generator.nextInt(below: depth > 3 ? 6 : 8) {
      case 0: return .null
      case 1: return .bool(generator.nextInt(below: 2) == 0)
      case 2: return .integer(Int64(bitPattern: generator.next()) >> UInt64(generator.nextInt(below: 64)))
      case 3: return .number([0.1, -2.5e20, 1e-5, 3, -0.0, 1e300][generator.nextInt(below: 6)])
      case 4, 5: return .string(awkwardStrings[generator.nextInt(below: awkwardStrings.count)])
      case 6: return .array((0..<generator.nextInt(below: 4)).map { _ in value(depth: depth + 1) })
      default:
        var members: [String: JSONValue] = [:]
        for _ in 0..<generator.nextInt(below: 5) {
          members[awkwardStrings[generator.nextInt(below: awkwardStrings.count)]] = value(depth: depth + 1)
        }
        return .object(members)
      }
    }
    let document = value(depth: 0)
    var bytes: [UInt8] = []
    document.appendCanonical(to: &bytes)
    #expect(String(decoding: bytes, as: UTF8.self) == naiveCanonicalText(document))
    #expect(document.canonicalText() == naiveCanonicalText(document))
    #expect(try JSONParser.parse(bytes) == document)
  }

  @Test func addedMembersReplaceMembersOfTheSameKey() {
    let members: [String: JSONValue] = ["title": "old", "brand": "B", "z": [1, 2], "é": nil, "Z": 1]
    let fixed: KeyValuePairs<String, JSONValue> = ["raw_id": "a\"b", "title": nil, "id": 7]
    var merged = members
    for (key, value) in fixed { merged[key] = value }
    var bytes: [UInt8] = []
    JSONValue.appendCanonicalObject(members, adding: fixed, to: &bytes)
    #expect(String(decoding: bytes, as: UTF8.self) == JSONValue.object(merged).canonicalText())
    #expect(
      String(decoding: bytes, as: UTF8.self)
        == #"{"Z":1,"brand":"B","id":7,"raw_id":"a\"b","title":null,"z":[1,2],"é":null}"#)
  }

  @Test func decimalsCoverTheWholeRange() {
    for value: Int64 in [0, 1, -1, 9, 10, -10, 1_234_567_890, .max, .min] {
      var bytes: [UInt8] = []
      JSONValue.appendDecimal(value, to: &bytes)
      #expect(String(decoding: bytes, as: UTF8.self) == String(value))
    }
  }

  @Test func prettyTextKeepsItsLayout() {
    let value: JSONValue = ["b": [1, ["c": "x\ny"]], "a": [:], "e": []]
    #expect(
      value.prettyText()
        == "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"c\": \"x\\ny\"\n    }\n  ],\n  \"e\": []\n}\n")
  }
}
