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

  /// How events with equal timestamps are ordered.
  public enum TieBreak: String, CaseIterable, Sendable {
    /// By their position in the source log.
    case source
    /// As the official TCA4Rec preprocessing: ids are numbered in (timestamp, raw user id, raw item
    /// id, source position) order, then each user's sequence is (timestamp, item id, that order).
    case tca4rec
  }

  /// How `downsample_*` chooses samples.
  public enum DownsampleMethod: String, CaseIterable, Sendable {
    /// Our seeded partial Fisher–Yates; the chosen samples keep their original order.
    case seeded
    /// pandas' `DataFrame.sample(k, random_state=seed)` (NumPy's legacy `RandomState`), every split
    /// with the same seed, samples in drawn order: the official `train_10000.csv` and friends.
    case numpy
  }

  /// Extra files the stage writes beside the samples.
  public enum Export: String, CaseIterable, Sendable {
    case none
    /// The official TCA4Rec CSV layout in `tca4rec/` (`TCA4RecExport`).
    case tca4recCSV = "tca4rec-csv"
  }

  public var sampleProtocol: SampleProtocol = .leaveOneOut
  /// Keeps events later than the last event's timestamp minus this many 30-day months; 0 keeps all.
  public var windowMonths = 0
  public var tieBreak: TieBreak = .source
  public var downsampleMethod: DownsampleMethod = .seeded
  public var export: Export = .none
  /// The sizes of the exported `train_<a>.csv`, `valid_<b>.csv`, `test_<c>.csv` samples.
  public var exportSamples = [10_000, 5_000, 5_000]
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
    windowMonths = try parameters.optionalInteger("window_months") ?? 0
    func choice<Value: RawRepresentable<String>>(_ name: String, _ fallback: Value) throws(PipelineError) -> Value {
      guard let text = try parameters.optionalString(name) else { return fallback }
      guard let value = Value(rawValue: text) else {
        throw .usage("stage '\(parameters.stage)': parameter '\(name)' has no value '\(text)'")
      }
      return value
    }
    tieBreak = try choice("tie_break", TieBreak.source)
    downsampleMethod = try choice("downsample_method", DownsampleMethod.seeded)
    export = try choice("export", Export.none)
    let samples = try parameters.integerList("export_samples")
    if !samples.isEmpty { exportSamples = samples }
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
    if windowMonths < 0 { throw bad("window_months", "must be at least 0, found \(windowMonths)") }
    if exportSamples.count != 3 || exportSamples.contains(where: { $0 < 1 }) {
      throw bad("export_samples", "must list three sizes of at least 1 (train, valid, test), found \(exportSamples)")
    }
    if (downsampleMethod == .numpy || export == .tca4recCSV) && !(0...Int64(UInt32.max)).contains(seed) {
      throw bad(
        "seed",
        "must be between 0 and 2^32 - 1 for NumPy's sampling (downsample_method numpy, export tca4rec-csv), found \(seed)"
      )
    }
    if export == .tca4recCSV && sampleProtocol != .slidingWindow {
      throw bad(
        "export", "tca4rec-csv needs protocol sliding-window (the official layout), found \(sampleProtocol.rawValue)")
    }
    for split in SplitName.allCases where (downsample[split] ?? 0) < 0 {
      throw bad("downsample_\(split.rawValue)", "must be at least 0, found \(downsample[split]!)")
    }
  }
}
