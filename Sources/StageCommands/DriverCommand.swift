import ArgumentParser
import ArtifactFormats
import CollaborativeFiltering
import PipelineCore
import PipelineGraph
import SoftLabels

/// `tca`: the driver that runs pipelines through the content-addressed store.
public struct DriverCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "tca",
    abstract: "Runs TCA4Rec data pipelines through a content-addressed cache.",
    discussion: """
      The store lives in $TCA_HOME (default .tca/); raw data is found under $TCA_DATA (default data/);
      pipeline names are looked up in Pipelines/ (or $TCA_PIPELINES); $TCA_REMOTE names a shared store
      that a local miss pulls from and `tca run --push` publishes to.
      """,
    version: StageExecutor.toolVersion,
    subcommands: [
      RunCommand.self, StatusCommand.self, ValidateCommand.self, GarbageCollectCommand.self, ListRunsCommand.self,
      StagesCommand.self, EncodeCommand.self, ScoreCommand.self, MergeCommand.self, FetchCommand.self,
      ExportCommand.self, ImportCommand.self, ShowCommand.self, ReportCommand.self,
    ])
  public init() {}
}

func loadGraph(_ pipeline: String) throws -> PipelineGraph {
  let path = try PipelineDefinition.locate(pipeline)
  let definition = try PipelineDefinition.load(path: path)
  return try PipelineGraph(definition: definition, registry: stageRegistry)
}

/// The runner for a pipeline over the store in `$TCA_HOME`, the data in `$TCA_DATA` and the shared
/// store in `$TCA_REMOTE` (if set).
func makeRunner(_ pipeline: String, diagnostics: Diagnostics) throws -> PipelineRunner {
  let graph = try loadGraph(pipeline)
  let store = try ArtifactStore(home: ArtifactStore.defaultHome(), diagnostics: diagnostics)
  return PipelineRunner(
    graph: graph, store: store, dataRoot: PipelineRunner.defaultDataRoot(), remote: PipelineRunner.defaultRemote(),
    diagnostics: diagnostics)
}

func displayPath(_ path: String) -> String {
  let current = FileSystem.currentDirectory()
  if path.hasPrefix(current + "/") { return String(path.dropFirst(current.count + 1)) }
  return path
}

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run", abstract: "Runs the stages of a pipeline whose outputs are not in the store.")

  @Argument(help: "A pipeline name from Pipelines/ (demo, beauty, ml-100k…) or a path to a .yaml file.")
  var pipeline: String

  @Option(name: .long, parsing: .upToNextOption, help: "Run only these stages (missing inputs are computed first).")
  var only: [String] = []

  @Option(name: .long, parsing: .upToNextOption, help: "Recompute these stages even when cached.")
  var force: [String] = []

  @Flag(name: .long, help: "Show what would run, and compute nothing.")
  var dryRun = false

  @Flag(
    name: .long,
    help: "Publish this run's entries to the shared store $TCA_REMOTE (atomically; safe with several writers).")
  var push = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Compute partition i of n (from 0) of the stages that run in partitions (soft-labels), each into its own entry; `tca merge` combines them. Default: from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX + TCA_PARTITION_COUNT; 'none' turns that off.",
      valueName: "i/n"))
  var partition: String?

  @OptionGroup var common: CommonOptions

  func validate() throws {
    if push && PipelineRunner.defaultRemote() == nil {
      throw ValidationError("--push needs TCA_REMOTE set to the shared store's directory")
    }
    if push && dryRun { throw ValidationError("--push and --dry-run exclude each other") }
  }

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    if !dryRun { NativeBLASKernel.restartIfNeeded(diagnostics) }
    try reportingErrors(diagnostics) {
      let runner = try makeRunner(pipeline, diagnostics: diagnostics)
      runner.pushesToRemote = push
      let graph = runner.graph
      let store = runner.store
      if !dryRun && graph.nodes.contains(where: { $0.stage.name == SoftLabelsStage.name }) {
        try VectorKernels.check()
      }
      let share = try resolvePartition(partition, stage: nil, diagnostics: diagnostics)
      let command =
        (["tca", "run", pipeline] + (only.isEmpty ? [] : ["--only"] + only)
        + (force.isEmpty ? [] : ["--force"] + force) + (dryRun ? ["--dry-run"] : []) + (push ? ["--push"] : [])
        + (share.map { ["--partition", "\($0)"] } ?? [])).joined(separator: " ")
      let reports = try runner.run(
        only: Set(only), force: Set(force), dryRun: dryRun, partition: share, command: command)
      printData(padded("STAGE", 16) + padded("OUTCOME", 10) + padded("TIME", 9) + "OUTPUT")
      for report in reports {
        let link = FileSystem.join(store.runsDirectory, graph.name, report.entry)
        printData(
          padded(report.entry, 16) + padded(report.outcome.rawValue, 10) + padded(formatDuration(report.seconds), 9)
            + (dryRun || report.outcome == .lineage ? displayPath(report.path) : displayPath(link)))
      }
      if !dryRun {
        let computed = reports.filter { $0.outcome == .computed }.count
        let pulled = reports.filter { $0.outcome == .pulled }.count
        let lineage = reports.filter { $0.outcome == .lineage }.count
        if pulled > 0 { diagnostics.note("\(pulled) stage(s) pulled from the remote store") }
        if lineage > 0 {
          diagnostics.note(
            "\(lineage) stage(s) not computed: only their lineage is here and nothing that ran needed them")
        }
        diagnostics.note(
          computed == 0
            ? "every stage was a cache hit; outputs in \(displayPath(FileSystem.join(store.runsDirectory, graph.name)))/"
            : "\(computed) stage(s) computed, \(reports.count - computed) cached; outputs in \(displayPath(FileSystem.join(store.runsDirectory, graph.name)))/"
        )
      }
    }
  }
}

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status", abstract: "Says for each stage whether it is cached, or stale and why.")

  @Argument(help: "A pipeline name or path.")
  var pipeline: String

  @OptionGroup var common: CommonOptions

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      let runner = try makeRunner(pipeline, diagnostics: diagnostics)
      for status in try runner.status() {
        let state = status.isCached ? "cached" : "stale"
        printData(padded(status.entry, 16) + padded(state, 8) + String(status.key.prefix(12)))
        for reason in status.reasons { printData("    " + reason) }
      }
    }
  }
}

struct ValidateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "validate",
    abstract: "Checks artifact directories: manifest schema, every file's hash, and the artifact's invariants.")

  @Argument(help: "Artifact directories (a store entry, a runs/<pipeline>/<stage> link, or a pipeline's runs folder).")
  var paths: [String]

  @OptionGroup var common: CommonOptions

  func validate() throws {
    if paths.isEmpty { throw ValidationError("give at least one artifact directory") }
  }

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      var directories: [String] = []
      for path in paths {
        guard FileSystem.isDirectory(path) else {
          throw PipelineError.usage("'\(path)' is not a directory; pass an artifact directory")
        }
        if FileSystem.exists(FileSystem.join(path, Manifest.fileName)) {
          directories.append(path)
        } else if FileSystem.exists(FileSystem.join(path, "index.json")) {
          // A soft-label shard directory without our manifest (copied, downloaded).
          try SoftLabelsStage.validateShards(directory: path)
          printData("ok  \(padded("mds", 10))shards  \(path)")
        } else {
          // A folder of artifacts, such as .tca/runs/demo.
          let children = try FileSystem.listDirectory(path).map { FileSystem.join(path, $0) }
            .filter { FileSystem.exists(FileSystem.join($0, Manifest.fileName)) }
          guard !children.isEmpty || FileSystem.exists(FileSystem.join(path, "index.json")) else {
            throw PipelineError.invalidArtifact("'\(path)' has no manifest.json; it is not an artifact directory")
          }
          directories += children
        }
      }
      for directory in directories {
        let manifest = try StageExecutor.validate(directory: directory, registry: stageRegistry)
        printData("ok  \(padded(manifest.stage, 10))\(manifest.files.count) files  \(directory)")
      }
    }
  }
}

struct GarbageCollectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gc", abstract: "Removes store entries that no pipeline's latest run references.")

  @Flag(name: .long, help: "List what would be removed, and remove nothing.")
  var dryRun = false

  @OptionGroup var common: CommonOptions

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      let store = try ArtifactStore(home: ArtifactStore.defaultHome(), diagnostics: diagnostics)
      let result = try GarbageCollector.collect(store: store, dryRun: dryRun)
      for key in result.removedKeys {
        printData("\(dryRun ? "would remove" : "removed") store/\(key.prefix(2))/\(key)")
      }
      for name in result.removedTemporary { printData("\(dryRun ? "would remove" : "removed") tmp/\(name)") }
      diagnostics.note(
        "\(dryRun ? "would free" : "freed") \(formatCount(Double(result.removedBytes)))B in \(result.removedKeys.count) entries"
      )
    }
  }
}

struct ListRunsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "ls", abstract: "Lists the run history from the ledger.")

  @Option(name: .long, help: "How many runs to show, newest first.")
  var limit = 20

  @OptionGroup var common: CommonOptions

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      let store = try ArtifactStore(home: ArtifactStore.defaultHome(), diagnostics: diagnostics)
      for run in try store.ledger.runs(limit: limit) {
        printData("#\(run.id)  \(run.startedAt)  \(padded(run.status, 8))\(run.command)")
        for stage in run.stages {
          printData(
            "    \(padded(stage.entry, 16))\(padded(stage.outcome, 10))\(padded(formatDuration(stage.seconds), 9))\(stage.key.prefix(12))"
          )
        }
      }
    }
  }
}

struct StagesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stages", abstract: "Lists the stages, their inputs and their parameters with defaults.")

  func run() throws {
    for name in stageRegistry.names {
      let stage = stageRegistry.stage(named: name)!
      printData("\(name) (version \(stage.version)): \(stage.summary)")
      for input in stage.inputs { printData("  input \(input.name) (from '\(input.producer)'): \(input.summary)") }
      for parameter in stage.parameters {
        let value = parameter.defaultValue.map { $0.canonicalText() } ?? "required"
        printData("  \(padded(parameter.name, 18)) \(padded(value, 12)) \(parameter.summary)")
      }
    }
  }
}

struct MergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge",
    abstract: "Combines the partitions of a partitioned stage (soft-labels) into the whole run's artifact.",
    discussion: """
      tca merge PIPELINE             merges the partition entries in the store ($TCA_HOME) and publishes the
                                     whole entry under the key one unpartitioned run has, then links it.
      tca merge -o OUT DIR…          merges partition directories written by `tca-soft-labels --partition`.
      """)

  @Argument(help: "A pipeline name or path; with --output, the partition directories instead.")
  var arguments: [String]

  @Option(name: [.short, .long], help: "Merge these partition directories into this new directory.")
  var output: String?

  @Flag(name: .long, help: "Publish the merged entry to the shared store $TCA_REMOTE.")
  var push = false

  @OptionGroup var common: CommonOptions

  func validate() throws {
    if arguments.isEmpty { throw ValidationError("give a pipeline, or --output and the partition directories") }
    if output == nil && arguments.count != 1 {
      throw ValidationError("without --output, give one pipeline; with --output, the partition directories")
    }
    if push && (output != nil || PipelineRunner.defaultRemote() == nil) {
      throw ValidationError("--push needs a pipeline (not --output) and TCA_REMOTE set to the shared store's directory")
    }
  }

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      if let output {
        let destination = FileSystem.absolute(output)
        guard !FileSystem.exists(destination) else {
          throw PipelineError.usage("'\(output)' exists; choose a new --output directory")
        }
        let work = "\(destination).tmp.\(ProcessIdentity.current)"
        try FileSystem.removeTree(work)
        try FileSystem.createDirectory(work)
        do {
          let manifest = try PartitionMerge.merge(
            arguments.map(FileSystem.absolute), registry: stageRegistry, workDirectory: work, diagnostics: diagnostics)
          try FileSystem.rename(work, to: destination)
          FileSystem.syncDirectory(FileSystem.parentPath(destination))
          printData(manifest.key)
          diagnostics.note("wrote \(output) (key \(manifest.key.prefix(12)))")
        } catch {
          try? FileSystem.removeTree(work)
          throw error
        }
        return
      }
      let runner = try makeRunner(arguments[0], diagnostics: diagnostics)
      runner.pushesToRemote = push
      for report in try runner.merge() {
        let link = FileSystem.join(runner.store.runsDirectory, runner.graph.name, report.entry)
        printData(padded(report.entry, 16) + padded(report.outcome.rawValue, 10) + displayPath(link))
      }
    }
  }
}
