import ArgumentParser
import PipelineCore
import PipelineGraph
import PipelineReport

/// `tca report PIPELINE [-o FILE]`: one self-contained HTML page about a pipeline's data, models, soft
/// labels and DAG, from what the store and the ledger hold (nothing is run).
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Writes a self-contained HTML report of a pipeline's data, CF models, soft labels and DAG.",
    discussion: """
      The report shows what the store holds for the pipeline's current definition (the keys `tca status`
      computes); it runs nothing, and a stage that is not in the store is shown as not computed, with the
      command that computes it. Run the pipeline first (`tca run PIPELINE`). The page needs no network:
      inline CSS and SVG only. The same store and ledger give the same file, byte for byte.
      """)

  @Argument(help: "A pipeline name from Pipelines/ (demo, beauty, ml-100k…) or a path to a .yaml file.")
  var pipeline: String

  @Option(
    name: [.short, .long],
    help: ArgumentHelp("The HTML file to write (default: $TCA_HOME/reports/<pipeline>.html).", valueName: "file"))
  var output: String?

  @OptionGroup var common: CommonOptions

  func validate() throws {
    if let output {
      if output.isEmpty || output.hasSuffix("/") { throw ValidationError("-o needs a file name, not a directory") }
      let parent = FileSystem.parentPath(FileSystem.absolute(output))
      guard FileSystem.isDirectory(parent) else {
        throw ValidationError("the folder of '\(output)' does not exist; create it or choose another -o")
      }
    }
  }

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      let runner = try makeRunner(pipeline, diagnostics: diagnostics)
      let report = try PipelineReport.gather(runner: runner, argument: pipeline)
      let path: String
      if let output {
        path = output
      } else {
        let folder = FileSystem.join(runner.store.home, "reports")
        try FileSystem.createDirectory(folder)
        path = FileSystem.join(folder, runner.graph.name + ".html")
      }
      try FileSystem.writeFileAtomically(path, Array(report.html().utf8))
      printData(displayPath(path))
      let missing = report.entries.filter { !$0.isStored }.map(\.name)
      diagnostics.note(
        "wrote \(displayPath(path)): \(report.entries.count - missing.count) of \(report.entries.count) stages in the store"
          + (missing.isEmpty
            ? ""
            : "; not computed: \(missing.joined(separator: ", ")) (`tca run \(pipeline)` computes them)"))
    }
  }
}
