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
}
