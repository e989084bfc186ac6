import LogIngest

/// The sliding-window protocol of the official TCA4Rec and BIGRec preprocessing: every event with at
/// least `minimumHistory` earlier events of its user is a sample (history = the up to
/// `maximumHistory` most recent of them); all samples are ordered by (timestamp, user id, item id,
/// position in the user's sequence) and cut by position: the first `Int(n × trainRatio)` are train,
/// the next `Int(n × validRatio)` valid, the rest test.
///
/// The official code (`partition` in `utils/preprocess_utils.py`) takes `int(n * 0.8)` train samples
/// and `n // 10` valid ones; `Int(n × 0.1)` equals `n / 10` for every `n`, because the double nearest
/// 0.1 is slightly above it. The official values are `minimumHistory` = `maximumHistory` = 10.
enum SlidingWindow {
  /// One sample: its user, target and timestamp, and where its target sits in the sequences.
  struct Candidate {
    var timestamp: Int64
    var user: UInt32
    var item: UInt32
    /// Index of the event in the sequences' arrays (user-major, time order within a user).
    var event: Int32
  }

  /// The samples in split order, and the ranges of train, valid and test in them.
  typealias Ordered = (candidates: [Candidate], splits: [(SplitName, Range<Int>)])

  /// Every sample in split order, and the ranges of train, valid and test in it; `threads` threads
  /// sort them (the order does not depend on it).
  ///
  /// - Complexity: `TimeKeyOrder.order`'s cost for the samples.
  static func ordered(_ sequences: UserSequences, options: PrepareOptions, threads: Int) -> Ordered {
    var candidates: [Candidate] = []
    candidates.reserveCapacity(sequences.eventCount)
    for user in 0..<sequences.userCount {
      let start = sequences.offsets[user]
      let end = sequences.offsets[user + 1]
      guard start + options.minimumHistory < end else { continue }
      for event in (start + options.minimumHistory)..<end {
        candidates.append(
          Candidate(
            timestamp: sequences.timestamps[event], user: UInt32(user + 1), item: sequences.items[event],
            event: Int32(event)))
      }
    }
    // The candidates are in event order, so sorting by (timestamp, user, item, position) sorts them
    // by (timestamp, user, item, event).
    let itemLimit = UInt64(sequences.itemCount + 1)
    let order = TimeKeyOrder.order(
      times: candidates.map(\.timestamp), keys: candidates.map { UInt64($0.user) * itemLimit + UInt64($0.item) },
      threads: threads)
    candidates = order.map { [candidates] position in candidates[Int(position)] }
    let count = candidates.count
    let trainCount = min(count, Int(Double(count) * options.trainRatio))
    let validCount = min(count - trainCount, Int(Double(count) * options.validRatio))
    return (
      candidates,
      [
        (.train, 0..<trainCount), (.valid, trainCount..<(trainCount + validCount)),
        (.test, (trainCount + validCount)..<count),
      ]
    )
  }

  /// The first position of sample `candidate`'s history in the sequences' arrays.
  static func historyStart(_ candidate: Candidate, _ sequences: UserSequences, options: PrepareOptions) -> Int {
    max(sequences.offsets[Int(candidate.user) - 1], Int(candidate.event) - options.maximumHistory)
  }

  /// The samples of each split, from `ordered(_:options:threads:)`.
  ///
  /// - Complexity: O(samples × `maximumHistory`) for copying histories.
  static func samples(_ sequences: UserSequences, _ ordered: Ordered, options: PrepareOptions) -> [SplitName: SampleSet]
  {
    let (candidates, splits) = ordered
    var result: [SplitName: SampleSet] = [:]
    for (split, range) in splits {
      var set = SampleSet()
      set.reserveCapacity(samples: range.count, historyValues: range.count * min(options.maximumHistory, 16))
      for candidate in candidates[range] {
        let event = Int(candidate.event)
        set.append(
          user: candidate.user, target: candidate.item, timestamp: candidate.timestamp,
          history: sequences.items[historyStart(candidate, sequences, options: options)..<event])
      }
      result[split] = set
    }
    return result
  }
}
