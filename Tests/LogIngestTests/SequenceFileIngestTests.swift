import ArtifactFormats
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// Amazon Beauty as P5 sequences joined to titles, from ../shared/data/amazon-beauty-processed.
@Suite struct SequenceFileIngestTests {
  static let sequences = "amazon-beauty-processed/p5-Wenyueh-LLM-RecSys-ID/sequential_data.txt"
  static let parameters: [String: JSONValue] = [
    "source": "sequence-file",
    "path": "amazon-beauty-processed",
    "sequence_file": "p5-Wenyueh-LLM-RecSys-ID/sequential_data.txt",
    "datamaps_file": "p5-Wenyueh-LLM-RecSys-ID/datamaps.json",
    "item_map_file": "dh-r-LLM-Sequential-Recommendation/item_id_to_int.json",
    "title_file": "dh-r-LLM-Sequential-Recommendation/products_lookup.csv",
  ]

  @Test func rawFilesJoinThePathAndEachFile() throws {
    let resolved = try IngestStage.resolveParameters(Self.parameters, entry: "ingest", file: "test")
    #expect(
      try IngestStage.rawFiles(resolved) == [
        "sequences": "amazon-beauty-processed/p5-Wenyueh-LLM-RecSys-ID/sequential_data.txt",
        "datamaps": "amazon-beauty-processed/p5-Wenyueh-LLM-RecSys-ID/datamaps.json",
        "item_map": "amazon-beauty-processed/dh-r-LLM-Sequential-Recommendation/item_id_to_int.json",
        "titles": "amazon-beauty-processed/dh-r-LLM-Sequential-Recommendation/products_lookup.csv",
      ])
  }

  @Test(.enabled(if: SharedData.shouldRun(sequences), "needs ../shared/data/amazon-beauty-processed"))
  func beautyCountsMatchTheDatasetAndAnIndependentCount() throws {
    guard SharedData.available(Self.sequences) else { return }
    let run = try IngestRun(Self.parameters)
    print("ingest: Beauty sequences in \(formatFixed(run.seconds, digits: 3)) s")
    #expect(run.log.users.count == 22_363)
    #expect(run.log.items.count == 12_101)
    #expect(run.log.eventCount == 198_502)
    #expect(run.report["time"] == "sequence position")
    #expect(run.metrics["skipped_lines"] == 0)

    // The oracle: plain Swift splitting of the sequence file (its lines end in CRLF, one grapheme
    // for `String.split`, so split the scalars).
    var users = 0
    var events = 0
    var items: Set<Substring> = []
    let text = try FileSystem.readText(SharedData.path(Self.sequences))
    for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
      let fields = line.split(separator: " ")
      users += 1
      events += fields.count - 1
      items.formUnion(fields.dropFirst())
    }
    #expect(users == run.log.users.count)
    #expect(events == run.log.eventCount)
    #expect(items.count == run.log.items.count)
    // Line 1 is "1 1 2 3 4 5": P5 items 1…5 are item indices 0…4, at positions 0…4.
    #expect(Array(run.log.eventItem[0..<5]) == [0, 1, 2, 3, 4])
    #expect(Array(run.log.eventTime[0..<6]) == [0, 1, 2, 3, 4, 0])
    #expect(run.log.users[0] == "A1YJEY40YUW4SE")
    #expect(run.log.items[0].rawID == "B004756YJA")
    #expect(run.log.items[0].metadata["p5_id"] == 1)
    #expect(run.log.eventRating.allSatisfy { $0.isNaN })
    try run.validate()
  }

  @Test(.enabled(if: SharedData.shouldRun(sequences), "needs ../shared/data/amazon-beauty-processed"))
  func everyBeautyItemGetsATitleWithTheSevenEmptyNamesFallingBackToTheirASIN() throws {
    guard SharedData.available(Self.sequences) else { return }
    let run = try IngestRun(Self.parameters)
    // products_lookup.csv has a row for every item; 7 rows have an empty name: those items are titled
    // by their ASIN and marked, so every one of the 12,101 items has a title.
    #expect(run.log.items.allSatisfy { $0.title.map { !$0.isEmpty } ?? false })
    let fallback = run.log.items.filter { $0.metadata["title_fallback"] == "raw_id" }
    #expect(fallback.count == 7)
    #expect(fallback.allSatisfy { $0.title == $0.rawID })
    #expect(run.report["empty_titles"]?["count"] == 7)
    #expect(
      run.report["empty_titles"]?["raw_ids"]?.arrayValue?.compactMap(\.stringValue).sorted()
        == fallback.map(\.rawID).sorted())
    #expect(run.report["items_with_title"] == 12_101)

    var strict = Self.parameters
    strict["empty_title"] = "error"
    #expect { _ = try IngestRun(strict) } throws: { "\($0)".contains("has an empty name") }
    var none = Self.parameters
    none["empty_title"] = "none"
    #expect(try IngestRun(none).log.items.filter { $0.title == nil }.count == 7)
  }

  /// A tiny P5-style directory with three items and two users.
  static func writeTiny(_ directory: TemporaryDirectory, sequences: String, titles: String? = nil) throws -> [String:
    String]
  {
    [
      "sequences": try directory.write("sequential_data.txt", sequences),
      "datamaps": try directory.write(
        "datamaps.json",
        #"{"id2item": {"2": "B2", "1": "B1", "10": "B10"}, "id2user": {"1": "AU1"}, "item2id": {}}"#),
      "item_map": try directory.write("item_id_to_int.json", #"{"B1": 7, "B2": 8, "B10": 9}"#),
      "titles": try directory.write(
        "products_lookup.csv", titles ?? ",global_product_id,name\n0,7,\"Cream, 50 ml\"\n1,8,Soap\n2,9,Brush\n"),
    ]
  }

  @Test func itemsFollowTheP5IndexAndTimesAreSequencePositions() throws {
    let directory = try TemporaryDirectory()
    let files = try Self.writeTiny(directory, sequences: "1 10 1\n2 2 10 1\n")
    let run = try IngestRun(["source": "sequence-file"], rawFiles: files)
    #expect(run.log.items.map(\.rawID) == ["B1", "B2", "B10"])
    #expect(run.log.items.map(\.title) == ["Cream, 50 ml", "Soap", "Brush"])
    #expect(run.log.users == ["AU1", "2"], "reviewer id from id2user, else the P5 index")
    #expect(run.log.eventItem == [2, 0, 1, 2, 0])
    #expect(run.log.eventTime == [0, 1, 0, 1, 2])
  }

  @Test func anItemWithoutATitleRowIsAnErrorNamingItsASIN() throws {
    let directory = try TemporaryDirectory()
    let files = try Self.writeTiny(
      directory, sequences: "1 1 2\n", titles: ",global_product_id,name\n0,7,Cream\n1,8,Soap\n")
    let message = errorMessage { _ = try IngestRun(["source": "sequence-file"], rawFiles: files) }
    #expect(message.hasPrefix("item 'B10' has no title: 'products_lookup.csv' has no row for product id 9"))
  }

  @Test func anUnknownItemIndexSkipsTheLine() throws {
    let directory = try TemporaryDirectory()
    let files = try Self.writeTiny(directory, sequences: "1 1 2\n2 1 99\n3 2 1\n")
    let run = try IngestRun(["source": "sequence-file"], rawFiles: files)
    #expect(run.log.users.count == 2)
    #expect(run.skipped("unknown_item")?["first_lines"] == [2])
  }
}
