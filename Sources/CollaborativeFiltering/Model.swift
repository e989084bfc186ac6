import ArtifactFormats
import Interactions
import PipelineCore

/// The model families the `cf` stage trains or imports (the `model` parameter).
public enum ModelKind: String, CaseIterable, Sendable {
  case pop
  case bprMF = "bpr-mf"
  case ease
  case sasrec
  case gru4rec
  case external
}

/// What every trainer is given: the id space and the train and valid samples of a `samples` artifact.
public struct TrainingData: Sendable {
  /// N: item ids are 1...N.
  public var itemCount: Int
  /// U: user ids are 1...U.
  public var userCount: Int
  public var train: SampleSet
  /// Selects the epoch (early stopping) for iterative models; never trained on.
  public var valid: SampleSet

  public init(itemCount: Int, userCount: Int, train: SampleSet, valid: SampleSet) {
    self.itemCount = itemCount
    self.userCount = userCount
    self.train = train
    self.valid = valid
  }
}

/// How a trainer reports and selects epochs.
public struct TrainingEnvironment: Sendable {
  /// Every random draw of a trainer comes from generators seeded with this.
  public var seed: UInt64
  /// Threads for the trainer's own loops (OpenBLAS is pinned separately by the stage). The weights
  /// must not depend on it.
  public var threads: Int
  /// Full-ranking metrics of a scorer on the valid samples, as `metrics.json` reports them.
  public var evaluateValid: @Sendable (any Scorer) -> RankingMetrics
  /// One line per epoch for people (never part of an output).
  public var log: @Sendable (String) -> Void

  public init(
    seed: UInt64, threads: Int, evaluateValid: @escaping @Sendable (any Scorer) -> RankingMetrics,
    log: @escaping @Sendable (String) -> Void
  ) {
    self.seed = seed
    self.threads = threads
    self.evaluateValid = evaluateValid
    self.log = log
  }
}

/// One line of `curve.jsonl`: an epoch's mean training loss and its valid metrics. No timings, so
/// the file is byte-identical run after run.
public struct EpochRecord: Equatable, Sendable {
  public var epoch: Int
  /// Mean loss over the epoch's batches; `nil` for closed-form models.
  public var loss: Double?
  public var valid: RankingMetrics?
  /// Whether this epoch is the best so far by valid NDCG@10 (the one kept).
  public var best: Bool

  public init(epoch: Int, loss: Double?, valid: RankingMetrics?, best: Bool) {
    self.epoch = epoch
    self.loss = loss
    self.valid = valid
    self.best = best
  }

  public var json: JSONValue {
    var object: [String: JSONValue] = ["epoch": JSONValue(epoch), "best": .bool(best)]
    object["loss"] = loss.map(JSONValue.number) ?? .null
    object["valid"] = valid?.json ?? .null
    return .object(object)
  }
}

/// A trained (or imported) model: its tensors as `model.safetensors` stores them, the scorer the
/// next stage uses, and its training curve.
public struct TrainedModel: Sendable {
  /// Tensors in the order written; names are the model's (official names for SASRec).
  public var tensors: [SafeTensors.Tensor]
  public var scorer: any Scorer
  public var curve: [EpochRecord]
  /// The epoch whose weights were kept (1-based), `nil` for closed-form models.
  public var bestEpoch: Int?
  /// Anything else the model card should say (parameter counts, epochs run, stop reason).
  public var details: [String: JSONValue]

  public init(
    tensors: [SafeTensors.Tensor], scorer: any Scorer, curve: [EpochRecord] = [], bestEpoch: Int? = nil,
    details: [String: JSONValue] = [:]
  ) {
    self.tensors = tensors
    self.scorer = scorer
    self.curve = curve
    self.bestEpoch = bestEpoch
    self.details = details
  }
}

extension TrainedModel {
  /// The tensor named `name`, or an error naming the file and what is missing.
  public static func tensor(
    _ name: String, in tensors: [SafeTensors.Tensor], shape: [Int], file: String
  ) throws(PipelineError) -> SafeTensors.Tensor {
    guard let tensor = tensors.first(where: { $0.name == name }) else {
      throw .invalidArtifact("'\(file)' has no tensor '\(name)'")
    }
    guard tensor.shape == shape else {
      throw .invalidArtifact(
        "'\(file)': tensor '\(name)' has shape \(tensor.shape), expected \(shape) (from the model card)")
    }
    return tensor
  }
}
