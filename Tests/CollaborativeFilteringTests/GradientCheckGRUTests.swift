import CollaborativeFiltering
import PipelineCore
import Testing

/// The GRU against central finite differences: one cell step from a random hidden state, and the
/// layer unrolled over 5 left-padded steps (padded steps leave the state unchanged).
@Suite struct GradientCheckGRUTests {
  static let width = 8

  static func makeLayer(length: Int, samples: Int, generator: inout SeededGenerator) -> (ParameterStore, GRULayer) {
    let d = width
    var layout = ParameterLayout()
    layout.add("gru.weight_ih_l0", shape: [3 * d, d])
    layout.add("gru.weight_hh_l0", shape: [3 * d, d])
    layout.add("gru.bias_ih_l0", shape: [3 * d])
    layout.add("gru.bias_hh_l0", shape: [3 * d])
    let store = ParameterStore(layout: layout)
    randomize(store, scale: 0.6, generator: &generator)
    let layer = GRULayer(
      width: d, length: length, maxSamples: samples, inputWeight: store.parameter(0),
      hiddenWeight: store.parameter(1), inputBias: store.parameter(2), hiddenBias: store.parameter(3), threads: 1)
    return (store, layer)
  }

  @Test func cellMatchesFiniteDifferences() {
    var generator = SeededGenerator(seed: 31)
    let (samples, d) = (3, Self.width)
    let (store, layer) = Self.makeLayer(length: 1, samples: samples, generator: &generator)
    let items: [Int32] = [3, 7, 1]
    let input = TestArray(count: samples * d, scale: 1, generator: &generator)
    let hidden = TestArray(count: samples * d, scale: 0.8, generator: &generator)
    let coefficients = TestArray(count: samples * d, scale: 1, generator: &generator)
    let output = TestArray(count: samples * d)
    let inputGradient = TestArray(count: samples * d)
    let hiddenGradient = TestArray(count: samples * d)
    items.withUnsafeBufferPointer { items in
      func loss() -> Double {
        layer.forward(
          samples: samples, items: items.baseAddress!, input: input.pointer, initialHidden: hidden.pointer,
          output: output.pointer)
        return output.weightedSum(coefficients)
      }
      _ = loss()
      layer.backward(
        samples: samples, items: items.baseAddress!, input: input.pointer, outputGradient: coefficients.pointer,
        inputGradient: inputGradient.pointer, initialHiddenGradient: hiddenGradient.pointer)
      checkGradient("input", values: input.pointer, count: input.count, analytic: inputGradient.values, loss: loss)
      checkGradient(
        "hidden", values: hidden.pointer, count: hidden.count, analytic: hiddenGradient.values, loss: loss)
      checkAllParameters(store, loss: loss)
    }
  }

  @Test func unrolledLayerMatchesFiniteDifferences() {
    var generator = SeededGenerator(seed: 32)
    let (samples, length, d) = (3, 5, Self.width)
    let (store, layer) = Self.makeLayer(length: length, samples: samples, generator: &generator)
    let items: [Int32] = [4, 9, 17, 2, 30, 0, 0, 5, 5, 11, 0, 0, 0, 0, 23]
    let input = TestArray(count: samples * length * d, scale: 1, generator: &generator)
    let coefficients = TestArray(count: samples * length * d, scale: 1, generator: &generator)
    let output = TestArray(count: samples * length * d)
    let inputGradient = TestArray(count: samples * length * d)
    items.withUnsafeBufferPointer { items in
      func loss() -> Double {
        layer.forward(
          samples: samples, items: items.baseAddress!, input: input.pointer, initialHidden: nil,
          output: output.pointer)
        return output.weightedSum(coefficients)
      }
      _ = loss()
      // Before its first item a sample's state is the initial zero state.
      #expect((0..<2 * d).allSatisfy { output.pointer[length * d + $0] == 0 })
      layer.backward(
        samples: samples, items: items.baseAddress!, input: input.pointer, outputGradient: coefficients.pointer,
        inputGradient: inputGradient.pointer)
      // Inputs at padded steps are never read.
      #expect((0..<2 * d).allSatisfy { inputGradient.pointer[length * d + $0] == 0 })
      checkGradient("input", values: input.pointer, count: input.count, analytic: inputGradient.values, loss: loss)
      checkAllParameters(store, loss: loss)
    }
  }
}
