/// A strict parser of the Python list literals of integers that the official TCA4Rec CSVs hold in
/// `hist_id` (`"[13452, 14024, 13517]"`).
///
/// Accepted: `[`, integers (an optional `-`, no leading zeros, as Python 3 writes them), commas,
/// spaces and tabs, `]`, and a trailing comma after the last element as Python allows. Anything else
/// is an error with the 1-based character position, never a guess.
public enum PythonListLiteral {
  /// What is wrong with a literal, and at which character (1-based).
  public struct SyntaxError: Error, CustomStringConvertible {
    public var reason: String
    public var position: Int
    public var description: String { "\(reason) at character \(position)" }
  }

  /// Parses `bytes` into `values` (replacing its contents).
  /// - Complexity: O(n) in the length of the literal.
  public static func parseIntegers(_ bytes: UnsafeBufferPointer<UInt8>, into values: inout [Int64]) throws(SyntaxError)
  {
    values.removeAll(keepingCapacity: true)
    var index = 0
    let count = bytes.count
    func skipSpaces() {
      while index < count && (bytes[index] == 0x20 || bytes[index] == 0x09) { index += 1 }
    }
    func fail(_ reason: String) -> SyntaxError { SyntaxError(reason: reason, position: index + 1) }

    skipSpaces()
    guard index < count, bytes[index] == UInt8(ascii: "[") else { throw fail("expected '['") }
    index += 1
    skipSpaces()
    var expectingElement = true
    while true {
      guard index < count else { throw fail("expected ']' before the end") }
      let byte = bytes[index]
      if byte == UInt8(ascii: "]") {
        // "[]" and "[1, 2,]" are valid Python; "[,]" and "[1,,]" fail below, at the comma.
        index += 1
        break
      }
      guard expectingElement else { throw fail("expected ',' or ']'") }
      let start = index
      if byte == UInt8(ascii: "-") { index += 1 }
      let digitsStart = index
      while index < count && bytes[index] &- UInt8(ascii: "0") < 10 { index += 1 }
      guard index > digitsStart else {
        index = start
        throw fail("expected an integer")
      }
      if index - digitsStart > 1 && bytes[digitsStart] == UInt8(ascii: "0") {
        index = digitsStart
        throw fail("integer with a leading zero")
      }
      guard let value = FieldParsing.integer(bytes[field: start..<index]) else {
        index = start
        throw fail("integer out of range")
      }
      values.append(value)
      skipSpaces()
      guard index < count else { throw fail("expected ']' before the end") }
      if bytes[index] == UInt8(ascii: ",") {
        index += 1
        skipSpaces()
        expectingElement = true
      } else {
        expectingElement = false
      }
    }
    skipSpaces()
    guard index == count else { throw fail("unexpected text after ']'") }
  }
}
