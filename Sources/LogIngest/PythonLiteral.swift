import PipelineCore

/// A parser of Python literals over UTF-8 bytes, producing `JSONValue`s: what the Amazon 2014
/// metadata files hold (one `repr` of a dict per line) and what `ast.literal_eval` reads, without
/// evaluating anything and without rewriting quotes.
///
/// Accepted, with Python 3 meaning:
/// - dicts `{k: v, …}` → `.object` (keys must be strings; a repeated key keeps the last value, as in
///   Python), lists `[…]` and tuples `(…)`, `(x,)`, `()` → `.array`; a parenthesised value `(x)` is
///   `x`; trailing commas; a bare top-level tuple `1, 2`;
/// - strings in single, double or triple quotes, with an optional `u` or `r` prefix, every escape
///   of a `str` literal (`\\`, `\'`, `\"`, `\a`, `\b`, `\f`, `\n`, `\r`, `\t`, `\v`, `\` + line break,
///   octal `\ooo`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`; an unknown escape such as `\d` keeps its
///   backslash, as Python does), and adjacent strings concatenated (`'a' "b"` is `"ab"`);
/// - `True`, `False`, `None` → `.bool`, `.null`;
/// - integers (decimal, `0x`, `0o`, `0b`, with `_` separators, one leading `+` or `-`) → `.integer`
///   when they fit in `Int64`; floats (`1.5`, `.5`, `5.`, `1e-3`, `1_0.5`) → `.number`.
///
/// Rejected with an error, never guessed: bytes (`b''`) and f-strings, sets, complex numbers,
/// named escapes `\N{…}`, integers outside `Int64`, floats that overflow, a lone UTF-16 surrogate
/// (a `\uD83D\uDE00` pair, as narrow Python 2 builds wrote it, becomes the one scalar it encodes),
/// invalid UTF-8 inside a string, comments, and any name other than the three constants.
///
/// `\xHH` and octal escapes are code points (Python 3 `str`), not bytes: `'\xe9'` is "é".
public enum PythonLiteral {
  /// Why a line is not a Python literal, and where: a 0-based byte offset into the parsed bytes.
  public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "\(reason) at byte \(offset)" }
  }

  static let maximumDepth = 512

  /// Parses one complete literal (surrounding whitespace allowed).
  /// - Complexity: O(n) in the number of bytes.
  public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(SyntaxError) -> JSONValue {
    var cursor = Cursor(bytes: buffer)
    cursor.skipWhitespace()
    let first = try cursor.parseValue(depth: 0)
    cursor.skipWhitespace()
    guard cursor.position < buffer.count else { return first }
    guard buffer[cursor.position] == UInt8(ascii: ",") else {
      throw cursor.fail("expected the end of the literal")
    }
    // `1, 2` is a tuple at the top level, as `ast.literal_eval` reads it.
    var elements = [first]
    while cursor.position < buffer.count && buffer[cursor.position] == UInt8(ascii: ",") {
      cursor.position += 1
      cursor.skipWhitespace()
      guard cursor.position < buffer.count else { break }
      elements.append(try cursor.parseValue(depth: 1))
      cursor.skipWhitespace()
    }
    guard cursor.position == buffer.count else { throw cursor.fail("expected ',' or the end of the literal") }
    return .array(elements)
  }

  public static func parse(_ text: String) throws(SyntaxError) -> JSONValue {
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBufferPointer { (buffer) throws(SyntaxError) -> JSONValue in try parse(buffer) }
  }

  /// Parses a list of decimal integers (`"[13452, 14024, 13517]"`, the official TCA4Rec `hist_id`)
  /// into `values` (replacing its contents) without building `JSONValue`s: the hot path of the
  /// official CSV reader.
  ///
  /// Stricter than `parse`: only `[`, decimal integers with an optional `-` and no leading zeros,
  /// commas, spaces and tabs, `]`, and a trailing comma. Anything else is an error.
  /// - Complexity: O(n) in the length of the literal.
  public static func parseIntegerList(
    _ bytes: UnsafeBufferPointer<UInt8>, into values: inout [Int64]
  ) throws(SyntaxError) {
    values.removeAll(keepingCapacity: true)
    var cursor = Cursor(bytes: bytes)
    let count = bytes.count
    cursor.skipSpacesAndTabs()
    guard cursor.position < count, bytes[cursor.position] == UInt8(ascii: "[") else {
      throw cursor.fail("expected '['")
    }
    cursor.position += 1
    cursor.skipSpacesAndTabs()
    var expectingElement = true
    while true {
      guard cursor.position < count else { throw cursor.fail("expected ']' before the end") }
      if bytes[cursor.position] == UInt8(ascii: "]") {
        // "[]" and "[1, 2,]" are valid Python; "[,]" and "[1,,]" fail below, at the comma.
        cursor.position += 1
        break
      }
      guard expectingElement else { throw cursor.fail("expected ',' or ']'") }
      let start = cursor.position
      if bytes[cursor.position] == UInt8(ascii: "-") { cursor.position += 1 }
      let digitsStart = cursor.position
      cursor.skipDecimalDigits()
      guard cursor.position > digitsStart else {
        cursor.position = start
        throw cursor.fail("expected an integer")
      }
      if cursor.position - digitsStart > 1 && bytes[digitsStart] == UInt8(ascii: "0") {
        cursor.position = digitsStart
        throw cursor.fail("integer with a leading zero")
      }
      guard let value = FieldParsing.integer(bytes[field: start..<cursor.position]) else {
        cursor.position = start
        throw cursor.fail("integer out of range")
      }
      values.append(value)
      cursor.skipSpacesAndTabs()
      guard cursor.position < count else { throw cursor.fail("expected ']' before the end") }
      if bytes[cursor.position] == UInt8(ascii: ",") {
        cursor.position += 1
        cursor.skipSpacesAndTabs()
        expectingElement = true
      } else {
        expectingElement = false
      }
    }
    cursor.skipSpacesAndTabs()
    guard cursor.position == count else { throw cursor.fail("unexpected text after ']'") }
  }

  struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func fail(_ reason: String) -> SyntaxError { SyntaxError(offset: position, reason: reason) }

    /// The byte at `position + ahead`, or 0 past the end (no literal byte is 0 where it matters).
    @inline(__always)
    func peek(_ ahead: Int = 0) -> UInt8 {
      position + ahead < bytes.count ? bytes[position + ahead] : 0
    }

    mutating func skipSpacesAndTabs() {
      while position < bytes.count && (bytes[position] == 0x20 || bytes[position] == 0x09) { position += 1 }
    }

    /// Spaces, tabs, line breaks and form feeds (inside brackets Python allows them all), and
    /// backslash-newline continuations.
    mutating func skipWhitespace() {
      while position < bytes.count {
        switch bytes[position] {
        case 0x20, 0x09, 0x0A, 0x0D, 0x0C:
          position += 1
        case UInt8(ascii: "\\") where peek(1) == 0x0A || peek(1) == 0x0D:
          position += 2
        default:
          return
        }
      }
    }

    mutating func skipDecimalDigits() {
      while position < bytes.count && bytes[position] &- UInt8(ascii: "0") < 10 { position += 1 }
    }

    mutating func parseValue(depth: Int) throws(SyntaxError) -> JSONValue {
      guard depth < PythonLiteral.maximumDepth else {
        throw fail("nesting deeper than \(PythonLiteral.maximumDepth) levels")
      }
      guard position < bytes.count else { throw fail("expected a value before the end") }
      let byte = bytes[position]
      switch byte {
      case UInt8(ascii: "{"): return try parseDict(depth: depth)
      case UInt8(ascii: "["): return .array(try parseSequence(closing: UInt8(ascii: "]"), depth: depth))
      case UInt8(ascii: "("): return try parseParenthesised(depth: depth)
      case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try parseStrings())
      case UInt8(ascii: "-"), UInt8(ascii: "+"): return try parseSignedNumber()
      case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."): return try parseNumber(negative: false)
      default:
        if isIdentifierStart(byte) { return try parseName() }
        throw fail("expected a value, found \(describe(byte))")
      }
    }

    func describe(_ byte: UInt8) -> String {
      byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    func isIdentifierStart(_ byte: UInt8) -> Bool {
      (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") || byte == UInt8(ascii: "_")
        || byte >= 0x80
    }

    func isIdentifierByte(_ byte: UInt8) -> Bool {
      isIdentifierStart(byte) || byte &- UInt8(ascii: "0") < 10
    }

    // MARK: Containers

    mutating func parseDict(depth: Int) throws(SyntaxError) -> JSONValue {
      position += 1
      var members: [String: JSONValue] = [:]
      while true {
        skipWhitespace()
        guard position < bytes.count else { throw fail("expected a key or '}' before the end") }
        if bytes[position] == UInt8(ascii: "}") {
          position += 1
          return .object(members)
        }
        let keyOffset = position
        let key = try parseValue(depth: depth + 1)
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
          if members.isEmpty && (peek() == UInt8(ascii: ",") || peek() == UInt8(ascii: "}")) {
            throw SyntaxError(offset: keyOffset, reason: "sets are not supported (expected a dict)")
          }
          throw fail("expected ':'")
        }
        guard case .string(let name) = key else {
          throw SyntaxError(offset: keyOffset, reason: "expected a string key, found \(key.typeName)")
        }
        position += 1
        skipWhitespace()
        // Python keeps the last value of a repeated key.
        members[name] = try parseValue(depth: depth + 1)
        skipWhitespace()
        guard position < bytes.count else { throw fail("expected ',' or '}' before the end") }
        if bytes[position] == UInt8(ascii: ",") {
          position += 1
        } else if bytes[position] != UInt8(ascii: "}") {
          throw fail("expected ',' or '}'")
        }
      }
    }

    /// The elements up to `closing`, with an optional trailing comma; `position` ends after it.
    mutating func parseSequence(closing: UInt8, depth: Int) throws(SyntaxError) -> [JSONValue] {
      position += 1
      var elements: [JSONValue] = []
      let closingText = String(Character(Unicode.Scalar(closing)))
      while true {
        skipWhitespace()
        guard position < bytes.count else { throw fail("expected a value or '\(closingText)' before the end") }
        if bytes[position] == closing {
          position += 1
          return elements
        }
        elements.append(try parseValue(depth: depth + 1))
        skipWhitespace()
        guard position < bytes.count else { throw fail("expected ',' or '\(closingText)' before the end") }
        if bytes[position] == UInt8(ascii: ",") {
          position += 1
        } else if bytes[position] != closing {
          throw fail("expected ',' or '\(closingText)'")
        }
      }
    }

    /// `()` and `(x, …)` are tuples (arrays); `(x)` is `x`.
    mutating func parseParenthesised(depth: Int) throws(SyntaxError) -> JSONValue {
      let start = position
      position += 1
      skipWhitespace()
      if peek() == UInt8(ascii: ")") {
        position += 1
        return .array([])
      }
      let inner = try parseValue(depth: depth + 1)
      skipWhitespace()
      if peek() == UInt8(ascii: ")") {
        position += 1
        return inner
      }
      position = start
      return .array(try parseSequence(closing: UInt8(ascii: ")"), depth: depth))
    }

    // MARK: Names and numbers

    mutating func parseName() throws(SyntaxError) -> JSONValue {
      let start = position
      while position < bytes.count && isIdentifierByte(bytes[position]) { position += 1 }
      let length = position - start
      // A string prefix: `u'…'`, `r"…"`; `b` and `f` are named to say why they fail.
      if length <= 2, peek() == UInt8(ascii: "'") || peek() == UInt8(ascii: "\"") {
        position = start
        return .string(try parseStrings())
      }
      let name = String(decoding: bytes[field: start..<position], as: UTF8.self)
      switch name {
      case "True": return .bool(true)
      case "False": return .bool(false)
      case "None": return .null
      default:
        position = start
        throw fail("expected a value, found the name '\(name)' (only True, False and None are literals)")
      }
    }

    mutating func parseSignedNumber() throws(SyntaxError) -> JSONValue {
      let negative = bytes[position] == UInt8(ascii: "-")
      position += 1
      skipWhitespace()
      let byte = peek()
      guard byte &- UInt8(ascii: "0") < 10 || byte == UInt8(ascii: ".") else {
        throw fail("expected a number after '\(negative ? "-" : "+")'")
      }
      return try parseNumber(negative: negative)
    }

    /// Scans digits of `radix` with single `_` separators between them; returns the digits without
    /// separators.
    mutating func scanDigits(radix: Int, into digits: inout [UInt8]) throws(SyntaxError) {
      var lastWasDigit = false
      while position < bytes.count {
        let byte = bytes[position]
        if byte == UInt8(ascii: "_") {
          guard lastWasDigit, position + 1 < bytes.count, digitValue(bytes[position + 1]) < radix else {
            throw fail("'_' must sit between two digits")
          }
          lastWasDigit = false
          position += 1
          continue
        }
        guard digitValue(byte) < radix else { return }
        digits.append(byte)
        lastWasDigit = true
        position += 1
      }
    }

    func digitValue(_ byte: UInt8) -> Int {
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
      default: return 99
      }
    }

    mutating func parseNumber(negative: Bool) throws(SyntaxError) -> JSONValue {
      let start = position
      // 0x…, 0o…, 0b…
      if peek() == UInt8(ascii: "0"), let radix = radix(of: peek(1)) {
        position += 2
        if peek() == UInt8(ascii: "_") { position += 1 }
        var digits: [UInt8] = []
        try scanDigits(radix: radix, into: &digits)
        guard !digits.isEmpty else { throw fail("expected a digit of base \(radix)") }
        try checkNumberEnd()
        let text = (negative ? "-" : "") + String(decoding: digits, as: UTF8.self)
        guard let value = Int64(text, radix: radix) else {
          throw SyntaxError(offset: start, reason: "integer does not fit in 64 bits")
        }
        return .integer(value)
      }
      var text: [UInt8] = negative ? [UInt8(ascii: "-")] : []
      var integerDigits: [UInt8] = []
      try scanDigits(radix: 10, into: &integerDigits)
      text += integerDigits.isEmpty ? [UInt8(ascii: "0")] : integerDigits
      var isFloat = false
      if peek() == UInt8(ascii: ".") {
        isFloat = true
        position += 1
        text.append(UInt8(ascii: "."))
        var fraction: [UInt8] = []
        if peek() &- UInt8(ascii: "0") < 10 { try scanDigits(radix: 10, into: &fraction) }
        guard !integerDigits.isEmpty || !fraction.isEmpty else {
          position = start
          throw fail("expected a value, found '.'")
        }
        text += fraction.isEmpty ? [UInt8(ascii: "0")] : fraction
      }
      if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
        let exponentStart = position
        position += 1
        var exponent: [UInt8] = [UInt8(ascii: "e")]
        if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") {
          exponent.append(peek())
          position += 1
        }
        let digitCount = exponent.count
        if peek() &- UInt8(ascii: "0") < 10 { try scanDigits(radix: 10, into: &exponent) }
        guard exponent.count > digitCount else {
          position = exponentStart + 1
          throw fail("expected the digits of an exponent")
        }
        isFloat = true
        text += exponent
      }
      if peek() == UInt8(ascii: "j") || peek() == UInt8(ascii: "J") {
        throw fail("complex numbers are not supported")
      }
      try checkNumberEnd()
      let string = String(decoding: text, as: UTF8.self)
      if isFloat {
        guard let value = Double(string), value.isFinite else {
          throw SyntaxError(offset: start, reason: "float out of range")
        }
        return .number(value)
      }
      if integerDigits.count > 1 && integerDigits[0] == UInt8(ascii: "0")
        && integerDigits.contains(where: { $0 != UInt8(ascii: "0") })
      {
        throw SyntaxError(offset: start, reason: "integer with a leading zero (Python 3 writes octal as 0o…)")
      }
      guard let value = Int64(string) else {
        throw SyntaxError(offset: start, reason: "integer does not fit in 64 bits")
      }
      return .integer(value)
    }

    func radix(of byte: UInt8) -> Int? {
      switch byte | 0x20 {
      case UInt8(ascii: "x"): return 16
      case UInt8(ascii: "o"): return 8
      case UInt8(ascii: "b"): return 2
      default: return nil
      }
    }

    /// A number must not run into a name (`12abc`, Python 2's `10L`).
    func checkNumberEnd() throws(SyntaxError) {
      if position < bytes.count && isIdentifierByte(bytes[position]) {
        throw fail("expected the end of the number, found \(describe(bytes[position]))")
      }
    }

    // MARK: Strings

    /// One string literal, or several adjacent ones concatenated (`'a' "b"`).
    mutating func parseStrings() throws(SyntaxError) -> String {
      var utf8: [UInt8] = []
      let start = position
      try parseString(into: &utf8)
      while true {
        let before = position
        skipWhitespace()
        guard startsString() else {
          position = before
          break
        }
        try parseString(into: &utf8)
      }
      guard let text = String(validating: utf8, as: UTF8.self) else {
        throw SyntaxError(offset: start, reason: "invalid UTF-8 in string")
      }
      return text
    }

    /// Whether a string literal (with an optional prefix) starts at `position`.
    func startsString() -> Bool {
      var ahead = 0
      while ahead < 2 && isIdentifierStart(peek(ahead)) && peek(ahead) < 0x80 { ahead += 1 }
      return peek(ahead) == UInt8(ascii: "'") || peek(ahead) == UInt8(ascii: "\"")
    }

    /// Appends one literal's UTF-8 to `utf8`, prefix included in the scan.
    mutating func parseString(into utf8: inout [UInt8]) throws(SyntaxError) {
      let start = position
      var raw = false
      while peek() != UInt8(ascii: "'") && peek() != UInt8(ascii: "\"") {
        switch peek() | 0x20 {
        case UInt8(ascii: "u"): break
        case UInt8(ascii: "r"): raw = true
        case UInt8(ascii: "b"): throw fail("bytes literals are not supported")
        case UInt8(ascii: "f"): throw fail("f-strings are not literals")
        default: throw fail("unknown string prefix \(describe(peek()))")
        }
        position += 1
      }
      let prefix = String(decoding: bytes[field: start..<position], as: UTF8.self).lowercased()
      guard prefix.count <= 1 else {
        position = start
        throw fail("unknown string prefix '\(prefix)'")
      }
      let quote = bytes[position]
      let triple = peek(1) == quote && peek(2) == quote
      position += triple ? 3 : 1
      while true {
        guard position < bytes.count else {
          throw SyntaxError(offset: start, reason: "expected the closing quote before the end (unterminated string)")
        }
        let byte = bytes[position]
        if byte == quote {
          if !triple {
            position += 1
            return
          }
          if peek(1) == quote && peek(2) == quote {
            position += 3
            return
          }
          utf8.append(byte)
          position += 1
          continue
        }
        if (byte == 0x0A || byte == 0x0D) && !triple {
          throw fail("expected the closing quote before the line break (unterminated string)")
        }
        guard byte == UInt8(ascii: "\\") else {
          utf8.append(byte)
          position += 1
          continue
        }
        guard position + 1 < bytes.count else {
          position += 1
          throw SyntaxError(offset: start, reason: "expected the closing quote before the end (unterminated string)")
        }
        if raw {
          // A raw string keeps the backslash; it only stops the next byte from ending the string.
          utf8.append(byte)
          utf8.append(bytes[position + 1])
          position += 2
          continue
        }
        try parseEscape(into: &utf8)
      }
    }

    /// Decodes the escape at `position` (a backslash) and appends its UTF-8.
    mutating func parseEscape(into utf8: inout [UInt8]) throws(SyntaxError) {
      let escapeStart = position
      let letter = bytes[position + 1]
      position += 2
      switch letter {
      case 0x0A: return  // a line continuation inside the string
      case 0x0D:
        if peek() == 0x0A { position += 1 }
        return
      case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): utf8.append(letter)
      case UInt8(ascii: "a"): utf8.append(0x07)
      case UInt8(ascii: "b"): utf8.append(0x08)
      case UInt8(ascii: "f"): utf8.append(0x0C)
      case UInt8(ascii: "n"): utf8.append(0x0A)
      case UInt8(ascii: "r"): utf8.append(0x0D)
      case UInt8(ascii: "t"): utf8.append(0x09)
      case UInt8(ascii: "v"): utf8.append(0x0B)
      case UInt8(ascii: "0")...UInt8(ascii: "7"):
        var value = UInt32(letter - UInt8(ascii: "0"))
        var digits = 1
        while digits < 3 && peek() &- UInt8(ascii: "0") < 8 {
          value = value * 8 + UInt32(peek() - UInt8(ascii: "0"))
          position += 1
          digits += 1
        }
        append(Unicode.Scalar(value)!, to: &utf8)
      case UInt8(ascii: "x"):
        append(try hexScalar(digits: 2, escapeStart: escapeStart), to: &utf8)
      case UInt8(ascii: "u"):
        var code = try hexCode(digits: 4, escapeStart: escapeStart)
        if (0xD800..<0xDC00).contains(code) {
          // A UTF-16 pair, as narrow Python 2 builds wrote astral characters.
          guard peek() == UInt8(ascii: "\\"), peek(1) == UInt8(ascii: "u") else {
            throw SyntaxError(offset: escapeStart, reason: "expected a low surrogate after the high surrogate")
          }
          let lowStart = position
          position += 2
          let low = try hexCode(digits: 4, escapeStart: lowStart)
          guard (0xDC00..<0xE000).contains(low) else {
            throw SyntaxError(offset: lowStart, reason: "expected a low surrogate after the high surrogate")
          }
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(code) {
          throw SyntaxError(offset: escapeStart, reason: "lone low surrogate (not a character)")
        }
        append(Unicode.Scalar(code)!, to: &utf8)
      case UInt8(ascii: "U"):
        let code = try hexCode(digits: 8, escapeStart: escapeStart)
        guard let scalar = Unicode.Scalar(code) else {
          throw SyntaxError(
            offset: escapeStart,
            reason: "\\U escape names U+\(String(code, radix: 16, uppercase: true)), not a character")
        }
        append(scalar, to: &utf8)
      case UInt8(ascii: "N"):
        throw SyntaxError(offset: escapeStart, reason: "named escapes \\N{…} are not supported")
      default:
        // Python keeps an unknown escape as written; the byte after the backslash is read again,
        // so a multi-byte character stays whole.
        utf8.append(UInt8(ascii: "\\"))
        position -= 1
      }
    }

    func append(_ scalar: Unicode.Scalar, to utf8: inout [UInt8]) {
      utf8.append(contentsOf: scalar.utf8)
    }

    mutating func hexCode(digits: Int, escapeStart: Int) throws(SyntaxError) -> UInt32 {
      var value: UInt32 = 0
      for index in 0..<digits {
        let digit = digitValue(peek())
        guard digit < 16 else {
          let letter = Character(Unicode.Scalar(bytes[escapeStart + 1]))
          throw fail("expected \(digits) hex digits after \\\(letter) (found \(index))")
        }
        value = value &* 16 &+ UInt32(digit)
        position += 1
      }
      return value
    }

    mutating func hexScalar(digits: Int, escapeStart: Int) throws(SyntaxError) -> Unicode.Scalar {
      Unicode.Scalar(try hexCode(digits: digits, escapeStart: escapeStart))!
    }
  }
}
