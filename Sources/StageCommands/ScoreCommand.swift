import ArgumentParser
import ArtifactFormats
import CollaborativeFiltering
import Foundation
import Interactions
import LogIngest
import PipelineCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `tca score`: the scores a cf artifact gives every item for the samples of one split, the target
/// ranks and the metrics, as `.npy` files: what the soft-label stage sees, for checking a model
/// against another implementation.
struct ScoreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "score",
    abstract: "Scores every item for the samples of one split with a cf artifact; writes scores, ranks and metrics.",
    discussion: """
      Writes OUTPUT/scores.npy (float32, samples × items; column j is item id j + 1), OUTPUT/ranks.npy
      (int64: the target's 0-based rank, ties counting against it) and OUTPUT/metrics.json (HR@K, NDCG@K).
      """)

  @Option(name: .long, help: "A cf artifact directory (e.g. .tca/runs/PIPELINE/cf).")
  var cf: String

  @Option(
    name: .long, help: "The samples artifact directory the model was trained on (e.g. .tca/runs/PIPELINE/prepare).")
  var samples: String

  @Option(name: .long, help: "The split to score: train, valid or test.")
  var split = "test"

  @Option(name: .long, help: "Score only the first N samples of the split.")
  var limit: Int?

  @Flag(name: .long, help: "Leave each sample's history items out of the ranking.")
  var excludeHistory = false

  @Option(name: .shortAndLong, help: "The directory to write scores.npy, ranks.npy and metrics.json into.")
  var output: String

  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard SplitName(rawValue: split) != nil else { throw ValidationError("--split must be train, valid or test") }
    if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
  }

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca score")
    NativeBLASKernel.restartIfNeeded(diagnostics)
    try reportingErrors(diagnostics) {
      let split = SplitName(rawValue: split)!
      let threads = Parallel.defaultThreadCount
      let scorer = try CFArtifact.loadScorer(cf, split: split)
      let prepared = try PreparedSamples.read(from: samples)
      var set = prepared[split]
      if let limit, limit < set.count { set = set.selecting(Array(0..<limit)) }
      guard scorer.itemCount == prepared.items.count else {
        throw PipelineError.usage(
          "'\(cf)' scores \(scorer.itemCount) items, but '\(samples)' has \(prepared.items.count); give the samples artifact the model was trained on"
        )
      }
      let result = CFArtifact.score(scorer, samples: set, excludeHistory: excludeHistory, threads: threads)
      try FileSystem.createDirectory(output)
      try NumPyArray.write(
        result.scores, shape: [set.count, scorer.itemCount], to: FileSystem.join(output, "scores.npy"))
      try NumPyArray.write(result.ranks.map(Int64.init), to: FileSystem.join(output, "ranks.npy"))
      var metrics = result.metrics.json.objectValue ?? [:]
      metrics["split"] = .string(split.rawValue)
      metrics["exclude_history"] = .bool(excludeHistory)
      try FileSystem.writeText(FileSystem.join(output, "metrics.json"), JSONValue.object(metrics).prettyText())
      diagnostics.note(
        "scored \(set.count) \(split.rawValue) samples × \(scorer.itemCount) items: NDCG@10 \(String(format: "%.4f", result.metrics.ndcg(at: 10))), HR@10 \(String(format: "%.4f", result.metrics.hitRate(at: 10)))"
      )
    }
  }
}
