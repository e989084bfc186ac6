import ArtifactFormats
import LogIngest
import PipelineCore
import Testing

/// The seeded synthetic Amazon-2018-style log: deterministic, and with the properties it promises.
@Suite struct SyntheticIngestTests {
  static let parameters: [String: JSONValue] = ["source": "synthetic"]

  @Test func sameSeedGivesByteIdenticalFiles() throws {
    let first = try IngestRun(Self.parameters)
    let second = try IngestRun(Self.parameters)
    let files = try first.outputBytes()
    #expect(Set(files.keys) == Set(IngestStage.declaredOutputs))
    #expect(files == (try second.outputBytes()))
    try first.validate()
  }

  @Test func differentSeedGivesDifferentData() throws {
    var parameters = Self.parameters
    parameters["seed"] = 18
    let first = try IngestRun(Self.parameters)
    let second = try IngestRun(parameters)
    let (a, b) = (try first.outputBytes(), try second.outputBytes())
    for name in ["items.jsonl", "users.jsonl", "events.item.npy", "events.timestamp.npy"] {
      #expect(a[name] != b[name], "\(name) should differ")
    }
  }

  @Test func defaultsGiveTheStatedShape() throws {
    let run = try IngestRun(Self.parameters)
    let log = run.log
    #expect(log.users.count == 2000)
    #expect(log.items.count == 800)
    #expect(run.report["source"] == "synthetic")
    let mean = Double(log.eventCount) / Double(log.users.count)
    #expect(mean > 10 && mean < 14, "mean history length \(mean) should be near 12")

    // Every user has at least 5 events, in strictly increasing time inside 2014…2018.
    var counts = [Int](repeating: 0, count: log.users.count)
    var lastTime = [Int64](repeating: .min, count: log.users.count)
    for index in 0..<log.eventCount {
      let user = Int(log.eventUser[index])
      counts[user] += 1
      #expect(log.eventTime[index] > lastTime[user])
      lastTime[user] = log.eventTime[index]
      #expect(log.eventTime[index] >= 1_388_534_400 && log.eventTime[index] < 1_546_300_800)
    }
    #expect(counts.min()! >= 5)

    // Long tail: the top 10 % of items get more than 30 % of the events.
    var popularity = [Int](repeating: 0, count: log.items.count)
    for item in log.eventItem { popularity[Int(item)] += 1 }
    let top = popularity.sorted(by: >).prefix(log.items.count / 10).reduce(0, +)
    #expect(Double(top) / Double(log.eventCount) > 0.3, "top 10 % share \(Double(top) / Double(log.eventCount))")

    // Ratings 1–5, skewed high.
    #expect(log.eventRating.allSatisfy { (1...5).contains($0) && $0.rounded() == $0 })
    let meanRating = log.eventRating.reduce(0, +) / Float(log.eventCount)
    #expect(meanRating > 3.8)
  }

  @Test func titlesAndIDsLookReal() throws {
    let log = SyntheticReviewGenerator(users: 300, items: 500, seed: 3).generate()
    for item in log.items {
      let title = try #require(item.title)
      let words = title.split(separator: " ").count
      #expect((4...14).contains(words), "'\(title)' has \(words) words")
      #expect(item.rawID.count == 10 && item.rawID.hasPrefix("B0"))
      #expect(item.rawID.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) })
      #expect(item.metadata["brand"]?.stringValue.map { title.hasPrefix($0) } == true)
      #expect(item.metadata["categories"]?.arrayValue?.count == 2)
    }
    #expect(Set(log.items.map(\.rawID)).count == log.items.count)
    for user in log.users {
      #expect(user.count == 14 && user.hasPrefix("A"))
    }
    #expect(Set(log.users).count == log.users.count)
    // Titles share prefixes: far fewer distinct three-word prefixes than titles.
    let prefixes = Set(log.items.map { $0.title!.split(separator: " ").prefix(3).joined(separator: " ") })
    #expect(prefixes.count * 2 < log.items.count)
  }

  @Test func consecutiveItemsFollowPlantedProductLines() throws {
    let log = SyntheticReviewGenerator(users: 1000, items: 400, seed: 5).generate()
    // The brand opens the title; consecutive reviews of one user share it far more often than chance.
    func brand(_ item: UInt32) -> String { log.items[Int(item)].metadata["brand"]!.stringValue! }
    var same = 0
    var pairs = 0
    for index in 1..<log.eventCount where log.eventUser[index] == log.eventUser[index - 1] {
      pairs += 1
      if brand(log.eventItem[index]) == brand(log.eventItem[index - 1]) { same += 1 }
    }
    #expect(Double(same) / Double(pairs) > 0.5, "same-brand share \(Double(same) / Double(pairs))")
  }

  @Test func rendersAmazon2018ReviewLines() throws {
    let log = SyntheticReviewGenerator(users: 20, items: 50, seed: 9).generate()
    let lines = SyntheticReviewGenerator.renderAmazon2018Reviews(log)
    #expect(lines.count == log.eventCount)
    for (index, line) in lines.enumerated() {
      let json = try JSONParser.parse(line)
      #expect(json["reviewerID"]?.stringValue == log.users[Int(log.eventUser[index])])
      #expect(json["asin"]?.stringValue == log.items[Int(log.eventItem[index])].rawID)
      #expect(json["overall"]?.numberValue == Double(log.eventRating[index]))
      #expect(json["unixReviewTime"]?.integerValue == log.eventTime[index])
      #expect(json["reviewText"]?.stringValue?.isEmpty == false)
    }
    #expect(lines[0].hasPrefix("{\"overall\": "))
    let metadata = SyntheticReviewGenerator.renderAmazon2018Metadata(log)
    #expect(metadata.count == log.items.count)
    #expect(try JSONParser.parse(metadata[0])["title"]?.stringValue == log.items[0].title)
  }
}
