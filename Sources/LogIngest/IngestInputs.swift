import ArtifactFormats
import PipelineCore

/// The raw files of one ingest run, by role, read line by line through `RawInputReader` (plain,
/// gzip or zstd) with the run's settings; what reading finds goes into the run's report.
struct IngestInputs {
  /// Absolute paths by role (`ratings`, `items`…).
  let rawFiles: [String: String]
  /// Keep the complete lines of a truncated compressed file instead of failing.
  let allowTruncated: Bool
  let report: IngestReport
  /// Stops reading when the driver no longer wants the result (`StageContext.cancellation`).
  var cancellation: Cancellation? = nil

  /// The same files and settings, recording into another report (a file read on another thread
  /// records into its own report, merged after).
  func with(report other: IngestReport) -> IngestInputs {
    IngestInputs(rawFiles: rawFiles, allowTruncated: allowTruncated, report: other, cancellation: cancellation)
  }

  /// The path of the file with `role`; a missing role is a usage error.
  func path(_ role: String) throws(PipelineError) -> String {
    guard let path = rawFiles[role] else {
      let known = rawFiles.keys.sorted().joined(separator: ", ")
      throw .usage(
        "stage 'ingest' (source '\(report.source)') needs the raw file '\(role)', but the run has only [\(known)]; check the source's file parameters"
      )
    }
    return path
  }

  /// The base name of the file with `role`, as messages quote it.
  func name(_ role: String) throws(PipelineError) -> String {
    FileSystem.baseName(try path(role))
  }

  /// Calls `body` with every non-blank line and its 1-based line number.
  ///
  /// Blank lines are counted in the report, not passed on. With `allowTruncated`, a truncated stream
  /// gives its complete lines (`RawInputReader` drops the cut-off last one) and the byte offset goes
  /// into the report; without it, truncation is an error naming the file and the offset.
  /// - Throws: when the file cannot be read, is truncated or corrupt, has no non-blank line, or when
  ///   `body` throws.
  func forEachLine(_ role: String, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
    try forEachRawLine(role, skippingBlankLines: true, body)
  }

  /// Reads a whole (small) file, lines joined by `\n`, for formats read as one document (JSON maps).
  func readAll(_ role: String) throws -> [UInt8] {
    var bytes: [UInt8] = []
    try forEachRawLine(role, skippingBlankLines: false) { line, _ in
      bytes.append(contentsOf: line)
      bytes.append(0x0A)
    }
    return bytes
  }

  /// Reads a CSV file: `header` gets the first record's fields, `body` every later record with the
  /// number of the line it starts on. Records may span lines (quoted line breaks); blank lines
  /// between records are ignored. A malformed record is skipped (reason `malformed_csv`), or an
  /// error when the run is strict.
  func forEachCSVRecord(
    _ role: String, header: ([String]) throws -> Void, record body: (CSVRecord, Int) throws -> Void
  ) throws {
    let name = try name(role)
    var parser = CSVRecordParser()
    var sawHeader = false
    var sawRecord = false
    try forEachRawLine(role, skippingBlankLines: false) { line, number in
      if !parser.isInsideQuotedField && FieldParsing.isBlank(line) { return }
      let complete: Bool
      do throws(CSVRecordParser.SyntaxError) {
        complete = try parser.consume(line, number: number)
      } catch {
        try report.skip("malformed_csv", file: name, line: error.line, problem: error.reason)
        return
      }
      guard complete else { return }
      if sawHeader {
        sawRecord = true
        try body(parser.record, parser.recordStartLine)
      } else {
        sawHeader = true
        try header((0..<parser.record.count).map { parser.record.string($0) })
      }
    }
    do throws(CSVRecordParser.SyntaxError) {
      try parser.finish()
    } catch {
      try report.skip("malformed_csv", file: name, line: error.line, problem: error.reason)
    }
    guard sawRecord else {
      throw PipelineError.invalidInput("'\(name)' has a header but no records; check the file or re-download it")
    }
  }

  private func forEachRawLine(
    _ role: String, skippingBlankLines: Bool, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void
  ) throws {
    let path = try path(role)
    let name = FileSystem.baseName(path)
    let reader = try RawInputReader(path: path, allowTruncated: allowTruncated)
    reader.cancellation = cancellation
    // Progress in bytes of the file as stored (compressed bytes for .gz/.zst), so the ETA is real.
    let progress = ProgressReporter(
      diagnostics: report.diagnostics, label: "ingest: reading \(name)", unit: "bytes", total: reader.fileSize)
    var lines = 0
    var blankLines = 0
    var nonBlankLines = 0
    try reader.forEachLine { line, number in
      lines = number
      progress.update(reader.bytesRead)
      if FieldParsing.isBlank(line) {
        blankLines += 1
        if skippingBlankLines { return }
      } else {
        nonBlankLines += 1
      }
      try body(line, number)
    }
    progress.finish()
    report.recordFile(role: role, name: name, lines: lines, blankLines: blankLines)
    if let byte = reader.truncatedAt {
      report.recordTruncation(role: role, file: name, byte: byte)
      report.diagnostics.warning(
        "ingest: '\(name)' is truncated at byte \(byte); kept the complete lines before it (allow_truncated: true)")
    }
    guard nonBlankLines > 0 else {
      throw PipelineError.invalidInput("'\(name)' is empty (no non-blank line); check the path or re-download it")
    }
  }
}
