import ArtifactFormats
import LogIngest
import PipelineCore

/// `report.json` of the `samples` artifact: counts after every step, sample counts, and the rules that
/// fixed ids and ties, so a reader can tell exactly how the samples were made.
public struct PrepareReport: Equatable, Sendable {
  /// The users, items and events left after one step (`input`, `min_rating`, `deduplicate`,
  /// `k-core pass N`, `final`).
  public struct Step: Equatable, Sendable {
    public var name: String
    public var users: Int
    public var items: Int
    public var events: Int

    public init(name: String, users: Int, items: Int, events: Int) {
      self.name = name
      self.users = users
      self.items = items
      self.events = events
    }

    public var json: JSONValue {
      ["step": .string(name), "users": JSONValue(users), "items": JSONValue(items), "events": JSONValue(events)]
    }

    /// "12 users, 30 items, 50 events", for messages.
    public var counts: String {
      func counted(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
      return "\(counted(users, "user")), \(counted(items, "item")), \(counted(events, "event"))"
    }
  }

  public var sampleProtocol: PrepareOptions.SampleProtocol
  public var steps: [Step] = []
  public var sampleCounts: [SplitName: Int] = [:]
  public var idOrder: String
  public var tieRule: String
  /// Per split with samples: the shortest, mean and longest history.
  public var historyLengths: [SplitName: HistoryLengths] = [:]
  /// How many interactions each user and each item has in the final events (after every filter).
  public var userDegrees = DegreeHistogram(bins: [])
  public var itemDegrees = DegreeHistogram(bins: [])

  /// History length statistics of one split.
  public struct HistoryLengths: Equatable, Sendable {
    public var minimum: Int
    public var mean: Double
    public var maximum: Int
  }

  public init(sampleProtocol: PrepareOptions.SampleProtocol, idOrder: String, tieRule: String) {
    self.sampleProtocol = sampleProtocol
    self.idOrder = idOrder
    self.tieRule = tieRule
  }

  /// Fills the sample counts and history statistics from the final samples.
  mutating func summarize(_ samples: PreparedSamples) {
    for split in SplitName.allCases {
      let set = samples[split]
      sampleCounts[split] = set.count
      guard !set.isEmpty else {
        historyLengths[split] = nil
        continue
      }
      var minimum = Int.max
      var maximum = 0
      for index in 0..<set.count {
        let length = set.historyLength(index)
        minimum = min(minimum, length)
        maximum = max(maximum, length)
      }
      historyLengths[split] = HistoryLengths(
        minimum: minimum, mean: Double(set.historyValues.count) / Double(set.count), maximum: maximum)
    }
  }

  public var json: JSONValue {
    var samples: [String: JSONValue] = [:]
    var lengths: [String: JSONValue] = [:]
    for split in SplitName.allCases {
      samples[split.rawValue] = JSONValue(sampleCounts[split] ?? 0)
      if let statistics = historyLengths[split] {
        lengths[split.rawValue] = [
          "min": JSONValue(statistics.minimum), "mean": JSONValue(statistics.mean),
          "max": JSONValue(statistics.maximum),
        ]
      } else {
        lengths[split.rawValue] = ["min": nil, "mean": nil, "max": nil]
      }
    }
    return [
      "protocol": .string(sampleProtocol.rawValue),
      "steps": .array(steps.map(\.json)),
      "samples": .object(samples),
      "id_order": .string(idOrder),
      "tie_rule": .string(tieRule),
      "history_length": .object(lengths),
      "degrees": ["users": userDegrees.json, "items": itemDegrees.json],
    ]
  }
}
