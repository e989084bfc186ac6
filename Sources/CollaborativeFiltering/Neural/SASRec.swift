import ArtifactFormats
import PipelineCore

/// SASRec as the official TCA4Rec code trains it (`sasrec/model.py`, `sasrec/main.py`), in Swift on
/// OpenBLAS: see `SASRecNetwork` for the architecture and `NeuralTraining` for the epoch loop.
public enum SASRec {
  /// Trains on `data.train` (shuffled each epoch), evaluates `data.valid` after every epoch with
  /// `environment.evaluateValid`, keeps the weights of the epoch with the best valid NDCG@10
  /// (strictly greater than the best so far) and stops after `patience` epochs without a better one
  /// or at `maxEpochs`.
  ///
  /// Returns the tensors with the official names (`item_emb.weight`, `pos_emb.weight`,
  /// `attention_layernorms.i.*`, `attention_layers.i.in_proj_weight`, …, `last_layernorm.*`;
  /// Conv1d weights `[d, d, 1]`), the eval-mode scorer, one `EpochRecord` per epoch (mean batch
  /// loss, valid metrics, best flag), the best epoch (1-based) and details (`parameters`, `epochs`,
  /// `stopped`: "patience" or "max_epochs", `loss`).
  ///
  /// Deterministic: the same data, configuration and seed give byte-identical tensors whatever
  /// `environment.threads` and OpenBLAS's thread count (every draw from `SeededGenerator(seed:)`,
  /// see `RandomStreams`; every reduction in one fixed order).
  /// - Complexity: per epoch O(samples · L · d · (d + L)) in sgemm and per-sample attention, a dense
  ///   Adam step over all (N + 1) · d + O(blocks · d²) parameters per batch, and the valid scoring.
  public static func train(
    _ data: TrainingData, configuration: SASRecConfiguration, environment: TrainingEnvironment
  ) throws -> TrainedModel {
    try SequenceModel.train(SASRecNetwork.self, data: data, configuration: configuration, environment: environment)
  }

  /// The eval-mode scorer of tensors with the official names and shapes (e.g. a checkpoint
  /// converted to safetensors). Errors name `file` and the missing or misshapen tensor.
  /// - Parameter threads: threads for the scorer's own loops (its sgemm use OpenBLAS's).
  public static func scorer(
    tensors: [SafeTensors.Tensor], itemCount: Int, configuration: SASRecConfiguration, file: String,
    threads: Int = 1
  ) throws -> any EmbeddingScorer {
    try SequenceModel.scorer(
      SASRecNetwork.self, tensors: tensors, itemCount: itemCount, configuration: configuration, file: file,
      threads: threads)
  }
}
