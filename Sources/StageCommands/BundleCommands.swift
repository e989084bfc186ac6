import ArgumentParser
import ArtifactFormats
import PipelineCore
import PipelineGraph

struct ExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Writes a stage's store entry and the manifests of all its ancestors to one tar file.",
    discussion: """
      The stage must be in the store (run the pipeline first). The bundle holds bundle.json (every
      member's size and sha256), entries/<key>/… (the entry's files) and lineage/<key>.json (each
      ancestor's manifest); the same entries always give the same bytes. `tca import FILE.tar` installs it.
      """)

  @Argument(help: "A pipeline name from Pipelines/ or a path to a .yaml file.")
  var pipeline: String

  @Option(name: .long, help: "The stage (entry name in the pipeline) to export.")
  var stage: String

  @Option(name: [.short, .long], help: "The bundle file to write (a .tar).")
  var output: String

  @OptionGroup var common: CommonOptions

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      let runner = try makeRunner(pipeline, diagnostics: diagnostics)
      guard runner.graph.node(stage) != nil else {
        throw PipelineError.usage(
          "pipeline '\(runner.graph.name)' has no stage '\(stage)' (stages: \(runner.graph.nodes.map(\.entry.name).joined(separator: ", ")))"
        )
      }
      let planned = try runner.plan(entries: runner.graph.closure(of: [stage]))
      guard let target = planned.first(where: { $0.node.entry.name == stage }) else { return }
      guard target.isCached else {
        throw PipelineError.usage(
          "stage '\(stage)' of '\(runner.graph.name)' is not in the store (key \(target.key.prefix(12))); run `tca run \(pipeline) --only \(stage)` first"
        )
      }
      let members = try EntryBundle.export(key: target.key, from: runner.store.layout, to: output)
      printData(target.key)
      diagnostics.note("wrote \(output): \(stage) \(target.key.prefix(12)) and its lineage (\(members) members)")
    }
  }
}

struct ImportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Verifies a bundle from `tca export` and installs its entries and lineage in the store.")

  @Argument(help: "Bundle files (.tar) written by `tca export`.")
  var bundles: [String]

  @OptionGroup var common: CommonOptions

  func validate() throws {
    if bundles.isEmpty { throw ValidationError("give at least one bundle file") }
  }

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      let store = try ArtifactStore(home: ArtifactStore.defaultHome(), diagnostics: diagnostics)
      for bundle in bundles {
        guard FileSystem.exists(bundle) else {
          throw PipelineError.usage("bundle '\(bundle)' does not exist")
        }
        let imported = try EntryBundle.importBundle(bundle, into: store, diagnostics: diagnostics)
        for key in imported {
          printData(padded(key.action.rawValue, 10) + padded(key.stage, 13) + key.key)
        }
        let installed = imported.filter { $0.action == .installed }.count
        let present = imported.filter { $0.action == .present }.count
        diagnostics.note(
          "imported \(bundle): \(installed) entr\(installed == 1 ? "y" : "ies") installed, \(present) already in the store, \(imported.count - installed - present) ancestors as lineage"
        )
      }
    }
  }
}

struct ShowCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show",
    abstract: "Prints how a store entry was made: stage, key, parameters, versions, inputs and raw files.")

  @Argument(help: "A key, or a prefix of one that only one entry or lineage record starts with.")
  var key: String

  @Flag(name: .long, help: "Print the lineage as JSON.")
  var json = false

  @OptionGroup var common: CommonOptions

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      let store = try ArtifactStore(home: ArtifactStore.defaultHome(), diagnostics: diagnostics)
      let full = try Lineage.resolve(prefix: key, in: store.layout)
      let lineage = Lineage(key: full, layout: store.layout)
      if json {
        printData(lineage.json.prettyText())
      } else {
        var shown: Set<String> = []
        printLineage(lineage, label: nil, indent: "", shown: &shown)
      }
    }
  }

  /// One entry and, once per key, its parameters, raw files and inputs (a repeated ancestor is
  /// named and marked "shown above").
  func printLineage(_ lineage: Lineage, label: String?, indent: String, shown: inout Set<String>) {
    let head = label.map { "\($0) ← " } ?? ""
    guard let manifest = lineage.manifest else {
      printData("\(indent)\(head)\(lineage.key) (unknown: not in this store)")
      return
    }
    let state = lineage.availability == .stored ? "in the store" : "lineage only"
    if !shown.insert(lineage.key).inserted {
      printData("\(indent)\(head)\(manifest.stage) \(lineage.key.prefix(12)) (shown above)")
      return
    }
    printData(
      "\(indent)\(head)\(manifest.stage) \(lineage.key) (version \(manifest.stageVersion), tool \(manifest.toolVersion), \(state))"
    )
    let inner = indent + "    "
    for (name, value) in manifest.params.sorted(by: { $0.key < $1.key }) {
      printData("\(inner)\(name) = \(value.canonicalText())")
    }
    for (role, file) in manifest.rawFiles.sorted(by: { $0.key < $1.key }) {
      printData("\(inner)raw file \(role): \(file.path) (\(file.size) bytes, sha256 \(file.sha256))")
    }
    for input in lineage.inputs {
      printLineage(input.lineage, label: input.name, indent: inner, shown: &shown)
    }
  }
}
