import CollaborativeFiltering
import Foundation
import PipelineCore
import Testing

/// The three losses against central finite differences, with respect to the features (every token
/// row) and the item embedding (N 30, width 8, 3 samples × 5 positions, left padding). Negatives are
/// fixed by the step seed.
@Suite struct GradientCheckLossTests {
  static let (samples, length, width, itemCount) = (3, 5, 8, 30)
  static let items: [Int32] = [4, 9, 17, 2, 30, 0, 0, 5, 5, 11, 0, 0, 0, 0, 23]
  static let targets: [Int32] = [6, 11, 1]

  @Test(arguments: NeuralLoss.allCases)
  func lossMatchesFiniteDifferences(kind: NeuralLoss) {
    var generator = SeededGenerator(seed: 21)
    var layout = ParameterLayout()
    layout.add("item_emb.weight", shape: [Self.itemCount + 1, Self.width])
    let store = ParameterStore(layout: layout)
    randomize(store, scale: 0.5, generator: &generator)
    let loss = SequenceLoss(
      kind: kind, width: Self.width, length: Self.length, maxSamples: Self.samples, itemCount: Self.itemCount,
      itemEmbedding: store.parameter(0), threads: 1)
    let features = TestArray(count: Self.samples * Self.length * Self.width, scale: 1, generator: &generator)
    Self.items.withUnsafeBufferPointer { items in
      Self.targets.withUnsafeBufferPointer { targets in
        func value(gradient: Bool) -> Double {
          loss.evaluate(
            samples: Self.samples, items: items.baseAddress!, targets: targets.baseAddress!,
            features: features.pointer, stepSeed: 77, computeGradient: gradient)
        }
        store.zeroGradients()
        let total = value(gradient: true)
        #expect(total > 0 && total.isFinite)
        let featureGradient = Array(UnsafeBufferPointer(start: loss.featureGradient, count: features.count))
        // bce reads only the last position of each sample.
        if kind != .bceAll {
          for row in 0..<Self.samples * Self.length where row % Self.length != Self.length - 1 {
            #expect((0..<Self.width).allSatisfy { featureGradient[row * Self.width + $0] == 0 })
          }
        }
        checkGradient(
          "features", values: features.pointer, count: features.count, analytic: featureGradient, step: 1e-3,
          loss: { value(gradient: false) })
        checkAllParameters(store, step: 1e-3, loss: { value(gradient: false) })
      }
    }
  }

  /// The official `compute_loss` by hand: BCE with logits, mean over the target logit and one
  /// negative logit per sample.
  @Test func bceIsTheMeanOverTwoLogitsPerSample() {
    var layout = ParameterLayout()
    layout.add("item_emb.weight", shape: [4, 2])
    let store = ParameterStore(layout: layout)
    // Items 1, 2, 3 = (1, 0), (0, 1), (1, 1); the user vector (2, −1).
    let table: [Float] = [0, 0, 1, 0, 0, 1, 1, 1]
    for index in 0..<8 { store.parameter(0).value[index] = table[index] }
    let loss = SequenceLoss(
      kind: .bce, width: 2, length: 1, maxSamples: 1, itemCount: 3, itemEmbedding: store.parameter(0), threads: 1)
    let items: [Int32] = [1]
    let targets: [Int32] = [3]
    let features: [Float] = [2, -1]
    let value = loss.evaluate(
      samples: 1, items: items, targets: targets, features: features, stepSeed: 0, computeGradient: false)
    // The only allowed negative is item 2: logits 1 (target) and −1 (negative).
    let expected = (log(1 + exp(-1.0)) + log(1 + exp(-1.0))) / 2
    #expect(abs(value - expected) < 1e-6)
  }
}
