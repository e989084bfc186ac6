/// The Python list literals of integers that the official TCA4Rec CSVs hold in `hist_id`
/// (`"[13452, 14024, 13517]"`): `PythonLiteral.parseIntegerList` with 1-based character positions,
/// as the official reader's messages quote them.
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
    do throws(PythonLiteral.SyntaxError) {
      try PythonLiteral.parseIntegerList(bytes, into: &values)
    } catch {
      // The fields are ASCII wherever the parser stops, so the byte offset is the character's.
      throw SyntaxError(reason: error.reason, position: error.offset + 1)
    }
  }
}
