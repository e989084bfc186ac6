import CollaborativeFiltering
import Interactions
import PipelineCore
import TestSupport

/// Leave-one-out samples of the real MovieLens 100K ratings (../shared/data/movielens/ml-100k/u.data),
/// built here independently of the prepare stage: per user, ratings sorted by timestamp (ties in file
/// order); the last is the test target, the second to last the valid target, every earlier position
/// with at least one history item a train sample. Train histories are the previous ≤ 50 items; valid
/// and test histories are complete, so history exclusion removes every earlier item from the
/// ranking. Oldest first. Ids are MovieLens's own (users 1...943, items 1...1682, all of them rated).
struct MovieLensSamples {
  static let relativePath = "movielens/ml-100k/u.data"
  /// Of train samples.
  static let maximumHistory = 50

  let userCount: Int
  let itemCount: Int
  let train: SampleSet
  let valid: SampleSet
  let test: SampleSet

  var data: TrainingData { TrainingData(itemCount: itemCount, userCount: userCount, train: train, valid: valid) }

  /// Reads and splits the ratings once per test process.
  static let shared: MovieLensSamples? = try? MovieLensSamples(path: SharedData.path(relativePath))

  init(path: String) throws {
    var events: [[(timestamp: Int64, item: UInt32)]] = []
    var itemCount = 0
    for line in try FileSystem.readText(path).split(separator: "\n") {
      let fields = line.split(separator: "\t")
      guard fields.count == 4, let user = Int(fields[0]), let item = UInt32(fields[1]),
        let timestamp = Int64(fields[3])
      else { continue }
      while events.count < user { events.append([]) }
      events[user - 1].append((timestamp, item))
      itemCount = max(itemCount, Int(item))
    }
    var train = SampleSet()
    var valid = SampleSet()
    var test = SampleSet()
    for (index, userEvents) in events.enumerated() {
      // A stable sort: equal timestamps keep file order.
      let sequence = userEvents.enumerated().sorted {
        ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset)
      }
      .map(\.element)
      let user = UInt32(index + 1)
      func append(_ position: Int, to set: inout SampleSet, maximumHistory: Int = .max) {
        let history = sequence[max(0, position - maximumHistory)..<position].map(\.item)
        set.append(
          user: user, target: sequence[position].item, timestamp: sequence[position].timestamp, history: history)
      }
      let count = sequence.count
      if count >= 1 { append(count - 1, to: &test) }
      if count >= 2 { append(count - 2, to: &valid) }
      if count >= 3 {
        for position in 1..<(count - 2) { append(position, to: &train, maximumHistory: Self.maximumHistory) }
      }
    }
    self.userCount = events.count
    self.itemCount = itemCount
    self.train = train
    self.valid = valid
    self.test = test
  }

  init(userCount: Int, itemCount: Int, train: SampleSet, valid: SampleSet, test: SampleSet) {
    self.userCount = userCount
    self.itemCount = itemCount
    self.train = train
    self.valid = valid
    self.test = test
  }

  /// The same samples restricted to the `limit` items rated by the most users (ties by id),
  /// renumbered 1...limit in that order; samples whose target is dropped are dropped.
  func restricted(toMostPopular limit: Int) -> MovieLensSamples {
    var counts = [Int](repeating: 0, count: itemCount + 1)
    var seen = Set<UInt64>()
    for set in [train, valid, test] {
      for sample in 0..<set.count {
        for item in Array(set.history(sample)) + [set.targets[sample]]
        where seen.insert(UInt64(set.users[sample]) << 32 | UInt64(item)).inserted {
          counts[Int(item)] += 1
        }
      }
    }
    let kept = (1...itemCount).sorted { (counts[$0], -$0) > (counts[$1], -$1) }.prefix(limit)
    var renumber = [UInt32](repeating: 0, count: itemCount + 1)
    for (index, item) in kept.enumerated() { renumber[item] = UInt32(index + 1) }
    func map(_ set: SampleSet) -> SampleSet {
      var result = SampleSet()
      for sample in 0..<set.count where renumber[Int(set.targets[sample])] != 0 {
        result.append(
          user: set.users[sample], target: renumber[Int(set.targets[sample])], timestamp: set.timestamps[sample],
          history: set.history(sample).map { renumber[Int($0)] }.filter { $0 != 0 })
      }
      return result
    }
    return MovieLensSamples(
      userCount: userCount, itemCount: kept.count, train: map(train), valid: map(valid), test: map(test))
  }
}

/// A training environment that evaluates on `valid` with history exclusion and collects log lines.
func makeEnvironment(
  valid: SampleSet, seed: UInt64 = 42, threads: Int = 2, excludeHistory: Bool = true
) -> TrainingEnvironment {
  TrainingEnvironment(
    seed: seed, threads: threads,
    evaluateValid: { scorer in
      RankingEvaluator.evaluate(scorer, samples: valid, excludeHistory: excludeHistory, threads: threads)
    },
    log: { _ in })
}

/// Scores of `samples` under `scorer`, row-major.
func allScores(_ scorer: any Scorer, _ samples: SampleSet) -> [Float] {
  var output = [Float](repeating: .nan, count: samples.count * scorer.itemCount)
  output.withUnsafeMutableBufferPointer { scorer.scores(samples, range: 0..<samples.count, into: $0.baseAddress!) }
  return output
}

/// A sample set from (user, target, history) triples; timestamps are the sample index.
func sampleSet(_ samples: [(user: UInt32, target: UInt32, history: [UInt32])]) -> SampleSet {
  var set = SampleSet()
  for (index, sample) in samples.enumerated() {
    set.append(user: sample.user, target: sample.target, timestamp: Int64(index), history: sample.history)
  }
  return set
}
