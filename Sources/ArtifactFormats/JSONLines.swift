import PipelineCore

/// JSON Lines files: UTF-8, one canonical JSON object per line, `\n` line ends.
public enum JSONLines {
  /// Writes records as canonical JSON (sorted keys), one per line.
  public static func write(_ records: [JSONValue], to path: String) throws(PipelineError) {
    try write(records.count, to: path) { index, bytes in records[index].appendCanonical(to: &bytes) }
  }

  /// Writes `count` lines, each appended to the file's bytes by `line` (its index, the bytes so far)
  /// and followed by `\n`: for writers that produce canonical JSON straight into bytes
  /// (`JSONValue.appendCanonical(string:to:)`, `JSONValue.appendCanonicalObject(_:adding:to:)`).
  ///
  /// - Parameters:
  ///   - count: the number of lines.
  ///   - path: the file to write.
  ///   - line: appends line `index` without its line end; it must write one canonical JSON object.
  public static func write(
    _ count: Int, to path: String, line: (_ index: Int, _ bytes: inout [UInt8]) -> Void
  ) throws(PipelineError) {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count * 48)
    for index in 0..<count {
      line(index, &bytes)
      bytes.append(0x0A)
    }
    try FileSystem.writeFile(path, bytes)
  }

  /// Reads every line as a JSON object; errors name the file and the 1-based line.
  public static func read(_ path: String) throws(PipelineError) -> [JSONValue] {
    try read(path, fast: { _ in nil }, record: { value, _ throws(PipelineError) in value })
  }

  /// Reads every line into a record: `fast` first, and when it returns `nil`, `JSONParser` and then
  /// `record`.
  ///
  /// `fast` must return a record only when `JSONParser` accepts the line as an object and `record`
  /// would build the same record from it; any doubt is a `nil`, never an error. So a file reads to
  /// the same records, and fails with the same error, as through the parser alone: a syntax error or
  /// a line that is not an object names the file and the line; when `record` throws for a line, the
  /// rest of the file is still parsed, and the first syntax error there wins over `record`'s error
  /// (as when the whole file is parsed before any record is built).
  ///
  /// - Parameters:
  ///   - path: the file to read.
  ///   - fast: builds the record of a line of a common shape (the line's bytes without `\n`), or
  ///     returns `nil`.
  ///   - record: builds the record of a parsed line (its object and 1-based line number); its
  ///     errors should name the file, the line and the field, and say what to do.
  /// - Returns: the records in line order.
  @inlinable
  public static func read<Record>(
    _ path: String, fast: (UnsafeBufferPointer<UInt8>) -> Record?,
    record: (_ value: JSONValue, _ line: Int) throws(PipelineError) -> Record
  ) throws(PipelineError) -> [Record] {
    let bytes = try FileSystem.readFile(path)
    return try bytes.withUnsafeBufferPointer { (buffer) throws(PipelineError) -> [Record] in
      var records: [Record] = []
      var recordError: PipelineError?
      var lineStart = 0
      var lineNumber = 0
      while lineStart < buffer.count {
        lineNumber += 1
        var lineEnd = lineStart
        while lineEnd < buffer.count && buffer[lineEnd] != 0x0A { lineEnd += 1 }
        let line = UnsafeBufferPointer(rebasing: buffer[lineStart..<lineEnd])
        lineStart = lineEnd + 1
        if let fastRecord = fast(line) {
          if recordError == nil { records.append(fastRecord) }
          continue
        }
        let value = try parseObject(line, path: path, lineNumber: lineNumber)
        guard recordError == nil else { continue }
        do throws(PipelineError) {
          records.append(try record(value, lineNumber))
        } catch {
          recordError = error
        }
      }
      if let recordError { throw recordError }
      return records
    }
  }

  /// Parses one line, which must be a JSON object; errors name the file and the line.
  @usableFromInline
  static func parseObject(_ line: UnsafeBufferPointer<UInt8>, path: String, lineNumber: Int) throws(PipelineError)
    -> JSONValue
  {
    let value: JSONValue
    do {
      value = try JSONParser.parse(line)
    } catch {
      throw .invalidArtifact("'\(path)' line \(lineNumber): \(error); regenerate it with `tca run --force`")
    }
    guard value.objectValue != nil else {
      throw .invalidArtifact("'\(path)' line \(lineNumber): expected a JSON object, found \(value.typeName)")
    }
    return value
  }

  /// Scans a line that is a flat object of strings in canonical form, such as
  /// `{"mapping_iid":"B01","raw_id":"B01","title":"Pens"}`, calling `member` with each key's bytes
  /// and value in order.
  ///
  /// Accepts only what `JSONParser` accepts and decodes to the same members: no whitespace, keys
  /// of printable ASCII without escapes in strictly increasing byte order (so none repeats),
  /// values without escapes or control characters and valid UTF-8, at least one member. Anything
  /// else returns `false`, which says nothing about the line: the caller parses it with
  /// `JSONParser`, and drops whatever `member` collected.
  ///
  /// - Returns: `true` when the whole line was scanned and every member reported.
  /// - Complexity: O(bytes of the line).
  public static func scanStringMembers(
    _ line: UnsafeBufferPointer<UInt8>, _ member: (_ key: UnsafeBufferPointer<UInt8>, _ value: String) -> Void
  ) -> Bool {
    let count = line.count
    guard count >= 7, line[0] == UInt8(ascii: "{"), line[count - 1] == UInt8(ascii: "}") else { return false }
    var position = 1
    var previousKey: UnsafeBufferPointer<UInt8>?
    while true {
      // "key"
      guard position < count, line[position] == UInt8(ascii: "\"") else { return false }
      position += 1
      let keyStart = position
      while position < count {
        let byte = line[position]
        if byte == UInt8(ascii: "\"") { break }
        guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return false }
        position += 1
      }
      guard position < count else { return false }
      let key = UnsafeBufferPointer(rebasing: line[keyStart..<position])
      if let previousKey, !previousKey.lexicographicallyPrecedes(key) { return false }
      previousKey = key
      position += 1
      // :"value"
      guard position + 1 < count, line[position] == UInt8(ascii: ":"), line[position + 1] == UInt8(ascii: "\"")
      else { return false }
      position += 2
      let valueStart = position
      var bits: UInt8 = 0
      while position < count {
        let byte = line[position]
        if byte == UInt8(ascii: "\"") { break }
        guard byte >= 0x20, byte != UInt8(ascii: "\\") else { return false }
        bits |= byte
        position += 1
      }
      guard position < count else { return false }
      let valueBytes = UnsafeBufferPointer(rebasing: line[valueStart..<position])
      // ASCII is valid UTF-8, and `String(decoding:)` is several times faster than
      // `String(validating:)`, which checks the rest.
      if bits < 0x80 {
        member(key, String(decoding: valueBytes, as: UTF8.self))
      } else {
        guard let value = String(validating: valueBytes, as: UTF8.self) else { return false }
        member(key, value)
      }
      position += 1
      // , or the final }
      guard position < count else { return false }
      if line[position] == UInt8(ascii: ",") {
        position += 1
        continue
      }
      return line[position] == UInt8(ascii: "}") && position == count - 1
    }
  }
}
