import PipelineCore

/// The optimisation and stopping settings both models share.
struct NeuralSchedule {
  var model: String
  var learningRate: Double
  var weightDecay: Double
  var batchSize: Int
  var maxEpochs: Int
  var patience: Int

  /// The checks both configurations share; errors name the model and the parameter.
  static func check(
    model: String, hidden: Int, maxLength: Int, dropout: Double, learningRate: Double, weightDecay: Double,
    batchSize: Int, maxEpochs: Int, patience: Int
  ) throws(PipelineError) {
    func fail(_ name: String, _ value: String, _ expected: String) -> PipelineError {
      .usage("\(model): \(name) is \(value), expected \(expected); fix it in the pipeline file")
    }
    guard hidden >= 1 else { throw fail("hidden", "\(hidden)", "at least 1") }
    guard maxLength >= 1 else { throw fail("max_length", "\(maxLength)", "at least 1") }
    guard dropout >= 0 && dropout < 1 else { throw fail("dropout", "\(dropout)", "a probability in [0, 1)") }
    guard learningRate > 0 && learningRate.isFinite else {
      throw fail("lr", "\(learningRate)", "a positive number")
    }
    guard weightDecay >= 0 && weightDecay.isFinite else {
      throw fail("weight_decay", "\(weightDecay)", "0 or more")
    }
    guard batchSize >= 1 else { throw fail("batch_size", "\(batchSize)", "at least 1") }
    guard maxEpochs >= 1 else { throw fail("max_epochs", "\(maxEpochs)", "at least 1") }
    guard patience >= 1 else { throw fail("patience", "\(patience)", "at least 1") }
  }
}
