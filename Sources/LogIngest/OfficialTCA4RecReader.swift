import ArtifactFormats
import PipelineCore

/// Reads the official TCA4Rec processed CSVs (github critical88/TCA4Rec, `data/<category>/`):
/// `item.csv` (`,rawid,title,mapping_iid,brand,iid`; `brand` may be absent) and the pre-split sample
/// files `train*.csv`, `valid*.csv`, `test*.csv`
/// (`uid,iid,his_len,hist_id,rating,label,hist_rating,hist_label,timestamp`).
///
/// Items: one per `item.csv` row, ordered by the official 1-based `iid` (item index = iid − 1), which
/// must be exactly 1…N. Users: the official `uid`s seen in any split, ordered by uid ascending.
/// Predefined samples per split keep the file's order and the history as given (oldest first).
/// Events: one per sample row, `(user, target, timestamp, rating)`, in the order train, valid, test.
enum OfficialTCA4RecReader {
  static let itemsRole = "items"
  /// Split file roles, in event order.
  static let splitRoles: [(role: String, split: SplitName)] = [("train", .train), ("valid", .valid), ("test", .test)]

  /// A sample row before users get their indices.
  struct Row {
    var uid: Int64
    var target: UInt32
    var historyStart: Int
    var historyEnd: Int
    var timestamp: Int64
    var rating: Float
  }

  /// Reads `item.csv` and the three split files into a log with predefined samples.
  /// - Complexity: O(bytes); memory O(items + samples × history length).
  static func read(_ inputs: IngestInputs) throws -> InteractionLog {
    var log = InteractionLog()
    log.items = try readItems(inputs)
    var rowsBySplit: [(SplitName, [Row])] = []
    var histories: [UInt32] = []
    var uids: Set<Int64> = []
    for (role, split) in splitRoles {
      let rows = try readSplit(inputs, role: role, itemCount: log.items.count, histories: &histories)
      for row in rows { uids.insert(row.uid) }
      rowsBySplit.append((split, rows))
    }
    let sortedUIDs = uids.sorted()
    var userIndex: [Int64: UInt32] = [:]
    userIndex.reserveCapacity(sortedUIDs.count)
    for (index, uid) in sortedUIDs.enumerated() { userIndex[uid] = UInt32(index) }
    log.users = sortedUIDs.map { String($0) }
    for (split, rows) in rowsBySplit {
      var samples: [PredefinedSample] = []
      samples.reserveCapacity(rows.count)
      for row in rows {
        let user = userIndex[row.uid]!
        samples.append(
          PredefinedSample(
            user: user, target: row.target, history: Array(histories[row.historyStart..<row.historyEnd]),
            timestamp: row.timestamp, rating: row.rating))
        log.appendEvent(user: user, item: row.target, time: row.timestamp, rating: row.rating)
      }
      log.predefined[split] = samples
    }
    inputs.report.extra["max_uid"] = sortedUIDs.last.map { .integer($0) } ?? .null
    return log
  }

  /// Reads `item.csv`; checks that the iids are exactly 1…N.
  static func readItems(_ inputs: IngestInputs) throws -> [ItemRecord] {
    let report = inputs.report
    let name = try inputs.name(itemsRole)
    var rawIDColumn = 0
    var titleColumn = 0
    var iidColumn = 0
    var brandColumn: Int?
    var columnCount = 0
    var byIID: [Int64: ItemRecord] = [:]
    var firstLine: [Int64: Int] = [:]
    try inputs.forEachCSVRecord(itemsRole) { header in
      columnCount = header.count
      func column(_ wanted: String) throws(PipelineError) -> Int {
        guard let index = header.firstIndex(of: wanted) else {
          throw .invalidInput(
            "'\(name)' line 1: the header lacks column '\(wanted)' (found \(header.joined(separator: ","))); is this the official item.csv?"
          )
        }
        return index
      }
      rawIDColumn = try column("rawid")
      titleColumn = try column("title")
      iidColumn = try column("iid")
      brandColumn = header.firstIndex(of: "brand")
    } record: { record, number in
      guard record.count == columnCount else {
        try report.skip(
          "wrong_field_count", file: name, line: number, problem: "has \(record.count) fields, expected \(columnCount)")
        return
      }
      guard let iid = record.withField(iidColumn, FieldParsing.integer), iid >= 1 else {
        try report.skip(
          "bad_iid", file: name, line: number, field: "iid",
          problem: "is not a positive integer (\"\(record.withField(iidColumn, FieldParsing.preview))\")")
        return
      }
      if let earlier = firstLine[iid] {
        try report.skip(
          "duplicate_iid", file: name, line: number, field: "iid", problem: "repeats iid \(iid) of line \(earlier)")
        return
      }
      let rawID = record.string(rawIDColumn)
      let title = record.string(titleColumn)
      var metadata: [String: JSONValue] = [:]
      if let brandColumn {
        let brand = record.string(brandColumn)
        if !brand.isEmpty { metadata["brand"] = .string(brand) }
      }
      firstLine[iid] = number
      byIID[iid] = ItemRecord(rawID: rawID, title: title.isEmpty ? nil : title, metadata: metadata)
    }
    let count = byIID.count
    var items: [ItemRecord] = []
    items.reserveCapacity(count)
    guard count > 0 else {
      throw PipelineError.invalidInput("'\(name)' has no valid item rows; see the skipped lines in report.json")
    }
    for iid in 1...Int64(count) {
      guard let item = byIID[iid] else {
        let largest = byIID.keys.max() ?? 0
        throw PipelineError.invalidInput(
          "'\(name)': iid \(iid) is missing (\(count) items with iids up to \(largest); iids must be exactly 1…\(count)); the file is incomplete, re-download it"
        )
      }
      items.append(item)
    }
    return items
  }

  /// Reads one split file into rows; history item indices are appended to `histories`.
  static func readSplit(
    _ inputs: IngestInputs, role: String, itemCount: Int, histories: inout [UInt32]
  ) throws -> [Row] {
    let report = inputs.report
    let name = try inputs.name(role)
    var columns: [String: Int] = [:]
    var uidColumn = 0
    var iidColumn = 0
    var historyColumn = 0
    var ratingColumn = 0
    var timestampColumn = 0
    var columnCount = 0
    var rows: [Row] = []
    var values: [Int64] = []
    try inputs.forEachCSVRecord(role) { header in
      columnCount = header.count
      for (index, column) in header.enumerated() where columns[column] == nil { columns[column] = index }
      func column(_ wanted: String) throws(PipelineError) -> Int {
        guard let index = columns[wanted] else {
          throw .invalidInput(
            "'\(name)' line 1: the header lacks column '\(wanted)' (found \(header.joined(separator: ","))); is this an official TCA4Rec split file?"
          )
        }
        return index
      }
      uidColumn = try column("uid")
      iidColumn = try column("iid")
      historyColumn = try column("hist_id")
      ratingColumn = try column("rating")
      timestampColumn = try column("timestamp")
    } record: { record, number in
      guard record.count == columnCount else {
        try report.skip(
          "wrong_field_count", file: name, line: number, problem: "has \(record.count) fields, expected \(columnCount)")
        return
      }
      guard
        let uid = try report.parsedField(
          record, uidColumn, FieldParsing.integer, expected: "an integer", reason: "bad_uid", file: name, line: number,
          field: "uid")
      else { return }
      guard
        let iid = try report.parsedField(
          record, iidColumn, FieldParsing.integer, expected: "an integer", reason: "bad_iid", file: name, line: number,
          field: "iid")
      else { return }
      guard iid >= 1 && iid <= Int64(itemCount) else {
        try report.skip(
          "unknown_item", file: name, line: number, field: "iid",
          problem: "is \(iid), outside the items 1…\(itemCount) of item.csv")
        return
      }
      guard
        let rating = try report.parsedField(
          record, ratingColumn, FieldParsing.decimal, expected: "a number", reason: "bad_rating", file: name,
          line: number,
          field: "rating")
      else { return }
      guard
        let timestamp = try report.parsedField(
          record, timestampColumn, FieldParsing.integer, expected: "an integer", reason: "bad_timestamp", file: name,
          line: number,
          field: "timestamp")
      else { return }
      let parseError: PythonListLiteral.SyntaxError? = record.withField(historyColumn) { bytes in
        do throws(PythonListLiteral.SyntaxError) {
          try PythonListLiteral.parseIntegers(bytes, into: &values)
          return nil
        } catch {
          return error
        }
      }
      if let parseError {
        try report.skip(
          "bad_hist_id", file: name, line: number, field: "hist_id",
          problem:
            "is not a Python list of integers (\"\(record.withField(historyColumn, FieldParsing.preview))\": \(parseError))"
        )
        return
      }
      if let outside = values.first(where: { $0 < 1 || $0 > Int64(itemCount) }) {
        try report.skip(
          "unknown_history_item", file: name, line: number, field: "hist_id",
          problem: "holds iid \(outside), outside the items 1…\(itemCount) of item.csv")
        return
      }
      let start = histories.count
      for value in values { histories.append(UInt32(value - 1)) }
      rows.append(
        Row(
          uid: uid, target: UInt32(iid - 1), historyStart: start, historyEnd: histories.count, timestamp: timestamp,
          rating: Float(rating)))
    }
    return rows
  }
}
