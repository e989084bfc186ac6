import ArtifactFormats
import CollaborativeFiltering
import DenseLinearAlgebra
import Foundation
import Interactions
import PipelineCore
import TestSupport
import Testing

/// SASRec and GRU4Rec trained on real ml-100k histories: determinism (runs and thread counts),
/// learning (loss falls, valid NDCG@10 far above random), scorer round trips. Serialized: OpenBLAS
/// (pthreads build) makes concurrent callers spin on its one queue.
@Suite(.serialized) struct NeuralTrainingTests {
  static let enabled = SharedData.shouldRun(NeuralTestData.movieLens)

  /// A small SASRec and GRU4Rec for quick runs.
  static func sasrec(epochs: Int) -> SASRecConfiguration {
    var configuration = SASRecConfiguration()
    configuration.hidden = 16
    configuration.heads = 2
    configuration.dropout = 0.2
    configuration.batchSize = 128
    configuration.maxEpochs = epochs
    configuration.patience = epochs
    return configuration
  }

  static func gru4rec(epochs: Int) -> GRU4RecConfiguration {
    var configuration = GRU4RecConfiguration()
    configuration.hidden = 16
    configuration.batchSize = 128
    configuration.maxEpochs = epochs
    configuration.patience = epochs
    return configuration
  }

  /// 100 users, their last 12 ratings each (900 train samples, 8 batches of 128).
  static func smallSplit() throws -> NeuralTestData.Split {
    let sequences = try NeuralTestData.movieLensSequences()
    return NeuralTestData.leaveOneOut(Array(sequences.prefix(100)), itemCount: 1682, lastPerUser: 12)
  }

  static func bits(_ tensors: [SafeTensors.Tensor]) -> [[UInt32]] { tensors.map { $0.values.map(\.bitPattern) } }

  static func train(
    _ model: ModelKind, _ split: NeuralTestData.Split, seed: UInt64, threads: Int, epochs: Int,
    loss: NeuralLoss = .bce, batchSize: Int = 128, learningRate: Double = 1e-3
  ) throws -> TrainedModel {
    let environment = NeuralTestData.environment(seed: seed, threads: threads, valid: split.data.valid)
    if model == .sasrec {
      var configuration = sasrec(epochs: epochs)
      configuration.loss = loss
      configuration.batchSize = batchSize
      configuration.learningRate = learningRate
      return try SASRec.train(split.data, configuration: configuration, environment: environment)
    }
    var configuration = gru4rec(epochs: epochs)
    configuration.loss = loss
    configuration.batchSize = batchSize
    configuration.learningRate = learningRate
    return try GRU4Rec.train(split.data, configuration: configuration, environment: environment)
  }

  @Test(.enabled(if: enabled, "needs ../shared/data/movielens/ml-100k"), arguments: [ModelKind.sasrec, .gru4rec])
  func sameSeedGivesIdenticalWeightsOnAnyThreadCount(model: ModelKind) throws {
    guard SharedData.available(NeuralTestData.movieLens) else { return }
    let split = try Self.smallSplit()
    let first = try Self.train(model, split, seed: 7, threads: 1, epochs: 2)
    let again = try Self.train(model, split, seed: 7, threads: 1, epochs: 2)
    let twoThreads = try Self.train(model, split, seed: 7, threads: 2, epochs: 2)
    let otherSeed = try Self.train(model, split, seed: 8, threads: 1, epochs: 1)
    #expect(Self.bits(first.tensors) == Self.bits(again.tensors))
    #expect(Self.bits(first.tensors) == Self.bits(twoThreads.tensors))
    #expect(first.curve == twoThreads.curve)
    #expect(Self.bits(first.tensors) != Self.bits(otherSeed.tensors))
  }

  /// OpenBLAS's threaded sgemm rounds differently with its thread count; the trainers hold it at one
  /// thread and run fixed sgemm blocks on their own threads, so the count the stage set does not
  /// matter. Width 64 makes the products large enough for OpenBLAS to thread them.
  @Test(
    .enabled(if: enabled, "needs ../shared/data/movielens/ml-100k"),
    arguments: [(ModelKind.sasrec, NeuralLoss.bce), (.sasrec, .ce), (.gru4rec, .bceAll)])
  func weightsDoNotDependOnOpenBLASThreads(model: ModelKind, loss: NeuralLoss) throws {
    guard SharedData.available(NeuralTestData.movieLens) else { return }
    let split = try Self.smallSplit()
    func train(blasThreads: Int) throws -> TrainedModel {
      DenseLinearAlgebra.setThreadCount(blasThreads)
      let environment = NeuralTestData.environment(seed: 4, threads: 2, valid: split.data.valid)
      if model == .sasrec {
        var configuration = SASRecConfiguration()
        configuration.maxEpochs = 1
        configuration.loss = loss
        configuration.batchSize = 200
        return try SASRec.train(split.data, configuration: configuration, environment: environment)
      }
      var configuration = GRU4RecConfiguration()
      configuration.maxEpochs = 1
      configuration.loss = loss
      configuration.batchSize = 200
      return try GRU4Rec.train(split.data, configuration: configuration, environment: environment)
    }
    defer { DenseLinearAlgebra.setThreadCount(ProcessInfo.processInfo.activeProcessorCount) }
    let one = try train(blasThreads: 1)
    let two = try train(blasThreads: 2)
    #expect(Self.bits(one.tensors) == Self.bits(two.tensors))
  }

  @Test(
    .enabled(if: enabled, "needs ../shared/data/movielens/ml-100k"),
    arguments: [(ModelKind.sasrec, NeuralLoss.bce), (.sasrec, .bceAll), (.sasrec, .ce), (.gru4rec, .bce)])
  func lossFallsAndValidNDCGBeatsRandom(model: ModelKind, loss: NeuralLoss) throws {
    guard SharedData.available(NeuralTestData.movieLens) else { return }
    // All 943 users, their last 10 ratings (6,601 train samples); large batches and a larger
    // learning rate keep it to 14 steps.
    let split = NeuralTestData.leaveOneOut(try NeuralTestData.movieLensSequences(), itemCount: 1682, lastPerUser: 10)
    let trained = try Self.train(
      model, split, seed: 3, threads: 2, epochs: 2, loss: loss, batchSize: 1024, learningRate: 1e-2)
    let losses = trained.curve.compactMap(\.loss)
    #expect(losses.count == 2)
    #expect(losses.last! < losses.first!, "loss per epoch: \(losses)")
    // A random ranking of 1,682 items has expected NDCG@10 Σ_{r<10} (1/N)/log2(r + 2) ≈ 0.0027.
    let random = (0..<10).map { 1 / (1682 * log2(Double($0) + 2)) }.reduce(0, +)
    let best = trained.curve[trained.bestEpoch! - 1].valid!.ndcg(at: 10)
    #expect(best > 4 * random, "valid NDCG@10 \(best), random \(random)")
    // The scorer handed back is the best epoch's (the score sgemm may round differently if another
    // test changed OpenBLAS's thread count in between, hence the tolerance).
    let metrics = RankingEvaluator.evaluate(trained.scorer, samples: split.data.valid, excludeHistory: false)
    #expect(abs(metrics.ndcg(at: 10) - best) < 2e-3)
  }

  @Test(.enabled(if: enabled, "needs ../shared/data/movielens/ml-100k"), arguments: [ModelKind.sasrec, .gru4rec])
  func scorerFromSavedTensorsGivesIdenticalScores(model: ModelKind) throws {
    guard SharedData.available(NeuralTestData.movieLens) else { return }
    let split = try Self.smallSplit()
    let trained = try Self.train(model, split, seed: 11, threads: 2, epochs: 1)
    let bytes = SafeTensors.encode(trained.tensors)
    let decoded = try SafeTensors.decode(bytes, file: "model.safetensors").tensors
    let scorer: any EmbeddingScorer =
      model == .sasrec
      ? try SASRec.scorer(
        tensors: decoded, itemCount: 1682, configuration: Self.sasrec(epochs: 1), file: "model.safetensors")
      : try GRU4Rec.scorer(
        tensors: decoded, itemCount: 1682, configuration: Self.gru4rec(epochs: 1), file: "model.safetensors")
    let valid = split.data.valid
    let count = valid.count
    var expected = [Float](repeating: 0, count: count * 1682)
    var actual = [Float](repeating: .nan, count: count * 1682)
    expected.withUnsafeMutableBufferPointer { trained.scorer.scores(valid, range: 0..<count, into: $0.baseAddress!) }
    actual.withUnsafeMutableBufferPointer { scorer.scores(valid, range: 0..<count, into: $0.baseAddress!) }
    #expect(expected.map(\.bitPattern) == actual.map(\.bitPattern))
    // A sample's user vector alone and in a batch (the 900 train samples: passes of 64, the last
    // one short and padded). With OpenBLAS's SkylakeX kernels it is the same at any place in a
    // pass; with the Haswell kernels (AVX2 Intel, AMD Zen) a row's last bits depend on its place
    // in the pass, so there it agrees to float rounding, and the same place gives the same bits
    // (the soft-label stage's sub-batches of 64 start at fixed samples: its outputs do not move).
    let d = scorer.dimension
    let train = split.data.train
    let anyPlace = (BLASKernel.suggestedCoreType() ?? BLASKernel.name) == "SkylakeX"
    var batch = [Float](repeating: 0, count: train.count * d)
    batch.withUnsafeMutableBufferPointer { scorer.userVectors(train, range: 0..<train.count, into: $0.baseAddress!) }
    for range in [5..<6, 250..<262, (train.count - 3)..<train.count] {
      var part = [Float](repeating: .nan, count: range.count * d)
      part.withUnsafeMutableBufferPointer { scorer.userVectors(train, range: range, into: $0.baseAddress!) }
      let inBatch = Array(batch[range.lowerBound * d..<range.upperBound * d])
      if anyPlace {
        #expect(part.map(\.bitPattern) == inBatch.map(\.bitPattern))
      } else {
        let scale = inBatch.map { abs($0) }.max() ?? 1
        let worst = zip(part, inBatch).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * max(scale, 1), "\(range): \(worst) apart (largest value \(scale))")
      }
    }
    var again = [Float](repeating: .nan, count: train.count * d)
    again.withUnsafeMutableBufferPointer { scorer.userVectors(train, range: 0..<train.count, into: $0.baseAddress!) }
    #expect(again.map(\.bitPattern) == batch.map(\.bitPattern))
  }

  @Test(.enabled(if: enabled, "needs ../shared/data/movielens/ml-100k"))
  func sasrecTensorsHaveTheOfficialNamesAndShapes() throws {
    guard SharedData.available(NeuralTestData.movieLens) else { return }
    let split = try Self.smallSplit()
    let trained = try Self.train(.sasrec, split, seed: 1, threads: 1, epochs: 1)
    let d = 16
    var expected: [(String, [Int])] = [("item_emb.weight", [1683, d]), ("pos_emb.weight", [10, d])]
    for block in 0..<2 {
      expected.append(("attention_layernorms.\(block).weight", [d]))
      expected.append(("attention_layernorms.\(block).bias", [d]))
    }
    for block in 0..<2 {
      expected.append(("attention_layers.\(block).in_proj_weight", [3 * d, d]))
      expected.append(("attention_layers.\(block).in_proj_bias", [3 * d]))
      expected.append(("attention_layers.\(block).out_proj.weight", [d, d]))
      expected.append(("attention_layers.\(block).out_proj.bias", [d]))
    }
    for block in 0..<2 {
      expected.append(("forward_layernorms.\(block).weight", [d]))
      expected.append(("forward_layernorms.\(block).bias", [d]))
    }
    for block in 0..<2 {
      expected.append(("forward_layers.\(block).conv1.weight", [d, d, 1]))
      expected.append(("forward_layers.\(block).conv1.bias", [d]))
      expected.append(("forward_layers.\(block).conv2.weight", [d, d, 1]))
      expected.append(("forward_layers.\(block).conv2.bias", [d]))
    }
    expected.append(("last_layernorm.weight", [d]))
    expected.append(("last_layernorm.bias", [d]))
    #expect(trained.tensors.map(\.name) == expected.map(\.0))
    #expect(trained.tensors.map(\.shape) == expected.map(\.1))
    #expect(trained.details["parameters"] == JSONValue(trained.tensors.map(\.values.count).reduce(0, +)))
    #expect(trained.details["stopped"] == .string("max_epochs"))
    #expect(trained.details["epochs"] == JSONValue(1))
  }
}

/// The epoch loop with scripted valid metrics: best by strictly greater NDCG@10, patience, and the
/// weights of the best epoch handed back.
@Suite struct NeuralEarlyStoppingTests {
  /// Hands out NDCG@10 values in order, one per evaluation.
  final class Script: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double]
    init(_ values: [Double]) { self.values = values }
    func next() -> RankingMetrics {
      let value = lock.withLock { values.removeFirst() }
      return RankingMetrics(count: 1, hitRate: [0, 0, 0, 0], ndcg: [0, 0, value, 0])
    }
  }

  static var samples: SampleSet {
    var set = SampleSet()
    let histories: [[UInt32]] = [[1, 2, 3], [4, 5], [2, 9, 7, 3], [8], [6, 1, 4], [3, 3, 5]]
    for (index, history) in histories.enumerated() {
      set.append(user: UInt32(index + 1), target: UInt32(10 - index), timestamp: 0, history: history)
    }
    return set
  }

  static func train(script: [Double], maxEpochs: Int) throws -> TrainedModel {
    let values = Script(script)
    let environment = TrainingEnvironment(
      seed: 5, threads: 1, evaluateValid: { _ in values.next() }, log: { _ in })
    var configuration = SASRecConfiguration()
    configuration.hidden = 8
    configuration.batchSize = 4
    configuration.maxEpochs = maxEpochs
    configuration.patience = 2
    let data = TrainingData(itemCount: 10, userCount: 6, train: samples, valid: samples)
    return try SASRec.train(data, configuration: configuration, environment: environment)
  }

  @Test func keepsTheBestEpochAndStopsAfterPatience() throws {
    let trained = try Self.train(script: [0.1, 0.3, 0.3, 0.5, 0.2, 0.1, 0.9], maxEpochs: 10)
    #expect(trained.curve.map(\.best) == [true, true, false, true, false, false])
    #expect(trained.curve.map(\.epoch) == [1, 2, 3, 4, 5, 6])
    #expect(trained.bestEpoch == 4)
    #expect(trained.details["stopped"] == .string("patience"))
    #expect(trained.details["epochs"] == JSONValue(6))
    // The same run cut at epoch 4 ends with the weights that were kept.
    let cut = try Self.train(script: [0.1, 0.3, 0.3, 0.5], maxEpochs: 4)
    #expect(cut.details["stopped"] == .string("max_epochs"))
    #expect(NeuralTrainingTests.bits(cut.tensors) == NeuralTrainingTests.bits(trained.tensors))
  }
}
