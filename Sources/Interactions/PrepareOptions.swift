import ArtifactFormats
import LogIngest
import PipelineCore

/// What `prepare` does: filters, de-duplication, k-core thresholds, the sample protocol and its limits.
///
/// The defaults are the stage's parameter defaults. Build it from resolved stage parameters with
/// `init(_:)`, or directly in code and tests.
public struct PrepareOptions: Equatable, Sendable {
  /// How samples are cut from the event log (see the module README for the exact rules).
  public enum SampleProtocol: String, CaseIterable, Sendable {
    /// Per user: last event → test, second-to-last → valid, earlier ones → train.
    case leaveOneOut = "leave-one-out"
    /// Every event with enough history is a sample; samples in global time order split by ratio.
    case slidingWindow = "sliding-window"
    /// The splits the source came with, ids kept as the source numbers them.
    case predefined
  }

  /// Which occurrences of a repeated (user, item) pair to keep.
  public enum Deduplication: String, CaseIterable, Sendable {
    case none, first, last
  }

  public var sampleProtocol: SampleProtocol = .leaveOneOut
  /// Users with fewer events are removed, repeatedly, together with `itemKCore`; 0 disables.
  public var userKCore = 5
  /// Items with fewer events are removed, repeatedly, together with `userKCore`; 0 disables.
  public var itemKCore = 5
  public var deduplication: Deduplication = .none
  /// Events rated below this are dropped; events without a rating (NaN) are kept.
  public var minimumRating = 0.0
  /// A history keeps at most this many of the most recent earlier items.
  public var maximumHistory = 50
  /// A sample needs at least this many earlier items of its user (event protocols only).
  public var minimumHistory = 1
  /// Sliding window: the first `Int(n * trainRatio)` samples are train.
  public var trainRatio = 0.8
  /// Sliding window: the next `Int(n * validRatio)` samples are valid; test gets the rest.
  public var validRatio = 0.1
  /// Per split, how many samples to keep by seeded sampling; 0 (or at least the split's size) keeps all.
  public var downsample: [SplitName: Int] = [.train: 0, .valid: 0, .test: 0]
  public var seed: Int64 = 42

  public init() {}

  /// Reads the options from resolved stage parameters; an inconsistent combination is a usage error.
  public init(_ parameters: StageParameters) throws(PipelineError) {
    let protocolName = try parameters.string("protocol")
    guard let sampleProtocol = SampleProtocol(rawValue: protocolName) else {
      let names = SampleProtocol.allCases.map(\.rawValue).joined(separator: ", ")
      throw .usage("stage '\(parameters.stage)': parameter 'protocol' must be one of \(names), found '\(protocolName)'")
    }
    self.sampleProtocol = sampleProtocol
    let policy = try parameters.string("deduplicate")
    guard let deduplication = Deduplication(rawValue: policy) else {
      throw .usage(
        "stage '\(parameters.stage)': parameter 'deduplicate' must be one of none, first, last, found '\(policy)'")
    }
    self.deduplication = deduplication
    userKCore = try parameters.integer("user_k_core")
    itemKCore = try parameters.integer("item_k_core")
    minimumRating = try parameters.number("min_rating")
    maximumHistory = try parameters.integer("max_history")
    minimumHistory = try parameters.integer("min_history")
    trainRatio = try parameters.number("train_ratio")
    validRatio = try parameters.number("valid_ratio")
    for split in SplitName.allCases {
      downsample[split] = try parameters.integer("downsample_\(split.rawValue)")
    }
    seed = Int64(try parameters.integer("seed"))
    try check(stage: parameters.stage)
  }

  /// Rejects values no run can use; errors name the parameter.
  public func check(stage: String = "prepare") throws(PipelineError) {
    func bad(_ name: String, _ problem: String) -> PipelineError {
      .usage("stage '\(stage)': parameter '\(name)' \(problem)")
    }
    if userKCore < 0 { throw bad("user_k_core", "must be at least 0, found \(userKCore)") }
    if itemKCore < 0 { throw bad("item_k_core", "must be at least 0, found \(itemKCore)") }
    if maximumHistory < 1 { throw bad("max_history", "must be at least 1, found \(maximumHistory)") }
    if minimumHistory < 0 { throw bad("min_history", "must be at least 0, found \(minimumHistory)") }
    if minimumRating.isNaN { throw bad("min_rating", "must be a number, found NaN") }
    if !(0...1).contains(trainRatio) { throw bad("train_ratio", "must be between 0 and 1, found \(trainRatio)") }
    if !(0...1).contains(validRatio) { throw bad("valid_ratio", "must be between 0 and 1, found \(validRatio)") }
    if trainRatio + validRatio > 1 + 1e-12 {
      throw bad(
        "valid_ratio", "plus train_ratio must be at most 1, found \(trainRatio) + \(validRatio); lower one of them")
    }
    for split in SplitName.allCases where (downsample[split] ?? 0) < 0 {
      throw bad("downsample_\(split.rawValue)", "must be at least 0, found \(downsample[split]!)")
    }
  }
}
