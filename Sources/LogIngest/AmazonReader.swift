import ArtifactFormats
import PipelineCore

/// Reads the Amazon review datasets of the McAuley lab: 2014 ("amazon v1", `reviews_<C>_5.json.gz`
/// + `meta_<C>.json.gz` with Python dict literals), 2018 ("amazon_v2", `<C>_5.json.gz` +
/// `meta_<C>.json.gz`, JSON lines) and 2023 (`<C>.jsonl` + `meta_<C>.jsonl`, or the benchmark's
/// rating-only CSV `user_id,parent_asin,rating,timestamp`).
///
/// Events: one per valid review line, in file order, `(user, item, timestamp in seconds, rating)`.
/// Items: the reviewed items, ordered by first appearance in the reviews, with the title and the
/// metadata users filter on from the meta file (`Edition.metadata`); users: by first appearance.
/// Raw ids are the reviewer ids and the ASINs (2023: `parent_asin`, as its benchmark uses).
///
/// The meta file is read on a thread of its own while the reviews are read, into a report of its
/// own merged after, and the records of reviewed items are kept once both are read: the log, the
/// report and any error are those of reading the reviews first and the meta file second. A
/// whole-category meta file is streamed line by line; the records of its items are held until the
/// reviews are read (O(meta items)).
/// A review of an item that the meta file does not list is skipped (`unknown_item`, with its line
/// in the reviews file); a later meta line of a reviewed item already read is skipped
/// (`duplicate_item`), the first one wins. Without a meta file (`metadata: false`), every reviewed
/// item is kept, with no title.
package enum AmazonReader {
  static let reviewsRole = "reviews"
  static let metaRole = "meta"

  /// How one edition names its fields.
  struct Edition: Sendable {
    var userField: String
    var itemField: String
    var ratingField: String
    var timeField: String
    /// Whether `timeField` holds milliseconds (2023) rather than seconds.
    var millisecondTimes: Bool
    /// The meta file's id field.
    var metaItemField: String
    var metaLayout: MetaLayout
    /// The official TCA4Rec reading of a review line (`preset: tca4rec`): `user_id` when the line has
    /// it, else the user field; `asin` unless missing or null, else `parent_asin`; `timestamp` when
    /// present, else the time field (taken as it is).
    var officialFieldFallbacks = false

    /// How a meta file's lines are written and which fields items keep (`itemRecord`).
    enum MetaLayout: Sendable {
      /// Python dict literals; `categories` is a list of category paths.
      case pythonDicts2014
      /// JSON objects with `category`, `brand`, `main_cat`.
      case json2018
      /// JSON objects with `categories`, `store`, `main_category`.
      case json2023
    }

    static let amazon2014 = Edition(
      userField: "reviewerID", itemField: "asin", ratingField: "overall", timeField: "unixReviewTime",
      millisecondTimes: false, metaItemField: "asin", metaLayout: .pythonDicts2014)
    static let amazon2018 = Edition(
      userField: "reviewerID", itemField: "asin", ratingField: "overall", timeField: "unixReviewTime",
      millisecondTimes: false, metaItemField: "asin", metaLayout: .json2018)
    static let amazon2023 = Edition(
      userField: "user_id", itemField: "parent_asin", ratingField: "rating", timeField: "timestamp",
      millisecondTimes: true, metaItemField: "parent_asin", metaLayout: .json2023)
  }

  /// The review file's format.
  enum ReviewFormat: String, CaseIterable, Sendable {
    /// One JSON object per line (every edition).
    case jsonLines = "jsonl"
    /// The 2023 benchmark's CSV with a header naming `user_id`, `parent_asin`, `rating`, `timestamp`.
    case ratingCSV = "rating-csv"
  }

  /// Valid reviews before the meta file says which items are known; user and item indices are
  /// provisional (first appearance among all valid reviews).
  struct PendingEvents {
    private var items = RawIDInterner()
    private var users = RawIDInterner()
    /// Events whose ids `flush()` has yet to number.
    private var queued: [(user: RawIDInterner.Probe, item: RawIDInterner.Probe)] = []
    /// Keeps the slot loads of `flush()` from being optimized away.
    private var touched: UInt64 = 0
    var user: [UInt32] = []
    var item: [UInt32] = []
    var time: [Int64] = []
    var rating: [Float] = []
    var line: [Int] = []

    /// The item ids by provisional index, and the index of each.
    var itemKeys: [String] { items.keys }
    var itemIndex: [String: UInt32] { items.index }
    /// The user ids by provisional index, and the index of each.
    var userKeys: [String] { users.keys }
    var userIndex: [String: UInt32] { users.index }

    mutating func append(user userKey: String, item itemKey: String, time: Int64, rating: Float, line: Int) {
      flush()
      user.append(users.index(of: userKey))
      item.append(items.index(of: itemKey))
      appendValues(time: time, rating: rating, line: line)
    }

    /// `append` with the ids as their UTF-8 bytes (valid UTF-8): a `String` is made only for an id
    /// not seen before, and ids are the same id exactly when their strings are equal, as there.
    ///
    /// Short ids are looked up 16 events at a time, their table slots loaded together first so
    /// that the cache misses overlap: `user` and `item` lag until `flush()`, which must come
    /// before they are read.
    mutating func append(
      userUTF8: UnsafeBufferPointer<UInt8>, itemUTF8: UnsafeBufferPointer<UInt8>, time: Int64, rating: Float,
      line: Int
    ) {
      if let userProbe = RawIDInterner.Probe(userUTF8), let itemProbe = RawIDInterner.Probe(itemUTF8) {
        queued.append((userProbe, itemProbe))
        appendValues(time: time, rating: rating, line: line)
        if queued.count == 16 { flush() }
        return
      }
      flush()
      user.append(users.index(ofUTF8: userUTF8))
      item.append(items.index(ofUTF8: itemUTF8))
      appendValues(time: time, rating: rating, line: line)
    }

    /// Numbers the ids `append(userUTF8:…)` has queued.
    mutating func flush() {
      guard !queued.isEmpty else { return }
      var loaded: UInt64 = 0
      for (userProbe, itemProbe) in queued { loaded ^= users.touch(userProbe) ^ items.touch(itemProbe) }
      touched = loaded
      for (userProbe, itemProbe) in queued {
        user.append(users.index(of: userProbe))
        item.append(items.index(of: itemProbe))
      }
      queued.removeAll(keepingCapacity: true)
    }

    private mutating func appendValues(time: Int64, rating: Float, line: Int) {
      self.time.append(time)
      self.rating.append(rating)
      self.line.append(line)
    }
  }

  /// Whether `read` reads the meta file on a thread of its own while it reads the reviews (the
  /// default), or after them on the calling thread, recording straight into the run's report; tests
  /// bind it to `false` to compare the two.
  @TaskLocal package static var readsMetaConcurrently = true

  /// Reads the reviews and (when `metadata`) the meta file into a log.
  /// - Complexity: O(bytes of both files); memory O(events + users + meta items) (the meta file's
  ///   records are held until the reviews say which items to keep).
  /// With `tca4rec` rules the meta file is read by `readTCA4RecMetadata`, and reviews of items the
  /// rules drop (or the meta file does not list) are filtered, as the official script does, and
  /// counted in the report's `tca4rec` entry rather than skipped as malformed.
  ///
  /// Errors are those of reading the reviews first and the meta file second: an error of the
  /// reviews wins (the meta thread is stopped, its findings dropped), then the meta file's.
  static func read(
    _ inputs: IngestInputs, edition: Edition, format: ReviewFormat, metadata: Bool,
    tca4rec rules: TCA4RecItemRules? = nil
  ) throws -> InteractionLog {
    var pending = PendingEvents()
    var edition = edition
    edition.officialFieldFallbacks = rules != nil
    let hasMeta = rules != nil || metadata
    // The meta file's reading, by itself: it needs nothing from the reviews.
    let readMeta = { [edition] (metaInputs: IngestInputs, stop: Cancellation?) -> MetaItems in
      if let rules { return readTCA4RecMetadata(metaInputs, rules: rules, stop: stop) }
      return readMetadata(metaInputs, edition: edition, stop: stop)
    }
    var metaThread: BackgroundTask<MetaItems>?
    let stop = Cancellation()
    var metaInputs = inputs
    if hasMeta && readsMetaConcurrently {
      let report = inputs.report
      metaInputs = inputs.with(
        report: IngestReport(source: report.source, strict: report.strict, diagnostics: report.diagnostics))
      metaThread = BackgroundTask { [metaInputs] in readMeta(metaInputs, stop) }
    }
    do {
      switch format {
      case .jsonLines: try readReviewLines(inputs, edition: edition, into: &pending)
      case .ratingCSV: try readRatingCSV(inputs, edition: edition, into: &pending)
      }
    } catch {
      stop.cancel()
      _ = try? metaThread?.wait()
      throw error
    }
    let records: [ItemRecord?]
    if hasMeta {
      let meta: MetaItems
      if let metaThread {
        meta = try metaThread.wait()
        inputs.report.merge(metaInputs.report)
      } else {
        meta = readMeta(inputs, nil)
      }
      records = try keepReviewed(meta, inputs: inputs, wanted: pending.itemIndex, count: pending.itemKeys.count)
    } else {
      records = pending.itemKeys.map { ItemRecord(rawID: $0, title: nil) }
    }
    inputs.report.extra["time"] = .string(
      edition.millisecondTimes
        ? "unix seconds: '\(edition.timeField)' milliseconds divided by 1000, rounded down (sub-second parts dropped)"
        : "unix seconds ('\(edition.timeField)')")
    return try assemble(pending, records: records, inputs: inputs, unknownItemsAreFiltered: rules != nil)
  }

  /// What a meta file gives before the reviews say which items are wanted.
  struct MetaItems {
    /// The record of each id, by raw id (ids equal as `String`s are one id, as everywhere).
    var records: [String: ItemRecord] = [:]
    /// Skips that depend on whether the item is reviewed (`duplicate_item`, `bad_metadata` of the
    /// plain meta reading), in line order; `keepReviewed` records those of reviewed items.
    var deferredSkips: [DeferredSkip] = []
    /// The error that stopped reading, if any; it comes after the deferred skips.
    var failure: (any Error)?
  }

  /// A meta line skipped only if its item is reviewed.
  struct DeferredSkip {
    var rawID: String
    var reason: String
    var line: Int
    var field: String
    var problem: String
  }

  /// The record of each provisional item, `nil` when the meta file does not list it (or its rules
  /// drop it); records the deferred skips of reviewed items and then throws the meta reading's
  /// error, as reading the meta file after the reviews would have.
  static func keepReviewed(
    _ meta: MetaItems, inputs: IngestInputs, wanted: [String: UInt32], count: Int
  ) throws -> [ItemRecord?] {
    if !meta.deferredSkips.isEmpty {
      let name = try inputs.name(metaRole)
      for skip in meta.deferredSkips where wanted[skip.rawID] != nil {
        try inputs.report.skip(skip.reason, file: name, line: skip.line, field: skip.field, problem: skip.problem)
      }
    }
    if let failure = meta.failure { throw failure }
    var records = [ItemRecord?](repeating: nil, count: count)
    for (rawID, record) in meta.records {
      if let index = wanted[rawID] { records[Int(index)] = record }
    }
    return records
  }

  /// Keeps the events of known items; items and users get their final indices by first appearance.
  /// A review of an unknown item is a skipped line (`unknown_item`), or with
  /// `unknownItemsAreFiltered` a count in the report's `tca4rec` entry (`reviews_of_dropped_items`).
  static func assemble(
    _ pending: PendingEvents, records: [ItemRecord?], inputs: IngestInputs, unknownItemsAreFiltered: Bool = false
  ) throws -> InteractionLog {
    let report = inputs.report
    let reviewsName = try inputs.name(reviewsRole)
    let metaName = inputs.rawFiles[metaRole].map(FileSystem.baseName) ?? "the meta file"
    var log = InteractionLog()
    var itemFinal = [UInt32?](repeating: nil, count: records.count)
    var userFinal = [UInt32?](repeating: nil, count: pending.userKeys.count)
    log.eventUser.reserveCapacity(pending.user.count)
    log.eventItem.reserveCapacity(pending.user.count)
    log.eventTime.reserveCapacity(pending.user.count)
    log.eventRating.reserveCapacity(pending.user.count)
    var filtered = 0
    for event in pending.user.indices {
      let provisionalItem = Int(pending.item[event])
      guard let record = records[provisionalItem] else {
        if unknownItemsAreFiltered {
          filtered += 1
          continue
        }
        try report.skip(
          "unknown_item", file: reviewsName, line: pending.line[event], field: "item",
          problem: "names '\(pending.itemKeys[provisionalItem])', which '\(metaName)' does not list")
        continue
      }
      let item: UInt32
      if let known = itemFinal[provisionalItem] {
        item = known
      } else {
        item = UInt32(log.items.count)
        itemFinal[provisionalItem] = item
        log.items.append(record)
      }
      let provisionalUser = Int(pending.user[event])
      let user: UInt32
      if let known = userFinal[provisionalUser] {
        user = known
      } else {
        user = UInt32(log.users.count)
        userFinal[provisionalUser] = user
        log.users.append(pending.userKeys[provisionalUser])
      }
      log.appendEvent(user: user, item: item, time: pending.time[event], rating: pending.rating[event])
    }
    if unknownItemsAreFiltered, case .object(var entry)? = report.extra["tca4rec"] {
      entry["reviews_of_dropped_items"] = JSONValue(filtered)
      report.extra["tca4rec"] = .object(entry)
    }
    return log
  }

  /// One line as JSON or as a Python literal; nil (the line skipped as `bad_json` or
  /// `bad_python_literal`, with the parser's error) when it is not one.
  static func parse(
    _ line: UnsafeBufferPointer<UInt8>, pythonLiteral: Bool, report: IngestReport, _ name: String, _ number: Int
  ) throws -> JSONValue? {
    if pythonLiteral {
      do throws(PythonLiteral.SyntaxError) {
        return try PythonLiteral.parse(line)
      } catch {
        try report.skip("bad_python_literal", file: name, line: number, problem: "is not a Python literal (\(error))")
        return nil
      }
    }
    do throws(JSONParser.SyntaxError) {
      return try JSONParser.parse(line)
    } catch {
      try report.skip("bad_json", file: name, line: number, problem: "is not JSON (\(error))")
      return nil
    }
  }

  // MARK: Reviews

  /// Reads JSON review lines.
  ///
  /// Each line goes first through `JSONFieldScanner`, which validates it as `JSONParser` would and
  /// finds the four fields without building a tree; a line it is not sure of (anything unusual:
  /// an error, an escaped id, a missing field, an odd number) goes through `readReviewLine`, the
  /// full parse, so events, skip reasons and messages are the same either way.
  static func readReviewLines(_ inputs: IngestInputs, edition: Edition, into pending: inout PendingEvents) throws {
    let report = inputs.report
    let name = try inputs.name(reviewsRole)
    var fields = [edition.userField, edition.itemField, edition.ratingField, edition.timeField]
    let fallbacks = edition.officialFieldFallbacks
    if fallbacks { fields += ["user_id", "timestamp"] }
    var scanner = JSONFieldScanner(names: fields)
    try inputs.forEachLine(reviewsRole) { line, number in
      if scanner.scan(line), !fallbacks || (scanner.fields[4].kind == .missing && scanner.fields[5].kind == .missing),
        appendScannedReview(
          user: scanner.fields[0], item: scanner.fields[1], rating: scanner.fields[2], time: scanner.fields[3], line,
          number, edition: edition, into: &pending)
      {
        return
      }
      try readReviewLine(line, number, edition: edition, report: report, name, into: &pending)
    }
    pending.flush()
  }

  /// Appends the event of a line `JSONFieldScanner` accepted, when its fields are what a valid
  /// review has (non-empty string ids, a number rating, an integer time); `false` when not.
  private static func appendScannedReview(
    user: JSONFieldScanner.Field, item: JSONFieldScanner.Field, rating: JSONFieldScanner.Field,
    time: JSONFieldScanner.Field, _ line: UnsafeBufferPointer<UInt8>, _ number: Int, edition: Edition,
    into pending: inout PendingEvents
  ) -> Bool {
    guard user.kind == .string, !user.range.isEmpty, item.kind == .string, !item.range.isEmpty,
      time.kind == .integer
    else { return false }
    let ratingValue: Double
    switch rating.kind {
    case .integer: ratingValue = Double(rating.integer)
    case .number: ratingValue = rating.number
    default: return false
    }
    pending.append(
      userUTF8: UnsafeBufferPointer(rebasing: line[user.range]),
      itemUTF8: UnsafeBufferPointer(rebasing: line[item.range]), time: seconds(time.integer, edition: edition),
      rating: Float(ratingValue), line: number)
    return true
  }

  /// Reads one review line through `JSONParser`: its event, or the reason it is skipped.
  private static func readReviewLine(
    _ line: UnsafeBufferPointer<UInt8>, _ number: Int, edition: Edition, report: IngestReport, _ name: String,
    into pending: inout PendingEvents
  ) throws {
    guard let value = try parse(line, pythonLiteral: false, report: report, name, number) else { return }
    guard let object = value.objectValue else {
      try report.skip("bad_json", file: name, line: number, problem: "is a JSON \(value.typeName), not an object")
      return
    }
    var (userField, itemField, timeField) = (edition.userField, edition.itemField, edition.timeField)
    if edition.officialFieldFallbacks {
      if object["user_id"] != nil { userField = "user_id" }
      if object["asin"] == nil || object["asin"] == .null { itemField = "parent_asin" }
      if object["timestamp"] != nil { timeField = "timestamp" }
    }
    guard
      let user = try idField(object, userField, reason: "bad_user_id", report: report, name, number),
      let item = try idField(object, itemField, reason: "bad_item_id", report: report, name, number)
    else { return }
    guard let rating = object[edition.ratingField]?.numberValue, rating.isFinite else {
      try report.skip(
        "bad_rating", file: name, line: number, field: edition.ratingField,
        problem: describe(object[edition.ratingField], expected: "a number"))
      return
    }
    guard case .integer(let time) = object[timeField] else {
      try report.skip(
        "bad_timestamp", file: name, line: number, field: timeField,
        problem: describe(object[timeField], expected: "an integer"))
      return
    }
    pending.append(
      user: user, item: item, time: seconds(time, edition: edition), rating: Float(rating), line: number)
  }

  /// Reads the 2023 benchmark's rating-only CSV (columns found by name in the header).
  static func readRatingCSV(_ inputs: IngestInputs, edition: Edition, into pending: inout PendingEvents) throws {
    let report = inputs.report
    let name = try inputs.name(reviewsRole)
    var userColumn = 0
    var itemColumn = 0
    var ratingColumn = 0
    var timeColumn = 0
    var columnCount = 0
    try inputs.forEachCSVRecord(reviewsRole) { header in
      columnCount = header.count
      func column(_ wanted: String) throws(PipelineError) -> Int {
        guard let index = header.firstIndex(of: wanted) else {
          throw .invalidInput(
            "'\(name)' line 1: the header lacks column '\(wanted)' (found \(header.joined(separator: ","))); is this an Amazon 2023 rating-only CSV?"
          )
        }
        return index
      }
      userColumn = try column(edition.userField)
      itemColumn = try column(edition.itemField)
      ratingColumn = try column(edition.ratingField)
      timeColumn = try column(edition.timeField)
    } record: { record, number in
      guard record.count == columnCount else {
        try report.skip(
          "wrong_field_count", file: name, line: number, problem: "has \(record.count) fields, expected \(columnCount)")
        return
      }
      let user = record.string(userColumn)
      guard !user.isEmpty else {
        try report.skip("bad_user_id", file: name, line: number, field: edition.userField, problem: "is empty")
        return
      }
      let item = record.string(itemColumn)
      guard !item.isEmpty else {
        try report.skip("bad_item_id", file: name, line: number, field: edition.itemField, problem: "is empty")
        return
      }
      guard
        let rating = try report.parsedField(
          record, ratingColumn, FieldParsing.decimal, expected: "a number", reason: "bad_rating", file: name,
          line: number, field: edition.ratingField),
        let time = try report.parsedField(
          record, timeColumn, FieldParsing.integer, expected: "an integer", reason: "bad_timestamp", file: name,
          line: number, field: edition.timeField)
      else { return }
      pending.append(
        user: user, item: item, time: seconds(time, edition: edition), rating: Float(rating), line: number)
    }
  }

  /// Seconds from the edition's time unit; milliseconds are divided rounding down (toward −∞), so
  /// `1547589356557` ms is `1547589356` s and times before 1970 stay ordered.
  static func seconds(_ time: Int64, edition: Edition) -> Int64 {
    guard edition.millisecondTimes else { return time }
    let quotient = time / 1000
    return time % 1000 < 0 ? quotient - 1 : quotient
  }

  /// A non-empty string id field, or a skipped line (and `nil`).
  static func idField(
    _ object: [String: JSONValue], _ field: String, reason: String, report: IngestReport, _ file: String, _ line: Int
  ) throws(PipelineError) -> String? {
    if let text = object[field]?.stringValue, !text.isEmpty { return text }
    try report.skip(
      reason, file: file, line: line, field: field, problem: describe(object[field], expected: "a non-empty string"))
    return nil
  }

  /// "is missing" or "is <type> <value>, expected <expected>", for skip messages.
  static func describe(_ value: JSONValue?, expected: String) -> String {
    guard let value else { return "is missing" }
    var text = value.canonicalText()
    if text.count > 40 { text = String(text.prefix(40)) + "…" }
    return "is \(value.typeName) \(text), expected \(expected)"
  }

  // MARK: Metadata

  /// Reads the meta file: the record of each id (the first line of it with valid metadata), and,
  /// deferred until the reviews say whether the item is reviewed, the skips of its other lines:
  /// `bad_metadata` before that first line, `duplicate_item` after it.
  ///
  /// Errors do not escape: the one that stopped reading is the result's `failure`.
  /// - Parameter stop: checked every 1024 lines; once cancelled, reading stops.
  static func readMetadata(_ inputs: IngestInputs, edition: Edition, stop: Cancellation? = nil) -> MetaItems {
    var items = MetaItems()
    do {
      let report = inputs.report
      let name = try inputs.name(metaRole)
      var firstLine: [String: Int] = [:]
      var lines = 0
      try inputs.forEachLine(metaRole) { line, number in
        lines += 1
        if lines & 1023 == 0 { try stop?.check() }
        let python = edition.metaLayout == .pythonDicts2014
        guard let value = try parse(line, pythonLiteral: python, report: report, name, number) else { return }
        guard let object = value.objectValue else {
          try report.skip("bad_meta_line", file: name, line: number, problem: "is a \(value.typeName), not a dict")
          return
        }
        guard
          let rawID = try idField(object, edition.metaItemField, reason: "bad_item_id", report: report, name, number)
        else { return }
        if let first = firstLine[rawID] {
          items.deferredSkips.append(
            DeferredSkip(
              rawID: rawID, reason: "duplicate_item", line: number, field: edition.metaItemField,
              problem: "repeats '\(rawID)' of line \(first) (the first is kept)"))
          return
        }
        let record: ItemRecord
        do throws(MetadataError) {
          record = try itemRecord(rawID: rawID, object, edition: edition)
        } catch {
          items.deferredSkips.append(
            DeferredSkip(
              rawID: rawID, reason: "bad_metadata", line: number, field: error.field,
              problem: describe(object[error.field], expected: error.expected)))
          return
        }
        firstLine[rawID] = number
        items.records[rawID] = record
      }
    } catch {
      items.failure = error
    }
    return items
  }

  /// A metadata field of an unexpected type.
  struct MetadataError: Error {
    var field: String
    var expected: String
  }

  /// The item as items.jsonl keeps it: the title (absent when missing, null or empty) and the
  /// fields users filter on, each left out when missing or empty:
  /// - 2014: `brand`; `categories` (the distinct names of all category paths, in order) and
  ///   `category_paths` (the list of lists as given);
  /// - 2018: `brand`; `categories` (from `category`); `main_cat`;
  /// - 2023: `store`; `categories`; `main_cat` (from `main_category`).
  static func itemRecord(
    rawID: String, _ object: [String: JSONValue], edition: Edition
  ) throws(MetadataError) -> ItemRecord {
    func string(_ field: String) throws(MetadataError) -> String? {
      switch object[field] {
      case nil, .null: return nil
      case .string(let text): return text.isEmpty ? nil : text
      default: throw MetadataError(field: field, expected: "a string")
      }
    }
    func strings(_ value: JSONValue?, field: String) throws(MetadataError) -> [String]? {
      switch value {
      case nil, .null: return nil
      case .array(let elements):
        var names: [String] = []
        for element in elements {
          guard case .string(let name) = element else {
            throw MetadataError(field: field, expected: "a list of strings")
          }
          names.append(name)
        }
        return names
      default: throw MetadataError(field: field, expected: "a list of strings")
      }
    }
    var metadata: [String: JSONValue] = [:]
    func keep(_ key: String, _ text: String?) {
      if let text { metadata[key] = .string(text) }
    }
    func keep(_ key: String, _ names: [String]?) {
      if let names, !names.isEmpty { metadata[key] = .array(names.map(JSONValue.string)) }
    }
    let title = try string("title")
    switch edition.metaLayout {
    case .pythonDicts2014:
      keep("brand", try string("brand"))
      switch object["categories"] {
      case nil, .null: break
      case .array(let paths):
        var distinct: [String] = []
        var seen: Set<String> = []
        var kept: [JSONValue] = []
        for path in paths {
          guard let names = try strings(path, field: "categories") else {
            throw MetadataError(field: "categories", expected: "a list of lists of strings")
          }
          kept.append(.array(names.map(JSONValue.string)))
          for name in names where seen.insert(name).inserted { distinct.append(name) }
        }
        keep("categories", distinct)
        if !kept.isEmpty { metadata["category_paths"] = .array(kept) }
      default: throw MetadataError(field: "categories", expected: "a list of lists of strings")
      }
    case .json2018:
      keep("brand", try string("brand"))
      keep("categories", try strings(object["category"], field: "category"))
      keep("main_cat", try string("main_cat"))
    case .json2023:
      keep("store", try string("store"))
      keep("categories", try strings(object["categories"], field: "categories"))
      keep("main_cat", try string("main_category"))
    }
    return ItemRecord(rawID: rawID, title: title, metadata: metadata)
  }
}
