/// A JSON document as a value: the one representation of parameters, manifests and reports.
///
/// Integers and floating-point numbers are kept apart so that canonical JSON writes `5` for an
/// integer parameter and `5.0` never appears by accident.
public enum JSONValue: Hashable, Sendable {
  case null
  case bool(Bool)
  case integer(Int64)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])
}

extension JSONValue {
  /// The object's members, or `nil` when the value is not an object.
  public var objectValue: [String: JSONValue]? {
    if case .object(let members) = self { return members }
    return nil
  }
  public var arrayValue: [JSONValue]? {
    if case .array(let elements) = self { return elements }
    return nil
  }
  public var stringValue: String? {
    if case .string(let text) = self { return text }
    return nil
  }
  public var integerValue: Int64? {
    switch self {
    case .integer(let value): return value
    case .number(let value) where value.rounded() == value && abs(value) < 9.0e15: return Int64(value)
    default: return nil
    }
  }
  public var numberValue: Double? {
    switch self {
    case .integer(let value): return Double(value)
    case .number(let value): return value
    default: return nil
    }
  }
  public var boolValue: Bool? {
    if case .bool(let flag) = self { return flag }
    return nil
  }
  public subscript(key: String) -> JSONValue? {
    objectValue?[key]
  }

  /// A short name of the value's JSON type, for error messages ("expected integer, found string").
  public var typeName: String {
    switch self {
    case .null: return "null"
    case .bool: return "boolean"
    case .integer: return "integer"
    case .number: return "number"
    case .string: return "string"
    case .array: return "array"
    case .object: return "object"
    }
  }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int64) { self = .integer(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(floatLiteral value: Double) { self = .number(value) }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
  }
  public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
  public init(_ value: Int) { self = .integer(Int64(value)) }
  public init(_ value: Double) { self = .number(value) }
  public init(_ value: String) { self = .string(value) }
  public init(_ values: [Int]) { self = .array(values.map { .integer(Int64($0)) }) }
}

// MARK: - Serialisation

extension JSONValue {
  /// The canonical form: sorted keys, no insignificant whitespace, integers as integers, floats
  /// in shortest round-trip form. Stage keys are the SHA-256 of this text.
  public func canonicalText() -> String {
    var output = ""
    write(into: &output, indent: nil, depth: 0)
    return output
  }

  /// Sorted keys with two-space indentation and a final newline: the form of every JSON file we write,
  /// so the files are byte-identical run after run and still read well.
  public func prettyText() -> String {
    var output = ""
    write(into: &output, indent: "  ", depth: 0)
    output.append("\n")
    return output
  }

  private func write(into output: inout String, indent: String?, depth: Int) {
    switch self {
    case .null: output.append("null")
    case .bool(let flag): output.append(flag ? "true" : "false")
    case .integer(let value): output.append(String(value))
    case .number(let value): output.append(Self.formatNumber(value))
    case .string(let text): Self.writeString(text, into: &output)
    case .array(let elements):
      if elements.isEmpty {
        output.append("[]")
        return
      }
      output.append("[")
      for (index, element) in elements.enumerated() {
        if index > 0 { output.append(",") }
        Self.newline(&output, indent: indent, depth: depth + 1)
        element.write(into: &output, indent: indent, depth: depth + 1)
      }
      Self.newline(&output, indent: indent, depth: depth)
      output.append("]")
    case .object(let members):
      if members.isEmpty {
        output.append("{}")
        return
      }
      output.append("{")
      for (index, key) in members.keys.sorted(by: Self.codePointOrder).enumerated() {
        if index > 0 { output.append(",") }
        Self.newline(&output, indent: indent, depth: depth + 1)
        Self.writeString(key, into: &output)
        output.append(indent == nil ? ":" : ": ")
        members[key]!.write(into: &output, indent: indent, depth: depth + 1)
      }
      Self.newline(&output, indent: indent, depth: depth)
      output.append("}")
    }
  }

  /// Keys sort by Unicode code points (as Python's `sorted` and `json.dumps(sort_keys=True)` do).
  public static func codePointOrder(_ left: String, _ right: String) -> Bool {
    left.unicodeScalars.lexicographicallyPrecedes(right.unicodeScalars)
  }

  private static func newline(_ output: inout String, indent: String?, depth: Int) {
    guard let indent else { return }
    output.append("\n")
    for _ in 0..<depth { output.append(indent) }
  }

  /// Shortest round-trip decimal form; integral values keep a `.0` so they read back as floats.
  static func formatNumber(_ value: Double) -> String {
    precondition(value.isFinite, "JSON cannot represent \(value)")
    var text = "\(value)"
    if !text.contains(".") && !text.contains("e") && !text.contains("E") { text += ".0" }
    return text
  }

  static func writeString(_ text: String, into output: inout String) {
    output.append("\"")
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": output.append("\\\"")
      case "\\": output.append("\\\\")
      case "\n": output.append("\\n")
      case "\r": output.append("\\r")
      case "\t": output.append("\\t")
      case "\u{08}": output.append("\\b")
      case "\u{0C}": output.append("\\f")
      default:
        if scalar.value < 0x20 {
          let hex = String(scalar.value, radix: 16)
          output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
        } else {
          output.unicodeScalars.append(scalar)
        }
      }
    }
    output.append("\"")
  }
}
