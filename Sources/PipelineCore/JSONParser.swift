/// A strict RFC 8259 JSON parser over UTF-8 bytes that reports the byte offset of any error.
///
/// Integers that fit in `Int64` and have no fraction or exponent parse as `.integer`; every other
/// number parses as `.number`.
public struct JSONParser {
  /// Why a document is not valid JSON, and where.
  public struct SyntaxError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "\(reason) at byte \(offset)" }
  }

  /// Parses one complete JSON document (surrounding whitespace allowed).
  public static func parse(_ bytes: some Collection<UInt8>) throws(SyntaxError) -> JSONValue {
    let array = Array(bytes)
    return try array.withUnsafeBufferPointer { (buffer) throws(SyntaxError) -> JSONValue in
      try parse(buffer)
    }
  }

  public static func parse(_ text: String) throws(SyntaxError) -> JSONValue {
    try parse(Array(text.utf8))
  }

  public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(SyntaxError) -> JSONValue {
    var parser = Cursor(bytes: buffer)
    parser.skipWhitespace()
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    if parser.position != buffer.count {
      throw SyntaxError(offset: parser.position, reason: "unexpected text after the JSON value")
    }
    return value
  }

  struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func skipWhitespace() {
      while position < bytes.count {
        let byte = bytes[position]
        if byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 } else { break }
      }
    }

    func fail(_ reason: String) -> SyntaxError { SyntaxError(offset: position, reason: reason) }

    mutating func parseValue(depth: Int) throws(SyntaxError) -> JSONValue {
      guard depth < 512 else { throw fail("nesting deeper than 512 levels") }
      guard position < bytes.count else { throw fail("unexpected end of input") }
      switch bytes[position] {
      case UInt8(ascii: "{"): return try parseObject(depth: depth)
      case UInt8(ascii: "["): return try parseArray(depth: depth)
      case UInt8(ascii: "\""): return .string(try parseString())
      case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
      case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
      case UInt8(ascii: "n"): try expectWord("null"); return .null
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
      default: throw fail("unexpected character '\(Character(Unicode.Scalar(bytes[position])))'")
      }
    }

    mutating func expectWord(_ word: StaticString) throws(SyntaxError) {
      let count = word.utf8CodeUnitCount
      guard position + count <= bytes.count else { throw fail("unexpected end of input") }
      for index in 0..<count where bytes[position + index] != word.utf8Start[index] {
        throw fail("invalid literal")
      }
      position += count
    }

    mutating func parseObject(depth: Int) throws(SyntaxError) -> JSONValue {
      position += 1
      var members: [String: JSONValue] = [:]
      skipWhitespace()
      if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
        position += 1
        return .object(members)
      }
      while true {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
          throw fail("expected a string key")
        }
        let keyOffset = position
        let key = try parseString()
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':'") }
        position += 1
        skipWhitespace()
        let value = try parseValue(depth: depth + 1)
        if members.updateValue(value, forKey: key) != nil {
          throw SyntaxError(offset: keyOffset, reason: "duplicate key \"\(key)\"")
        }
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end of input in object") }
        if bytes[position] == UInt8(ascii: ",") {
          position += 1
          continue
        }
        if bytes[position] == UInt8(ascii: "}") {
          position += 1
          return .object(members)
        }
        throw fail("expected ',' or '}'")
      }
    }

    mutating func parseArray(depth: Int) throws(SyntaxError) -> JSONValue {
      position += 1
      var elements: [JSONValue] = []
      skipWhitespace()
      if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
        position += 1
        return .array(elements)
      }
      while true {
        skipWhitespace()
        elements.append(try parseValue(depth: depth + 1))
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end of input in array") }
        if bytes[position] == UInt8(ascii: ",") {
          position += 1
          continue
        }
        if bytes[position] == UInt8(ascii: "]") {
          position += 1
          return .array(elements)
        }
        throw fail("expected ',' or ']'")
      }
    }

    mutating func parseString() throws(SyntaxError) -> String {
      position += 1
      let start = position
      // Fast path: no escapes.
      while position < bytes.count {
        let byte = bytes[position]
        if byte == UInt8(ascii: "\"") {
          let slice = UnsafeBufferPointer(rebasing: bytes[start..<position])
          position += 1
          guard let text = String(validating: slice, as: UTF8.self) else {
            throw SyntaxError(offset: start, reason: "invalid UTF-8 in string")
          }
          return text
        }
        if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
        position += 1
      }
      position = start
      var scalars: [UInt8] = []
      while true {
        guard position < bytes.count else { throw fail("unterminated string") }
        let byte = bytes[position]
        if byte == UInt8(ascii: "\"") {
          position += 1
          guard let text = String(validating: scalars, as: UTF8.self) else {
            throw SyntaxError(offset: start, reason: "invalid UTF-8 in string")
          }
          return text
        }
        if byte < 0x20 { throw fail("control character in string") }
        if byte != UInt8(ascii: "\\") {
          scalars.append(byte)
          position += 1
          continue
        }
        position += 1
        guard position < bytes.count else { throw fail("unterminated escape") }
        let escape = bytes[position]
        position += 1
        switch escape {
        case UInt8(ascii: "\""): scalars.append(0x22)
        case UInt8(ascii: "\\"): scalars.append(0x5C)
        case UInt8(ascii: "/"): scalars.append(0x2F)
        case UInt8(ascii: "b"): scalars.append(0x08)
        case UInt8(ascii: "f"): scalars.append(0x0C)
        case UInt8(ascii: "n"): scalars.append(0x0A)
        case UInt8(ascii: "r"): scalars.append(0x0D)
        case UInt8(ascii: "t"): scalars.append(0x09)
        case UInt8(ascii: "u"):
          var code = try parseHex4()
          if (0xD800..<0xDC00).contains(code) {
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
              bytes[position + 1] == UInt8(ascii: "u")
            else { throw fail("unpaired surrogate") }
            position += 2
            let low = try parseHex4()
            guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid low surrogate") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          } else if (0xDC00..<0xE000).contains(code) {
            throw fail("unpaired surrogate")
          }
          guard let scalar = Unicode.Scalar(code) else { throw fail("invalid code point") }
          scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
        default: throw fail("invalid escape")
        }
      }
    }

    mutating func parseHex4() throws(SyntaxError) -> UInt32 {
      guard position + 4 <= bytes.count else { throw fail("short \\u escape") }
      var value: UInt32 = 0
      for _ in 0..<4 {
        let byte = bytes[position]
        let digit: UInt32
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
        default: throw fail("invalid hex digit in \\u escape")
        }
        value = value * 16 + digit
        position += 1
      }
      return value
    }

    mutating func parseNumber() throws(SyntaxError) -> JSONValue {
      let start = position
      var isInteger = true
      if bytes[position] == UInt8(ascii: "-") { position += 1 }
      guard position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) else {
        throw fail("invalid number")
      }
      if bytes[position] == UInt8(ascii: "0") {
        position += 1
      } else {
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
          position += 1
        }
      }
      if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
        isInteger = false
        position += 1
        let digitsStart = position
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
          position += 1
        }
        if position == digitsStart { throw fail("digits expected after '.'") }
      }
      if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
        isInteger = false
        position += 1
        if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
          position += 1
        }
        let digitsStart = position
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
          position += 1
        }
        if position == digitsStart { throw fail("digits expected in exponent") }
      }
      let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
      if isInteger, let value = Int64(text) { return .integer(value) }
      guard let value = Double(text) else { throw SyntaxError(offset: start, reason: "invalid number") }
      // `1e999` would be infinity, which JSON (and every artifact we write) cannot hold.
      guard value.isFinite else { throw SyntaxError(offset: start, reason: "number out of range") }
      return .number(value)
    }
  }
}
