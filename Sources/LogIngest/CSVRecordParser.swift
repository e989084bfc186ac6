/// An RFC 4180 CSV parser fed one line at a time, so that a quoted field may hold separators,
/// doubled quotes and line breaks (a record then spans several lines).
///
/// A quote inside an unquoted field is kept as a literal character (as Python's `csv` does); a
/// character other than the separator right after a closing quote is an error, and so is a file
/// that ends inside a quoted field. Line breaks inside quotes come back as `\n`.
public struct CSVRecordParser {
  /// Why a record cannot be parsed, and the line where it starts.
  public struct SyntaxError: Error {
    public var reason: String
    public var line: Int
  }

  public let separator: UInt8
  private static let quote = UInt8(ascii: "\"")
  /// The record completed by the last `consume` that returned `true`.
  public private(set) var record = CSVRecord()
  /// The first line of the record being read or just completed.
  public private(set) var recordStartLine = 0
  private var inRecord = false
  private var inQuotes = false
  private var afterClosingQuote = false
  private var atFieldStart = true

  public init(separator: UInt8 = UInt8(ascii: ",")) {
    self.separator = separator
  }

  /// Whether the parser is in the middle of a quoted field that continues on the next line.
  public var isInsideQuotedField: Bool { inRecord && inQuotes }

  /// Consumes one line (without its line break).
  /// - Returns: `true` when the line completes a record, which `record` then holds.
  /// - Throws: `SyntaxError` for text after a closing quote; the partial record is dropped and the
  ///   next line starts a new record.
  /// - Complexity: O(line length).
  public mutating func consume(_ line: UnsafeBufferPointer<UInt8>, number: Int) throws(SyntaxError) -> Bool {
    if inRecord {
      record.append(0x0A)
    } else {
      record.removeAll()
      recordStartLine = number
      inRecord = true
      atFieldStart = true
      afterClosingQuote = false
    }
    var index = 0
    let count = line.count
    while index < count {
      let byte = line[index]
      if inQuotes {
        if byte == Self.quote {
          if index + 1 < count && line[index + 1] == Self.quote {
            record.append(Self.quote)
            index += 2
          } else {
            inQuotes = false
            afterClosingQuote = true
            index += 1
          }
        } else {
          // Copy the run up to the next quote in one step.
          var end = index + 1
          while end < count && line[end] != Self.quote { end += 1 }
          record.append(line[field: index..<end])
          index = end
        }
        continue
      }
      if byte == separator {
        record.endField()
        atFieldStart = true
        afterClosingQuote = false
      } else if afterClosingQuote {
        let start = recordStartLine
        reset()
        throw SyntaxError(
          reason: "unexpected character '\(Character(Unicode.Scalar(byte)))' after a closing quote at line \(number)",
          line: start)
      } else if byte == Self.quote && atFieldStart {
        inQuotes = true
        atFieldStart = false
      } else {
        atFieldStart = false
        record.append(byte)
      }
      index += 1
    }
    if inQuotes { return false }
    record.endField()
    inRecord = false
    return true
  }

  /// Checks that the input did not end inside a quoted field.
  public func finish() throws(SyntaxError) {
    if isInsideQuotedField {
      throw SyntaxError(
        reason: "a quoted field opened here never closes (the file ends inside it)", line: recordStartLine)
    }
  }

  private mutating func reset() {
    inRecord = false
    inQuotes = false
    afterClosingQuote = false
    atFieldStart = true
  }
}
