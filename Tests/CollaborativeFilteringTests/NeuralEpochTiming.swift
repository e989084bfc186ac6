import CollaborativeFiltering
import DenseLinearAlgebra
import Interactions
import PipelineCore
import TestSupport
import Testing

/// Not a test: the time of SASRec / GRU4Rec epochs on Amazon Beauty (131,413 train samples, 12,101
/// items, the official hyperparameters), printed for the side-by-side comparison with PyTorch (see
/// ../shared/design/BENCHMARKS.md). Runs only with TCA_NEURAL_TIMING=1 (TCA_NEURAL_EPOCHS epochs,
/// default 1; TCA_NEURAL_MODEL sasrec or gru4rec; TCA_NEURAL_LOSS; 2 threads, OpenBLAS on 2).
@Suite struct NeuralEpochTiming {
  static let enabled = FileSystem.environment("TCA_NEURAL_TIMING") == "1"

  @Test(.enabled(if: enabled, "set TCA_NEURAL_TIMING=1 to time epochs on Beauty"))
  func beautyEpochs() throws {
    guard SharedData.available(NeuralTestData.beauty) else { return }
    let environmentValue = FileSystem.environment
    let epochs = environmentValue("TCA_NEURAL_EPOCHS").flatMap { Int($0) } ?? 1
    let model = environmentValue("TCA_NEURAL_MODEL") ?? "sasrec"
    let loss = environmentValue("TCA_NEURAL_LOSS").flatMap { NeuralLoss(rawValue: $0) } ?? .bce
    let threads = environmentValue("TCA_NEURAL_THREADS").flatMap { Int($0) } ?? 2
    DenseLinearAlgebra.setThreadCount(threads)
    let split = NeuralTestData.leaveOneOut(try NeuralTestData.beautySequences(), itemCount: 12_101)
    print("timing: Beauty \(split.data.train.count) train, \(split.data.valid.count) valid samples")
    let valid = split.data.valid
    let environment = TrainingEnvironment(
      seed: 2024, threads: threads,
      evaluateValid: { RankingEvaluator.evaluate($0, samples: valid, excludeHistory: false, threads: threads) },
      log: { print("timing: \($0)") })
    let start = monotonicSeconds()
    let trained: TrainedModel
    if model == "gru4rec" {
      var configuration = GRU4RecConfiguration()
      configuration.maxEpochs = epochs
      configuration.loss = loss
      trained = try GRU4Rec.train(split.data, configuration: configuration, environment: environment)
    } else {
      var configuration = SASRecConfiguration()
      configuration.maxEpochs = epochs
      configuration.loss = loss
      trained = try SASRec.train(split.data, configuration: configuration, environment: environment)
    }
    let seconds = monotonicSeconds() - start
    print(
      "timing: OpenBLAS kernels \(BLASKernel.name); PyTorch CPU, 2 threads: 36.9 s per epoch (../shared/design/BENCHMARKS.md)"
    )
    let test = RankingEvaluator.evaluate(trained.scorer, samples: split.test, excludeHistory: false, threads: threads)
    print(
      "timing: \(model) \(loss.rawValue): \(trained.curve.count) epochs in \(formatFixed(seconds, digits: 1)) s (\(formatFixed(seconds / Double(trained.curve.count), digits: 2)) s per epoch with valid scoring); best epoch \(trained.bestEpoch ?? 0), test NDCG@10 \(formatFixed(test.ndcg(at: 10), digits: 4)) HR@10 \(formatFixed(test.hitRate(at: 10), digits: 4))"
    )
  }
}
