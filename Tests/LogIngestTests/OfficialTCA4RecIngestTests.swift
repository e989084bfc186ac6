import ArtifactFormats
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// The official TCA4Rec processed CSVs from ../shared/data/tca4rec-official (critical88/TCA4Rec).
@Suite struct OfficialTCA4RecIngestTests {
  static let toys = "tca4rec-official/Toys_and_Games"
  static let office = "tca4rec-official/Office_Products"

  static func parameters(_ path: String) -> [String: JSONValue] {
    ["source": "tca4rec-official", "path": .string(path)]
  }

  /// data_stat.json: `{num_user, num_item}`.
  static func dataStat(_ directory: String) throws -> (users: Int64, items: Int64) {
    let json = try JSONParser.parse(try FileSystem.readFile(SharedData.path(directory + "/data_stat.json")))
    return (json["num_user"]?.integerValue ?? -1, json["num_item"]?.integerValue ?? -1)
  }

  /// The oracle: rows and distinct uids of a split file by plain splitting (no quoted line breaks
  /// there; `uid` and `iid` are the first two, unquoted, columns).
  static func countRows(_ path: String) throws -> (rows: Int, uids: Set<Int>, first: [Substring]) {
    let lines = try FileSystem.readText(SharedData.path(path)).split(separator: "\n").dropFirst()
    var uids: Set<Int> = []
    for line in lines { uids.insert(Int(line.split(separator: ",", maxSplits: 1)[0])!) }
    return (lines.count, uids, lines.first!.split(separator: ",", maxSplits: 2))
  }

  @Test(.enabled(if: SharedData.shouldRun(toys + "/item.csv"), "needs ../shared/data/tca4rec-official"))
  func toysCountsMatchDataStatAndTheCSVRows() throws {
    guard SharedData.available(Self.toys + "/item.csv") else { return }
    let run = try IngestRun(Self.parameters(Self.toys))
    print("ingest: official Toys_and_Games in \(formatFixed(run.seconds, digits: 3)) s")
    let stat = try Self.dataStat(Self.toys)
    #expect(stat.items == 20669)
    #expect(Int64(run.log.items.count) == stat.items)
    var uids: Set<Int> = []
    var total = 0
    for (split, file) in [(SplitName.train, "train_10000.csv"), (.valid, "valid_5000.csv"), (.test, "test_5000.csv")] {
      let oracle = try Self.countRows(Self.toys + "/" + file)
      uids.formUnion(oracle.uids)
      total += oracle.rows
      #expect(run.log.predefined[split]?.count == oracle.rows, "\(split) rows")
      #expect(run.report["predefined"]?[split.rawValue]?.integerValue == Int64(oracle.rows))
    }
    #expect(run.log.eventCount == total)
    #expect(run.log.users == uids.sorted().map(String.init), "users are the uids, ascending")
    #expect(Int64(uids.max()!) <= stat.users)
    #expect(run.report["max_uid"]?.integerValue == Int64(uids.max()!))
    #expect(run.metrics["skipped_lines"] == 0)
    try run.validate()
  }

  @Test(.enabled(if: SharedData.shouldRun(toys + "/item.csv"), "needs ../shared/data/tca4rec-official"))
  func toysSamplesKeepTheFileOrderAndHistories() throws {
    guard SharedData.available(Self.toys + "/item.csv") else { return }
    let run = try IngestRun(Self.parameters(Self.toys))
    // train_10000.csv line 2:
    // 3402,18129,10,"[13452, 14024, 13517, 13632, 9664, 13127, 14112, 13861, 14036, 17711]",4.0,0,…,1471996800
    let first = try #require(run.log.predefined[.train]?.first)
    #expect(run.log.users[Int(first.user)] == "3402")
    #expect(first.target == 18129 - 1)
    #expect(
      first.history == [13452, 14024, 13517, 13632, 9664, 13127, 14112, 13861, 14036, 17711].map { UInt32($0 - 1) })
    #expect(first.timestamp == 1_471_996_800)
    #expect(first.rating == 4)
    #expect(run.log.eventItem[0] == first.target)
    #expect(run.log.eventUser[0] == first.user)
    // The events list train, then valid, then test.
    let validFirst = try #require(run.log.predefined[.valid]?.first)
    #expect(run.log.eventItem[10_000] == validFirst.target)
  }

  @Test(.enabled(if: SharedData.shouldRun(toys + "/item.csv"), "needs ../shared/data/tca4rec-official"))
  func toysItemsKeepQuotedCommasAndLineBreaks() throws {
    guard SharedData.available(Self.toys + "/item.csv") else { return }
    let run = try IngestRun(Self.parameters(Self.toys))
    #expect(run.log.items[0].rawID == "B00IANTSJI")
    #expect(run.log.items[0].title == "LEGO Star Wars 75037 Battle on Saleucami (Disconti")
    #expect(run.log.items[0].metadata["brand"] == "LEGO")
    #expect(run.log.items[1].title == "LEGO, Star Wars, Utapau Troopers (75036)")
    // 54 titles hold line breaks inside quotes (item.csv has 20,724 lines for 20,669 rows).
    #expect(run.log.items.count(where: { $0.title?.contains("\n") == true }) == 54)
    #expect(run.report["files"]?["items"]?["lines"] == 20724)
  }

  @Test(.enabled(if: SharedData.shouldRun(office + "/item.csv"), "needs ../shared/data/tca4rec-official"))
  func officeHasNoBrandColumnAndMatchesDataStat() throws {
    guard SharedData.available(Self.office + "/item.csv") else { return }
    let run = try IngestRun(Self.parameters(Self.office))
    let stat = try Self.dataStat(Self.office)
    #expect(Int64(run.log.items.count) == stat.items)
    #expect(run.log.items.allSatisfy { $0.metadata["brand"] == nil })
    #expect(run.log.eventCount == 20_000)
    #expect(Int64(run.log.users.last.flatMap { Int64($0) } ?? 0) <= stat.users)
  }

  /// A tiny official-format directory: three items, a train split, and valid/test with one row each.
  static func writeTinySplit(_ directory: TemporaryDirectory, train: String) throws -> [String: String] {
    let header = "uid,iid,his_len,hist_id,rating,label,hist_rating,hist_label,timestamp\n"
    return [
      "items": try directory.write(
        "item.csv",
        ",rawid,title,mapping_iid,brand,iid\n0,A1,\"Cup, \"\"blue\"\"\",A1,Acme,1\n1,A2,\"Two\nlines\",A2,,2\n2,A3,Pot,A3,Acme,3\n"
      ),
      "train": try directory.write("train.csv", header + train),
      "valid": try directory.write("valid.csv", header + "5,3,2,\"[1, 2]\",4.0,0,\"[5.0, 5.0]\",\"[1, 1]\",30\n"),
      "test": try directory.write("test.csv", header + "5,1,2,\"[2, 3]\",5.0,1,\"[5.0, 5.0]\",\"[1, 1]\",40\n"),
    ]
  }

  @Test func tinySplitReadsQuotedFieldsAndOrdersUsersByUID() throws {
    let directory = try TemporaryDirectory()
    let files = try Self.writeTinySplit(
      directory, train: "9,2,1,\"[1]\",3.0,0,\"[5.0]\",\"[1]\",10\n5,1,0,[],5.0,1,[],[],20\n")
    let run = try IngestRun(Self.parameters(""), rawFiles: files)
    #expect(run.log.items.map(\.title) == ["Cup, \"blue\"", "Two\nlines", "Pot"])
    #expect(run.log.items[1].metadata["brand"] == nil)
    #expect(run.log.users == ["5", "9"])
    #expect(run.log.predefined[.train]?.map(\.user) == [1, 0])
    #expect(run.log.predefined[.train]?.map(\.history) == [[0], []])
    #expect(run.log.predefined[.test]?.first?.history == [1, 2])
    #expect(run.log.eventItem == [1, 0, 2, 0])
    #expect(run.log.eventTime == [10, 20, 30, 40])
    try run.validate()
  }

  @Test func aBadHistIDNamesTheFileLineAndField() throws {
    let directory = try TemporaryDirectory()
    let files = try Self.writeTinySplit(
      directory, train: "9,2,1,\"[1]\",3.0,0,\"[5.0]\",\"[1]\",10\n5,1,2,\"[1,, 2]\",5.0,1,[],[],20\n")
    var parameters = Self.parameters("")
    parameters["strict"] = true
    let message = errorMessage { _ = try IngestRun(parameters, rawFiles: files) }
    #expect(
      message
        == "'train.csv' line 3: field 'hist_id' is not a Python list of integers (\"[1,, 2]\": expected an integer at character 4); fix the line or pass strict: false to skip it"
    )
    let lenient = try IngestRun(Self.parameters(""), rawFiles: files)
    #expect(lenient.skipped("bad_hist_id")?["first_lines"] == [3])
    #expect(lenient.skipped("bad_hist_id")?["file"] == "train.csv")
    #expect(lenient.log.predefined[.train]?.count == 1)
  }

  @Test func itemIDsMustBeExactlyOneToN() throws {
    let directory = try TemporaryDirectory()
    var files = try Self.writeTinySplit(directory, train: "9,2,1,\"[1]\",3.0,0,\"[5.0]\",\"[1]\",10\n")
    files["items"] = try directory.write("item.csv", ",rawid,title,mapping_iid,iid\n0,A1,One,A1,1\n1,A3,Three,A3,3\n")
    let message = errorMessage { _ = try IngestRun(Self.parameters(""), rawFiles: files) }
    #expect(message.hasPrefix("'item.csv': iid 2 is missing"))
  }
}
