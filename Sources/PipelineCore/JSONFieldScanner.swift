/// Finds a few top-level members of a one-line JSON object in a single validating pass, without
/// building a `JSONValue` tree or allocating.
///
/// The scanner accepts a line only when `JSONParser` would accept it (the same grammar, escapes,
/// control characters, UTF-8 validity, literals, numbers, nesting and trailing text, and no
/// duplicate key in any object), and only when every wanted member it found is simple: a string
/// without escapes, or a number whose value it computes exactly as `JSONParser` does. Everything
/// else — a rejected line, a top-level value that is not an object, an escaped or non-string,
/// non-number wanted value, a number it is not sure about, a non-ASCII or escaped key (whose
/// equality `JSONParser` decides by Unicode canonical equivalence), very deep nesting, very wide
/// objects — makes `scan` return `false`, and the caller parses the line with `JSONParser`. A
/// `false` is never a verdict on the line.
///
/// Two options widen what `scan` accepts, for callers that want a few members of lines that are
/// otherwise left to `JSONParser` too often (Amazon meta lines: escaped titles, `details` keys with
/// escaped line breaks): `valuesOfAnyKind` reports a wanted member of any kind by the byte range of
/// its text, for the caller to parse alone; `decodesNestedKeys` checks escaped and non-ASCII keys
/// of nested objects for duplicates the way `JSONParser` does instead of giving up.
///
/// Long strings are scanned 16 bytes at a time (two 64-bit words, SWAR) for `"`, `\`, control and
/// non-ASCII bytes.
public struct JSONFieldScanner {
  /// What `scan` accepts beyond the default.
  public struct Options: OptionSet, Sendable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A wanted member that is not simple (an escaped string, an object, an array, a literal, a
    /// number not computed exactly) is reported as `.value`, the range of its text, instead of
    /// making `scan` return `false`. Numbers that `JSONParser` might reject (exponents, very long
    /// numbers) still make it return `false`.
    public static let valuesOfAnyKind = Options(rawValue: 1)
    /// A key with escapes or non-ASCII bytes in a nested object (never a top-level one) is decoded
    /// as `JSONParser` decodes it and compared with the other keys of its object as `JSONParser`
    /// compares them (`String` equality: canonical equivalence), instead of making `scan` return
    /// `false`.
    public static let decodesNestedKeys = Options(rawValue: 2)
  }

  /// What a wanted member holds when `scan` returns `true`.
  public enum Kind: UInt8, Sendable {
    /// The object has no such member.
    case missing
    /// A string without escapes: its UTF-8 bytes are `range` of the line (valid UTF-8).
    case string
    /// What `JSONParser` gives as `.integer(integer)`.
    case integer
    /// What `JSONParser` gives as `.number(number)` (always finite here).
    case number
    /// Only with `Options.valuesOfAnyKind`: any other value. Its text (quotes and brackets
    /// included) is `range` of the line, and `JSONParser.parse` of those bytes gives the member's
    /// value.
    case value
  }

  /// One wanted member of the last line scanned.
  public struct Field: Sendable, Equatable {
    public var kind: Kind = .missing
    /// For `.string`: the bytes between the quotes; for `.value`: the value's text; as offsets
    /// into the line.
    public var range: Range<Int> = 0..<0
    public var integer: Int64 = 0
    public var number: Double = 0

    public init(kind: Kind = .missing, range: Range<Int> = 0..<0, integer: Int64 = 0, number: Double = 0) {
      self.kind = kind
      self.range = range
      self.integer = integer
      self.number = number
    }
  }

  /// The wanted members of the last line scanned, in the order of the names given to `init`;
  /// meaningful only after `scan` returned `true`.
  public private(set) var fields: [Field]

  private let names: [Key]
  private let nameBytes: [[UInt8]]
  private let options: Options
  /// The keys of the objects open at the moment, for the duplicate-key check.
  private let openKeys = KeyStack()

  /// Objects nested deeper than this, or with more members, are left to `JSONParser`.
  static let maximumDepth = 64
  static let maximumMembers = 64

  /// A key as `(length, first 8 bytes)`, with its offset for comparing the rest.
  struct Key {
    var start: Int
    var length: Int
    var prefix: UInt64
  }

  /// - Parameters:
  ///   - names: the wanted top-level member names (ASCII, no character that JSON escapes).
  ///   - options: what `scan` accepts beyond the default (none by default).
  public init(names: [String], options: Options = []) {
    self.options = options
    precondition(
      names.allSatisfy { name in name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x80 && $0 != 0x22 && $0 != 0x5C } },
      "JSONFieldScanner: member names must be printable ASCII")
    nameBytes = names.map { Array($0.utf8) }
    self.names = nameBytes.map { bytes in
      var prefix: UInt64 = 0
      for (index, byte) in bytes.prefix(8).enumerated() { prefix |= UInt64(byte) << (8 * UInt64(index)) }
      return Key(start: 0, length: bytes.count, prefix: prefix)
    }
    fields = Array(repeating: Field(), count: names.count)
  }

  /// Scans one line.
  /// - Returns: `true` when `JSONParser` accepts the line as an object and every wanted member
  ///   found is simple (see the type's discussion); `fields` then holds them. `false` when the line
  ///   must go through `JSONParser` to learn what it is.
  /// - Complexity: O(bytes of the line), plus O(k²) key comparisons per object of k members.
  public mutating func scan(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let base = line.baseAddress else { return false }
    for index in fields.indices { fields[index] = Field() }
    openKeys.count = 0
    var cursor = Cursor(base: base, count: line.count)
    cursor.skipWhitespace()
    guard cursor.position < cursor.count, base[cursor.position] == UInt8(ascii: "{") else { return false }
    guard scanObject(&cursor, depth: 0, topLevel: true) else { return false }
    cursor.skipWhitespace()
    return cursor.position == cursor.count
  }

  // MARK: Structure

  /// The object whose `{` is at the cursor; leaves the cursor after its `}`.
  private mutating func scanObject(_ cursor: inout Cursor, depth: Int, topLevel: Bool) -> Bool {
    guard depth < Self.maximumDepth else { return false }
    cursor.position += 1
    cursor.skipWhitespace()
    guard cursor.position < cursor.count else { return false }
    if cursor.base[cursor.position] == UInt8(ascii: "}") {
      cursor.position += 1
      return true
    }
    let firstKey = openKeys.count
    defer { openKeys.count = firstKey }
    // One bit per key hash: keys are compared only with a set bit (a possible duplicate).
    var seen: UInt64 = 0
    // With `decodesNestedKeys`, from the first escaped or non-ASCII key on: the object's keys as
    // `JSONParser` decodes them, compared as it compares them.
    var decodedKeys: Set<String>? = nil
    while true {
      cursor.skipWhitespace()
      guard cursor.position < cursor.count, cursor.base[cursor.position] == UInt8(ascii: "\"") else { return false }
      let keyStart = cursor.position + 1
      var flags: UInt8 = 0
      guard let keyEnd = cursor.scanString(flags: &flags) else { return false }
      let key = cursor.key(start: keyStart, length: keyEnd - 1 - keyStart)
      guard openKeys.count - firstKey < Self.maximumMembers, openKeys.count < KeyStack.capacity else { return false }
      if flags != 0 || decodedKeys != nil {
        guard !topLevel, options.contains(.decodesNestedKeys),
          insertDecodedKey(key, flags: flags, cursor: cursor, firstKey: firstKey, into: &decodedKeys)
        else { return false }
      } else {
        let bit: UInt64 = 1 << (((key.prefix ^ UInt64(key.length)) &* 0x9E37_79B9_7F4A_7C15) >> 58)
        if seen & bit != 0 {
          for index in firstKey..<openKeys.count where cursor.equal(openKeys.keys[index], key) { return false }
        }
        seen |= bit
      }
      openKeys.keys[openKeys.count] = key
      openKeys.count += 1
      cursor.position = keyEnd
      cursor.skipWhitespace()
      guard cursor.position < cursor.count, cursor.base[cursor.position] == UInt8(ascii: ":") else { return false }
      cursor.position += 1
      cursor.skipWhitespace()
      var wanted = -1
      if topLevel {
        for index in names.indices where cursor.equal(names[index], nameBytes[index], key) {
          wanted = index
          break
        }
      }
      if wanted >= 0 {
        guard scanWantedValue(&cursor, into: wanted, depth: depth + 1) else { return false }
      } else {
        guard scanValue(&cursor, depth: depth + 1) else { return false }
      }
      cursor.skipWhitespace()
      guard cursor.position < cursor.count else { return false }
      let byte = cursor.base[cursor.position]
      cursor.position += 1
      if byte == UInt8(ascii: ",") { continue }
      return byte == UInt8(ascii: "}")
    }
  }

  /// Adds `key` (of the object whose keys from `firstKey` on are open) to `decodedKeys`, first
  /// filling it with the object's earlier keys (all plain ASCII); `false` when `JSONParser` would
  /// find the key a duplicate, or could not decode it.
  private func insertDecodedKey(
    _ key: Key, flags: UInt8, cursor: Cursor, firstKey: Int, into decodedKeys: inout Set<String>?
  ) -> Bool {
    func plain(_ key: Key) -> String {
      String(decoding: UnsafeBufferPointer(start: cursor.base + key.start, count: key.length), as: UTF8.self)
    }
    if decodedKeys == nil {
      var keys = Set<String>()
      for index in firstKey..<openKeys.count { keys.insert(plain(openKeys.keys[index])) }
      decodedKeys = keys
    }
    let text: String
    if flags == 0 {
      text = plain(key)
    } else {
      var parser = JSONParser.Cursor(bytes: UnsafeBufferPointer(start: cursor.base, count: cursor.count))
      parser.position = key.start - 1
      do throws(JSONParser.SyntaxError) {
        text = try parser.parseString()
      } catch {
        return false
      }
    }
    return decodedKeys!.insert(text).inserted
  }

  /// The array whose `[` is at the cursor; leaves the cursor after its `]`.
  private mutating func scanArray(_ cursor: inout Cursor, depth: Int) -> Bool {
    guard depth < Self.maximumDepth else { return false }
    cursor.position += 1
    cursor.skipWhitespace()
    guard cursor.position < cursor.count else { return false }
    if cursor.base[cursor.position] == UInt8(ascii: "]") {
      cursor.position += 1
      return true
    }
    while true {
      cursor.skipWhitespace()
      guard scanValue(&cursor, depth: depth + 1) else { return false }
      cursor.skipWhitespace()
      guard cursor.position < cursor.count else { return false }
      let byte = cursor.base[cursor.position]
      cursor.position += 1
      if byte == UInt8(ascii: ",") { continue }
      return byte == UInt8(ascii: "]")
    }
  }

  /// Any value, checked and skipped.
  private mutating func scanValue(_ cursor: inout Cursor, depth: Int) -> Bool {
    guard cursor.position < cursor.count else { return false }
    switch cursor.base[cursor.position] {
    case UInt8(ascii: "\""):
      var flags: UInt8 = 0
      guard let end = cursor.scanString(flags: &flags) else { return false }
      cursor.position = end
      return true
    case UInt8(ascii: "{"): return scanObject(&cursor, depth: depth, topLevel: false)
    case UInt8(ascii: "["): return scanArray(&cursor, depth: depth)
    case UInt8(ascii: "t"): return cursor.skipLiteral("true")
    case UInt8(ascii: "f"): return cursor.skipLiteral("false")
    case UInt8(ascii: "n"): return cursor.skipLiteral("null")
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      // `JSONParser` rejects a number beyond `Double`'s range (`1e999`); exponents and very long
      // numbers are left to it.
      guard let shape = cursor.scanNumber() else { return false }
      return !shape.hasExponent && shape.integerDigits <= 300
    default: return false
    }
  }

  /// A wanted member's value: a string without escapes or a number computed exactly; anything
  /// else is left to `JSONParser`, or with `valuesOfAnyKind` reported as `.value` when valid.
  private mutating func scanWantedValue(_ cursor: inout Cursor, into index: Int, depth: Int) -> Bool {
    guard cursor.position < cursor.count else { return false }
    let anyKind = options.contains(.valuesOfAnyKind)
    let start = cursor.position
    let byte = cursor.base[start]
    if byte == UInt8(ascii: "\"") {
      var flags: UInt8 = 0
      guard let end = cursor.scanString(flags: &flags) else { return false }
      cursor.position = end
      if flags & Cursor.escaped == 0 {
        fields[index] = Field(kind: .string, range: (start + 1)..<(end - 1))
      } else {
        guard anyKind else { return false }
        fields[index] = Field(kind: .value, range: start..<end)
      }
      return true
    }
    if byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
      guard let shape = cursor.scanNumber() else { return false }
      if let field = Self.numberField(cursor.base + start, shape) {
        fields[index] = field
        return true
      }
      // As `scanValue`: what `JSONParser` might reject is left to it.
      guard anyKind, !shape.hasExponent, shape.integerDigits <= 300 else { return false }
      fields[index] = Field(kind: .value, range: start..<cursor.position)
      return true
    }
    guard anyKind, scanValue(&cursor, depth: depth) else { return false }
    fields[index] = Field(kind: .value, range: start..<cursor.position)
    return true
  }

  /// The keys of the open objects, in a buffer allocated once (no copy-on-write checks per key).
  final class KeyStack {
    /// More keys than this at once (deep objects with many members) are left to `JSONParser`.
    static let capacity = 1024
    let keys = UnsafeMutablePointer<Key>.allocate(capacity: capacity)
    var count = 0

    deinit { keys.deallocate() }
  }

  // MARK: Numbers

  /// Where a number's parts are, relative to its first byte.
  struct NumberShape {
    var length: Int
    var negative: Bool
    /// Digits before the `.` (or the end).
    var integerDigits: Int
    /// Digits after the `.`, 0 when there is none.
    var fractionDigits: Int
    var hasExponent: Bool
  }

  /// Powers of ten that `Double` holds exactly.
  private static let exactPowersOfTen: [Double] = (0...22).map { exponent in
    var value = 1.0
    for _ in 0..<exponent { value *= 10 }
    return value
  }

  /// The value `JSONParser` gives a number, when it can be had exactly without a conversion from
  /// text: integers of at most 18 digits, and decimals of at most 15 significant digits, which one
  /// correctly rounded division of two exact doubles gives exactly as `Double(text)` does.
  static func numberField(_ start: UnsafePointer<UInt8>, _ shape: NumberShape) -> Field? {
    guard !shape.hasExponent else { return nil }
    let digitsStart = shape.negative ? 1 : 0
    if shape.fractionDigits == 0 {
      guard shape.integerDigits <= 18 else { return nil }
      var value: Int64 = 0
      for offset in digitsStart..<(digitsStart + shape.integerDigits) {
        value = value * 10 + Int64(start[offset] &- UInt8(ascii: "0"))
      }
      return Field(kind: .integer, integer: shape.negative ? -value : value)
    }
    // "-0.5" is -0.5 and "-0.0" is -0.0 either way, but keep to the common case.
    guard !shape.negative, shape.integerDigits + shape.fractionDigits <= 15 else { return nil }
    var mantissa: Int64 = 0
    for offset in 0..<shape.integerDigits {
      mantissa = mantissa * 10 + Int64(start[offset] &- UInt8(ascii: "0"))
    }
    let fractionStart = shape.integerDigits + 1
    for offset in fractionStart..<(fractionStart + shape.fractionDigits) {
      mantissa = mantissa * 10 + Int64(start[offset] &- UInt8(ascii: "0"))
    }
    return Field(kind: .number, number: Double(mantissa) / exactPowersOfTen[shape.fractionDigits])
  }

  // MARK: Bytes

  /// A position in a line.
  struct Cursor {
    let base: UnsafePointer<UInt8>
    let count: Int
    var position = 0

    static let escaped: UInt8 = 1
    static let nonASCII: UInt8 = 2

    init(base: UnsafePointer<UInt8>, count: Int) {
      self.base = base
      self.count = count
    }

    @inline(__always)
    mutating func skipWhitespace() {
      while position < count {
        let byte = base[position]
        guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
        position += 1
      }
    }

    @inline(__always)
    mutating func skipLiteral(_ word: StaticString) -> Bool {
      let length = word.utf8CodeUnitCount
      guard position + length <= count else { return false }
      for index in 0..<length where base[position + index] != word.utf8Start[index] { return false }
      position += length
      return true
    }

    /// The key whose bytes are `start..<start + length`.
    @inline(__always)
    func key(start: Int, length: Int) -> Key {
      var prefix: UInt64 = 0
      if length >= 8 {
        prefix = UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self).littleEndian
      } else {
        for index in 0..<length { prefix |= UInt64(base[start + index]) << (8 * UInt64(index)) }
      }
      return Key(start: start, length: length, prefix: prefix)
    }

    /// Whether two keys of this line have the same bytes.
    @inline(__always)
    func equal(_ first: Key, _ second: Key) -> Bool {
      guard first.length == second.length, first.prefix == second.prefix else { return false }
      var index = 8
      while index < first.length {
        if base[first.start + index] != base[second.start + index] { return false }
        index += 1
      }
      return true
    }

    /// Whether a key of this line is the wanted name `name` (bytes `bytes`).
    @inline(__always)
    func equal(_ name: Key, _ bytes: [UInt8], _ key: Key) -> Bool {
      guard name.length == key.length, name.prefix == key.prefix else { return false }
      var index = 8
      while index < key.length {
        if bytes[index] != base[key.start + index] { return false }
        index += 1
      }
      return true
    }

    /// The string whose `"` is at the cursor: the offset after its closing `"`, or `nil` when
    /// `JSONParser` rejects it. Does not move the cursor. `flags` gets `escaped` and `nonASCII`.
    @inline(__always)
    func scanString(flags: inout UInt8) -> Int? {
      var index = position + 1
      while true {
        // 16 bytes at a time up to the first that is `"`, `\`, below 0x20 or above 0x7F.
        while index + 16 <= count {
          let low = Self.specialBytes(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self).littleEndian)
          if low != 0 {
            index += low.trailingZeroBitCount >> 3
            break
          }
          let high = Self.specialBytes(UnsafeRawPointer(base + index + 8).loadUnaligned(as: UInt64.self).littleEndian)
          if high != 0 {
            index += 8 + high.trailingZeroBitCount >> 3
            break
          }
          index += 16
        }
        guard index < count else { return nil }
        let byte = base[index]
        if byte == UInt8(ascii: "\"") { return index + 1 }
        if byte == UInt8(ascii: "\\") {
          flags |= Self.escaped
          guard let next = escapeEnd(at: index) else { return nil }
          index = next
        } else if byte < 0x20 {
          return nil
        } else if byte >= 0x80 {
          flags |= Self.nonASCII
          guard let next = scalarEnd(at: index) else { return nil }
          index = next
        } else {
          index += 1
        }
      }
    }

    /// A word with the high bit set in the byte of `word` (8 bytes, the first in the low bits) that
    /// is the first `"`, `\`, control (below 0x20) or non-ASCII byte, and maybe in later bytes;
    /// 0 when there is none. (SWAR: a byte's subtraction borrows only from bytes after such a one.)
    @inline(__always)
    static func specialBytes(_ word: UInt64) -> UInt64 {
      let ones: UInt64 = 0x0101_0101_0101_0101
      let highBits: UInt64 = 0x8080_8080_8080_8080
      let quotes = word ^ (ones &* 0x22)
      let backslashes = word ^ (ones &* 0x5C)
      let quoteHits = (quotes &- ones) & ~quotes
      let backslashHits = (backslashes &- ones) & ~backslashes
      let outsidePrintableASCII = (word &- ones &* 0x20) | word
      return (quoteHits | backslashHits | outsidePrintableASCII) & highBits
    }

    /// The offset after the escape whose `\` is at `index`, or `nil` when `JSONParser` rejects it.
    func escapeEnd(at index: Int) -> Int? {
      guard index + 1 < count else { return nil }
      switch base[index + 1] {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
        return index + 2
      case UInt8(ascii: "u"):
        guard let code = hex4(at: index + 2) else { return nil }
        if (0xDC00..<0xE000).contains(code) { return nil }
        guard (0xD800..<0xDC00).contains(code) else { return index + 6 }
        guard index + 7 < count, base[index + 6] == UInt8(ascii: "\\"), base[index + 7] == UInt8(ascii: "u"),
          let low = hex4(at: index + 8), (0xDC00..<0xE000).contains(low)
        else { return nil }
        return index + 12
      default: return nil
      }
    }

    /// The four hex digits at `index`, or `nil`.
    func hex4(at index: Int) -> UInt32? {
      guard index + 4 <= count else { return nil }
      var value: UInt32 = 0
      for offset in 0..<4 {
        let byte = base[index + offset]
        let digit: UInt8
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
        value = value << 4 | UInt32(digit)
      }
      return value
    }

    /// The offset after the well-formed UTF-8 sequence whose lead byte (≥ 0x80) is at `index`, or
    /// `nil` when it is not one (Unicode's table 3-7, as `String(validating:)` checks).
    func scalarEnd(at index: Int) -> Int? {
      let lead = base[index]
      @inline(__always) func continuation(_ offset: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
        index + offset < count && (low...high).contains(base[index + offset])
      }
      switch lead {
      case 0xC2...0xDF:
        return continuation(1) ? index + 2 : nil
      case 0xE0...0xEF:
        let low: UInt8 = lead == 0xE0 ? 0xA0 : 0x80
        let high: UInt8 = lead == 0xED ? 0x9F : 0xBF
        return continuation(1, low, high) && continuation(2) ? index + 3 : nil
      case 0xF0...0xF4:
        let low: UInt8 = lead == 0xF0 ? 0x90 : 0x80
        let high: UInt8 = lead == 0xF4 ? 0x8F : 0xBF
        return continuation(1, low, high) && continuation(2) && continuation(3) ? index + 4 : nil
      default:
        return nil
      }
    }

    /// The number at the cursor (RFC 8259's grammar, as `JSONParser` reads it); moves the cursor
    /// after it, or returns `nil` when `JSONParser` rejects it.
    @inline(__always)
    mutating func scanNumber() -> NumberShape? {
      let start = position
      var shape = NumberShape(length: 0, negative: false, integerDigits: 0, fractionDigits: 0, hasExponent: false)
      if base[position] == UInt8(ascii: "-") {
        shape.negative = true
        position += 1
      }
      let integerStart = position
      guard position < count, isDigit(base[position]) else { return nil }
      if base[position] == UInt8(ascii: "0") {
        position += 1
      } else {
        skipDigits()
      }
      shape.integerDigits = position - integerStart
      if position < count, base[position] == UInt8(ascii: ".") {
        position += 1
        let fractionStart = position
        skipDigits()
        shape.fractionDigits = position - fractionStart
        guard shape.fractionDigits > 0 else { return nil }
      }
      if position < count, base[position] == UInt8(ascii: "e") || base[position] == UInt8(ascii: "E") {
        shape.hasExponent = true
        position += 1
        if position < count, base[position] == UInt8(ascii: "+") || base[position] == UInt8(ascii: "-") {
          position += 1
        }
        let exponentStart = position
        skipDigits()
        guard position > exponentStart else { return nil }
      }
      // Every text of this grammar converts, but `JSONParser` rejects what is beyond `Double`'s
      // range; callers leave exponents and very long numbers to it.
      shape.length = position - start
      return shape
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always)
    mutating func skipDigits() {
      while position < count, isDigit(base[position]) { position += 1 }
    }
  }
}
