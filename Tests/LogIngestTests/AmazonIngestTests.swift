import ArtifactFormats
import Foundation
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// The `amazon-2014`, `amazon-2018` and `amazon-2023` sources on the real files of ../shared/data,
/// each checked event by event against an independent reading with Foundation (`gzip -dc`,
/// `JSONSerialization`, string splitting), plus hand-made lines for the skip reasons.
@Suite struct AmazonIngestTests {
  static let digitalMusic = "amazon-2014/Digital_Music-truncated"
  static let giftCards = "amazon-2018/Gift_Cards"
  static let magazines = "amazon-2018/Magazine_Subscriptions"
  static let allBeauty2018 = "amazon-2018/All_Beauty"
  static let allBeauty2023 = "amazon-2023/All_Beauty-5core-rating_only"

  /// One event as the raw files name it.
  struct RawEvent: Equatable, CustomStringConvertible {
    var user: String
    var item: String
    var time: Int64
    var rating: Float
    var description: String { "(\(user), \(item), \(time), \(rating))" }
  }

  /// What the independent reading expects of a run.
  struct Expected {
    var events: [RawEvent] = []
    var titles: [String: String] = [:]
    var unknownItemLines = 0
    var duplicateMetaLines = 0

    var users: Int { Set(events.map(\.user)).count }
    var items: Set<String> { Set(events.map(\.item)) }
    var itemsWithTitle: Int { items.count(where: { titles[$0] != nil }) }
  }

  // MARK: Independent readings

  /// The decompressed lines of a shared file (`gzip -dc`, so the test does not share our reader).
  static func lines(_ relative: String) throws -> [Data] {
    try PythonLiteralTests.gunzippedLines(relative)
  }

  static func jsonObject(_ line: Data) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
  }

  /// Reviews (JSON lines) joined to meta lines whose asin and title `metaEntry` extracts.
  static func expected(
    reviews: String, meta: String?, user: String = "reviewerID", item: String = "asin",
    metaEntry: (Data) throws -> (asin: String, title: String?)
  ) throws -> Expected {
    var expected = Expected()
    var reviewed: [RawEvent] = []
    for line in try lines(reviews) {
      let object = try jsonObject(line)
      reviewed.append(
        RawEvent(
          user: try #require(object[user] as? String), item: try #require(object[item] as? String),
          time: try #require((object["unixReviewTime"] as? NSNumber)?.int64Value),
          rating: try #require((object["overall"] as? NSNumber)?.floatValue)))
    }
    guard let meta else {
      expected.events = reviewed
      return expected
    }
    let wanted = Set(reviewed.map(\.item))
    var listed: Set<String> = []
    for line in try lines(meta) {
      let entry = try metaEntry(line)
      guard wanted.contains(entry.asin) else { continue }
      if !listed.insert(entry.asin).inserted {
        expected.duplicateMetaLines += 1
        continue
      }
      if let title = entry.title, !title.isEmpty { expected.titles[entry.asin] = title }
    }
    expected.events = reviewed.filter { listed.contains($0.item) }
    expected.unknownItemLines = reviewed.count - expected.events.count
    return expected
  }

  /// The asin and title of a 2018 meta line.
  static func jsonMetaEntry(_ line: Data) throws -> (asin: String, title: String?) {
    let object = try jsonObject(line)
    return (try #require(object["asin"] as? String), object["title"] as? String)
  }

  /// The asin and title of a 2014 meta line, by plain string search: every line starts with
  /// `{'asin': '…'`, and a title is `'title': '…'` or `'title': "…"` (repr picks the quotes).
  static func pythonMetaEntry(_ line: Data) throws -> (asin: String, title: String?) {
    let text = String(decoding: line, as: UTF8.self)
    let prefix = "{'asin': '"
    #expect(text.hasPrefix(prefix))
    let afterPrefix = text.dropFirst(prefix.count)
    let asin = String(afterPrefix.prefix { $0 != "'" })
    guard let range = text.range(of: "'title': ") else { return (asin, nil) }
    let quote = text[range.upperBound]
    var title = ""
    var index = text.index(after: range.upperBound)
    while text[index] != quote {
      if text[index] == "\\" { index = text.index(after: index) }
      title.append(text[index])
      index = text.index(after: index)
    }
    return (asin, title)
  }

  /// The events of a run, by raw ids.
  static func rawEvents(_ log: InteractionLog) -> [RawEvent] {
    (0..<log.eventCount).map { index in
      RawEvent(
        user: log.users[Int(log.eventUser[index])], item: log.items[Int(log.eventItem[index])].rawID,
        time: log.eventTime[index], rating: log.eventRating[index])
    }
  }

  /// The run's log and report against the independent reading.
  static func check(_ run: IngestRun, against expected: Expected) throws {
    #expect(run.log.eventCount == expected.events.count)
    let events = rawEvents(run.log)
    if let first = zip(events, expected.events).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
      Issue.record("event \(first): \(events[first]) != \(expected.events[first])")
    }
    #expect(run.log.users.count == expected.users)
    #expect(Set(run.log.items.map(\.rawID)) == expected.items)
    #expect(run.log.items.count == expected.items.count)
    #expect(run.log.items.count(where: { $0.title != nil }) == expected.itemsWithTitle)
    for item in run.log.items where item.title != expected.titles[item.rawID] {
      Issue.record("item '\(item.rawID)': title \(item.title ?? "nil") != \(expected.titles[item.rawID] ?? "nil")")
      break
    }
    #expect(run.report["events"]?.integerValue == Int64(expected.events.count))
    #expect(run.report["items_with_title"]?.integerValue == Int64(expected.itemsWithTitle))
    #expect(run.skipped("unknown_item")?["count"]?.integerValue ?? 0 == Int64(expected.unknownItemLines))
    #expect(run.skipped("duplicate_item")?["count"]?.integerValue ?? 0 == Int64(expected.duplicateMetaLines))
    try run.validate()
  }

  // MARK: Real data

  @Test(.enabled(if: SharedData.shouldRun(digitalMusic), "needs ../shared/data/amazon-2014"))
  func amazon2014DigitalMusicMatchesAnIndependentReading() throws {
    guard SharedData.available(Self.digitalMusic) else { return }
    let reviews = Self.digitalMusic + "/reviews_Digital_Music_5.complete-lines.json.gz"
    let meta = Self.digitalMusic + "/meta_Digital_Music.complete-lines.json.gz"
    let run = try IngestRun([
      "source": "amazon-2014", "path": .string(Self.digitalMusic),
      "reviews_file": "reviews_Digital_Music_5.complete-lines.json.gz",
      "meta_file": "meta_Digital_Music.complete-lines.json.gz",
    ])
    let expected = try Self.expected(reviews: reviews, meta: meta, metaEntry: Self.pythonMetaEntry)
    try Self.check(run, against: expected)
    // Hand-checked against PROVENANCE.md and a pandas reading: every reviewed item is in the meta lines.
    #expect(run.log.eventCount == 6908)
    #expect(run.log.users.count == 2490)
    #expect(run.log.items.count == 382)
    #expect(run.metrics["items_with_title"] == 382)
    #expect(run.metrics["skipped_lines"] == 0)
    #expect(run.report["files"]?["meta"]?["lines"] == 7419)
    // The first item: 'Memory of Trees', with both category paths kept and their names flattened.
    let first = run.log.items[0]
    #expect(first.rawID == "5555991584")
    #expect(first.title == "Memory of Trees")
    #expect(
      first.metadata["categories"]
        == ["CDs & Vinyl", "New Age", "Celtic New Age", "Meditation", "Pop", "Rock", "Digital Music"])
    #expect(first.metadata["category_paths"]?.arrayValue?.count == 5)
  }

  @Test(.enabled(if: SharedData.shouldRun(digitalMusic), "needs ../shared/data/amazon-2014"))
  func truncatedAmazon2014FilesAreAnErrorNamingTheFileAndByte() throws {
    guard SharedData.available(Self.digitalMusic) else { return }
    let parameters: [String: JSONValue] = [
      "source": "amazon-2014", "path": .string(Self.digitalMusic), "category": "Digital_Music",
    ]
    let reviewsSize = try FileSystem.readFile(SharedData.path(Self.digitalMusic + "/reviews_Digital_Music_5.json.gz"))
      .count
    let message = errorMessage { _ = try IngestRun(parameters) }
    #expect(message.contains("'reviews_Digital_Music_5.json.gz' is truncated at byte \(reviewsSize)"), "\(message)")
    #expect(message.contains("allow_truncated"), "\(message)")

    // With allow_truncated the complete lines are read, exactly as the re-compressed copies give them.
    var allowing = parameters
    allowing["allow_truncated"] = true
    let run = try IngestRun(allowing)
    let metaSize = try FileSystem.readFile(SharedData.path(Self.digitalMusic + "/meta_Digital_Music.json.gz")).count
    #expect(run.report["truncated_at"]?["reviews"]?["byte"]?.integerValue == Int64(reviewsSize))
    #expect(run.report["truncated_at"]?["meta"]?["byte"]?.integerValue == Int64(metaSize))
    let complete = try IngestRun([
      "source": "amazon-2014", "path": .string(Self.digitalMusic),
      "reviews_file": "reviews_Digital_Music_5.complete-lines.json.gz",
      "meta_file": "meta_Digital_Music.complete-lines.json.gz",
    ])
    var truncatedFiles = try run.outputBytes()
    var completeFiles = try complete.outputBytes()
    truncatedFiles["report.json"] = nil
    completeFiles["report.json"] = nil
    #expect(truncatedFiles == completeFiles)
    #expect(run.metrics["skipped_lines"] == 0, "the cut-off last lines are dropped, not counted")
  }

  @Test(.enabled(if: SharedData.shouldRun(giftCards), "needs ../shared/data/amazon-2018"))
  func amazon2018GiftCardsMatchesAnIndependentReading() throws {
    guard SharedData.available(Self.giftCards) else { return }
    let run = try IngestRun(["source": "amazon-2018", "path": .string(Self.giftCards), "category": "Gift_Cards"])
    let expected = try Self.expected(
      reviews: Self.giftCards + "/Gift_Cards_5.json.gz", meta: Self.giftCards + "/meta_Gift_Cards.json.gz",
      metaEntry: Self.jsonMetaEntry)
    try Self.check(run, against: expected)
    #expect(run.log.eventCount == 2972)
    #expect(run.log.users.count == 458)
    #expect(run.log.items.count == 148)
    #expect(run.metrics["items_with_title"] == 148)
    // Metadata users filter on, as the meta line has it.
    for line in try Self.lines(Self.giftCards + "/meta_Gift_Cards.json.gz") {
      let object = try Self.jsonObject(line)
      guard let item = run.log.items.first(where: { $0.rawID == object["asin"] as? String }) else { continue }
      let brand = object["brand"] as? String ?? ""
      #expect(item.metadata["brand"]?.stringValue == (brand.isEmpty ? nil : brand))
      let categories = object["category"] as? [String] ?? []
      #expect(item.metadata["categories"]?.arrayValue?.compactMap(\.stringValue) ?? [] == categories)
      let mainCategory = object["main_cat"] as? String ?? ""
      #expect(item.metadata["main_cat"]?.stringValue == (mainCategory.isEmpty ? nil : mainCategory))
    }
  }

  @Test(.enabled(if: SharedData.shouldRun(magazines), "needs ../shared/data/amazon-2018"))
  func amazon2018UnknownAndDuplicateItemsAreCounted() throws {
    guard SharedData.available(Self.magazines) else { return }
    let run = try IngestRun([
      "source": "amazon-2018", "path": .string(Self.magazines), "category": "Magazine_Subscriptions",
    ])
    let expected = try Self.expected(
      reviews: Self.magazines + "/Magazine_Subscriptions_5.json.gz",
      meta: Self.magazines + "/meta_Magazine_Subscriptions.json.gz", metaEntry: Self.jsonMetaEntry)
    try Self.check(run, against: expected)
    #expect(expected.unknownItemLines == 64)
    #expect(run.log.eventCount == 2311)
    #expect(run.log.users.count == 348)
    #expect(run.log.items.count == 151)
    #expect(run.skipped("unknown_item")?["file"] == "Magazine_Subscriptions_5.json.gz")
    #expect(run.skipped("duplicate_item")?["file"] == "meta_Magazine_Subscriptions.json.gz")
  }

  @Test(.enabled(if: SharedData.shouldRun(allBeauty2018), "needs ../shared/data/amazon-2018"))
  func amazon2018WithoutMetadataKeepsEveryReviewedItemUntitled() throws {
    guard SharedData.available(Self.allBeauty2018) else { return }
    let run = try IngestRun([
      "source": "amazon-2018", "path": .string(Self.allBeauty2018), "category": "All_Beauty", "metadata": false,
    ])
    let expected = try Self.expected(
      reviews: Self.allBeauty2018 + "/All_Beauty_5.json.gz", meta: nil, metaEntry: Self.jsonMetaEntry)
    try Self.check(run, against: expected)
    #expect(run.log.eventCount == 5269)
    #expect(run.log.users.count == 991)
    #expect(run.log.items.count == 85)
    #expect(run.metrics["items_with_title"] == 0)
  }

  @Test(.enabled(if: SharedData.shouldRun(allBeauty2023), "needs ../shared/data/amazon-2023"))
  func amazon2023RatingOnlyCSVMatchesAnIndependentReading() throws {
    guard SharedData.available(Self.allBeauty2023) else { return }
    let run = try IngestRun([
      "source": "amazon-2023", "path": .string(Self.allBeauty2023), "reviews_file": "All_Beauty.csv",
      "metadata": false,
    ])
    let text = try String(contentsOfFile: SharedData.path(Self.allBeauty2023 + "/All_Beauty.csv"), encoding: .utf8)
    var rows = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    #expect(rows.removeFirst() == ["user_id", "parent_asin", "rating", "timestamp"])
    var expected = Expected()
    var subSecond = 0
    for row in rows {
      try #require(row.count == 4)
      let milliseconds = try #require(Int64(row[3]))
      // Whole seconds, rounded down: the timestamps here are all after 1970, so plain division.
      if milliseconds % 1000 != 0 { subSecond += 1 }
      expected.events.append(
        RawEvent(
          user: String(row[0]), item: String(row[1]), time: milliseconds / 1000, rating: try #require(Float(row[2]))))
    }
    try Self.check(run, against: expected)
    // PROVENANCE.md: 2,535 ratings, 253 users, 356 items.
    #expect(run.log.eventCount == 2535)
    #expect(run.log.users.count == 253)
    #expect(run.log.items.count == 356)
    #expect(subSecond > 2000, "the file has millisecond parts, so the division is exercised")
    #expect(run.report["time"]?.stringValue?.contains("rounded down") == true)
  }

  // MARK: Hand-made lines

  @Test func malformedLinesAreSkippedByReasonWithTheirLineNumbers() throws {
    let temporary = try TemporaryDirectory()
    let reviews = try temporary.write(
      "reviews.json",
      """
      {"reviewerID": "U1", "asin": "A", "overall": 5.0, "unixReviewTime": 100}
      {"reviewerID": "U1", "asin": "A", "overall": 5.0, "unixReviewTime": 100
      {"asin": "A", "overall": 4.0, "unixReviewTime": 101}
      {"reviewerID": "U2", "asin": "", "overall": 4.0, "unixReviewTime": 101}
      {"reviewerID": "U2", "asin": "B", "overall": "4", "unixReviewTime": 101}
      {"reviewerID": "U2", "asin": "B", "overall": 4.0, "unixReviewTime": 101.5}
      [1, 2]

      {"reviewerID": "U2", "asin": "Z", "overall": 3.0, "unixReviewTime": 102}
      {"reviewerID": "U3", "asin": "B", "overall": 2.0, "unixReviewTime": 103}
      {"reviewerID": "U2", "asin": "A", "overall": 1.0, "unixReviewTime": 104}

      """)
    let meta = try temporary.write(
      "meta.json",
      """
      {'asin': 'B', 'title': 'Bee', 'brand': 'Hive', 'categories': [['Garden', 'Insects'], ['Garden']]}
      {'asin': 'A', 'title': '', 'categories': []}
      {'asin': 'A', 'title': 'Second A'}
      {'asin': 'C', 'title': 'unterminated}
      {'title': 'no asin'}
      {'asin': 'Z', 'brand': 12}

      """)
    let run = try IngestRun(["source": "amazon-2014", "category": "x"], rawFiles: ["reviews": reviews, "meta": meta])
    #expect(
      Self.rawEvents(run.log) == [
        RawEvent(user: "U1", item: "A", time: 100, rating: 5),
        RawEvent(user: "U3", item: "B", time: 103, rating: 2),
        RawEvent(user: "U2", item: "A", time: 104, rating: 1),
      ])
    #expect(run.log.users == ["U1", "U3", "U2"], "users by first appearance among kept events")
    #expect(run.log.items.map(\.rawID) == ["A", "B"])
    #expect(run.log.items[0].title == nil, "an empty title is no title")
    #expect(run.log.items[0].metadata.isEmpty)
    #expect(run.log.items[1].title == "Bee")
    #expect(run.log.items[1].metadata["brand"] == "Hive")
    #expect(run.log.items[1].metadata["categories"] == ["Garden", "Insects"])
    #expect(run.log.items[1].metadata["category_paths"] == [["Garden", "Insects"], ["Garden"]])
    let expectedSkips: [(String, [Int])] = [
      ("bad_json", [2, 7]), ("bad_user_id", [3]), ("bad_item_id", [4]), ("bad_rating", [5]),
      ("bad_timestamp", [6]), ("unknown_item", [9]), ("duplicate_item", [3]), ("bad_python_literal", [4]),
      ("bad_metadata", [6]),
    ]
    for (reason, lines) in expectedSkips {
      #expect(
        run.skipped(reason)?["first_lines"]?.arrayValue?.compactMap(\.integerValue) == lines.map(Int64.init),
        "\(reason)")
    }
    #expect(run.skipped("bad_item_id")?["other_files"]?["meta.json"] == 1, "the meta line without an asin")
    #expect(
      run.skipped("bad_python_literal")?["example"]
        == "'meta.json' line 4: is not a Python literal (expected the closing quote before the end (unterminated string) at byte 23)"
    )
    #expect(
      run.skipped("bad_metadata")?["example"] == "'meta.json' line 6: field 'brand' is integer 12, expected a string")
    #expect(run.report["time"] == "unix seconds ('unixReviewTime')")

    let strict = errorMessage {
      _ = try IngestRun(
        ["source": "amazon-2014", "category": "x", "strict": true], rawFiles: ["reviews": reviews, "meta": meta])
    }
    #expect(strict.contains("'reviews.json' line 2: is not JSON"), "\(strict)")
  }

  @Test func syntheticAmazon2018LinesReadBackAsTheLogThatRenderedThem() throws {
    let log = SyntheticReviewGenerator(users: 60, items: 40, meanLength: 6, seed: 5).generate()
    let temporary = try TemporaryDirectory()
    let reviews = try temporary.write(
      "reviews.json", SyntheticReviewGenerator.renderAmazon2018Reviews(log).joined(separator: "\n"))
    let meta = try temporary.write(
      "meta.json", SyntheticReviewGenerator.renderAmazon2018Metadata(log).joined(separator: "\n"))
    let run = try IngestRun(["source": "amazon-2018", "category": "x"], rawFiles: ["reviews": reviews, "meta": meta])
    #expect(Self.rawEvents(run.log) == Self.rawEvents(log))
    let original = Dictionary(uniqueKeysWithValues: log.items.map { ($0.rawID, $0) })
    for item in run.log.items {
      let source = try #require(original[item.rawID])
      #expect(item.title == source.title)
      #expect(item.metadata["brand"] == source.metadata["brand"])
      #expect(item.metadata["categories"] == source.metadata["categories"])
    }
    #expect(run.metrics["skipped_lines"] == 0)
  }

  @Test func defaultFileNamesFollowTheCategory() throws {
    func files(_ parameters: [String: JSONValue]) throws -> [String: String] {
      try IngestStage.rawFiles(IngestStage.resolveParameters(parameters, entry: "ingest", file: "test"))
    }
    #expect(
      try files(["source": "amazon-2014", "path": "a", "category": "Beauty"])
        == ["reviews": "a/reviews_Beauty_5.json.gz", "meta": "a/meta_Beauty.json.gz"])
    #expect(
      try files(["source": "amazon-2018", "path": "a", "category": "Gift_Cards"])
        == ["reviews": "a/Gift_Cards_5.json.gz", "meta": "a/meta_Gift_Cards.json.gz"])
    #expect(
      try files(["source": "amazon-2023", "path": "a", "category": "All_Beauty"])
        == ["reviews": "a/All_Beauty.jsonl", "meta": "a/meta_All_Beauty.jsonl"])
    #expect(
      try files(["source": "amazon-2023", "path": "a", "reviews_file": "x.csv", "metadata": false])
        == ["reviews": "a/x.csv"])
    let message = errorMessage { _ = try files(["source": "amazon-2018", "path": "a"]) }
    #expect(message.contains("needs 'category'"), "\(message)")
  }

  @Test func amazon2023JSONLinesUseParentASINAndMilliseconds() throws {
    let temporary = try TemporaryDirectory()
    let reviews = try temporary.write(
      "All.jsonl",
      """
      {"rating": 5.0, "title": "Great", "text": "ok", "asin": "C1", "parent_asin": "P1", "user_id": "U1", "timestamp": 1588687728923, "helpful_vote": 0, "verified_purchase": true}
      {"rating": 3.0, "asin": "C2", "parent_asin": "P2", "user_id": "U1", "timestamp": 1588687729000}
      {"rating": 4.0, "asin": "C3", "parent_asin": "P1", "user_id": "U2", "timestamp": -1}

      """)
    let meta = try temporary.write(
      "meta_All.jsonl",
      """
      {"main_category": "All Beauty", "title": "Lotion", "store": "Acme", "categories": [], "parent_asin": "P1"}
      {"main_category": "All Beauty", "title": null, "store": null, "categories": ["Skin"], "parent_asin": "P2"}

      """)
    let run = try IngestRun(
      ["source": "amazon-2023", "category": "All"], rawFiles: ["reviews": reviews, "meta": meta])
    #expect(run.log.eventTime == [1_588_687_728, 1_588_687_729, -1], "milliseconds rounded down to seconds")
    #expect(run.log.items.map(\.rawID) == ["P1", "P2"])
    #expect(run.log.items[0].title == "Lotion")
    #expect(run.log.items[0].metadata == ["store": "Acme", "main_cat": "All Beauty"])
    #expect(run.log.items[1].title == nil)
    #expect(run.log.items[1].metadata == ["categories": ["Skin"], "main_cat": "All Beauty"])
  }
}
