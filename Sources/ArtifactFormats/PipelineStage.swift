import PipelineCore

/// One parameter a stage accepts: its name, type, default, and whether it enters the stage key.
public struct ParameterSpecification: Sendable {
  public enum Kind: Sendable, Equatable {
    case integer(minimum: Int64?, maximum: Int64?)
    case number(minimum: Double?, maximum: Double?)
    case string
    case boolean
    case choice([String])
    case stringList
    /// A list of integers, each at least `minimum`, of exactly `count` entries when given.
    case integerList(minimum: Int64, count: Int?)
    case object
    /// A positive integer, or the string `all` (the soft-label stage's `k`).
    case countOrAll(minimum: Int64)
  }

  public var name: String
  public var kind: Kind
  /// `nil` means the parameter is required.
  public var defaultValue: JSONValue?
  public var summary: String
  /// Paths never enter a key: the content hashes of the files they name stand in for them.
  public var entersKey: Bool

  public init(_ name: String, _ kind: Kind, default defaultValue: JSONValue?, _ summary: String, entersKey: Bool = true)
  {
    self.name = name
    self.kind = kind
    self.defaultValue = defaultValue
    self.summary = summary
    self.entersKey = entersKey
  }

  /// Why `value` does not fit this parameter, or `nil` when it does.
  public func mismatch(_ value: JSONValue) -> String? {
    switch kind {
    case .integer(let minimum, let maximum):
      guard case .integer(let number) = value else { return "expected an integer, found \(value.typeName)" }
      if let minimum, number < minimum { return "must be at least \(minimum), found \(number)" }
      if let maximum, number > maximum { return "must be at most \(maximum), found \(number)" }
    case .number(let minimum, let maximum):
      guard let number = value.numberValue else { return "expected a number, found \(value.typeName)" }
      if let minimum, number < minimum { return "must be at least \(minimum), found \(number)" }
      if let maximum, number > maximum { return "must be at most \(maximum), found \(number)" }
    case .string:
      if value.stringValue == nil { return "expected a string, found \(value.typeName)" }
    case .boolean:
      if value.boolValue == nil { return "expected a boolean, found \(value.typeName)" }
    case .choice(let choices):
      guard let text = value.stringValue else {
        return "expected one of \(choices.joined(separator: ", ")), found \(value.typeName)"
      }
      if !choices.contains(text) { return "expected one of \(choices.joined(separator: ", ")), found '\(text)'" }
    case .stringList:
      guard let array = value.arrayValue, array.allSatisfy({ $0.stringValue != nil }) else {
        return "expected a list of strings, found \(value.typeName)"
      }
    case .integerList(let minimum, let count):
      guard let array = value.arrayValue,
        array.allSatisfy({ if case .integer = $0 { return true } else { return false } })
      else {
        return "expected a list of integers, found \(value.typeName)"
      }
      if let count, array.count != count { return "must list \(count) integers, found \(array.count)" }
      if let small = array.compactMap(\.integerValue).first(where: { $0 < minimum }) {
        return "must hold integers of at least \(minimum), found \(small)"
      }
    case .object:
      if value.objectValue == nil { return "expected an object, found \(value.typeName)" }
    case .countOrAll(let minimum):
      if value.stringValue == "all" { return nil }
      guard case .integer(let number) = value else {
        return "expected an integer or 'all', found \(value.stringValue.map { "'\($0)'" } ?? value.typeName)"
      }
      if number < minimum { return "must be at least \(minimum) (or 'all'), found \(number)" }
    }
    return nil
  }
}

/// A named artifact input of a stage (`interactions` for prepare).
public struct InputSpecification: Sendable {
  public var name: String
  /// The stage that usually produces it; a pipeline entry of that name is the default wiring.
  public var producer: String
  public var summary: String
  public init(name: String, producer: String, summary: String) {
    self.name = name
    self.producer = producer
    self.summary = summary
  }
}

/// Resolved parameters with typed accessors; a wrong type is a usage error naming the key.
public struct StageParameters: Sendable {
  public var values: [String: JSONValue]
  public let stage: String

  public init(stage: String, values: [String: JSONValue]) {
    self.stage = stage
    self.values = values
  }

  private func missing(_ name: String) -> PipelineError {
    .usage("stage '\(stage)': parameter '\(name)' is required; set it under params in the pipeline file")
  }

  public func string(_ name: String) throws(PipelineError) -> String {
    guard let value = values[name], value != .null else { throw missing(name) }
    guard let text = value.stringValue else {
      throw .usage("stage '\(stage)': parameter '\(name)' must be a string, found \(value.typeName)")
    }
    return text
  }

  public func optionalString(_ name: String) throws(PipelineError) -> String? {
    guard let value = values[name], value != .null else { return nil }
    return try string(name)
  }

  public func integer(_ name: String) throws(PipelineError) -> Int {
    guard let value = values[name], value != .null else { throw missing(name) }
    guard case .integer(let number) = value else {
      throw .usage("stage '\(stage)': parameter '\(name)' must be an integer, found \(value.typeName)")
    }
    return Int(number)
  }

  public func optionalInteger(_ name: String) throws(PipelineError) -> Int? {
    guard let value = values[name], value != .null else { return nil }
    return try integer(name)
  }

  public func number(_ name: String) throws(PipelineError) -> Double {
    guard let value = values[name], value != .null else { throw missing(name) }
    guard let number = value.numberValue else {
      throw .usage("stage '\(stage)': parameter '\(name)' must be a number, found \(value.typeName)")
    }
    return number
  }

  public func boolean(_ name: String) throws(PipelineError) -> Bool {
    guard let value = values[name], value != .null else { throw missing(name) }
    guard let flag = value.boolValue else {
      throw .usage("stage '\(stage)': parameter '\(name)' must be a boolean, found \(value.typeName)")
    }
    return flag
  }

  public func integerList(_ name: String) throws(PipelineError) -> [Int] {
    guard let value = values[name], value != .null else { return [] }
    guard let array = value.arrayValue else {
      throw .usage("stage '\(stage)': parameter '\(name)' must be a list of integers, found \(value.typeName)")
    }
    return array.compactMap(\.integerValue).map { Int($0) }
  }

  public func stringList(_ name: String) throws(PipelineError) -> [String] {
    guard let value = values[name], value != .null else { return [] }
    guard let array = value.arrayValue else {
      throw .usage("stage '\(stage)': parameter '\(name)' must be a list of strings, found \(value.typeName)")
    }
    return array.compactMap(\.stringValue)
  }
}

/// Everything a stage run sees: parameters, input artifact directories, raw files, and where to write.
public struct StageContext {
  public var parameters: StageParameters
  /// Input artifact directories by input name.
  public var inputs: [String: String]
  /// Absolute paths of raw files by role.
  public var rawFiles: [String: String]
  /// The empty directory the stage writes its outputs into.
  public var outputDirectory: String
  public var diagnostics: Diagnostics
  /// The share of the work this run computes, for a stage that `supportsPartitions`; `nil` is all of it.
  public var partition: StagePartition?
  /// Raised when the driver no longer wants the result (it started the stage while the raw files
  /// were still being hashed, and the key turned out to be cached); readers of raw files check it.
  public var cancellation: Cancellation?

  public init(
    parameters: StageParameters, inputs: [String: String], rawFiles: [String: String], outputDirectory: String,
    diagnostics: Diagnostics, partition: StagePartition? = nil, cancellation: Cancellation? = nil
  ) {
    self.cancellation = cancellation
    self.parameters = parameters
    self.inputs = inputs
    self.rawFiles = rawFiles
    self.outputDirectory = outputDirectory
    self.diagnostics = diagnostics
    self.partition = partition
  }

  public func input(_ name: String) throws(PipelineError) -> String {
    guard let directory = inputs[name] else {
      throw .usage("stage '\(parameters.stage)' needs input '\(name)'; pass --input \(name)=DIR")
    }
    return directory
  }

  public func outputPath(_ name: String) -> String { FileSystem.join(outputDirectory, name) }
}

/// A stage of the pipeline: a pure function from parameters, input artifacts and raw files to an
/// output directory. The driver computes its key from `name`, `version`, the parameters that enter the
/// key, the input keys and the raw files' content hashes.
public protocol PipelineStage: Sendable {
  /// The stage name used in pipeline files (`ingest`).
  static var name: String { get }
  /// Bump when the output for the same inputs changes; the golden test enforces it.
  static var version: Int { get }
  static var summary: String { get }
  static var parameters: [ParameterSpecification] { get }
  static var inputs: [InputSpecification] { get }
  /// The files each artifact of this stage must contain.
  static var declaredOutputs: [String] { get }

  /// Raw files read, by role, as paths relative to the data root (or absolute).
  static func rawFiles(_ parameters: StageParameters) throws(PipelineError) -> [String: String]

  /// Computes the outputs into `context.outputDirectory` and returns the metrics for the manifest.
  static func run(_ context: StageContext) throws -> JSONValue

  /// Checks the artifact's own invariants (its files' hashes are checked by the caller).
  static func validate(artifact directory: String, manifest: Manifest) throws

  /// Called on the parameters after defaults are filled: a stage whose parameters depend on each
  /// other (the cf stage's per-model hyperparameters) fills model-specific defaults here, drops the
  /// parameters that do not apply (so they neither enter the key nor the manifest) and rejects
  /// inconsistent combinations. The default returns them unchanged.
  static func normalizeParameters(_ parameters: StageParameters, file: String) throws(PipelineError)
    -> StageParameters

  /// Whether `run` honours `context.partition`: computes a deterministic share of its output that
  /// `mergePartitions` later combines into exactly what one run writes. Default false.
  static var supportsPartitions: Bool { get }

  /// Combines the outputs of partitions 0..<n (`directories`, in partition order, each with its
  /// manifest) into `directory`, byte-identical to one unpartitioned run, and returns the metrics.
  static func mergePartitions(_ directories: [String], into directory: String, diagnostics: Diagnostics) throws
    -> JSONValue
}

extension PipelineStage {
  public static func normalizeParameters(_ parameters: StageParameters, file: String) throws(PipelineError)
    -> StageParameters
  { parameters }

  public static var supportsPartitions: Bool { false }

  public static func mergePartitions(_ directories: [String], into directory: String, diagnostics: Diagnostics)
    throws -> JSONValue
  {
    throw PipelineError.usage("stage '\(name)' does not run in partitions, so there is nothing to merge")
  }
}

/// One share of a partitioned stage run: partition `index` (0-based) of `count`.
public struct StagePartition: Equatable, Hashable, Sendable, CustomStringConvertible {
  public var index: Int
  public var count: Int

  public init(index: Int, count: Int) {
    precondition(count >= 1 && index >= 0 && index < count, "partition \(index)/\(count)")
    self.index = index
    self.count = count
  }

  /// `i/n` with 0 ≤ i < n, as `--partition` takes it.
  public init(parsing text: String) throws(PipelineError) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, index >= 0,
      index < count
    else {
      throw .usage("--partition takes i/n with 0 ≤ i < n (partition i of n, counted from 0), got '\(text)'")
    }
    self.init(index: index, count: count)
  }

  /// The partition an array job says this process is: Slurm's `SLURM_ARRAY_TASK_ID` (counted from
  /// `SLURM_ARRAY_TASK_MIN`, default 0) of `SLURM_ARRAY_TASK_COUNT`, or a Kubernetes Indexed Job's
  /// `JOB_COMPLETION_INDEX` of `TCA_PARTITION_COUNT` (set it to the Job's `completions`); `nil`
  /// outside an array job.
  public static func fromEnvironment(_ environment: [String: String]) throws(PipelineError) -> StagePartition? {
    if let task = environment["SLURM_ARRAY_TASK_ID"], let total = environment["SLURM_ARRAY_TASK_COUNT"] {
      let minimum = Int(environment["SLURM_ARRAY_TASK_MIN"] ?? "0") ?? 0
      guard let id = Int(task), let count = Int(total), count >= 1, id - minimum >= 0, id - minimum < count else {
        throw .usage(
          "SLURM_ARRAY_TASK_ID=\(task), SLURM_ARRAY_TASK_MIN=\(minimum), SLURM_ARRAY_TASK_COUNT=\(total) do not give a partition; use a contiguous --array range or pass --partition i/n"
        )
      }
      return StagePartition(index: id - minimum, count: count)
    }
    if let index = environment["JOB_COMPLETION_INDEX"] {
      guard let total = environment["TCA_PARTITION_COUNT"] else {
        throw .usage(
          "JOB_COMPLETION_INDEX=\(index) is set but TCA_PARTITION_COUNT is not; set it to the Job's completions or pass --partition i/n"
        )
      }
      return try StagePartition(parsing: "\(index)/\(total)")
    }
    return nil
  }

  /// The contiguous share `[total·i/n, total·(i+1)/n)` of `total` units of work.
  public func share(of total: Int) -> Range<Int> { (total * index / count)..<(total * (index + 1) / count) }

  public var description: String { "\(index)/\(count)" }
}

extension PipelineStage {
  /// Fills defaults, rejects unknown keys and wrong types; errors name the stage and the key.
  public static func resolveParameters(
    _ given: [String: JSONValue], entry: String, file: String
  ) throws(PipelineError) -> StageParameters {
    var resolved: [String: JSONValue] = [:]
    let known = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0) })
    for key in given.keys.sorted() where known[key] == nil {
      let names = parameters.map(\.name).sorted().joined(separator: ", ")
      throw .usage("\(file): stage '\(entry)': unknown parameter '\(key)' (\(name) accepts: \(names))")
    }
    for specification in parameters {
      if let value = given[specification.name] {
        if let problem = specification.mismatch(value) {
          throw .usage("\(file): stage '\(entry)': parameter '\(specification.name)' \(problem)")
        }
        // A number parameter written as `3` and as `3.0` is one value and one key.
        if case .number = specification.kind, let number = value.numberValue {
          resolved[specification.name] = .number(number)
        } else {
          resolved[specification.name] = value
        }
      } else if let defaultValue = specification.defaultValue {
        resolved[specification.name] = defaultValue
      } else {
        throw .usage(
          "\(file): stage '\(entry)': parameter '\(specification.name)' is required (\(specification.summary))")
      }
    }
    return try normalizeParameters(StageParameters(stage: entry, values: resolved), file: file)
  }

  /// The parameters that enter the stage key (paths excluded).
  public static func keyParameters(_ resolved: StageParameters) -> [String: JSONValue] {
    var result: [String: JSONValue] = [:]
    for specification in parameters where specification.entersKey {
      if let value = resolved.values[specification.name] { result[specification.name] = value }
    }
    return result
  }
}
