import ArgumentParser
import ArtifactFormats
import CollaborativeFiltering
import Foundation
import PipelineCore
import PipelineGraph

/// The options every stage executable takes, so another orchestrator can call it:
/// `--params FILE --input NAME=DIR … --output DIR`.
public struct StageOptions: ParsableArguments {
  @Option(name: .long, help: "A JSON or YAML file with the stage's parameters (defaults fill the rest).")
  var params: String?

  @Option(name: .long, help: "An input artifact directory, as NAME=DIR (repeatable).")
  var input: [String] = []

  @Option(name: .long, help: "The directory to create with the outputs and manifest.json.")
  var output: String

  @Option(name: .long, help: "The raw data folder (default $TCA_DATA, else data/).")
  var data: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Compute partition i of n (from 0) of a stage that runs in partitions (soft-labels); `tca merge --output` combines them. Default: from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX + TCA_PARTITION_COUNT; 'none' turns that off.",
      valueName: "i/n"))
  var partition: String?

  @OptionGroup var common: CommonOptions

  public init() {}

  public func validate() throws {
    for pair in input where !pair.contains("=") {
      throw ValidationError("--input takes NAME=DIR, got '\(pair)'")
    }
    if let params, !FileSystem.exists(params) {
      throw ValidationError("parameter file '\(params)' does not exist")
    }
  }

  /// Runs the registered stage `name` alone (see `execute(_:tool:)`).
  func execute(stageNamed name: String, tool: String) throws {
    guard let stage = stageRegistry.stage(named: name) else {
      Diagnostics(toolName: tool).error("this build has no stage '\(name)'")
      throw ExitCode(1)
    }
    try execute(stage, tool: tool)
  }

  /// Runs `stage` alone: resolves parameters, hashes raw files, writes into a sibling work directory
  /// and renames it to `--output`. An existing output with the same key is a cache hit.
  func execute(_ stage: any PipelineStage.Type, tool: String) throws {
    let diagnostics = common.diagnostics(tool: tool)
    try reportingErrors(diagnostics) {
      var given: [String: JSONValue] = [:]
      if let params {
        let definition = try PipelineDefinition.loadParameters(path: params)
        given = definition
      }
      let parameters = try stage.resolveParameters(given, entry: stage.name, file: params ?? "--params")
      var inputDirectories: [String: String] = [:]
      var inputKeys: [String: String] = [:]
      for pair in input {
        let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
        let manifest = try Manifest.read(directory: parts[1])
        inputDirectories[parts[0]] = FileSystem.absolute(parts[1])
        inputKeys[parts[0]] = manifest.key
      }
      for expected in stage.inputs where inputDirectories[expected.name] == nil {
        throw PipelineError.usage("\(stage.name) needs --input \(expected.name)=DIR (\(expected.summary))")
      }
      let dataRoot = FileSystem.absolute(data ?? PipelineRunner.defaultDataRoot())
      var rawFiles: [RawFileInput] = []
      for (role, declared) in try stage.rawFiles(parameters).sorted(by: { $0.key < $1.key }) {
        let absolute = declared.hasPrefix("/") ? declared : FileSystem.join(dataRoot, declared)
        guard FileSystem.exists(absolute) else {
          throw PipelineError.usage(
            "raw file '\(declared)' (\(role)) not found under '\(dataRoot)'; pass --data DIR or set TCA_DATA")
        }
        let (digest, size) = try ContentHash.sha256(fileAt: absolute)
        rawFiles.append(
          RawFileInput(role: role, absolutePath: absolute, declaredPath: declared, sha256: digest, size: size))
      }
      let material = StageKeyMaterial(
        stage: stage.name, version: stage.version, params: stage.keyParameters(parameters), inputs: inputKeys,
        rawFiles: Dictionary(uniqueKeysWithValues: rawFiles.map { ($0.role, $0.sha256) }))
      let share = try resolvePartition(partition, stage: stage, diagnostics: diagnostics)
      let key = share.map { material.partitionKey($0) } ?? material.key
      let destination = FileSystem.absolute(output)
      if FileSystem.exists(destination) {
        if let existing = try? Manifest.read(directory: destination), existing.key == key {
          diagnostics.note("'\(output)' already holds key \(key.prefix(12)); nothing to do")
          return
        }
        throw PipelineError.usage("'\(output)' exists and holds something else; remove it or choose another --output")
      }
      let work = "\(destination).tmp.\(ProcessIdentity.current)"
      try FileSystem.removeTree(work)
      try FileSystem.createDirectory(work)
      do {
        _ = try StageExecutor.execute(
          stage: stage, parameters: parameters, material: material, inputDirectories: inputDirectories,
          rawFiles: rawFiles, workDirectory: work, diagnostics: diagnostics, partition: share)
        try FileSystem.rename(work, to: destination)
        FileSystem.syncDirectory(FileSystem.parentPath(destination))
      } catch {
        try? FileSystem.removeTree(work)
        throw error
      }
      printData(key)
      diagnostics.note("wrote \(output) (key \(key.prefix(12))\(share.map { ", partition \($0)" } ?? ""))")
    }
  }
}

/// `tca-ingest`: the ingest stage on its own.
public struct IngestCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "tca-ingest", abstract: "Reads raw review or rating logs into an interactions artifact.")
  @OptionGroup var options: StageOptions
  public init() {}
  public func run() throws { try options.execute(stageNamed: "ingest", tool: "tca-ingest") }
}

/// `tca-prepare`: the prepare stage on its own.
public struct PrepareCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "tca-prepare", abstract: "Filters interactions and splits them into train, valid and test samples.")
  @OptionGroup var options: StageOptions
  public init() {}
  public func run() throws { try options.execute(stageNamed: "prepare", tool: "tca-prepare") }
}

/// `tca-tokenize`: the tokenizer stage on its own.
public struct TokenizeCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "tca-tokenize", abstract: "Loads a pretrained tokenizer or trains a byte-level BPE on the item titles."
  )
  @OptionGroup var options: StageOptions
  public init() {}
  public func run() throws { try options.execute(stageNamed: "tokenizer", tool: "tca-tokenize") }
}

/// `tca-trie`: the trie stage on its own.
public struct TrieCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "tca-trie", abstract: "Encodes every item title and builds the title trie with contiguous item ranges."
  )
  @OptionGroup var options: StageOptions
  public init() {}
  public func run() throws { try options.execute(stageNamed: "trie", tool: "tca-trie") }
}

/// `tca-train-cf`: the cf stage on its own.
public struct TrainCFCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "tca-train-cf",
    abstract: "Trains a collaborative-filtering model (or imports one) and reports full-ranking metrics.")
  @OptionGroup var options: StageOptions
  public init() {}
  public func run() throws {
    NativeBLASKernel.restartIfNeeded(options.common.diagnostics(tool: "tca-train-cf"))
    try options.execute(stageNamed: "cf", tool: "tca-train-cf")
  }
}

/// The partition `--partition` names, else the one an array job's environment names (for a stage
/// that runs in partitions), else none.
func resolvePartition(_ option: String?, stage: (any PipelineStage.Type)?, diagnostics: Diagnostics) throws
  -> StagePartition?
{
  if option == "none" { return nil }
  if let option { return try StagePartition(parsing: option) }
  if let stage, !stage.supportsPartitions { return nil }
  guard let partition = try StagePartition.fromEnvironment(ProcessInfo.processInfo.environment) else { return nil }
  diagnostics.note(
    "partition \(partition) from the array job's environment (pass --partition none to compute everything)")
  return partition
}

/// `tca-soft-labels`: the soft-labels stage on its own.
public struct SoftLabelsCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "tca-soft-labels",
    abstract: "Computes token-level CF soft labels along each target's trie path into MDS shards (zstd).")
  @OptionGroup var options: StageOptions
  public init() {}
  public func run() throws {
    let diagnostics = options.common.diagnostics(tool: "tca-soft-labels")
    NativeBLASKernel.restartIfNeeded(diagnostics)
    try reportingErrors(diagnostics) { try VectorKernels.check() }
    try options.execute(stageNamed: "soft-labels", tool: "tca-soft-labels")
  }
}
