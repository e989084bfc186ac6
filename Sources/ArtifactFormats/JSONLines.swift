import PipelineCore

/// JSON Lines files: UTF-8, one canonical JSON object per line, `\n` line ends.
public enum JSONLines {
  /// Writes records as canonical JSON (sorted keys), one per line.
  public static func write(_ records: [JSONValue], to path: String) throws(PipelineError) {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(records.count * 64)
    for record in records {
      bytes.append(contentsOf: record.canonicalText().utf8)
      bytes.append(0x0A)
    }
    try FileSystem.writeFile(path, bytes)
  }

  /// Reads every line as a JSON object; errors name the file and the 1-based line.
  public static func read(_ path: String) throws(PipelineError) -> [JSONValue] {
    let bytes = try FileSystem.readFile(path)
    var records: [JSONValue] = []
    var lineStart = 0
    var lineNumber = 0
    while lineStart < bytes.count {
      lineNumber += 1
      var lineEnd = lineStart
      while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
      do {
        let value = try JSONParser.parse(bytes[lineStart..<lineEnd])
        guard value.objectValue != nil else {
          throw PipelineError.invalidArtifact(
            "'\(path)' line \(lineNumber): expected a JSON object, found \(value.typeName)")
        }
        records.append(value)
      } catch let error as JSONParser.SyntaxError {
        throw .invalidArtifact("'\(path)' line \(lineNumber): \(error); regenerate it with `tca run --force`")
      } catch let error as PipelineError {
        throw error
      } catch {
        throw .invalidArtifact("'\(path)' line \(lineNumber): \(error)")
      }
      lineStart = lineEnd + 1
    }
    return records
  }
}
