/// Parsing of fields straight from the bytes of a line, without making a `String` per field: the
/// readers' hot loops split a line into byte ranges and parse numbers in place.
public enum FieldParsing {
  /// A decimal integer with an optional sign and no surrounding spaces.
  /// - Returns: the value, or `nil` when the bytes are empty, hold anything but digits, or overflow.
  @inline(__always)
  public static func integer(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
    var index = 0
    let count = bytes.count
    guard count > 0 else { return nil }
    var negative = false
    if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
      negative = bytes[0] == UInt8(ascii: "-")
      index = 1
      guard count > 1 else { return nil }
    }
    var value: Int64 = 0
    while index < count {
      let digit = bytes[index] &- UInt8(ascii: "0")
      guard digit < 10 else { return nil }
      let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = shifted.addingReportingOverflow(Int64(digit))
      guard !overflow1, !overflow2 else { return nil }
      value = sum
      index += 1
    }
    return negative ? -value : value
  }

  /// Powers of ten that a `Double` holds exactly.
  private static let exactPowersOfTen: [Double] = (0...22).map { exponent in
    var value = 1.0
    for _ in 0..<exponent { value *= 10 }
    return value
  }

  /// A decimal number (`4`, `4.0`, `-3.25`, `1e3`, `nan` is rejected).
  ///
  /// Plain decimals of at most 15 significant digits take a fast path that is still correctly rounded:
  /// both the digits and the power of ten are exact doubles, so the one division rounds once.
  /// Anything else goes through the standard library's parser.
  public static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
    let count = bytes.count
    guard count > 0 else { return nil }
    var index = 0
    var negative = false
    if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
      negative = bytes[0] == UInt8(ascii: "-")
      index = 1
    }
    var mantissa: Int64 = 0
    var digits = 0
    var fractionDigits = 0
    var sawPoint = false
    var simple = true
    while index < count {
      let byte = bytes[index]
      if byte == UInt8(ascii: ".") {
        if sawPoint { return nil }
        sawPoint = true
      } else if byte &- UInt8(ascii: "0") < 10 {
        if digits < 15 {
          mantissa = mantissa * 10 + Int64(byte &- UInt8(ascii: "0"))
          if mantissa != 0 { digits += 1 }
          if sawPoint { fractionDigits += 1 }
        } else {
          simple = false
        }
      } else {
        simple = false
        break
      }
      index += 1
    }
    if simple && fractionDigits < exactPowersOfTen.count {
      // A lone sign or point has no digits.
      let hasDigit = bytes.contains { $0 &- UInt8(ascii: "0") < 10 }
      guard hasDigit else { return nil }
      let value = Double(mantissa) / exactPowersOfTen[fractionDigits]
      return negative ? -value : value
    }
    let text = String(decoding: bytes, as: UTF8.self)
    guard let value = Double(text), value.isFinite else { return nil }
    // `Double("nan")`, `Double("inf")` and hexadecimal forms are not decimals a data file means.
    guard text.utf8.allSatisfy({ ($0 &- UInt8(ascii: "0") < 10) || "+-.eE".utf8.contains($0) }) else { return nil }
    return value
  }

  /// Splits a line at every `separator` byte (empty fields kept), replacing `fields`' contents.
  @inline(__always)
  public static func split(_ line: UnsafeBufferPointer<UInt8>, separator: UInt8, into fields: inout [Range<Int>]) {
    fields.removeAll(keepingCapacity: true)
    var start = 0
    for index in 0..<line.count where line[index] == separator {
      fields.append(start..<index)
      start = index + 1
    }
    fields.append(start..<line.count)
  }

  /// Splits a line at runs of spaces and tabs (no empty fields), replacing `fields`' contents.
  @inline(__always)
  public static func splitWhitespace(_ line: UnsafeBufferPointer<UInt8>, into fields: inout [Range<Int>]) {
    fields.removeAll(keepingCapacity: true)
    var index = 0
    let count = line.count
    while index < count {
      while index < count && (line[index] == 0x20 || line[index] == 0x09) { index += 1 }
      let start = index
      while index < count && line[index] != 0x20 && line[index] != 0x09 { index += 1 }
      if index > start { fields.append(start..<index) }
    }
  }

  /// Whether a line holds nothing but spaces and tabs.
  public static func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
    line.allSatisfy { $0 == 0x20 || $0 == 0x09 }
  }

  /// Decodes ISO-8859-1 (latin-1): every byte is the Unicode scalar of the same value.
  public static func latin1String(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
    var scalars = String.UnicodeScalarView()
    for byte in bytes { scalars.append(Unicode.Scalar(byte)) }
    return String(scalars)
  }

  /// A field's text for an error message, cut to 40 characters and with invalid UTF-8 repaired.
  public static func preview(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    let text = String(decoding: bytes, as: UTF8.self)
    guard text.count > 40 else { return text }
    return String(text.prefix(40)) + "…"
  }

  /// The field without leading and trailing spaces and tabs.
  public static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
    var start = 0
    var end = bytes.count
    while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
    while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
    return UnsafeBufferPointer(rebasing: bytes[start..<end])
  }
}

extension UnsafeBufferPointer where Element == UInt8 {
  /// The bytes in `range`, as a buffer over the same memory.
  @inline(__always)
  subscript(field range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(rebasing: self[range])
  }
}
