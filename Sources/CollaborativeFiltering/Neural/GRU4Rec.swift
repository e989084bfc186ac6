import ArtifactFormats
import PipelineCore

/// GRU4Rec (one GRU layer over item embeddings) trained like SASRec: see `GRU4RecNetwork` for the
/// architecture and `NeuralTraining` for the epoch loop.
public enum GRU4Rec {
  /// Trains on `data.train` with the same epoch loop, early stopping and determinism as
  /// `SASRec.train`. Tensors: `item_emb.weight` `[N + 1, d]`, `gru.weight_ih_l0` `[3d, d]`,
  /// `gru.weight_hh_l0` `[3d, d]`, `gru.bias_ih_l0` `[3d]`, `gru.bias_hh_l0` `[3d]`.
  /// - Complexity: per epoch O(samples · L · d²) in sgemm (one per step of the recurrence), a dense
  ///   Adam step over all (N + 1) · d + 6d² + 6d parameters per batch, and the valid scoring.
  public static func train(
    _ data: TrainingData, configuration: GRU4RecConfiguration, environment: TrainingEnvironment
  ) throws -> TrainedModel {
    try SequenceModel.train(GRU4RecNetwork.self, data: data, configuration: configuration, environment: environment)
  }

  /// The eval-mode scorer of tensors with the names and shapes above. Errors name `file` and the
  /// missing or misshapen tensor.
  public static func scorer(
    tensors: [SafeTensors.Tensor], itemCount: Int, configuration: GRU4RecConfiguration, file: String,
    threads: Int = 1
  ) throws -> any EmbeddingScorer {
    try SequenceModel.scorer(
      GRU4RecNetwork.self, tensors: tensors, itemCount: itemCount, configuration: configuration, file: file,
      threads: threads)
  }
}
