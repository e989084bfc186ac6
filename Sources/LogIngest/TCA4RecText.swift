/// The text handling of the official TCA4Rec preprocessing (critical88/TCA4Rec `utils/preprocess.py`),
/// reproduced exactly, for the `tca4rec` preset: Python's `html.unescape`, `filter_title` and
/// `convert_brand`. Strings are handled as sequences of Unicode scalars, as Python handles `str`
/// (Swift's `String` comparison would treat canonically equivalent sequences as equal, Python's
/// `str.replace` does not).
public enum TCA4RecText {
  /// What `filter_title` and `convert_brand` return for text they reject (the official "Delete
  /// Flag": `ascii_letters + digits + punctuation + whitespace`, 100 characters). The official code
  /// never acts on it for titles, so flagged items keep it as their title; a flagged brand removes
  /// the item (its `brand_exists` check looks for "abcde").
  public static let deleteFlag =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\u{0B}\u{0C}"

  /// Python's `html.unescape` (3.x): numeric references (decimal, hexadecimal; out-of-range and
  /// surrogate values become U+FFFD, the windows-1252 range and NUL their standard replacements,
  /// non-characters and most controls nothing) and the HTML5 named references, with and without `;`,
  /// where a name without `;` may be the longest known prefix of the text after `&`.
  public static func htmlUnescape(_ text: String) -> String {
    guard text.unicodeScalars.contains("&") else { return text }
    let input = Array(text.unicodeScalars)
    var output = String.UnicodeScalarView()
    var index = 0
    while index < input.count {
      guard input[index] == "&", index + 1 < input.count else {
        output.append(input[index])
        index += 1
        continue
      }
      if let (replacement, end) = reference(input, at: index + 1) {
        output.append(contentsOf: replacement.unicodeScalars)
        index = end
      } else {
        output.append(input[index])
        index += 1
      }
    }
    return String(output)
  }

  /// The reference after an `&` at `start` (Python's `_charref` pattern and `_replace_charref`):
  /// its replacement and the index after it, or nil when the pattern does not match there.
  static func reference(_ input: [Unicode.Scalar], at start: Int) -> (String, Int)? {
    if input[start] == "#" {
      var index = start + 1
      let hexadecimal = index < input.count && (input[index] == "x" || input[index] == "X")
      if hexadecimal { index += 1 }
      let digitsStart = index
      var value: UInt64 = 0
      var overflow = false
      while index < input.count, let digit = digitValue(input[index], hexadecimal: hexadecimal) {
        let (product, high) = value.multipliedReportingOverflow(by: hexadecimal ? 16 : 10)
        let (sum, carry) = product.addingReportingOverflow(UInt64(digit))
        if high || carry { overflow = true }
        value = sum
        index += 1
      }
      guard index > digitsStart else { return nil }
      if index < input.count && input[index] == ";" { index += 1 }
      return (numericReplacement(overflow ? UInt64.max : value), index)
    }
    // [^\t\n\f <&#;]{1,32};?
    var end = start
    while end < input.count && end - start < 32 && !"\t\n\u{0C} <&#;".unicodeScalars.contains(input[end]) {
      end += 1
    }
    guard end > start else { return nil }
    if end < input.count && input[end] == ";" { end += 1 }
    let name = String(String.UnicodeScalarView(input[start..<end]))
    if let value = named[name] { return (value, end) }
    // The longest known prefix of at least two characters.
    var length = end - start - 1
    while length > 1 {
      let prefix = String(String.UnicodeScalarView(input[start..<(start + length)]))
      if let value = named[prefix] { return (value, start + length) }
      length -= 1
    }
    return ("&" + name, end)
  }

  static func digitValue(_ scalar: Unicode.Scalar, hexadecimal: Bool) -> UInt32? {
    switch scalar.value {
    case 0x30...0x39: return scalar.value - 0x30
    case 0x41...0x46 where hexadecimal: return scalar.value - 0x41 + 10
    case 0x61...0x66 where hexadecimal: return scalar.value - 0x61 + 10
    default: return nil
    }
  }

  static func numericReplacement(_ value: UInt64) -> String {
    if value <= 0xFF, let replaced = HTMLEntities.replacedNumeric[UInt32(value)] { return replaced }
    if (0xD800...0xDFFF).contains(value) || value > 0x10FFFF { return "\u{FFFD}" }
    if HTMLEntities.droppedCodePoints.contains(UInt32(value)) { return "" }
    return String(Character(Unicode.Scalar(UInt32(value))!))
  }

  /// The HTML5 named references, by name (with its `;` where it has one).
  static let named: [String: String] = {
    var table: [String: String] = [:]
    for entry in HTMLEntities.packedNamed.unicodeScalars.split(separator: "\u{1E}") {
      let parts = entry.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false)
      table[String(String.UnicodeScalarView(parts[0]))] = String(String.UnicodeScalarView(parts[1]))
    }
    return table
  }()

  /// The official replacements, in order, then the code points blanked (`filter_title`).
  static let replacements: [(String, String)] = [
    ("\u{201C}", "\""), ("\u{201D}", "\""), ("\u{2018}", "'"), ("\u{2019}", "'"), ("\u{2013}", "-"), ("\n", " "),
    ("\r", " "), ("\u{2026}", ""), ("\u{201A}", ","), ("\u{B4}", "'"), ("&ndash;", "-"), ("&lt;", "<"),
    ("&gt;", ">"), ("&amp;", "&"), ("&quot;", "\""), ("&nbsp;", " "), ("&copy;", "\u{A9}"), ("\u{2033}", "\""),
    ("\u{3010}", "["), ("\u{3011}", "]"), ("\u{2014}", "-"), ("\u{2212}", "-"),
  ]
  static let blanked: [UInt32] = [
    127, 174, 160, 170, 8482, 188, 162, 189, 8594, 169, 235, 168, 957, 12288, 8222, 179, 190, 173, 186, 8225,
  ]

  /// `filter_title` of the official preprocessing. Call it on the title already cut to its first
  /// 50 characters, as the official script does.
  public static func filterTitle(_ text: String) -> String {
    clean(text, unknown: "unknown title", returnUnknownAtOnce: false)
  }

  /// `convert_brand` of the official preprocessing, for one brand string (the official code takes
  /// the first element of a list).
  public static func convertBrand(_ text: String) -> String {
    clean(text, unknown: "unknown brand", returnUnknownAtOnce: true)
  }

  /// The characters a cleaned text may hold (those of the delete flag).
  static let allowed = Set(deleteFlag.unicodeScalars)

  static func clean(_ text: String, unknown: String, returnUnknownAtOnce: Bool) -> String {
    var scalars: [Unicode.Scalar]
    // Printable ASCII without `&` is what nearly every title is: no reference to unescape, and every
    // replacement and blanked code point is non-ASCII, a line break, DEL or starts with `&`.
    if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "&") }) {
      scalars = Array(text.unicodeScalars)
    } else {
      scalars = Array(htmlUnescape(text).unicodeScalars)
      for (from, to) in replacements {
        scalars = replace(scalars, Array(from.unicodeScalars), Array(to.unicodeScalars))
      }
      for code in blanked { scalars = scalars.map { $0.value == code ? " " : $0 } }
    }
    let doubleSpace: [Unicode.Scalar] = [" ", " "]
    while containsRun(scalars, doubleSpace) { scalars = replace(scalars, doubleSpace, [" "]) }
    scalars = pythonStrip(scalars)
    let lowered = scalars.map { ("A"..."Z").contains($0) ? Unicode.Scalar($0.value + 32)! : $0 }
    if containsRun(lowered, Array("abcdefg".unicodeScalars)) {
      if returnUnknownAtOnce { return unknown }
      scalars = Array(unknown.unicodeScalars)
    }
    if scalars.contains(where: { !allowed.contains($0) }) { return deleteFlag }
    let hasLetter = scalars.contains { ("a"..."z").contains($0) || ("A"..."Z").contains($0) }
    if !hasLetter || scalars.count < 3 { return deleteFlag }
    if scalars.count > 150 {
      // x[:150], drop the last space-separated word, then trailing non-alphanumerics.
      var cut = pythonStrip(Array(scalars.prefix(150)))
      if let space = cut.lastIndex(of: " ") { cut = Array(cut[..<space]) } else { cut = [] }
      while let last = cut.last,
        !(("a"..."z").contains(last) || ("A"..."Z").contains(last) || ("0"..."9").contains(last))
      {
        cut.removeLast()
      }
      scalars = cut
    }
    return String(String.UnicodeScalarView(scalars))
  }

  /// Python's `str.replace`: every non-overlapping occurrence, left to right.
  static func replace(_ text: [Unicode.Scalar], _ target: [Unicode.Scalar], _ with: [Unicode.Scalar])
    -> [Unicode.Scalar]
  {
    guard !target.isEmpty, text.count >= target.count else { return text }
    var result: [Unicode.Scalar] = []
    result.reserveCapacity(text.count)
    var index = 0
    while index < text.count {
      if index + target.count <= text.count && text[index..<(index + target.count)].elementsEqual(target) {
        result.append(contentsOf: with)
        index += target.count
      } else {
        result.append(text[index])
        index += 1
      }
    }
    return result
  }

  static func containsRun(_ text: [Unicode.Scalar], _ target: [Unicode.Scalar]) -> Bool {
    guard text.count >= target.count else { return false }
    for start in 0...(text.count - target.count) where text[start..<(start + target.count)].elementsEqual(target) {
      return true
    }
    return false
  }

  /// Python's `str.strip()`: the characters `str.isspace` accepts, from both ends.
  static func pythonStrip(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
    func isSpace(_ scalar: Unicode.Scalar) -> Bool {
      switch scalar.value {
      case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
        return true
      default: return false
      }
    }
    guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) })
    else { return [] }
    return Array(text[first...last])
  }
}
