import LogIngest
import Testing

/// The byte-level parsers the readers share: hand-worked examples.
@Suite struct ParsingTests {
  func withBytes<Value>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Value) rethrows -> Value {
    try Array(text.utf8).withUnsafeBufferPointer(body)
  }

  @Test func integersParseStrictly() {
    #expect(withBytes("881250949", FieldParsing.integer) == 881_250_949)
    #expect(withBytes("-12", FieldParsing.integer) == -12)
    #expect(withBytes("", FieldParsing.integer) == nil)
    #expect(withBytes("-", FieldParsing.integer) == nil)
    #expect(withBytes("12a", FieldParsing.integer) == nil)
    #expect(withBytes(" 12", FieldParsing.integer) == nil)
    #expect(withBytes("9223372036854775807", FieldParsing.integer) == .max)
    #expect(withBytes("9223372036854775808", FieldParsing.integer) == nil)
  }

  @Test func decimalsMatchTheStandardLibrary() {
    for text in ["4.0", "3", "0.1", "4.5", "-2.25", "1e3", "123456789012.345678", "0.000000000000000000000001"] {
      #expect(withBytes(text, FieldParsing.decimal) == Double(text), "\(text)")
    }
    for text in ["", ".", "-", "abc", "nan", "inf", "1.2.3", "4,0"] {
      #expect(withBytes(text, FieldParsing.decimal) == nil, "\(text)")
    }
  }

  @Test func latin1BytesDecodeToTheSameCodePoints() {
    let bytes: [UInt8] = [0xC1, 0x20, 0x6B, 0xF6, 0x6C]
    #expect(bytes.withUnsafeBufferPointer(FieldParsing.latin1String) == "Á köl")
  }

  /// The values of a list literal, or the parse error's description.
  func parseList(_ text: String) -> Result<[Int64], PythonListLiteral.SyntaxError> {
    var values: [Int64] = []
    let bytes = Array(text.utf8)
    let failure = bytes.withUnsafeBufferPointer { buffer -> PythonListLiteral.SyntaxError? in
      do throws(PythonListLiteral.SyntaxError) {
        try PythonListLiteral.parseIntegers(buffer, into: &values)
        return nil
      } catch {
        return error
      }
    }
    if let failure { return .failure(failure) }
    return .success(values)
  }

  func list(_ text: String) throws -> [Int64] { try parseList(text).get() }

  func listError(_ text: String) -> String? {
    if case .failure(let error) = parseList(text) { return error.description }
    return nil
  }

  @Test func pythonListsOfIntegersParse() throws {
    #expect(try list("[13452, 14024, 13517]") == [13452, 14024, 13517])
    #expect(try list("[]") == [])
    #expect(try list(" [ 1 ,2,3 ] ") == [1, 2, 3])
    #expect(try list("[1, 2,]") == [1, 2], "a trailing comma is valid Python")
    #expect(try list("[0, -4]") == [0, -4])
  }

  @Test func malformedPythonListsSayWhere() {
    #expect(listError("1, 2") == "expected '[' at character 1")
    #expect(listError("[1, 2") == "expected ']' before the end at character 6")
    #expect(listError("[1,, 2]") == "expected an integer at character 4")
    #expect(listError("[,]") == "expected an integer at character 2")
    #expect(listError("[1 2]") == "expected ',' or ']' at character 4")
    #expect(listError("[01]") == "integer with a leading zero at character 2")
    #expect(listError("[1.5]") == "expected ',' or ']' at character 3")
    #expect(listError("[1] x") == "unexpected text after ']' at character 5")
    #expect(listError("['a']") == "expected an integer at character 2")
  }

  /// Feeds one line to the parser.
  func consume(_ parser: inout CSVRecordParser, _ line: String, number: Int) -> Result<
    Bool, CSVRecordParser.SyntaxError
  > {
    let bytes = Array(line.utf8)
    return bytes.withUnsafeBufferPointer { buffer in
      do throws(CSVRecordParser.SyntaxError) {
        return .success(try parser.consume(buffer, number: number))
      } catch {
        return .failure(error)
      }
    }
  }

  /// Feeds lines to the CSV parser and collects the records with their first line.
  func records(_ lines: [String]) throws -> [(fields: [String], line: Int)] {
    var parser = CSVRecordParser()
    var result: [(fields: [String], line: Int)] = []
    for (index, line) in lines.enumerated() {
      if try consume(&parser, line, number: index + 1).get() {
        result.append(((0..<parser.record.count).map { parser.record.string($0) }, parser.recordStartLine))
      }
    }
    try parser.finish()
    return result
  }

  @Test func csvRecordsHandleQuotesCommasAndLineBreaks() throws {
    let parsed = try records([
      ",rawid,title",
      "0,A,\"LEGO, Star Wars\"",
      "1,B,\"He said \"\"hi\"\"\"",
      "2,C,\"first",
      "",
      "third\"",
      "3,,plain \"quote\" inside",
    ])
    #expect(
      parsed.map(\.fields) == [
        ["", "rawid", "title"],
        ["0", "A", "LEGO, Star Wars"],
        ["1", "B", "He said \"hi\""],
        ["2", "C", "first\n\nthird"],
        ["3", "", "plain \"quote\" inside"],
      ])
    #expect(parsed.map(\.line) == [1, 2, 3, 4, 7])
  }

  @Test func csvTextAfterAClosingQuoteIsAnError() throws {
    var parser = CSVRecordParser()
    guard case .failure(let error) = consume(&parser, "1,\"ab\"c,2", number: 5) else {
      Issue.record("expected a syntax error")
      return
    }
    #expect(error.reason == "unexpected character 'c' after a closing quote at line 5")
    #expect(error.line == 5)
    // The parser recovers on the next line.
    #expect(try consume(&parser, "1,2", number: 6).get())
    #expect(parser.record.count == 2)
  }

  @Test func csvEndingInsideQuotesIsAnError() throws {
    #expect(throws: CSVRecordParser.SyntaxError.self) { _ = try records(["a,b", "1,\"open", "still open"]) }
  }
}
