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
    var output: [UInt8] = []
    write(into: &output, indent: nil, depth: 0)
    return String(decoding: output, as: UTF8.self)
  }

  /// Sorted keys with two-space indentation and a final newline: the form of every JSON file we write,
  /// so the files are byte-identical run after run and still read well.
  public func prettyText() -> String {
    var output: [UInt8] = []
    write(into: &output, indent: "  ", depth: 0)
    output.append(0x0A)
    return String(decoding: output, as: UTF8.self)
  }

  /// Appends the canonical form (`canonicalText()`) as UTF-8 to `output`, without building a `String`.
  public func appendCanonical(to output: inout [UInt8]) {
    write(into: &output, indent: nil, depth: 0)
  }

  /// Appends the canonical form of the object `members` with the members `fixed` added, each
  /// replacing a member of the same key: what `JSONValue.object(merged).appendCanonical(to:)` writes,
  /// without building the merged dictionary.
  ///
  /// - Parameters:
  ///   - members: the object's members.
  ///   - fixed: members to add; a key must appear at most once.
  ///   - output: where the UTF-8 text goes.
  /// - Complexity: O(*k* log *k*) key comparisons for *k* members, plus the length of the text.
  public static func appendCanonicalObject(
    _ members: [String: JSONValue], adding fixed: KeyValuePairs<String, JSONValue>, to output: inout [UInt8]
  ) {
    var pairs: [(key: String, value: JSONValue)] = []
    pairs.reserveCapacity(members.count + fixed.count)
    for (key, value) in members where !fixed.contains(where: { $0.key == key }) { pairs.append((key, value)) }
    for (key, value) in fixed { pairs.append((key, value)) }
    pairs.sort { codePointOrder($0.key, $1.key) }
    writeMembers(pairs, into: &output, indent: nil, depth: 0)
  }

  /// Appends `text` as a canonical JSON string, quotes included, to `output`: `"` and `\` are
  /// escaped, `\n`, `\r`, `\t`, `\b` and `\f` are written as such, other control characters as
  /// `\u00XX` (lowercase hex), and everything else as its UTF-8.
  public static func appendCanonical(string text: String, to output: inout [UInt8]) {
    output.append(0x22)
    var text = text
    text.withUTF8 { utf8 in
      var runStart = 0
      for index in utf8.indices {
        let byte = utf8[index]
        guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
        runStart = index + 1
        output.append(0x5C)
        switch byte {
        case 0x22, 0x5C: output.append(byte)
        case 0x0A: output.append(UInt8(ascii: "n"))
        case 0x0D: output.append(UInt8(ascii: "r"))
        case 0x09: output.append(UInt8(ascii: "t"))
        case 0x08: output.append(UInt8(ascii: "b"))
        case 0x0C: output.append(UInt8(ascii: "f"))
        default:
          func hex(_ digit: UInt8) -> UInt8 { digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10 }
          output.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30, hex(byte >> 4), hex(byte & 0x0F)])
        }
      }
      output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
    }
    output.append(0x22)
  }

  /// Appends the decimal digits of `value` (with a `-` when negative) to `output`.
  public static func appendDecimal(_ value: Int64, to output: inout [UInt8]) {
    if value < 0 { output.append(UInt8(ascii: "-")) }
    var magnitude = value.magnitude
    // Twenty digits hold any Int64; they are written back to front into a stack buffer.
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
    withUnsafeMutableBytes(of: &digits) { buffer in
      var start = buffer.count
      repeat {
        start -= 1
        buffer[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
      } while magnitude > 0
      output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
    }
  }

  private func write(into output: inout [UInt8], indent: StaticString?, depth: Int) {
    switch self {
    case .null: output.append(contentsOf: "null".utf8)
    case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
    case .integer(let value): Self.appendDecimal(value, to: &output)
    case .number(let value): output.append(contentsOf: Self.formatNumber(value).utf8)
    case .string(let text): Self.appendCanonical(string: text, to: &output)
    case .array(let elements):
      if elements.isEmpty {
        output.append(contentsOf: "[]".utf8)
        return
      }
      output.append(UInt8(ascii: "["))
      for (index, element) in elements.enumerated() {
        if index > 0 { output.append(UInt8(ascii: ",")) }
        Self.newline(&output, indent: indent, depth: depth + 1)
        element.write(into: &output, indent: indent, depth: depth + 1)
      }
      Self.newline(&output, indent: indent, depth: depth)
      output.append(UInt8(ascii: "]"))
    case .object(let members):
      let pairs = members.sorted { Self.codePointOrder($0.key, $1.key) }
      Self.writeMembers(pairs, into: &output, indent: indent, depth: depth)
    }
  }

  /// Writes an object whose members are already in canonical (code point) order.
  private static func writeMembers(
    _ pairs: [(key: String, value: JSONValue)], into output: inout [UInt8], indent: StaticString?, depth: Int
  ) {
    if pairs.isEmpty {
      output.append(contentsOf: "{}".utf8)
      return
    }
    output.append(UInt8(ascii: "{"))
    for (index, pair) in pairs.enumerated() {
      if index > 0 { output.append(UInt8(ascii: ",")) }
      newline(&output, indent: indent, depth: depth + 1)
      appendCanonical(string: pair.key, to: &output)
      output.append(UInt8(ascii: ":"))
      if indent != nil { output.append(UInt8(ascii: " ")) }
      pair.value.write(into: &output, indent: indent, depth: depth + 1)
    }
    newline(&output, indent: indent, depth: depth)
    output.append(UInt8(ascii: "}"))
  }

  /// Keys sort by Unicode code points (as Python's `sorted` and `json.dumps(sort_keys=True)` do).
  public static func codePointOrder(_ left: String, _ right: String) -> Bool {
    left.unicodeScalars.lexicographicallyPrecedes(right.unicodeScalars)
  }

  private static func newline(_ output: inout [UInt8], indent: StaticString?, depth: Int) {
    guard let indent else { return }
    output.append(0x0A)
    for _ in 0..<depth {
      indent.withUTF8Buffer { output.append(contentsOf: $0) }
    }
  }

  /// Shortest round-trip decimal form; integral values keep a `.0` so they read back as floats.
  static func formatNumber(_ value: Double) -> String {
    precondition(value.isFinite, "JSON cannot represent \(value)")
    var text = "\(value)"
    if !text.contains(".") && !text.contains("e") && !text.contains("E") { text += ".0" }
    return text
  }
}
