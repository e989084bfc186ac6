/// The training objective of the sequential models (SASRec, GRU4Rec): the `loss` parameter.
public enum NeuralLoss: String, CaseIterable, Sendable {
  /// The official TCA4Rec SASRec loss (`compute_loss`): binary cross-entropy with logits at the last
  /// position, the target against one negative drawn uniformly from the items that are neither in
  /// the input nor the target; the mean over the 2·B logits.
  case bce
  /// Standard SASRec (`compute_loss_full`): at every position whose next item is not padding, that
  /// item against one negative; the mean over positives plus the mean over negatives.
  case bceAll = "bce-all"
  /// Softmax cross-entropy of the last position over all items 1...N.
  case ce
}
