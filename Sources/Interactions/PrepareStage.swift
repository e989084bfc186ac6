import ArtifactFormats
import LogIngest
import PipelineCore

/// The `prepare` stage: filters the `interactions` log (rating, de-duplication, iterated k-core),
/// numbers items and users, and cuts train, valid and test samples by a protocol into a `samples`
/// artifact (`PreparedSamples` plus `report.json`).
public enum PrepareStage: PipelineStage {
  public static let name = "prepare"
  /// 2: `report.json` gained `degrees` (per-user and per-item interaction counts of the final events).
  public static let version = 2
  public static let summary =
    "Filters the interaction log, numbers items and users, and cuts train/valid/test samples."

  public static let parameters: [ParameterSpecification] = [
    ParameterSpecification(
      "protocol", .choice(PrepareOptions.SampleProtocol.allCases.map(\.rawValue)), default: "leave-one-out",
      "how samples are cut: leave-one-out (per user: last → test, second-to-last → valid), sliding-window (global time order split by ratio, the official TCA4Rec protocol), predefined (the source's own splits)"
    ),
    ParameterSpecification(
      "user_k_core", .integer(minimum: 0, maximum: nil), default: 5,
      "iterated k-core: users with fewer events are removed (repeated with item_k_core to a fixpoint); 0 disables"),
    ParameterSpecification(
      "item_k_core", .integer(minimum: 0, maximum: nil), default: 5,
      "iterated k-core: items with fewer events are removed (repeated with user_k_core to a fixpoint); 0 disables"),
    ParameterSpecification(
      "deduplicate", .choice(PrepareOptions.Deduplication.allCases.map(\.rawValue)), default: "none",
      "repeated (user, item) pairs: keep all (none), the first or the last in time order; applied before k-core"),
    ParameterSpecification(
      "min_rating", .number(minimum: nil, maximum: nil), default: .number(0),
      "events rated below this are dropped; events without a rating are kept"),
    ParameterSpecification(
      "max_history", .integer(minimum: 1, maximum: nil), default: 50,
      "a history keeps at most this many of the most recent earlier items"),
    ParameterSpecification(
      "min_history", .integer(minimum: 0, maximum: nil), default: 1,
      "a sample needs at least this many earlier items of its user (the official sliding-window value is 10)"),
    ParameterSpecification(
      "train_ratio", .number(minimum: 0, maximum: 1), default: .number(0.8),
      "sliding-window: the first Int(n × train_ratio) samples in time order are train"),
    ParameterSpecification(
      "valid_ratio", .number(minimum: 0, maximum: 1), default: .number(0.1),
      "sliding-window: the next Int(n × valid_ratio) samples are valid; test gets the rest"),
    ParameterSpecification(
      "downsample_train", .integer(minimum: 0, maximum: nil), default: 0,
      "keep this many train samples chosen by seeded sampling, in their original order; 0 keeps all"),
    ParameterSpecification(
      "downsample_valid", .integer(minimum: 0, maximum: nil), default: 0,
      "keep this many valid samples chosen by seeded sampling, in their original order; 0 keeps all"),
    ParameterSpecification(
      "downsample_test", .integer(minimum: 0, maximum: nil), default: 0,
      "keep this many test samples chosen by seeded sampling, in their original order; 0 keeps all"),
    ParameterSpecification(
      "seed", .integer(minimum: nil, maximum: nil), default: 42, "seed of the down-sampling"),
    ParameterSpecification(
      "window_months", .integer(minimum: 0, maximum: nil), default: 0,
      "keep events later than the last event's time minus this many 30-day months (the official TCA4Rec value for Toys and Sports is 48); 0 keeps all"
    ),
    ParameterSpecification(
      "tie_break", .choice(PrepareOptions.TieBreak.allCases.map(\.rawValue)), default: "source",
      "order of events with equal timestamps: source (the log's order) or tca4rec (raw user id, raw item id, then per user by item id, as the official preprocessing)"
    ),
    ParameterSpecification(
      "downsample_method", .choice(PrepareOptions.DownsampleMethod.allCases.map(\.rawValue)), default: "seeded",
      "seeded (ours; chosen samples keep their order) or numpy (pandas DataFrame.sample(k, random_state=seed): the official train_10000/valid_5000/test_5000, in drawn order)"
    ),
    ParameterSpecification(
      "export", .choice(PrepareOptions.Export.allCases.map(\.rawValue)), default: "none",
      "also write tca4rec/ with the official TCA4Rec CSV layout (item.csv, user.csv, train/valid/test.csv, their samples, data_stat.json); needs sliding-window"
    ),
    ParameterSpecification(
      "export_samples", .integerList(minimum: 1, count: 3), default: [10000, 5000, 5000],
      "export tca4rec-csv: sizes of the train_<a>.csv, valid_<b>.csv, test_<c>.csv samples"),
  ]

  /// Drops the parameters added after the first release while they hold their defaults, so that
  /// earlier pipelines keep their keys.
  public static func normalizeParameters(_ parameters: StageParameters, file: String) throws(PipelineError)
    -> StageParameters
  {
    var normalized = parameters
    let defaults: [(String, JSONValue)] = [
      ("window_months", 0), ("tie_break", "source"), ("downsample_method", "seeded"), ("export", "none"),
    ]
    for (name, value) in defaults where normalized.values[name] == value { normalized.values[name] = nil }
    if normalized.values["export"] == nil { normalized.values["export_samples"] = nil }
    return normalized
  }

  public static let inputs = [
    InputSpecification(name: "interactions", producer: "ingest", summary: "the interaction log to prepare")
  ]

  public static var declaredOutputs: [String] { PreparedSamples.fileNames }

  public static func rawFiles(_ parameters: StageParameters) throws(PipelineError) -> [String: String] { [:] }

  /// What `prepare(_:options:)` computes: the artifact's contents and its report.
  public struct Output: Sendable {
    public var samples: PreparedSamples
    public var report: PrepareReport
    /// Extra files (`export`), paths relative to the artifact directory.
    public var exports: [(path: String, bytes: [UInt8])] = []

    /// The manifest metrics: `users`, `items`, `events` (after filtering) and the sample counts.
    public var metrics: JSONValue {
      let final = report.steps.last
      var metrics: [String: JSONValue] = [
        "users": JSONValue(samples.users.count), "items": JSONValue(samples.items.count),
        "events": JSONValue(final?.events ?? 0),
      ]
      for split in SplitName.allCases { metrics[split.rawValue] = JSONValue(samples[split].count) }
      return .object(metrics)
    }
  }

  /// Prepares samples from a log in memory: the whole stage except reading and writing files.
  ///
  /// - Parameters:
  ///   - log: the interaction log.
  ///   - options: the stage's parameters.
  ///   - threads: how many threads sort events and samples and format exports; the output does not
  ///     depend on it.
  /// - Complexity: O(*n* log *n*) in the number of events *n*, plus copying histories.
  public static func prepare(
    _ log: InteractionLog, options: PrepareOptions, threads: Int = Parallel.defaultThreadCount
  ) throws(PipelineError) -> Output {
    try options.check()
    var samples: PreparedSamples
    var report: PrepareReport
    var exports: [(path: String, bytes: [UInt8])] = []
    switch options.sampleProtocol {
    case .leaveOneOut, .slidingWindow:
      let official = options.tieBreak == .tca4rec
      let ties =
        official
        ? "events with equal timestamps are ordered by (raw user id, raw item id, source position) for numbering, then each user's by (item id, that order), as the official TCA4Rec preprocessing"
        : "events with equal timestamps keep their order in the source log (stable sort on source position)"
      report = PrepareReport(
        sampleProtocol: options.sampleProtocol,
        idOrder: official
          ? "items and users are numbered from 1 in order of first appearance in the kept events sorted by (timestamp, raw user id, raw item id, source position); 0 is padding"
          : "items and users are numbered from 1 in order of first appearance in the kept events sorted by (timestamp, source position); 0 is padding",
        tieRule: options.sampleProtocol == .leaveOneOut
          ? ties + "; each split is ordered by user id, then position in the user's sequence"
          : ties
            + "; samples are ordered by (timestamp, user id, item id, position in the user's sequence) before the split"
      )
      let sequences = try UserSequences.build(from: log, options: options, threads: threads, report: &report)
      report.userDegrees = DegreeHistogram(
        degrees: (0..<sequences.userCount).lazy.map {
          sequences.offsets[$0 + 1] - sequences.offsets[$0]
        })
      report.itemDegrees = DegreeHistogram(occurrencesOf: sequences.items, idCount: sequences.itemCount + 1)
      let splits: [SplitName: SampleSet]
      if options.sampleProtocol == .leaveOneOut {
        splits = LeaveOneOut.samples(sequences, options: options)
      } else {
        let ordered = SlidingWindow.ordered(sequences, options: options, threads: threads)
        if options.export == .tca4recCSV {
          exports = try TCA4RecExport.files(
            log: log, sequences: sequences, ordered: ordered, options: options, threads: threads)
        }
        splits = SlidingWindow.samples(sequences, ordered, options: options)
      }
      samples = PreparedSamples(
        items: sequences.itemIndices.map { log.items[$0] }, users: sequences.userIndices.map { log.users[$0] },
        splits: splits)
    case .predefined:
      report = PrepareReport(
        sampleProtocol: .predefined,
        idOrder:
          "source order: item id = the item's index in the interactions log + 1, user id = the user's index + 1, so the source's own 1-based ids are kept; 0 is padding",
        tieRule: "samples keep the source's order")
      let splits = try PredefinedSplits.samples(log, options: options)
      let input = PrepareReport.Step(
        name: "input", users: log.users.count, items: log.items.count, events: log.eventCount)
      report.steps = [
        input, PrepareReport.Step(name: "final", users: input.users, items: input.items, events: input.events),
      ]
      report.userDegrees = DegreeHistogram(occurrencesOf: log.eventUser, idCount: log.users.count)
      report.itemDegrees = DegreeHistogram(occurrencesOf: log.eventItem, idCount: log.items.count)
      samples = PreparedSamples(items: log.items, users: log.users, splits: splits)
    }
    Downsampling.apply(&samples.splits, options: options)
    report.summarize(samples)
    return Output(samples: samples, report: report, exports: exports)
  }

  public static func run(_ context: StageContext) throws -> JSONValue {
    let options = try PrepareOptions(context.parameters)
    let input = try context.input("interactions")
    let start = monotonicSeconds()
    let log = try InteractionLog.read(from: input)
    context.diagnostics.detail(
      "prepare: read \(log.eventCount) events, \(log.users.count) users, \(log.items.count) items in \(formatDuration(monotonicSeconds() - start))"
    )
    let output = try prepare(log, options: options)
    try write(output, to: context.outputDirectory, threads: Parallel.defaultThreadCount)
    for step in output.report.steps {
      context.diagnostics.detail("prepare: after \(step.name): \(step.counts)")
    }
    let counts = SplitName.allCases.map { "\(output.samples[$0].count) \($0.rawValue)" }.joined(separator: ", ")
    context.diagnostics.note(
      "prepare: \(output.samples.users.count) users, \(output.samples.items.count) items → \(counts) samples (\(options.sampleProtocol.rawValue)) in \(formatDuration(monotonicSeconds() - start))"
    )
    return output.metrics
  }

  /// Writes `output` into `directory`: the samples (`PreparedSamples.write`), `report.json` and the
  /// exports, shared among `threads` threads, the largest first.
  ///
  /// Each file is written whole by one thread, so the files do not depend on the thread count; when
  /// writes fail, the error is the one writing them in that order on one thread would meet first.
  static func write(_ output: Output, to directory: String, threads: Int) throws(PipelineError) {
    for path in Set(output.exports.map { FileSystem.parentPath($0.path) }).sorted() where !path.isEmpty {
      try FileSystem.createDirectory(FileSystem.join(directory, path))
    }
    let report = Array(output.report.json.prettyText().utf8)
    // Job 0 writes the samples, job 1 the report, job 2 + k export k.
    let samplesSize = SplitName.allCases.reduce(0) { total, split in
      total + output.samples[split].count * 20 + output.samples[split].historyValues.count * 4
    }
    let sizes = [samplesSize, report.count] + output.exports.map(\.bytes.count)
    let jobs = sizes.indices.sorted { sizes[$0] > sizes[$1] || (sizes[$0] == sizes[$1] && $0 < $1) }
    var failures = [PipelineError?](repeating: nil, count: jobs.count)
    failures.withUnsafeMutableBufferPointer { failures in
      let failures = DisjointPointer(failures)
      Parallel.forEach(jobs.count, threads: threads) { order in
        do throws(PipelineError) {
          switch jobs[order] {
          case 0: try output.samples.write(to: directory)
          case 1: try FileSystem.writeFile(FileSystem.join(directory, PreparedSamples.reportFile), report)
          case let job:
            let (path, bytes) = output.exports[job - 2]
            try FileSystem.writeFile(FileSystem.join(directory, path), bytes)
          }
        } catch {
          failures[jobs[order]] = error
        }
      }
    }
    if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
  }

  /// Reads the artifact back and checks its invariants (`PreparedSamples.read`), then that
  /// `report.json` agrees with the arrays: sample counts, final user and item counts, and no history
  /// longer than the manifest's `max_history`.
  public static func validate(artifact directory: String, manifest: Manifest) throws {
    let samples = try PreparedSamples.read(from: directory)
    let reportPath = FileSystem.join(directory, PreparedSamples.reportFile)
    let report = try ArtifactJSON.read(reportPath, stage: "prepare")
    func mismatch(_ what: String, _ reported: Int64?, _ actual: Int, _ file: String) -> PipelineError {
      .invalidArtifact(
        "'\(reportPath)' says \(what) is \(reported.map(String.init) ?? "missing"), but '\(file)' has \(actual); rerun the prepare stage with --force"
      )
    }
    for split in SplitName.allCases {
      let reported = report["samples"]?[split.rawValue]?.integerValue
      let actual = samples[split].count
      if reported != Int64(actual) {
        throw mismatch("samples.\(split.rawValue)", reported, actual, SampleSet.fileNames(split)[0])
      }
    }
    guard let final = report["steps"]?.arrayValue?.last else {
      throw PipelineError.invalidArtifact("'\(reportPath)' has no steps; rerun the prepare stage with --force")
    }
    let finalUsers = final["users"]?.integerValue
    if finalUsers != Int64(samples.users.count) {
      throw mismatch("the final user count", finalUsers, samples.users.count, PreparedSamples.usersFile)
    }
    let finalItems = final["items"]?.integerValue
    if finalItems != Int64(samples.items.count) {
      throw mismatch("the final item count", finalItems, samples.items.count, PreparedSamples.itemsFile)
    }
    let finalEvents = final["events"]?.integerValue
    for kind in ["users", "items"] {
      let total = DegreeHistogram(json: report["degrees"]?[kind]).map { Int64($0.interactions) }
      if total != finalEvents {
        throw PipelineError.invalidArtifact(
          "'\(reportPath)': degrees.\(kind) accounts for \(total.map(String.init) ?? "no") interactions, but the final step has \(finalEvents.map(String.init) ?? "none"); rerun the prepare stage with --force"
        )
      }
    }
    if let limit = manifest.params["max_history"]?.integerValue {
      for split in SplitName.allCases {
        let set = samples[split]
        if let index = (0..<set.count).first(where: { set.historyLength($0) > Int(limit) }) {
          let path = FileSystem.join(directory, SampleSet.fileNames(split)[3])
          throw PipelineError.invalidArtifact(
            "'\(path)': sample \(index) has a history of \(set.historyLength(index)) items, more than max_history \(limit); rerun the prepare stage with --force"
          )
        }
      }
    }
  }
}
