import ArtifactFormats
import CollaborativeFiltering
import Foundation
import Interactions
import PipelineCore
import TestSupport
import Testing

@Suite struct BPRMFTests {
  /// Users 1 and 2 have train samples (X: user 1 {1, 2}, user 2 {3}); user 3 has none.
  static let train = sampleSet([(1, 2, [1]), (2, 3, [])])
  static let valid = sampleSet([(1, 4, [1, 2]), (3, 4, [1, 3, 3])])

  static func tinyConfiguration() -> BPRMFConfiguration {
    var configuration = BPRMFConfiguration()
    configuration.factors = 2
    configuration.learningRate = 0.01
    configuration.regularization = 0
    configuration.batchSize = 8
    configuration.maxEpochs = 1
    return configuration
  }

  /// The documented draws, re-done here: N(0, 0.01²) factors by Box–Muller (users then items), a
  /// Fisher–Yates shuffle of the 3 pairs, one rejection-sampled negative per pair. One batch, so one
  /// Adam step, whose first update is −lr·g/(|g| + ε) for every element with a gradient g.
  @Test func oneStepFollowsTheDocumentedDrawsAndAdamsFirstUpdate() throws {
    let seed: UInt64 = 5
    let configuration = Self.tinyConfiguration()
    let model = try BPRMF.train(
      TrainingData(itemCount: 4, userCount: 3, train: Self.train, valid: Self.valid), configuration: configuration,
      environment: makeEnvironment(valid: Self.valid, seed: seed))

    let d = 2
    var generator = SeededGenerator(seed: seed)
    func normals(_ count: Int) -> [Double] {
      var values: [Double] = []
      while values.count < count {
        let radius = (-2 * log(1 - generator.nextUnit())).squareRoot()
        let angle = 2 * Double.pi * generator.nextUnit()
        values += [Double(Float(0.01 * radius * cos(angle))), Double(Float(0.01 * radius * sin(angle)))]
      }
      return Array(values.prefix(count))
    }
    var users = [0, 0] + normals(3 * d)
    let items = [0, 0] + normals(4 * d)
    for k in 0..<d { users[3 * d + k] = 0 }  // user 3 has no train interactions
    let pairs: [(user: Int, item: Int)] = [(1, 1), (1, 2), (2, 3)]
    let rows: [Int: Set<Int>] = [1: [1, 2], 2: [3]]
    var order = [0, 1, 2]
    for index in stride(from: 2, through: 1, by: -1) { order.swapAt(index, generator.nextInt(below: index + 1)) }
    var userGradient = [Double](repeating: 0, count: users.count)
    var itemGradient = [Double](repeating: 0, count: items.count)
    for pair in order.map({ pairs[$0] }) {
      var negative = 0
      repeat { negative = 1 + generator.nextInt(below: 4) } while rows[pair.user]!.contains(negative)
      var x = 0.0
      for k in 0..<d { x += users[pair.user * d + k] * (items[pair.item * d + k] - items[negative * d + k]) }
      let c = -1 / (1 + exp(x)) / 3
      for k in 0..<d {
        userGradient[pair.user * d + k] += c * (items[pair.item * d + k] - items[negative * d + k])
        itemGradient[pair.item * d + k] += c * users[pair.user * d + k]
        itemGradient[negative * d + k] -= c * users[pair.user * d + k]
      }
    }
    func stepped(_ values: [Double], _ gradients: [Double]) -> [Double] {
      zip(values, gradients).map { value, gradient in value - 0.01 * gradient / (abs(gradient) + 1e-8) }
    }
    let expectedUsers = stepped(users, userGradient)
    let expectedItems = stepped(items, itemGradient)
    #expect(model.tensors.map(\.name) == ["user_factors", "item_factors"])
    #expect(model.tensors.map(\.shape) == [[4, 2], [5, 2]])
    for (value, wanted) in zip(model.tensors[0].values, expectedUsers) { #expect(abs(Double(value) - wanted) < 1e-6) }
    for (value, wanted) in zip(model.tensors[1].values, expectedItems) { #expect(abs(Double(value) - wanted) < 1e-6) }
    // Padding rows and the row of the user without train interactions stay exactly 0.
    #expect(Array(model.tensors[0].values[0..<2]) == [0, 0])
    #expect(Array(model.tensors[0].values[6..<8]) == [0, 0])
    #expect(Array(model.tensors[1].values[0..<2]) == [0, 0])
    #expect(model.curve.count == 1 && model.bestEpoch == 1 && model.curve[0].loss != nil)
  }

  @Test func userWithoutTrainInteractionsIsFoldedInFromTheHistory() throws {
    let model = try BPRMF.train(
      TrainingData(itemCount: 4, userCount: 3, train: Self.train, valid: Self.valid),
      configuration: Self.tinyConfiguration(), environment: makeEnvironment(valid: Self.valid))
    let scorer = try #require(model.scorer as? any EmbeddingScorer)
    var vectors = [Float](repeating: .nan, count: 4)
    vectors.withUnsafeMutableBufferPointer { scorer.userVectors(Self.valid, range: 0..<2, into: $0.baseAddress!) }
    let users = model.tensors[0].values
    let items = model.tensors[1].values
    // Sample 0: user 1's own row. Sample 1: user 3 (no row) → mean of items 1 and 3 (3 counted once).
    #expect(Array(vectors[0..<2]) == Array(users[2..<4]))
    #expect(Array(vectors[2..<4]) == [(items[2] + items[6]) / 2, (items[3] + items[7]) / 2])
    #expect(scorer.itemVectors == Array(items[2...]))
  }

  @Test(.enabled(if: SharedData.shouldRun(MovieLensSamples.relativePath)))
  func factorsAreByteIdenticalForOneSeedWhateverTheThreadCount() throws {
    guard SharedData.available(MovieLensSamples.relativePath), let full = MovieLensSamples.shared else { return }
    let samples = full.restricted(toMostPopular: 300)
    var configuration = BPRMFConfiguration()
    configuration.maxEpochs = 3
    configuration.batchSize = 1024
    var encoded: [[UInt8]] = []
    for (seed, threads) in [(UInt64(7), 1), (7, 2), (8, 2)] {
      let model = try BPRMF.train(
        samples.data, configuration: configuration,
        environment: makeEnvironment(valid: samples.valid, seed: seed, threads: threads))
      encoded.append(SafeTensors.encode(model.tensors))
    }
    #expect(encoded[1] == encoded[0])
    #expect(encoded[2] != encoded[0])
  }

  @Test(.enabled(if: SharedData.shouldRun(MovieLensSamples.relativePath)))
  func keepsTheBestEpochAndReadsBackFromTheTensors() throws {
    guard SharedData.available(MovieLensSamples.relativePath), let full = MovieLensSamples.shared else { return }
    let samples = full.restricted(toMostPopular: 500)
    var configuration = BPRMFConfiguration()
    configuration.maxEpochs = 12
    configuration.patience = 2
    configuration.batchSize = 512
    configuration.learningRate = 0.01
    let model = try BPRMF.train(
      samples.data, configuration: configuration, environment: makeEnvironment(valid: samples.valid))
    let bestEpoch = try #require(model.bestEpoch)
    let ndcg = model.curve.map { $0.valid!.ndcg(at: 10) }
    #expect(ndcg[bestEpoch - 1] == ndcg.max())
    #expect(ndcg.firstIndex(of: ndcg.max()!) == bestEpoch - 1)
    #expect(model.curve.filter(\.best).last?.epoch == bestEpoch)
    // Stopped by patience or by the epoch limit.
    #expect(model.curve.count == configuration.maxEpochs || model.curve.count - bestEpoch == configuration.patience)
    // The kept weights are the best epoch's: they reproduce its valid metrics.
    let kept = RankingEvaluator.evaluate(model.scorer, samples: samples.valid, excludeHistory: true, threads: 2)
    #expect(kept == model.curve[bestEpoch - 1].valid)

    let decoded = try SafeTensors.decode(SafeTensors.encode(model.tensors), file: "model.safetensors").tensors
    let scorer = try BPRMF.scorer(
      tensors: decoded, itemCount: samples.itemCount, userCount: samples.userCount, configuration: configuration,
      file: "model.safetensors")
    #expect(allScores(scorer, samples.test) == allScores(model.scorer, samples.test))
  }

  @Test func badConfigurationIsAUsageError() {
    var configuration = BPRMFConfiguration()
    configuration.batchSize = 0
    let message = errorMessage {
      _ = try BPRMF.train(
        TrainingData(itemCount: 4, userCount: 3, train: Self.train, valid: Self.valid), configuration: configuration,
        environment: makeEnvironment(valid: Self.valid))
    }
    #expect(message == "bpr-mf: batch size must be at least 1, got 0")
  }
}
