import ArtifactFormats
import Interactions
import LogIngest
import PipelineCore

/// The files of a `cf` artifact and how the next stage reads them back.
///
/// - `model.safetensors`: the weights (float32; official names for SASRec).
/// - `model.json`: the model card: `format`, `architecture`, `hyperparameters`, `item_count`,
///   `user_count`, `seed`, `exclude_history`, `data` `{samples_key}`, `best_epoch`, `epochs`,
///   `tensors` `[{name, shape}]`, `details`.
/// - `metrics.json`: full-ranking HR@K/NDCG@K on valid and test, the tie rule, the cutoffs.
/// - `curve.jsonl`: one `EpochRecord` per epoch.
public enum CFArtifact {
  public static let modelFile = "model.safetensors"
  public static let cardFile = "model.json"
  public static let metricsFile = "metrics.json"
  public static let curveFile = "curve.jsonl"
  public static let cardFormat = "tca.cf-model/v1"
  public static let tieRule =
    "rank = number of other items scoring greater than or equal to the target (a tie counts against the target)"

  /// What `model.json` says, parsed.
  public struct Card: Sendable {
    public var configuration: ModelConfiguration
    public var itemCount: Int
    public var userCount: Int
    public var excludeHistory: Bool
    public var json: JSONValue
  }

  public static func readCard(_ directory: String) throws(PipelineError) -> Card {
    let path = FileSystem.join(directory, cardFile)
    let json = try ArtifactJSON.read(path, stage: "cf")
    func fail(_ field: String, _ expected: String) -> PipelineError {
      .invalidArtifact("'\(path)': field '\(field)' must be \(expected); rerun the cf stage with --force")
    }
    guard json["format"]?.stringValue == cardFormat else { throw fail("format", "'\(cardFormat)'") }
    guard let architecture = json["architecture"]?.stringValue else { throw fail("architecture", "a string") }
    guard let itemCount = json["item_count"]?.integerValue, itemCount > 0 else {
      throw fail("item_count", "a positive integer")
    }
    guard let userCount = json["user_count"]?.integerValue, userCount >= 0 else {
      throw fail("user_count", "a non-negative integer")
    }
    let hyperparameters = json["hyperparameters"]?.objectValue ?? [:]
    let kind: ModelKind
    switch architecture {
    case "external-sasrec", "external-vectors", "external-scores": kind = .external
    default:
      guard let known = ModelKind(rawValue: architecture) else {
        throw fail("architecture", "one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      kind = known
    }
    let configuration = ModelConfiguration.make(
      kind: kind, values: hyperparameters, checkpoint: architecture == "external-sasrec",
      scores: architecture == "external-scores")
    return Card(
      configuration: configuration, itemCount: Int(itemCount), userCount: Int(userCount),
      excludeHistory: json["exclude_history"]?.boolValue ?? false, json: json)
  }

  /// The scorer of a cf artifact, for samples of `split` (only imported per-sample vectors and scores
  /// differ by split). Every tensor's shape is checked against the model card; errors name the file.
  public static func loadScorer(_ directory: String, split: SplitName = .train) throws -> any Scorer {
    let card = try readCard(directory)
    let path = FileSystem.join(directory, modelFile)
    let tensors = try SafeTensors.read(path).tensors
    return try scorer(
      configuration: card.configuration, tensors: tensors, itemCount: card.itemCount, userCount: card.userCount,
      split: split, file: path)
  }

  static func scorer(
    configuration: ModelConfiguration, tensors: [SafeTensors.Tensor], itemCount: Int, userCount: Int,
    split: SplitName, file: String
  ) throws -> any Scorer {
    switch configuration {
    case .pop: return try Popularity.scorer(tensors: tensors, itemCount: itemCount, file: file)
    case .bprMF(let configuration):
      return try BPRMF.scorer(
        tensors: tensors, itemCount: itemCount, userCount: userCount, configuration: configuration, file: file)
    case .ease: return try EASE.scorer(tensors: tensors, itemCount: itemCount, file: file)
    case .sasrec(let configuration), .externalCheckpoint(let configuration):
      return try SASRec.scorer(tensors: tensors, itemCount: itemCount, configuration: configuration, file: file)
    case .gru4rec(let configuration):
      return try GRU4Rec.scorer(tensors: tensors, itemCount: itemCount, configuration: configuration, file: file)
    case .externalVectors:
      return try ExternalModel.vectorScorer(tensors: tensors, itemCount: itemCount, split: split, file: file)
    case .externalScores:
      return try ExternalModel.scoreScorer(tensors: tensors, itemCount: itemCount, split: split, file: file)
    }
  }
}

extension CFArtifact {
  /// Scores, target ranks and metrics of `samples` under `scorer` (what `tca score` writes).
  public static func score(
    _ scorer: any Scorer, samples: SampleSet, excludeHistory: Bool, threads: Int, batchSize: Int = 256
  ) -> (scores: [Float], ranks: [Int], metrics: RankingMetrics) {
    var scores = [Float](repeating: 0, count: samples.count * scorer.itemCount)
    scores.withUnsafeMutableBufferPointer { buffer in
      for start in stride(from: 0, to: samples.count, by: batchSize) {
        let range = start..<min(samples.count, start + batchSize)
        scorer.scores(samples, range: range, into: buffer.baseAddress! + start * scorer.itemCount)
      }
    }
    let ranks = RankingEvaluator.ranks(
      scorer, samples: samples, excludeHistory: excludeHistory, threads: threads, batchSize: batchSize)
    return (scores, ranks, RankingMetrics(ranks: ranks))
  }
}
