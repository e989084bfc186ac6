import ArtifactFormats
import LogIngest
import PipelineCore

/// Writes the official TCA4Rec CSV layout (critical88/TCA4Rec `utils/preprocess_utils.py`:
/// `save_item_data`, `save_user_data`, `save_stat_data`, `save_llmcode_hist`) byte for byte as pandas
/// writes it, so users can feed the official code or compare with it:
/// - `item.csv`: `,rawid,title,mapping_iid[,brand][,style][,category],iid` with pandas' index column;
///   lists (style, category) as Python's `repr`;
/// - `user.csv`: `,rawid,uid`;
/// - `train.csv`, `valid.csv`, `test.csv`: `uid,iid,his_len,hist_id,rating,label,hist_rating,hist_label,timestamp`,
///   lists as Python's `repr`, `label` = rating > 4;
/// - `train_<a>.csv`, `valid_<b>.csv`, `test_<c>.csv`: `DataFrame.sample(k, random_state=seed)` of
///   each split when it has more than k rows (else the whole split), rows in drawn order;
/// - `data_stat.json`: `{"num_user": …, "num_item": …}` as `json.dumps(indent=2)` writes it.
/// CSV fields that hold a comma, a double quote or a line break are quoted (Python's `csv`
/// module, `QUOTE_MINIMAL`); lines end with `\n`.
enum TCA4RecExport {
  static let directory = "tca4rec"
  static let extraColumns = ["brand", "style", "category"]

  /// How many sample lines one task formats; the tasks are shared among the threads.
  static let linesPerTask = 16_384

  /// The files (path relative to the artifact, contents), in the order they are written.
  ///
  /// `item.csv`, `user.csv` and `data_stat.json` are made on one thread while another formats the
  /// tables of the sample lines; then the sample lines are formatted in tasks of `linesPerTask`
  /// lines on `threads` threads, and each file is its tasks' bytes one after the other, so the files
  /// do not depend on the thread count.
  static func files(
    log: InteractionLog, sequences: UserSequences, ordered: SlidingWindow.Ordered, options: PrepareOptions,
    threads: Int
  ) throws(PipelineError) -> [(path: String, bytes: [UInt8])] {
    guard sequences.itemCount > 0 else { return [] }
    // What the two threads make first: the item and user files, and the tables of the sample lines.
    enum Part {
      case pending
      case tables(Result<[(path: String, bytes: [UInt8])], PipelineError>)
      case lines(TCA4RecSampleLines)
    }
    var parts: [Part] = [.pending, .pending]
    parts.withUnsafeMutableBufferPointer { parts in
      let parts = DisjointPointer(parts)
      Parallel.forEach(2, threads: threads) { job in
        parts[job] =
          job == 0
          ? .tables(Result { () throws(PipelineError) in try itemAndUserFiles(log: log, sequences: sequences) })
          : .lines(TCA4RecSampleLines(sequences, options: options))
      }
    }
    guard case .tables(let tables) = parts[0], case .lines(let sampleLines) = parts[1] else {
      preconditionFailure("TCA4RecExport: a part was not made")
    }
    var files = try tables.get().map { (FileSystem.join(directory, $0.path), $0.bytes) }
    func add(_ name: String, _ bytes: [UInt8]) { files.append((FileSystem.join(directory, name), bytes)) }

    // Each split's lines in tasks, then each split's sample (drawn indices into the split).
    let (candidates, splits) = ordered
    let header = Array("uid,iid,his_len,hist_id,rating,label,hist_rating,hist_label,timestamp\n".utf8)
    for (split, (name, range)) in splits.enumerated() {
      add(
        "\(name.rawValue).csv",
        sampleLines.file(header: header, candidates, range, linesPerTask: linesPerTask, threads: threads))
      let sampleSize = options.exportSamples[split]
      let drawn = Downsampling.numpyIndices(total: range.count, count: sampleSize, seed: options.seed)
      add(
        "\(name.rawValue)_\(sampleSize).csv",
        header + sampleLines.lines(candidates, drawn.map { range.lowerBound + $0 }))
    }
    return files
  }

  /// `item.csv`, `user.csv` and `data_stat.json` (names without the directory).
  static func itemAndUserFiles(log: InteractionLog, sequences: UserSequences) throws(PipelineError) -> [(
    path: String, bytes: [UInt8]
  )] {
    var files: [(path: String, bytes: [UInt8])] = []
    func add(_ name: String, _ bytes: [UInt8]) { files.append((name, bytes)) }
    let items = sequences.itemIndices.map { log.items[$0] }
    guard let first = items.first else { return [] }
    guard first.metadata["mapping_iid"]?.stringValue != nil else {
      throw .usage(
        "stage 'prepare': export tca4rec-csv needs items from ingest with preset tca4rec (item '\(first.rawID)' has no mapping_iid); set preset: tca4rec on the ingest stage"
      )
    }
    let columns = extraColumns.filter { first.metadata[$0] != nil }

    var csv = CSVBytes()
    csv.raw(",rawid,title,mapping_iid" + columns.map { "," + $0 }.joined() + ",iid\n")
    for (index, item) in items.enumerated() {
      csv.integer(index)
      for text in [item.rawID, item.title ?? "", item.metadata["mapping_iid"]?.stringValue ?? ""] {
        csv.separator()
        csv.field(text)
      }
      for column in columns {
        csv.separator()
        switch item.metadata[column] {
        case .string(let value)?: csv.field(value)
        case let value?: csv.field(PythonLiteral.repr(value))
        case nil:
          throw .invalidInput(
            "item '\(item.rawID)' has no '\(column)' while item '\(first.rawID)' has one; rerun ingest with --force")
        }
      }
      csv.separator()
      csv.integer(index + 1)
      csv.endLine()
    }
    add("item.csv", csv.take())

    csv.raw(",rawid,uid\n")
    for (index, user) in sequences.userIndices.enumerated() {
      csv.integer(index)
      csv.separator()
      csv.field(log.users[user])
      csv.separator()
      csv.integer(index + 1)
      csv.endLine()
    }
    add("user.csv", csv.take())
    add(
      "data_stat.json",
      Array("{\n  \"num_user\": \(sequences.userCount),\n  \"num_item\": \(sequences.itemCount)\n}".utf8))
    return files
  }
}

/// CSV text as bytes, written as Python's `csv` module (pandas' `to_csv`) writes it: a field that
/// holds a comma, a double quote or a line break is quoted, with its quotes doubled
/// (`QUOTE_MINIMAL`); lines end with `\n`.
struct CSVBytes {
  var bytes: [UInt8] = []

  /// Returns the bytes so far and starts over.
  mutating func take() -> [UInt8] {
    defer { bytes = [] }
    return bytes
  }

  mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }
  mutating func separator() { bytes.append(UInt8(ascii: ",")) }
  mutating func endLine() { bytes.append(10) }

  mutating func field(_ text: String) {
    let utf8 = text.utf8
    guard utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }) else {
      bytes.append(contentsOf: utf8)
      return
    }
    bytes.append(UInt8(ascii: "\""))
    for byte in utf8 {
      if byte == UInt8(ascii: "\"") { bytes.append(byte) }
      bytes.append(byte)
    }
    bytes.append(UInt8(ascii: "\""))
  }

  mutating func integer(_ value: Int) { JSONValue.appendDecimal(Int64(value), to: &bytes) }

  /// Python's `repr` of a float: `5.0` for whole numbers, else the shortest round trip (`4.5`), `nan`.
  mutating func pythonFloat(_ value: Float) {
    let number = Double(value)
    // Python's repr writes whole numbers below 1e16 positionally ("1000000000000000.0").
    if number.rounded() == number && abs(number) < 1e16 {
      integer(Int(number))
      if number == 0 && number.sign == .minus { bytes.insert(UInt8(ascii: "-"), at: bytes.count - 1) }
      raw(".0")
    } else if number.isNaN {
      raw("nan")
    } else if number.isInfinite {
      raw(number < 0 ? "-inf" : "inf")
    } else {
      raw(number.description)
    }
  }
}
