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

  /// The files (path relative to the artifact, contents), in the order they are written.
  static func files(
    log: InteractionLog, sequences: UserSequences, options: PrepareOptions
  ) throws(PipelineError) -> [(path: String, bytes: [UInt8])] {
    var files: [(path: String, bytes: [UInt8])] = []
    func add(_ name: String, _ bytes: [UInt8]) { files.append((FileSystem.join(directory, name), bytes)) }
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

    let (candidates, splits) = SlidingWindow.ordered(sequences, options: options)
    let header = "uid,iid,his_len,hist_id,rating,label,hist_rating,hist_label,timestamp\n"
    for ((split, range), sampleSize) in zip(splits, options.exportSamples) {
      // One buffer per file; the sampled file is cut from it by each row's start.
      csv.raw(header)
      var starts: [Int] = []
      starts.reserveCapacity(range.count + 1)
      for candidate in candidates[range] {
        starts.append(csv.bytes.count)
        appendSample(candidate, sequences, options: options, to: &csv)
      }
      starts.append(csv.bytes.count)
      let whole = csv.take()
      var sampled = Array(header.utf8)
      for index in Downsampling.numpyIndices(total: range.count, count: sampleSize, seed: options.seed) {
        sampled += whole[starts[index]..<starts[index + 1]]
      }
      add("\(split.rawValue).csv", whole)
      add("\(split.rawValue)_\(sampleSize).csv", sampled)
    }
    return files
  }

  /// Appends one sample's line: `uid,iid,his_len,hist_id,rating,label,hist_rating,hist_label,timestamp`.
  static func appendSample(
    _ candidate: SlidingWindow.Candidate, _ sequences: UserSequences, options: PrepareOptions, to csv: inout CSVBytes
  ) {
    let event = Int(candidate.event)
    let history = SlidingWindow.historyStart(candidate, sequences, options: options)..<event
    let rating = sequences.ratings[event]
    csv.integer(Int(candidate.user))
    csv.separator()
    csv.integer(Int(candidate.item))
    csv.separator()
    csv.integer(history.count)
    csv.separator()
    csv.list(history) { $0.integer(Int(sequences.items[$1])) }
    csv.separator()
    csv.pythonFloat(rating)
    csv.separator()
    csv.label(rating)
    csv.separator()
    csv.list(history) { $0.pythonFloat(sequences.ratings[$1]) }
    csv.separator()
    csv.list(history) { $0.label(sequences.ratings[$1]) }
    csv.separator()
    csv.integer(Int(candidate.timestamp))
    csv.endLine()
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

  /// Python's `repr` of a list, one element per position, each written by `element`; quoted when it
  /// holds ", ", that is exactly when it has two or more entries.
  @inline(__always)
  mutating func list(_ positions: Range<Int>, _ element: (inout CSVBytes, Int) -> Void) {
    let quoted = positions.count >= 2
    if quoted { bytes.append(UInt8(ascii: "\"")) }
    bytes.append(UInt8(ascii: "["))
    for position in positions {
      if position != positions.lowerBound {
        bytes.append(UInt8(ascii: ","))
        bytes.append(UInt8(ascii: " "))
      }
      element(&self, position)
    }
    bytes.append(UInt8(ascii: "]"))
    if quoted { bytes.append(UInt8(ascii: "\"")) }
  }

  mutating func integer(_ value: Int) {
    if value < 0 { bytes.append(UInt8(ascii: "-")) }
    var magnitude = value.magnitude
    // Twenty digits hold any Int; they are written back to front into a stack buffer.
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
    withUnsafeMutableBytes(of: &digits) { buffer in
      var start = buffer.count
      repeat {
        start -= 1
        buffer[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
      } while magnitude > 0
      bytes.append(contentsOf: buffer[start...])
    }
  }

  /// `1` when the official `label` is set (rating > 4), else `0`.
  mutating func label(_ rating: Float) { bytes.append(rating > 4 ? UInt8(ascii: "1") : UInt8(ascii: "0")) }

  /// Python's `repr` of a float: `5.0` for whole numbers, else the shortest round trip (`4.5`), `nan`.
  mutating func pythonFloat(_ value: Float) {
    let number = Double(value)
    if number.rounded() == number && abs(number) < 1e15 {
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
