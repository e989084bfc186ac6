import ArtifactFormats
import CollaborativeFiltering
import DenseLinearAlgebra
import Foundation
import Interactions
import PipelineCore
import TestSupport
import Testing

@Suite struct EASETests {
  /// X = [[1, 1], [1, 0]] (user 1 has items 1 and 2, user 2 item 1), λ = 1:
  /// G = XᵀX + I = [[3, 1], [1, 2]], P = G⁻¹ = [[2, −1], [−1, 3]] / 5,
  /// B₁₂ = −P₁₂/P₂₂ = 1/3, B₂₁ = −P₂₁/P₁₁ = 1/2.
  @Test func twoItemModelMatchesTheHandWorkedWeights() throws {
    let train = sampleSet([(1, 2, [1]), (2, 1, [])])
    let valid = sampleSet([(1, 2, [1, 1]), (2, 2, [2, 1]), (2, 1, [])])
    var configuration = EASEConfiguration()
    configuration.lambda = 1
    let model = try EASE.train(
      TrainingData(itemCount: 2, userCount: 2, train: train, valid: valid), configuration: configuration,
      environment: makeEnvironment(valid: valid, excludeHistory: false))
    #expect(model.tensors.map(\.name) == ["B"])
    #expect(model.tensors[0].shape == [2, 2])
    let expected: [Float] = [0, 1.0 / 3, 0.5, 0]
    for (value, wanted) in zip(model.tensors[0].values, expected) { #expect(abs(value - wanted) < 1e-7) }
    // xᵀB: a repeated history item counts once; an empty history scores 0.
    let scores = allScores(model.scorer, valid)
    let wanted: [Float] = [0, 1.0 / 3, 0.5, 1.0 / 3, 0, 0]
    for (value, target) in zip(scores, wanted) { #expect(abs(value - target) < 1e-7) }
    #expect(model.curve.count == 1 && model.curve[0].epoch == 1 && model.curve[0].loss == nil)
  }

  @Test func singularGramMatrixWithoutRegularizationIsAClearError() {
    // One user with both items: G = [[1, 1], [1, 1]] is singular; λ = 0 leaves it so.
    let train = sampleSet([(1, 2, [1])])
    var configuration = EASEConfiguration()
    configuration.lambda = 0
    let message = errorMessage {
      _ = try EASE.train(
        TrainingData(itemCount: 2, userCount: 1, train: train, valid: train), configuration: configuration,
        environment: makeEnvironment(valid: train))
    }
    #expect(
      message
        == "ease: G + λI (λ = 0.0) cannot be inverted: Cholesky factorization: the leading minor of order 2 is not positive definite; use a positive lambda"
    )
  }

  /// The oracle: a dense X, G = XᵀX + λI by a triple loop, and Gauss–Jordan elimination in Double,
  /// on the 300 most popular MovieLens 100K items.
  @Test(.enabled(if: SharedData.shouldRun(MovieLensSamples.relativePath)))
  func weightsMatchAGaussJordanReferenceOnRealRatings() throws {
    guard SharedData.available(MovieLensSamples.relativePath), let full = MovieLensSamples.shared else { return }
    let samples = full.restricted(toMostPopular: 300)
    let n = samples.itemCount
    let lambda = 500.0
    var configuration = EASEConfiguration()
    configuration.lambda = lambda
    let model = try EASE.train(
      samples.data, configuration: configuration, environment: makeEnvironment(valid: samples.valid))

    var dense = [Double](repeating: 0, count: (samples.userCount + 1) * n)
    for sample in 0..<samples.train.count {
      let user = Int(samples.train.users[sample])
      for item in Array(samples.train.history(sample)) + [samples.train.targets[sample]] {
        dense[user * n + Int(item) - 1] = 1
      }
    }
    var gram = [Double](repeating: 0, count: n * n)
    for a in 0..<n {
      for b in 0..<n {
        var sum = 0.0
        for user in 0...samples.userCount { sum += dense[user * n + a] * dense[user * n + b] }
        gram[a * n + b] = sum + (a == b ? lambda : 0)
      }
    }
    let inverse = gaussJordanInverse(gram, n: n)
    var largest: Float = 0
    for i in 0..<n {
      for j in 0..<n {
        let reference = i == j ? 0 : -inverse[i * n + j] / inverse[j * n + j]
        largest = max(largest, abs(model.tensors[0].values[i * n + j] - Float(reference)))
      }
    }
    #expect(largest < 1e-4)
    print("ease: 300 MovieLens items: largest |B − B_reference| = \(largest)")
  }

  @Test(.enabled(if: SharedData.shouldRun(MovieLensSamples.relativePath)))
  func weightsAreByteIdenticalWhateverTheThreadCounts() throws {
    guard SharedData.available(MovieLensSamples.relativePath), let samples = MovieLensSamples.shared else { return }
    var results: [[UInt8]] = []
    for (threads, blasThreads) in [(1, 1), (2, 2), (3, 1)] {
      DenseLinearAlgebra.setThreadCountAfterInversions(blasThreads)
      let model = try EASE.train(
        samples.data, configuration: EASEConfiguration(),
        environment: makeEnvironment(valid: samples.valid, threads: threads))
      results.append(SafeTensors.encode(model.tensors))
    }
    DenseLinearAlgebra.setThreadCountAfterInversions(ProcessInfo.processInfo.activeProcessorCount)
    #expect(results[1] == results[0])
    #expect(results[2] == results[0])
  }

  @Test(.enabled(if: SharedData.shouldRun(MovieLensSamples.relativePath)))
  func scorerReadBackFromTheTensorsScoresTheSame() throws {
    guard SharedData.available(MovieLensSamples.relativePath), let full = MovieLensSamples.shared else { return }
    let samples = full.restricted(toMostPopular: 400)
    let model = try EASE.train(
      samples.data, configuration: EASEConfiguration(), environment: makeEnvironment(valid: samples.valid))
    let decoded = try SafeTensors.decode(SafeTensors.encode(model.tensors), file: "model.safetensors").tensors
    let scorer = try EASE.scorer(tensors: decoded, itemCount: samples.itemCount, file: "model.safetensors", threads: 1)
    let expected = allScores(model.scorer, samples.test)
    #expect(allScores(scorer, samples.test) == expected)
    // Each row is the sum of the rows of B of the sample's distinct history items.
    let n = samples.itemCount
    let weights = model.tensors[0].values
    for sample in [0, 17, samples.test.count - 1] {
      var row = [Float](repeating: 0, count: n)
      for item in Set(samples.test.history(sample)).sorted() {
        for j in 0..<n { row[j] += weights[(Int(item) - 1) * n + j] }
      }
      #expect(Array(expected[(sample * n)..<((sample + 1) * n)]) == row)
    }
  }
}
