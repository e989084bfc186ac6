import CollaborativeFiltering
import Interactions
import PipelineCore
import TestSupport

/// Small real datasets for the neural trainers, split leave-one-out: per user in time order, the last
/// item is the test target, the one before it the valid target, and every earlier item with at
/// least one item before it a train sample.
enum NeuralTestData {
  static let movieLens = "movielens/ml-100k/u.data"
  static let beauty = "amazon-beauty-processed/p5-Wenyueh-LLM-RecSys-ID/sequential_data.txt"

  struct Split {
    var data: TrainingData
    var test: SampleSet
  }

  /// Leave-one-out over per-user sequences (index = user id − 1), each cut to its last
  /// `lastPerUser` items when given.
  static func leaveOneOut(_ sequences: [[UInt32]], itemCount: Int, lastPerUser: Int? = nil) -> Split {
    var train = SampleSet()
    var valid = SampleSet()
    var test = SampleSet()
    for (index, full) in sequences.enumerated() {
      let sequence = lastPerUser.map { Array(full.suffix($0)) } ?? full
      let user = UInt32(index + 1)
      guard sequence.count >= 3 else { continue }
      let count = sequence.count
      for position in 1..<(count - 2) {
        train.append(user: user, target: sequence[position], timestamp: 0, history: sequence[..<position])
      }
      valid.append(user: user, target: sequence[count - 2], timestamp: 0, history: sequence[..<(count - 2)])
      test.append(user: user, target: sequence[count - 1], timestamp: 0, history: sequence[..<(count - 1)])
    }
    return Split(
      data: TrainingData(itemCount: itemCount, userCount: sequences.count, train: train, valid: valid), test: test)
  }

  /// ml-100k (943 users, 1,682 items): each user's ratings by timestamp (ties in file order),
  /// parsed once per test process.
  static func movieLensSequences() throws -> [[UInt32]] { try parsedMovieLens.get() }

  private static let parsedMovieLens = Result { try parseMovieLens() }

  private static func parseMovieLens() throws -> [[UInt32]] {
    let text = try FileSystem.readText(SharedData.path(movieLens))
    var events: [[(timestamp: Int, order: Int, item: UInt32)]] = Array(repeating: [], count: 943)
    for (order, line) in text.split(whereSeparator: \.isNewline).enumerated() {
      let fields = line.split(separator: "\t")
      guard fields.count == 4, let user = Int(fields[0]), let item = UInt32(fields[1]),
        let timestamp = Int(fields[3])
      else { continue }
      events[user - 1].append((timestamp, order, item))
    }
    return events.map { userEvents in
      userEvents.sorted { ($0.timestamp, $0.order) < ($1.timestamp, $1.order) }.map(\.item)
    }
  }

  /// Amazon Beauty 5-core (P5 processing: 22,363 users, 12,101 items, already in time order).
  static func beautySequences() throws -> [[UInt32]] {
    let text = try FileSystem.readText(SharedData.path(beauty))
    // The file has CRLF line ends (one Character "\r\n" in Swift).
    return text.split(whereSeparator: \.isNewline).map { line in
      line.split(separator: " ").dropFirst().compactMap { UInt32($0) }
    }
  }

  /// An environment that evaluates on `valid` (full ranking, history not excluded) and logs nothing
  /// unless `log`.
  static func environment(seed: UInt64, threads: Int, valid: SampleSet, log: Bool = false) -> TrainingEnvironment {
    TrainingEnvironment(
      seed: seed, threads: threads,
      evaluateValid: { RankingEvaluator.evaluate($0, samples: valid, excludeHistory: false, threads: threads) },
      log: { line in if log { print(line) } })
  }
}
