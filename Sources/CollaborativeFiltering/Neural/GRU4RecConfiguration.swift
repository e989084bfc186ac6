import PipelineCore

/// The hyperparameters of GRU4Rec (one GRU layer over item embeddings).
public struct GRU4RecConfiguration: Equatable, Sendable {
  /// d, the width of the item embedding and of the hidden state.
  public var hidden = 64
  /// L, how many of the latest history items the model reads.
  public var maxLength = 10
  /// Dropout on the input embeddings (training only).
  public var dropout = 0.25
  public var learningRate = 1e-3
  public var weightDecay = 0.0
  public var batchSize = 256
  public var maxEpochs = 200
  public var patience = 10
  public var loss: NeuralLoss = .bce

  public init() {}

  /// Every value in range, or an error naming the parameter and what to pass instead.
  public func validate() throws(PipelineError) {
    try NeuralSchedule.check(
      model: "gru4rec", hidden: hidden, maxLength: maxLength, dropout: dropout, learningRate: learningRate,
      weightDecay: weightDecay, batchSize: batchSize, maxEpochs: maxEpochs, patience: patience)
  }
}
