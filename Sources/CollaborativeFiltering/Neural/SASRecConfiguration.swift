import PipelineCore

/// The hyperparameters of SASRec; the defaults are the official TCA4Rec `sasrec/world.py` ones.
public struct SASRecConfiguration: Equatable, Sendable {
  /// d, the width of every embedding and layer.
  public var hidden = 64
  public var blocks = 2
  /// Attention heads; must divide `hidden`.
  public var heads = 1
  /// L, how many of the latest history items the model reads.
  public var maxLength = 10
  /// Dropout on the embeddings, the attention weights and both feed-forward layers (training only).
  public var dropout = 0.5
  public var learningRate = 1e-3
  /// Adam's L2 penalty (added to the gradient, as `torch.optim.Adam`'s `weight_decay`).
  public var weightDecay = 0.0
  public var batchSize = 256
  public var maxEpochs = 200
  /// Epochs without a better valid NDCG@10 before training stops.
  public var patience = 10
  public var loss: NeuralLoss = .bce

  public init() {}

  /// Every value in range, or an error naming the parameter and what to pass instead.
  public func validate() throws(PipelineError) {
    try NeuralSchedule.check(
      model: "sasrec", hidden: hidden, maxLength: maxLength, dropout: dropout, learningRate: learningRate,
      weightDecay: weightDecay, batchSize: batchSize, maxEpochs: maxEpochs, patience: patience)
    guard blocks >= 1 else {
      throw .usage("sasrec: blocks must be at least 1, got \(blocks); pass blocks: 2 (the official value)")
    }
    guard heads >= 1, hidden % heads == 0 else {
      throw .usage(
        "sasrec: heads \(heads) does not divide hidden \(hidden); pass a number of heads that divides hidden")
    }
  }
}
