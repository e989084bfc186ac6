import ArtifactFormats
import PipelineCore

/// Reads a whitespace-separated sequence file (SASRec/P5 style: one line per user,
/// `user_idx item_idx item_idx …`, oldest first) joined to a title table.
///
/// The one title source so far is `p5-datamaps`, as for Amazon Beauty: P5's `datamaps.json` maps item
/// indices to ASINs (`id2item`) and user indices to reviewer ids (`id2user`); `item_id_to_int.json`
/// maps ASIN → product id; `products_lookup.csv` (`,global_product_id,name`) maps product id → title.
///
/// Items are ordered by P5 item index (raw id = ASIN, metadata `p5_id`); users by line order (raw id =
/// reviewer id, or the P5 user index when `id2user` lacks it); events in file order. The file has no
/// times, so an event's timestamp is its position in the user's sequence (0, 1, 2…), and the report
/// says `"time": "sequence position"`. Ratings are NaN.
enum SequenceFileReader {
  static let sequencesRole = "sequences"
  static let datamapsRole = "datamaps"
  static let itemMapRole = "item_map"
  static let titlesRole = "titles"
  /// How many item raw ids with an empty title the report lists.
  static let listedEmptyTitles = 20

  /// Reads the sequence file and the title table into a log.
  /// - Complexity: O(bytes); the JSON maps are read whole (a few MB for Beauty).
  /// - Parameter emptyTitle: what an empty name in the title table gives: `raw-id` (the ASIN, with
  ///   `title_fallback: "raw_id"` in the item's metadata), `none` (no title) or `error`.
  static func read(_ inputs: IngestInputs, emptyTitle: String = "raw-id") throws -> InteractionLog {
    var log = InteractionLog()
    let datamapsName = try inputs.name(datamapsRole)
    let datamaps = try parseJSON(inputs, role: datamapsRole)
    guard let itemMap = datamaps["id2item"]?.objectValue else {
      throw PipelineError.invalidInput(
        "'\(datamapsName)' has no object 'id2item' (P5 item index → ASIN); is this a P5 datamaps.json?")
    }
    let userMap = datamaps["id2user"]?.objectValue ?? [:]

    // Items by P5 index, numerically.
    var indexedItems: [(p5ID: Int64, asin: String)] = []
    indexedItems.reserveCapacity(itemMap.count)
    for (key, value) in itemMap {
      guard let p5ID = Int64(key), let asin = value.stringValue else {
        throw PipelineError.invalidInput(
          "'\(datamapsName)': id2item entry \"\(key)\" must map an integer index to an ASIN string; re-download the file"
        )
      }
      indexedItems.append((p5ID, asin))
    }
    indexedItems.sort { $0.p5ID < $1.p5ID }
    var itemIndex: [Int64: UInt32] = [:]
    itemIndex.reserveCapacity(indexedItems.count)
    for (position, entry) in indexedItems.enumerated() {
      itemIndex[entry.p5ID] = UInt32(position)
      log.items.append(ItemRecord(rawID: entry.asin, title: nil, metadata: ["p5_id": .integer(entry.p5ID)]))
    }
    try attachTitles(inputs, to: &log.items, emptyTitle: emptyTitle)
    try readSequences(inputs, itemIndex: itemIndex, userMap: userMap, into: &log)
    inputs.report.extra["time"] = "sequence position"
    return log
  }

  /// Joins ASIN → product id → title; an item missing from either table is an error naming its ASIN.
  static func attachTitles(_ inputs: IngestInputs, to items: inout [ItemRecord], emptyTitle: String) throws {
    let itemMapName = try inputs.name(itemMapRole)
    let titlesName = try inputs.name(titlesRole)
    guard let productIDs = try parseJSON(inputs, role: itemMapRole).objectValue else {
      throw PipelineError.invalidInput("'\(itemMapName)' must be a JSON object mapping ASIN → product id")
    }
    var titles: [Int64: String] = [:]
    var idColumn = 0
    var nameColumn = 0
    var columnCount = 0
    let report = inputs.report
    try inputs.forEachCSVRecord(titlesRole) { header in
      guard let id = header.firstIndex(of: "global_product_id"), let name = header.firstIndex(of: "name") else {
        throw PipelineError.invalidInput(
          "'\(titlesName)' line 1: the header must have columns 'global_product_id' and 'name' (found \(header.joined(separator: ",")))"
        )
      }
      idColumn = id
      nameColumn = name
      columnCount = header.count
    } record: { record, number in
      guard record.count == columnCount else {
        try report.skip(
          "wrong_field_count", file: titlesName, line: number,
          problem: "has \(record.count) fields, expected \(columnCount)")
        return
      }
      guard
        let id = try report.parsedField(
          record, idColumn, FieldParsing.integer, expected: "an integer", reason: "bad_product_id", file: titlesName,
          line: number,
          field: "global_product_id")
      else { return }
      guard titles[id] == nil else {
        try report.skip(
          "duplicate_product_id", file: titlesName, line: number, field: "global_product_id",
          problem: "repeats product \(id)")
        return
      }
      titles[id] = record.string(nameColumn)
    }
    var emptyTitles: [String] = []
    for index in items.indices {
      let asin = items[index].rawID
      guard let productID = productIDs[asin]?.integerValue else {
        throw PipelineError.invalidInput(
          "item '\(asin)' has no title: '\(itemMapName)' has no product id for it; use the item map that belongs to these sequences"
        )
      }
      guard let title = titles[productID] else {
        throw PipelineError.invalidInput(
          "item '\(asin)' has no title: '\(titlesName)' has no row for product id \(productID); use the title table that belongs to these sequences"
        )
      }
      // A row with an empty name is the source saying it has no title (Beauty has 7, whose names
      // the table's authors stripped): by default the item is titled by its ASIN, and marked so.
      if title.isEmpty {
        emptyTitles.append(asin)
        switch emptyTitle {
        case "error":
          throw PipelineError.invalidInput(
            "item '\(asin)' has an empty name in '\(titlesName)' (product id \(productID)); set empty_title: raw-id or none to keep it"
          )
        case "raw-id":
          items[index].title = asin
          items[index].metadata["title_fallback"] = "raw_id"
        default:
          break
        }
      } else {
        items[index].title = title
      }
    }
    if !emptyTitles.isEmpty {
      report.extra["empty_titles"] = .object([
        "count": JSONValue(emptyTitles.count),
        "raw_ids": .array(emptyTitles.prefix(listedEmptyTitles).map(JSONValue.string)),
        "file": .string(titlesName),
        "policy": .string(emptyTitle),
      ])
      report.diagnostics.warning(
        "ingest: \(emptyTitles.count) items have an empty name in '\(titlesName)' (first: \(emptyTitles[0])); \(emptyTitle == "raw-id" ? "they are titled by their ASIN (title_fallback in items.jsonl)" : "they are kept without a title")"
      )
    }
  }

  /// Reads the sequence lines into users and events.
  static func readSequences(
    _ inputs: IngestInputs, itemIndex: [Int64: UInt32], userMap: [String: JSONValue], into log: inout InteractionLog
  ) throws {
    let report = inputs.report
    let name = try inputs.name(sequencesRole)
    let datamapsName = try inputs.name(datamapsRole)
    var seenUsers: [Int64: Int] = [:]
    var fields: [Range<Int>] = []
    var lineItems: [UInt32] = []
    var users: [String] = []
    var eventUser: [UInt32] = []
    var eventItem: [UInt32] = []
    var eventTime: [Int64] = []
    try inputs.forEachLine(sequencesRole) { line, number in
      FieldParsing.splitWhitespace(line, into: &fields)
      guard let userID = FieldParsing.integer(line[field: fields[0]]) else {
        try report.skip(
          "bad_user_index", file: name, line: number, field: "user",
          problem: "is not an integer (\"\(FieldParsing.preview(line[field: fields[0]]))\")")
        return
      }
      guard fields.count > 1 else {
        try report.skip("empty_sequence", file: name, line: number, problem: "names user \(userID) but no items")
        return
      }
      if let earlier = seenUsers[userID] {
        try report.skip(
          "duplicate_user", file: name, line: number, field: "user",
          problem: "repeats user \(userID) of line \(earlier)")
        return
      }
      lineItems.removeAll(keepingCapacity: true)
      for position in 1..<fields.count {
        let bytes = line[field: fields[position]]
        guard let itemID = FieldParsing.integer(bytes) else {
          try report.skip(
            "bad_item_index", file: name, line: number, field: "item \(position)",
            problem: "is not an integer (\"\(FieldParsing.preview(bytes))\")")
          return
        }
        guard let item = itemIndex[itemID] else {
          try report.skip(
            "unknown_item", file: name, line: number, field: "item \(position)",
            problem: "is \(itemID), which id2item in '\(datamapsName)' does not list")
          return
        }
        lineItems.append(item)
      }
      seenUsers[userID] = number
      let user = UInt32(users.count)
      users.append(userMap[String(userID)]?.stringValue ?? String(userID))
      for (position, item) in lineItems.enumerated() {
        eventUser.append(user)
        eventItem.append(item)
        eventTime.append(Int64(position))
      }
    }
    log.users = users
    log.eventUser = eventUser
    log.eventItem = eventItem
    log.eventTime = eventTime
    log.eventRating = [Float](repeating: .nan, count: eventUser.count)
  }

  /// Reads a whole JSON file; a syntax error names the file and the byte offset.
  static func parseJSON(_ inputs: IngestInputs, role: String) throws -> JSONValue {
    let name = try inputs.name(role)
    let bytes = try inputs.readAll(role)
    do {
      return try bytes.withUnsafeBufferPointer { buffer throws(JSONParser.SyntaxError) in try JSONParser.parse(buffer) }
    } catch {
      throw PipelineError.invalidInput("'\(name)' is not valid JSON: \(error); re-download it")
    }
  }
}
