import ArtifactFormats
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// MovieLens 100K from ../shared/data/movielens/ml-100k: 943 users, 1,682 items, 100,000 ratings.
@Suite struct MovieLens100KIngestTests {
  static let ratings = "movielens/ml-100k/u.data"
  static let parameters: [String: JSONValue] = ["source": "movielens-100k", "path": "movielens/ml-100k"]

  @Test func rawFilesAreRelativeToThePath() throws {
    let resolved = try IngestStage.resolveParameters(Self.parameters, entry: "ingest", file: "test")
    #expect(
      try IngestStage.rawFiles(resolved) == [
        "ratings": "movielens/ml-100k/u.data", "items": "movielens/ml-100k/u.item",
      ])
  }

  @Test(.enabled(if: SharedData.shouldRun(ratings), "needs ../shared/data/movielens/ml-100k"))
  func countsMatchTheDatasetAndAnIndependentCount() throws {
    guard SharedData.available(Self.ratings) else { return }
    let run = try IngestRun(Self.parameters)
    print("ingest: ml-100k in \(formatFixed(run.seconds, digits: 3)) s")
    #expect(run.log.users.count == 943)
    #expect(run.log.items.count == 1682)
    #expect(run.log.eventCount == 100_000)
    #expect(run.metrics["events"] == 100_000)
    #expect(run.metrics["skipped_lines"] == 0)
    #expect(run.report["files"]?["ratings"]?["lines"] == 100_000)

    // The oracle: plain Swift splitting of u.data.
    let text = try FileSystem.readText(SharedData.path(Self.ratings))
    var users: [Substring] = []
    var seenUsers: Set<Substring> = []
    var lines = 0
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: "\t")
      lines += 1
      if seenUsers.insert(fields[0]).inserted { users.append(fields[0]) }
      if lines == 1 {
        #expect(run.log.users[Int(run.log.eventUser[0])] == String(fields[0]))
        #expect(run.log.items[Int(run.log.eventItem[0])].rawID == String(fields[1]))
        #expect(run.log.eventTime[0] == Int64(fields[3]))
        #expect(run.log.eventRating[0] == Float(fields[2]))
      }
    }
    #expect(lines == run.log.eventCount)
    #expect(users.map(String.init) == run.log.users, "users in order of first appearance")
    try run.validate()
  }

  @Test(.enabled(if: SharedData.shouldRun(ratings), "needs ../shared/data/movielens/ml-100k"))
  func itemsCarryTitlesYearsAndGenres() throws {
    guard SharedData.available(Self.ratings) else { return }
    let run = try IngestRun(Self.parameters)
    let toyStory = run.log.items[0]
    #expect(toyStory.rawID == "1")
    #expect(toyStory.title == "Toy Story (1995)")
    #expect(toyStory.metadata["year"] == 1995)
    #expect(toyStory.metadata["release_date"] == "01-Jan-1995")
    #expect(toyStory.metadata["genres"] == ["Animation", "Children's", "Comedy"])
    #expect(run.log.items.map(\.rawID) == (1...1682).map(String.init), "items ordered by movie id")
    // Latin-1 bytes decode to the same code points.
    #expect(run.log.items[1632].title == "Á köldum klaka (Cold Fever) (1994)")
    #expect(run.log.items[542].title == "Misérables, Les (1995)")
    // Item 267 is "unknown" with no date: no year, no release date.
    #expect(run.log.items[266].title == "unknown")
    #expect(run.log.items[266].metadata["year"] == nil)
    #expect(run.report["items_with_title"] == 1682)
  }

  @Test func aMalformedLineIsSkippedWithItsReasonAndLine() throws {
    let directory = try TemporaryDirectory()
    let items = try directory.write("u.item", Self.itemLines(3))
    let ratings = try directory.write("u.data", "1\t1\t5\t881250949\n2\t2\t3\tabc\n1\t3\t4\t881250950\n2\t9\t4\t1\n\n")
    let run = try IngestRun(Self.parameters, rawFiles: ["ratings": ratings, "items": items])
    #expect(run.log.eventCount == 2)
    #expect(run.log.users == ["1"])
    #expect(run.skipped("bad_timestamp")?["count"] == 1)
    #expect(run.skipped("bad_timestamp")?["first_lines"] == [2])
    #expect(run.skipped("bad_timestamp")?["file"] == "u.data")
    #expect(run.skipped("unknown_item")?["first_lines"] == [4])
    #expect(run.report["files"]?["ratings"]?["blank_lines"] == 1)
    #expect(run.metrics["skipped_lines"] == 2)
  }

  @Test func strictTurnsASkippedLineIntoAnError() throws {
    let directory = try TemporaryDirectory()
    let items = try directory.write("u.item", Self.itemLines(3))
    let ratings = try directory.write("u.data", "1\t1\t5\t881250949\n2\t2\t3\tabc\n")
    var parameters = Self.parameters
    parameters["strict"] = true
    let message = errorMessage { _ = try IngestRun(parameters, rawFiles: ["ratings": ratings, "items": items]) }
    #expect(
      message
        == "'u.data' line 2: field 'timestamp' is not an integer (\"abc\"); fix the line or pass strict: false to skip it"
    )
  }

  @Test func anEmptyFileIsAClearError() throws {
    let directory = try TemporaryDirectory()
    let items = try directory.write("u.item", Self.itemLines(3))
    let ratings = try directory.write("u.data", "")
    let message = errorMessage { _ = try IngestRun(Self.parameters, rawFiles: ["ratings": ratings, "items": items]) }
    #expect(message == "'u.data' is empty (no non-blank line); check the path or re-download it")
  }

  @Test func yearComesFromTheTitleElseTheReleaseDate() throws {
    let directory = try TemporaryDirectory()
    let flags = Array(repeating: "0", count: 19).joined(separator: "|")
    let items = try directory.write(
      "u.item",
      "2|Land Before Time III (1995) (V)|01-Jan-1997||url|\(flags)\n1|Heat (1995)|01-Jan-1996||url|\(flags)\n")
    let ratings = try directory.write("u.data", "7\t2\t4\t10\n7\t1\t4\t11\n")
    let run = try IngestRun(Self.parameters, rawFiles: ["ratings": ratings, "items": items])
    #expect(run.log.items.map(\.rawID) == ["1", "2"], "sorted by movie id")
    #expect(run.log.items[0].metadata["year"] == 1995)
    #expect(run.log.items[1].metadata["year"] == 1997)
    #expect(run.log.items[1].metadata["genres"] == [])
    #expect(run.log.eventItem == [1, 0])
  }

  /// `count` u.item lines, movie ids 1…count, genre Drama.
  static func itemLines(_ count: Int) -> String {
    (1...count).map { id in
      var flags = Array(repeating: "0", count: 19)
      flags[8] = "1"
      return "\(id)|Movie \(id) (1990)|01-Jan-1990||http://example.org/\(id)|" + flags.joined(separator: "|")
    }.joined(separator: "\n") + "\n"
  }
}
