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
    case object
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
    case .object:
      if value.objectValue == nil { return "expected an object, found \(value.typeName)" }
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

  public init(
    parameters: StageParameters, inputs: [String: String], rawFiles: [String: String], outputDirectory: String,
    diagnostics: Diagnostics
  ) {
    self.parameters = parameters
    self.inputs = inputs
    self.rawFiles = rawFiles
    self.outputDirectory = outputDirectory
    self.diagnostics = diagnostics
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
}

extension PipelineStage {
  public static func normalizeParameters(_ parameters: StageParameters, file: String) throws(PipelineError)
    -> StageParameters
  { parameters }
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
