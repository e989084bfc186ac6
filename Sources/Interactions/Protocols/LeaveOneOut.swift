import LogIngest

/// The leave-one-out protocol: per user, in time order, the last event is a test sample, the
/// second-to-last a valid sample, and every earlier one a train sample.
///
/// Position `p` (0-based) of a user with `n` events is a sample only when `p >= minimumHistory`;
/// its history is the up to `maximumHistory` items at positions before `p`. With the default
/// `minimumHistory` of 1, a user with `n >= 3` events gives one test, one valid and `n - 3` train
/// samples, a user with 2 events one test sample, and a user with 1 event none.
/// Each split is ordered by user id, then position.
enum LeaveOneOut {
  /// - Complexity: O(events × `maximumHistory`) for copying histories.
  static func samples(_ sequences: UserSequences, options: PrepareOptions) -> [SplitName: SampleSet] {
    var train = SampleSet()
    var valid = SampleSet()
    var test = SampleSet()
    valid.reserveCapacity(samples: sequences.userCount, historyValues: sequences.userCount * options.maximumHistory)
    test.reserveCapacity(samples: sequences.userCount, historyValues: sequences.userCount * options.maximumHistory)
    for user in 0..<sequences.userCount {
      let start = sequences.offsets[user]
      let end = sequences.offsets[user + 1]
      let count = end - start
      guard options.minimumHistory < count else { continue }
      for position in options.minimumHistory..<count {
        let event = start + position
        let history = sequences.items[max(start, event - options.maximumHistory)..<event]
        let id = UInt32(user + 1)
        let target = sequences.items[event]
        let timestamp = sequences.timestamps[event]
        if position == count - 1 {
          test.append(user: id, target: target, timestamp: timestamp, history: history)
        } else if position == count - 2 {
          valid.append(user: id, target: target, timestamp: timestamp, history: history)
        } else {
          train.append(user: id, target: target, timestamp: timestamp, history: history)
        }
      }
    }
    return [.train: train, .valid: valid, .test: test]
  }
}
