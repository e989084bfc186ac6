import ArtifactFormats
import Interactions
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// MovieLens 100K (`u.data`: user, item, rating, timestamp, tab-separated), read here directly so the
/// test does not depend on the ingest stage: 943 users, 1,682 items, 100,000 ratings, every user with
/// at least 20. Expected counts were checked with an independent Python k-core.
@Suite struct MovieLensTests {
  static let ratings = "movielens/ml-100k/u.data"

  func readLog() throws -> InteractionLog {
    var builder = LogBuilder()
    let text = try FileSystem.readText(SharedData.path(Self.ratings))
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: "\t")
      guard fields.count == 4, let rating = Float(fields[2]), let time = Int64(fields[3]) else {
        Issue.record("malformed line in u.data: \(line)")
        continue
      }
      builder.add(String(fields[0]), String(fields[1]), time, rating: rating)
    }
    return builder.log
  }

  @Test(.enabled(if: SharedData.shouldRun(ratings), "needs ../shared/data/movielens/ml-100k/u.data"))
  func leaveOneOutWithFiveCoreOnMovieLens100K() throws {
    guard SharedData.available(Self.ratings) else { return }
    let log = try readLog()
    #expect(log.eventCount == 100_000)
    let start = monotonicSeconds()
    let output = try PrepareStage.prepare(log, options: PrepareOptions())
    let seconds = monotonicSeconds() - start
    print("prepare: ml-100k leave-one-out with 5-core in \(formatFixed(seconds, digits: 3)) s")
    // 333 items have fewer than 5 ratings; removing them leaves every user above 5, so one pass.
    #expect(
      output.report.steps.map { "\($0.name): \($0.counts)" } == [
        "input: 943 users, 1682 items, 100000 events",
        "min_rating: 943 users, 1682 items, 100000 events",
        "deduplicate: 943 users, 1682 items, 100000 events",
        "k-core pass 1: 943 users, 1349 items, 99287 events",
        "final: 943 users, 1349 items, 99287 events",
      ])
    #expect(output.samples[.test].count == 943)
    #expect(output.samples[.valid].count == 943)
    #expect(output.samples[.train].count == 99_287 - 3 * 943)
  }

  @Test(.enabled(if: SharedData.shouldRun(ratings), "needs ../shared/data/movielens/ml-100k/u.data"))
  func leaveOneOutWithoutItemCoreKeepsEveryRating() throws {
    guard SharedData.available(Self.ratings) else { return }
    let log = try readLog()
    var options = PrepareOptions()
    options.itemKCore = 0
    var output = try PrepareStage.prepare(log, options: options)
    #expect(output.samples.users.count == 943)
    #expect(output.samples.items.count == 1682)
    #expect(output.samples[.test].count == 943)
    #expect(output.samples[.valid].count == 943)
    // min_history 1: each user's first rating has no history, so n − 3 train samples per user.
    #expect(output.samples[.train].count == 100_000 - 3 * 943)
    options.minimumHistory = 0
    output = try PrepareStage.prepare(log, options: options)
    #expect(output.samples[.train].count == 100_000 - 2 * 943)
    #expect(output.report.historyLengths[.train]?.minimum == 0)
    #expect(output.report.historyLengths[.test]?.maximum == 50)
  }

  /// The degree histograms of `report.json` against an independent count: under leave-one-out with
  /// `min_history` 1, a user's events are their first item (the one-item history of their earliest
  /// sample) plus one target per sample, in whichever split.
  @Test(.enabled(if: SharedData.shouldRun(ratings), "needs ../shared/data/movielens/ml-100k/u.data"))
  func degreeHistogramsCountEveryFinalEventOnceByUserAndByItem() throws {
    guard SharedData.available(Self.ratings) else { return }
    let output = try PrepareStage.prepare(try readLog(), options: PrepareOptions())
    let report = output.report
    let finalEvents = report.steps.last!.events
    #expect(finalEvents == 99_287)
    #expect(report.userDegrees.interactions == finalEvents)
    #expect(report.itemDegrees.interactions == finalEvents)
    #expect(report.userDegrees.entities == output.samples.users.count)
    #expect(report.itemDegrees.entities == output.samples.items.count)
    // 5-core: nobody below 5; ascending degrees.
    #expect(report.userDegrees.bins.first!.degree >= 5)
    #expect(report.itemDegrees.bins.first!.degree >= 5)
    #expect(zip(report.itemDegrees.bins, report.itemDegrees.bins.dropFirst()).allSatisfy { $0.degree < $1.degree })

    var userEvents = [Int](repeating: 0, count: output.samples.users.count + 1)
    var itemEvents = [Int](repeating: 0, count: output.samples.items.count + 1)
    for split in SplitName.allCases {
      let set = output.samples[split]
      for index in 0..<set.count {
        userEvents[Int(set.users[index])] += 1
        itemEvents[Int(set.targets[index])] += 1
        if split == .train && set.historyLength(index) == 1 {
          userEvents[Int(set.users[index])] += 1
          itemEvents[Int(set.history(index).first!)] += 1
        }
      }
    }
    #expect(report.userDegrees == DegreeHistogram(degrees: userEvents))
    #expect(report.itemDegrees == DegreeHistogram(degrees: itemEvents))
    let json = report.json["degrees"]
    #expect(json?["users"]?.arrayValue?.count == report.userDegrees.bins.count)
    #expect(
      json?["items"]?.arrayValue?.first == [
        JSONValue(report.itemDegrees.bins[0].degree), JSONValue(report.itemDegrees.bins[0].count),
      ])
  }
}
