import ArtifactFormats
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// The Amazon reader reads the meta file on a thread of its own while it reads the reviews, into a
/// report of its own merged after: the outputs (the log, `report.json`) and errors must be those of
/// reading the reviews first and the meta file second on one thread
/// (`AmazonReader.readsMetaConcurrently` bound to `false`), including skips in both files, meta
/// skips that count only for reviewed items, and strict-mode errors.
@Suite struct AmazonMetaConcurrencyTests {
  /// Runs ingest both ways and checks that every output file is byte-identical.
  /// - Returns: the concurrent run.
  @discardableResult
  static func runBothWays(
    _ parameters: [String: JSONValue], rawFiles: [String: String]? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> IngestRun {
    let concurrent = try IngestRun(parameters, rawFiles: rawFiles)
    let sequential = try AmazonReader.$readsMetaConcurrently.withValue(false) {
      try IngestRun(parameters, rawFiles: rawFiles)
    }
    #expect(concurrent.log == sequential.log, sourceLocation: sourceLocation)
    let concurrentFiles = try concurrent.outputBytes()
    let sequentialFiles = try sequential.outputBytes()
    #expect(concurrentFiles.keys.sorted() == sequentialFiles.keys.sorted(), sourceLocation: sourceLocation)
    for (name, bytes) in concurrentFiles {
      #expect(bytes == sequentialFiles[name], "\(name)", sourceLocation: sourceLocation)
    }
    #expect(concurrent.report == sequential.report, sourceLocation: sourceLocation)
    return concurrent
  }

  /// The error messages of a run both ways, which must be the same.
  /// - Returns: the message.
  static func errorBothWays(
    _ parameters: [String: JSONValue], rawFiles: [String: String], sourceLocation: SourceLocation = #_sourceLocation
  ) -> String {
    let concurrent = errorMessage { _ = try IngestRun(parameters, rawFiles: rawFiles) }
    let sequential = AmazonReader.$readsMetaConcurrently.withValue(false) {
      errorMessage { _ = try IngestRun(parameters, rawFiles: rawFiles) }
    }
    #expect(concurrent == sequential, sourceLocation: sourceLocation)
    return concurrent
  }

  static func firstLines(_ run: IngestRun, _ reason: String) -> [Int64]? {
    run.skipped(reason)?["first_lines"]?.arrayValue?.compactMap(\.integerValue)
  }

  // MARK: Hand-made files

  static let reviews = """
    {"reviewerID": "U1", "asin": "A", "overall": 5.0, "unixReviewTime": 100}
    {"reviewerID": "U1", "asin": "B", "overall": 4.0, "unixReviewTime": 101
    {"reviewerID": "U2", "asin": "", "overall": 4.0, "unixReviewTime": 102}
    {"reviewerID": "U2", "asin": "B", "overall": 3.0, "unixReviewTime": 103}
    {"reviewerID": "U3", "asin": "C", "overall": 2.0, "unixReviewTime": 104}
    {"reviewerID": "U3", "asin": "Q", "overall": 2.0, "unixReviewTime": 105}

    """

  /// Amazon 2018 meta lines: bad metadata and duplicates of reviewed (A, C) and unreviewed (Z)
  /// items, and reasons also found in the reviews (`bad_json`, `bad_item_id`).
  static let meta2018 = """
    {"asin": "A", "title": "Apple", "brand": 3}
    {"asin": "Z", "title": "Zed", "brand": 3}
    {"asin": "A", "title": "Apple", "brand": "Orchard", "category": ["Food", "Fruit"], "main_cat": "Grocery"}
    {"asin": "Z", "title": "Zed"}
    {"asin": "A", "title": "Apple again"}
    {"asin": "Z", "title": "Zed again"}
    {"asin": "B", "title": "Bee"
    {"title": "no asin"}
    [1, 2]
    {"asin": "B", "title": "Bee"}
    {"asin": "A", "title": 5}
    {"asin": "C", "category": "not a list"}

    """

  @Test func skipsThatCountOnlyForReviewedItemsAreThoseOfTheSequentialReading() throws {
    let directory = try TemporaryDirectory()
    let files = [
      "reviews": try directory.write("reviews.json", Self.reviews),
      "meta": try directory.write("meta.json", Self.meta2018),
    ]
    let run = try Self.runBothWays(["source": "amazon-2018", "category": "x"], rawFiles: files)
    #expect(run.log.items.map(\.rawID) == ["A", "B"])
    #expect(run.log.items[0].title == "Apple")
    #expect(run.log.items[0].metadata["brand"] == "Orchard")
    #expect(Self.firstLines(run, "bad_metadata") == [1, 12], "Z's bad line is not reported: Z is not reviewed")
    #expect(
      run.skipped("bad_metadata")?["example"] == "'meta.json' line 1: field 'brand' is integer 3, expected a string")
    #expect(Self.firstLines(run, "duplicate_item") == [5, 11])
    #expect(
      run.skipped("duplicate_item")?["example"]
        == "'meta.json' line 5: field 'asin' repeats 'A' of line 3 (the first is kept)")
    #expect(Self.firstLines(run, "bad_json") == [2])
    #expect(run.skipped("bad_json")?["file"] == "reviews.json")
    #expect(run.skipped("bad_json")?["count"] == 2)
    #expect(run.skipped("bad_json")?["other_files"] == ["meta.json": 1])
    #expect(Self.firstLines(run, "bad_item_id") == [3])
    #expect(run.skipped("bad_item_id")?["other_files"] == ["meta.json": 1])
    #expect(Self.firstLines(run, "bad_meta_line") == [9])
    #expect(Self.firstLines(run, "unknown_item") == [5, 6], "C's only line has bad metadata")
    #expect(run.report["files"]?["meta"]?["lines"] == 12)
    #expect(run.report["files"]?["reviews"]?["lines"] == 6)
    #expect(run.report["skipped_lines"] == 11)
  }

  @Test func everyEditionWithMetaGivesTheSequentialOutputs() throws {
    let directory = try TemporaryDirectory()
    let reviews = try directory.write("reviews.json", Self.reviews)
    try Self.runBothWays(
      ["source": "amazon-2018", "category": "x"],
      rawFiles: ["reviews": reviews, "meta": try directory.write("meta.json", Self.meta2018)])
    let meta2014 = try directory.write(
      "meta2014.json",
      """
      {'asin': 'B', 'title': 'Bee', 'brand': 'Hive', 'categories': [['Garden', 'Insects'], ['Garden']]}
      {'asin': 'A', 'title': '', 'categories': []}
      {'asin': 'A', 'title': 'Second A'}
      {'asin': 'C', 'title': 'unterminated}
      {'title': 'no asin'}
      {'asin': 'Z', 'brand': 12}
      {'asin': 'C', 'categories': 'flat'}

      """)
    try Self.runBothWays(["source": "amazon-2014", "category": "x"], rawFiles: ["reviews": reviews, "meta": meta2014])
    let reviews2023 = try directory.write(
      "reviews.jsonl",
      """
      {"user_id": "U1", "parent_asin": "A", "rating": 5.0, "timestamp": 1547589356557}
      {"user_id": "U2", "parent_asin": "B", "rating": 4.0, "timestamp": 1547589356558
      {"user_id": "U2", "parent_asin": "Z", "rating": 4.0, "timestamp": 1547589356559}

      """)
    let meta2023 = try directory.write(
      "meta.jsonl",
      """
      {"parent_asin": "A", "title": "Apple", "store": "Orchard", "categories": ["Food"], "main_category": "Grocery"}
      {"parent_asin": "A", "title": "Apple again"}
      {"parent_asin": "B", "title": "Bee", "store": 1}
      {"parent_asin": "B", "title": "Bee"

      """)
    try Self.runBothWays(
      ["source": "amazon-2023", "category": "x"], rawFiles: ["reviews": reviews2023, "meta": meta2023])
    // The official item rules (every extra column), with skips in both files.
    let metaTCA4Rec = try directory.write(
      "meta-tca4rec.json",
      """
      {"asin": "A", "title": "Apple", "brand": "Orchard", "category": ["Food", " Fruit "]}
      {"asin": "B", "title": "Bee", "brand": ["ABCDE"]}
      {"asin": "B", "title": "Bee", "brand": ["Hive"], "details": {"Style": "Buzz", "\\n  Size: \\n": "S"}}
      {"asin": "C", "title": "Cee"
      {"asin": "C", "title": 5}
      {"asin": "A", "title": "Apple again", "brand": "Other"}
      [1]

      """)
    let run = try Self.runBothWays(
      ["source": "amazon-2018", "category": "Sports_and_Outdoors", "preset": "tca4rec"],
      rawFiles: ["reviews": reviews, "meta": metaTCA4Rec])
    #expect(run.skipped("bad_json")?["other_files"] == ["meta-tca4rec.json": 1])
    #expect(run.report["tca4rec"]?["duplicate_ids"] == 1)
  }

  @Test func filesOfTheSameNameMergeTheirFirstLines() throws {
    let directory = try TemporaryDirectory()
    try FileSystem.createDirectory(directory.file("reviews"))
    try FileSystem.createDirectory(directory.file("meta"))
    let files = [
      "reviews": try directory.write("reviews/data.json", Self.reviews),
      "meta": try directory.write("meta/data.json", Self.meta2018),
    ]
    let run = try Self.runBothWays(["source": "amazon-2018", "category": "x"], rawFiles: files)
    #expect(Self.firstLines(run, "bad_json") == [2, 7], "one name: the meta line joins the review line")
    #expect(run.skipped("bad_json")?["other_files"] == nil)
  }

  // MARK: Errors

  @Test func strictModeFailsAtTheFirstMetaLineTheSequentialReadingFailsAt() throws {
    let directory = try TemporaryDirectory()
    let reviews = try directory.write(
      "reviews.json",
      """
      {"reviewerID": "U1", "asin": "A", "overall": 5.0, "unixReviewTime": 100}
      {"reviewerID": "U2", "asin": "B", "overall": 3.0, "unixReviewTime": 103}

      """)
    let strict: [String: JSONValue] = ["source": "amazon-2018", "category": "x", "strict": true]
    // A duplicate of a reviewed item before a line that is not JSON: the duplicate fails first.
    let reviewedDuplicate = try directory.write(
      "meta.json",
      """
      {"asin": "Z", "title": "Zed", "brand": 3}
      {"asin": "A", "title": "Apple"}
      {"asin": "A", "title": "Again"}
      {"asin": "B", "title": "Bee"

      """)
    let first = Self.errorBothWays(strict, rawFiles: ["reviews": reviews, "meta": reviewedDuplicate])
    #expect(
      first
        == "'meta.json' line 3: field 'asin' repeats 'A' of line 2 (the first is kept); fix the line or pass strict: false to skip it"
    )
    // The same for an item nobody reviewed: nothing to fail on until the line that is not JSON.
    let unreviewedDuplicate = try directory.write(
      "meta2.json",
      """
      {"asin": "Z", "title": "Zed", "brand": 3}
      {"asin": "Z", "title": "Zed"}
      {"asin": "Z", "title": "Again"}
      {"asin": "B", "title": "Bee"

      """)
    let second = Self.errorBothWays(strict, rawFiles: ["reviews": reviews, "meta": unreviewedDuplicate])
    #expect(second.hasPrefix("'meta2.json' line 4: is not JSON ("), "\(second)")
    // The official rules: the meta file's first bad line.
    let third = Self.errorBothWays(
      ["source": "amazon-2018", "category": "Toys_and_Games", "preset": "tca4rec", "strict": true],
      rawFiles: ["reviews": reviews, "meta": unreviewedDuplicate])
    #expect(third.hasPrefix("'meta2.json' line 1: field 'brand' is integer 3"), "\(third)")
  }

  @Test func anErrorOfTheReviewsWinsOverOneOfTheMetaFile() throws {
    let directory = try TemporaryDirectory()
    let reviews = try directory.write("reviews.json", Self.reviews)
    let meta = try directory.write("meta.json", "[1]\n" + Self.meta2018)
    for preset in ["none", "tca4rec"] {
      let parameters: [String: JSONValue] = [
        "source": "amazon-2018", "category": "x", "strict": true, "preset": .string(preset),
      ]
      let message = Self.errorBothWays(parameters, rawFiles: ["reviews": reviews, "meta": meta])
      #expect(message.hasPrefix("'reviews.json' line 2: is not JSON ("), "\(preset): \(message)")
      // A meta file that cannot be read at all loses too.
      let missing = Self.errorBothWays(
        parameters, rawFiles: ["reviews": reviews, "meta": directory.file("absent.json")])
      #expect(missing.hasPrefix("'reviews.json' line 2: is not JSON ("), "\(preset): \(missing)")
      // Without the reviews' error, the meta file's.
      let lenientReviews = try directory.write("clean.json", String(Self.reviews.split(separator: "\n")[0]) + "\n")
      let metaError = Self.errorBothWays(parameters, rawFiles: ["reviews": lenientReviews, "meta": meta])
      #expect(metaError.hasPrefix("'meta.json' line 1: is a array, not a dict"), "\(preset): \(metaError)")
      let absent = Self.errorBothWays(
        parameters, rawFiles: ["reviews": lenientReviews, "meta": directory.file("absent.json")])
      #expect(absent.contains("absent.json"), "\(preset): \(absent)")
    }
  }

  // MARK: Real files

  static let giftCards = "amazon-2018/Gift_Cards"
  static let magazines = "amazon-2018/Magazine_Subscriptions"

  @Test(
    .enabled(if: SharedData.shouldRun(magazines + "/meta_Magazine_Subscriptions.json.gz"), "needs amazon-2018"),
    arguments: ["none", "tca4rec"])
  func realFilesGiveTheSequentialOutputs(_ preset: String) throws {
    for (path, category) in [(Self.giftCards, "Gift_Cards"), (Self.magazines, "Magazine_Subscriptions")] {
      guard SharedData.available(path) else { return }
      try Self.runBothWays([
        "source": "amazon-2018", "path": .string(path), "category": .string(category), "preset": .string(preset),
      ])
      if preset == "tca4rec" {
        try Self.runBothWays([
          "source": "amazon-2018", "path": .string(path), "category": .string(category), "preset": "tca4rec",
          "tca4rec_columns": ["brand", "style", "category"],
        ])
      }
    }
  }
}
