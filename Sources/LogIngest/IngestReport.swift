import ArtifactFormats
import PipelineCore

/// What an ingest run read and what it skipped, by reason with the first line numbers: the
/// `report.json` of the `interactions` artifact.
///
/// A reference type so that a reader's line callback can record a skipped line while the reader
/// itself is being iterated.
final class IngestReport {
  /// Lines read from one raw file.
  struct FileCount {
    var name: String
    var lines: Int
    var blankLines: Int
  }

  /// The lines skipped for one reason.
  struct SkipRecord {
    var count: Int
    /// The file of the first skipped line; `firstLines` are line numbers in it.
    var file: String
    var firstLines: [Int]
    /// Counts in files other than `file`, when the same reason occurs in several.
    var otherFiles: [String: Int]
    /// The message of the first occurrence, for people.
    var example: String
  }

  static let keptLineNumbers = 5

  let source: String
  /// Whether a skipped line is an error instead.
  let strict: Bool
  let diagnostics: Diagnostics
  private(set) var files: [String: FileCount] = [:]
  private(set) var skipped: [String: SkipRecord] = [:]
  private(set) var truncatedAt: [String: (file: String, byte: Int64)] = [:]
  /// Source-specific entries (`time`, `predefined`, `empty_titles`…), merged into the report.
  var extra: [String: JSONValue] = [:]

  init(source: String, strict: Bool, diagnostics: Diagnostics) {
    self.source = source
    self.strict = strict
    self.diagnostics = diagnostics
  }

  var skippedLineCount: Int { skipped.values.reduce(0) { $0 + $1.count } }

  /// The skip reasons, most frequent first, each with its count and first example
  /// ("wrong_field_count ×300, first: 'ratings.dat' line 1: …"), for an error that must say why.
  var skippedSummary: String {
    skipped.sorted { ($1.value.count, $0.key) < ($0.value.count, $1.key) }.prefix(3)
      .map { "\($0.key) ×\($0.value.count), first: \($0.value.example)" }.joined(separator: "; ")
  }
  var linesRead: Int { files.values.reduce(0) { $0 + $1.lines } }

  /// Parses a CSV field with `parse`; when it does not parse, skips the line with `reason` and the
  /// field's text ("is not an integer (\"abc\")") and returns nil.
  /// The same for a field of a line (its bytes, surrounding spaces trimmed first).
  func parsedField<Value>(
    _ bytes: UnsafeBufferPointer<UInt8>, _ parse: (UnsafeBufferPointer<UInt8>) -> Value?, expected: String,
    reason: String, file: String, line: Int, field: String
  ) throws(PipelineError) -> Value? {
    let trimmed = FieldParsing.trimmed(bytes)
    if let value = parse(trimmed) { return value }
    try skip(
      reason, file: file, line: line, field: field, problem: "is not \(expected) (\"\(FieldParsing.preview(trimmed))\")"
    )
    return nil
  }

  func parsedField<Value>(
    _ record: CSVRecord, _ column: Int, _ parse: (UnsafeBufferPointer<UInt8>) -> Value?, expected: String,
    reason: String, file: String, line: Int, field: String
  ) throws(PipelineError) -> Value? {
    if let value = record.withField(column, parse) { return value }
    try skip(
      reason, file: file, line: line, field: field,
      problem: "is not \(expected) (\"\(record.withField(column, FieldParsing.preview))\")")
    return nil
  }

  /// Skips a malformed line, or throws when the run is strict.
  ///
  /// The message reads `'u.data' line 17: field 'timestamp' is not an integer ("abc")`; the error
  /// adds what to do.
  /// - Parameters:
  ///   - reason: a short snake-case key for the report (`bad_timestamp`).
  ///   - file: the file's base name.
  ///   - line: the 1-based line number (the first line of a multi-line CSV record).
  ///   - field: the field at fault, when there is one.
  ///   - problem: what is wrong, starting lowercase.
  func skip(_ reason: String, file: String, line: Int, field: String? = nil, problem: String) throws(PipelineError) {
    let message = "'\(file)' line \(line): " + (field.map { "field '\($0)' " } ?? "") + problem
    if strict {
      throw .invalidInput("\(message); fix the line or pass strict: false to skip it")
    }
    record(reason, file: file, line: line, message: message)
  }

  /// Records a skipped line (no strictness check).
  func record(_ reason: String, file: String, line: Int, message: String) {
    if var existing = skipped[reason] {
      existing.count += 1
      if existing.file == file {
        if existing.firstLines.count < Self.keptLineNumbers { existing.firstLines.append(line) }
      } else {
        existing.otherFiles[file, default: 0] += 1
      }
      skipped[reason] = existing
    } else {
      skipped[reason] = SkipRecord(count: 1, file: file, firstLines: [line], otherFiles: [:], example: message)
      diagnostics.detail("ingest: skipping \(message) (\(reason); later ones are counted in report.json)")
    }
  }

  /// Adds what `other` recorded (a file read on another thread into a report of its own) as if its
  /// lines had been read after this report's: files and truncations by role, `extra` entries
  /// (`other`'s win), and skipped lines, each reason's count, files and first line numbers as
  /// recording them one by one here would have left them (the example stays the first one's).
  ///
  /// Exact when `other` recorded each reason in one file, as a report of one file does; lines of
  /// `other`'s further files (`otherFiles`) are counted, and their numbers are not known to be
  /// added to `firstLines` when such a file is this record's first.
  /// No diagnostics: `other` wrote its own "skipping" lines as it recorded.
  func merge(_ other: IngestReport) {
    for (role, count) in other.files { files[role] = count }
    for (role, truncation) in other.truncatedAt { truncatedAt[role] = truncation }
    for (key, value) in other.extra { extra[key] = value }
    for (reason, added) in other.skipped {
      guard var existing = skipped[reason] else {
        skipped[reason] = added
        continue
      }
      existing.count += added.count
      let inFirstFile = added.count - added.otherFiles.values.reduce(0, +)
      if existing.file == added.file {
        let room = max(0, Self.keptLineNumbers - existing.firstLines.count)
        existing.firstLines += added.firstLines.prefix(room)
      } else {
        existing.otherFiles[added.file, default: 0] += inFirstFile
      }
      for (file, count) in added.otherFiles where file != existing.file {
        existing.otherFiles[file, default: 0] += count
      }
      skipped[reason] = existing
    }
  }

  func recordFile(role: String, name: String, lines: Int, blankLines: Int) {
    files[role] = FileCount(name: name, lines: lines, blankLines: blankLines)
  }

  func recordTruncation(role: String, file: String, byte: Int64) {
    truncatedAt[role] = (file, byte)
  }

  /// The report as written to `report.json`.
  func json(for log: InteractionLog) -> JSONValue {
    var object = extra
    object["source"] = .string(source)
    object["lines_read"] = JSONValue(linesRead)
    object["events"] = JSONValue(log.eventCount)
    object["users"] = JSONValue(log.users.count)
    object["items"] = JSONValue(log.items.count)
    object["items_with_title"] = JSONValue(log.items.count(where: { $0.title != nil }))
    object["skipped_lines"] = JSONValue(skippedLineCount)
    object["skipped"] = .object(
      skipped.mapValues { record in
        var entry: [String: JSONValue] = [
          "count": JSONValue(record.count),
          "file": .string(record.file),
          "first_lines": JSONValue(record.firstLines),
          "example": .string(record.example),
        ]
        if !record.otherFiles.isEmpty { entry["other_files"] = .object(record.otherFiles.mapValues { JSONValue($0) }) }
        return .object(entry)
      })
    object["files"] = .object(
      files.mapValues { count in
        .object([
          "name": .string(count.name), "lines": JSONValue(count.lines), "blank_lines": JSONValue(count.blankLines),
        ])
      })
    if !truncatedAt.isEmpty {
      object["truncated_at"] = .object(
        truncatedAt.mapValues { .object(["file": .string($0.file), "byte": .integer($0.byte)]) })
    }
    for (split, samples) in log.predefined {
      var predefined = object["predefined"]?.objectValue ?? [:]
      predefined[split.rawValue] = JSONValue(samples.count)
      object["predefined"] = .object(predefined)
    }
    return .object(object)
  }

  /// One line for people at the end of a run: what was skipped, if anything.
  func summarizeSkips() {
    guard !skipped.isEmpty else { return }
    let reasons = skipped.keys.sorted().map { "\($0) \(skipped[$0]!.count)" }.joined(separator: ", ")
    diagnostics.warning(
      "ingest: skipped \(skippedLineCount) malformed lines (\(reasons)); see report.json, or pass strict: true to fail on them"
    )
  }
}
