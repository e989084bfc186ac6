import LogIngest
import PipelineCore

/// The predefined protocol: the splits a pre-split source came with (the official TCA4Rec CSVs),
/// converted as they are. Item index `i` of the log becomes id `i + 1` and user index `j` id `j + 1`,
/// so the official 1-based ids survive; no filter, k-core or `minimumHistory` applies, samples keep
/// the source's order, and histories keep their `maximumHistory` most recent items.
enum PredefinedSplits {
  static func samples(_ log: InteractionLog, options: PrepareOptions) throws(PipelineError) -> [SplitName: SampleSet] {
    let missing = SplitName.allCases.filter { log.predefined[$0] == nil }.map(\.rawValue)
    if missing.count == SplitName.allCases.count {
      throw .invalidInput(
        "protocol 'predefined' needs the source's own train, valid and test splits, but the interactions log has none "
          + "(it was ingested from an event log); use protocol 'leave-one-out' or 'sliding-window', or ingest a pre-split source"
      )
    }
    if !missing.isEmpty {
      throw .invalidInput(
        "protocol 'predefined' needs the source's train, valid and test splits, but the interactions log lacks "
          + "\(missing.map { "'\($0)'" }.joined(separator: ", ")); ingest the missing split files or use protocol 'leave-one-out' or 'sliding-window'"
      )
    }
    var result: [SplitName: SampleSet] = [:]
    for split in SplitName.allCases {
      let samples = log.predefined[split]!
      var set = SampleSet()
      set.reserveCapacity(samples: samples.count, historyValues: samples.count * min(options.maximumHistory, 16))
      for (index, sample) in samples.enumerated() {
        guard Int(sample.user) < log.users.count else {
          throw outOfRange(split, index, what: "user index \(sample.user)", bound: "\(log.users.count) users")
        }
        guard Int(sample.target) < log.items.count else {
          throw outOfRange(split, index, what: "target item index \(sample.target)", bound: "\(log.items.count) items")
        }
        if let item = sample.history.first(where: { Int($0) >= log.items.count }) {
          throw outOfRange(split, index, what: "history item index \(item)", bound: "\(log.items.count) items")
        }
        set.append(
          user: sample.user + 1, target: sample.target + 1, timestamp: sample.timestamp,
          history: sample.history.suffix(options.maximumHistory).lazy.map { $0 + 1 })
      }
      result[split] = set
    }
    return result
  }

  static func outOfRange(_ split: SplitName, _ index: Int, what: String, bound: String) -> PipelineError {
    .invalidInput(
      "the interactions log's predefined '\(split.rawValue)' sample \(index) names \(what), but there are \(bound); rerun ingest with --force"
    )
  }
}
