import CollaborativeFiltering
import PipelineCore
import Testing

/// Every layer of SASRec in isolation against central finite differences, through the scalar loss
/// Σ c ⊙ output with fixed random c (sizes: 3 samples × 5 positions, width 8). Dropout masks are
/// fixed by the step seed, so the checks with dropout on differentiate the same function.
@Suite struct GradientCheckLayerTests {
  static let (samples, length, width) = (3, 5, 8)
  static var tokens: Int { samples * length }
  /// Left-padded item ids of three samples of lengths 5, 3 and 1 (items of 1...30).
  static let items: [Int32] = [4, 9, 17, 2, 30, 0, 0, 5, 5, 11, 0, 0, 0, 0, 23]
  static var timelineMask: [Float] { items.map { $0 == 0 ? 0 : 1 } }

  @Test(arguments: [1e-8, 1e-5] as [Float])
  func layerNormMatchesFiniteDifferences(epsilon: Float) {
    var generator = SeededGenerator(seed: 1)
    var layout = ParameterLayout()
    layout.add("norm.weight", shape: [Self.width])
    layout.add("norm.bias", shape: [Self.width])
    let store = ParameterStore(layout: layout)
    randomize(store, scale: 0.5, generator: &generator)
    let rows = 6
    let norm = LayerNorm(
      width: Self.width, maxRows: rows, epsilon: epsilon, weight: store.parameter(0), bias: store.parameter(1),
      threads: 1)
    let input = TestArray(count: rows * Self.width, scale: 2, generator: &generator)
    let coefficients = TestArray(count: rows * Self.width, scale: 1, generator: &generator)
    let output = TestArray(count: rows * Self.width)
    let inputGradient = TestArray(count: rows * Self.width)
    func loss() -> Double {
      norm.forward(rows: rows, input: input.pointer, output: output.pointer)
      return output.weightedSum(coefficients)
    }
    _ = loss()
    norm.backward(rows: rows, outputGradient: coefficients.pointer, inputGradient: inputGradient.pointer)
    checkGradient(
      "input", values: input.pointer, count: input.count, analytic: inputGradient.values, step: 1e-3, loss: loss)
    checkAllParameters(store, step: 1e-3, loss: loss)
  }

  @Test func linearMatchesFiniteDifferences() {
    var generator = SeededGenerator(seed: 2)
    var layout = ParameterLayout()
    layout.add("weight", shape: [5, Self.width])
    layout.add("bias", shape: [5])
    let store = ParameterStore(layout: layout)
    randomize(store, scale: 0.5, generator: &generator)
    let linear = Linear(
      inputWidth: Self.width, outputWidth: 5, weight: store.parameter(0), bias: store.parameter(1), threads: 1)
    let input = TestArray(count: 7 * Self.width, scale: 1, generator: &generator)
    let coefficients = TestArray(count: 7 * 5, scale: 1, generator: &generator)
    let output = TestArray(count: 7 * 5)
    let inputGradient = TestArray(count: 7 * Self.width)
    func loss() -> Double {
      linear.forward(rows: 7, input: input.pointer, output: output.pointer)
      return output.weightedSum(coefficients)
    }
    _ = loss()
    linear.backward(
      rows: 7, input: input.pointer, outputGradient: coefficients.pointer, inputGradient: inputGradient.pointer)
    checkGradient("input", values: input.pointer, count: input.count, analytic: inputGradient.values, loss: loss)
    checkAllParameters(store, loss: loss)
  }

  @Test(arguments: [0, 0.3])
  func embeddingWithPositionsAndScaleMatchesFiniteDifferences(dropout: Double) {
    var generator = SeededGenerator(seed: 3)
    var layout = ParameterLayout()
    layout.add("item_emb.weight", shape: [31, Self.width])
    layout.add("pos_emb.weight", shape: [Self.length, Self.width])
    let store = ParameterStore(layout: layout)
    randomize(store, scale: 0.5, generator: &generator)
    let embedding = SequenceEmbedding(
      width: Self.width, length: Self.length, maxSamples: Self.samples, scale: Float(8).squareRoot(),
      dropout: dropout, itemEmbedding: store.parameter(0), positionEmbedding: store.parameter(1), threads: 1)
    let coefficients = TestArray(count: Self.tokens * Self.width, scale: 1, generator: &generator)
    let output = TestArray(count: Self.tokens * Self.width)
    Self.items.withUnsafeBufferPointer { items in
      func loss() -> Double {
        embedding.forward(
          samples: Self.samples, items: items.baseAddress!, output: output.pointer, training: true, stepSeed: 11)
        return output.weightedSum(coefficients)
      }
      _ = loss()
      // Padding positions are zero (the timeline mask) whatever the embeddings hold.
      #expect((0..<Self.width).allSatisfy { output.pointer[5 * Self.width + $0] == 0 })
      store.zeroGradients()
      embedding.backward(samples: Self.samples, items: items.baseAddress!, outputGradient: coefficients.pointer)
      // padding_idx = 0: the padding row never gets a gradient.
      #expect((0..<Self.width).allSatisfy { store.parameter(0).gradient[$0] == 0 })
      checkAllParameters(store, loss: loss)
    }
  }

  /// (heads, dropout, queries per sample): all positions, or only the last ones.
  @Test(arguments: [(1, 0.0, 5), (2, 0.0, 5), (2, 0.3, 5), (2, 0.3, 1), (1, 0.0, 2)])
  func causalAttentionMatchesFiniteDifferences(heads: Int, dropout: Double, queryLength: Int) {
    var generator = SeededGenerator(seed: 4)
    let d = Self.width
    var layout = ParameterLayout()
    layout.add("in_proj_weight", shape: [3 * d, d])
    layout.add("in_proj_bias", shape: [3 * d])
    layout.add("out_proj.weight", shape: [d, d])
    layout.add("out_proj.bias", shape: [d])
    let store = ParameterStore(layout: layout)
    randomize(store, scale: 0.5, generator: &generator)
    let attention = CausalSelfAttention(
      width: d, heads: heads, length: Self.length, queryLength: queryLength, maxSamples: Self.samples,
      dropout: dropout, inProjectionWeight: store.parameter(0), inProjectionBias: store.parameter(1),
      outProjectionWeight: store.parameter(2), outProjectionBias: store.parameter(3), threads: 1)
    let queryRows = Self.samples * queryLength
    let query = TestArray(count: queryRows * d, scale: 1, generator: &generator)
    let keyValue = TestArray(count: Self.tokens * d, scale: 1, generator: &generator)
    let coefficients = TestArray(count: queryRows * d, scale: 1, generator: &generator)
    let output = TestArray(count: queryRows * d)
    let queryGradient = TestArray(count: queryRows * d)
    let keyValueGradient = TestArray(count: Self.tokens * d)
    func loss() -> Double {
      attention.forward(
        samples: Self.samples, query: query.pointer, keyValue: keyValue.pointer, output: output.pointer,
        accumulate: false, training: true, stepSeed: 5)
      return output.weightedSum(coefficients)
    }
    _ = loss()
    attention.backward(
      samples: Self.samples, query: query.pointer, keyValue: keyValue.pointer, outputGradient: coefficients.pointer,
      queryGradient: queryGradient.pointer, accumulateQuery: false, keyValueGradient: keyValueGradient.pointer,
      accumulateKeyValue: false)
    checkGradient("query", values: query.pointer, count: query.count, analytic: queryGradient.values, loss: loss)
    checkGradient(
      "key/value", values: keyValue.pointer, count: keyValue.count, analytic: keyValueGradient.values, loss: loss)
    checkAllParameters(store, loss: loss)
  }

  @Test func attentionIsCausal() {
    var generator = SeededGenerator(seed: 5)
    let d = Self.width
    var layout = ParameterLayout()
    layout.add("in_proj_weight", shape: [3 * d, d])
    layout.add("in_proj_bias", shape: [3 * d])
    layout.add("out_proj.weight", shape: [d, d])
    layout.add("out_proj.bias", shape: [d])
    let store = ParameterStore(layout: layout)
    randomize(store, scale: 0.5, generator: &generator)
    let attention = CausalSelfAttention(
      width: d, heads: 2, length: Self.length, maxSamples: 1, dropout: 0, inProjectionWeight: store.parameter(0),
      inProjectionBias: store.parameter(1), outProjectionWeight: store.parameter(2),
      outProjectionBias: store.parameter(3), threads: 1)
    let query = TestArray(count: Self.length * d, scale: 1, generator: &generator)
    let keyValue = TestArray(count: Self.length * d, scale: 1, generator: &generator)
    let before = TestArray(count: Self.length * d)
    let after = TestArray(count: Self.length * d)
    attention.forward(
      samples: 1, query: query.pointer, keyValue: keyValue.pointer, output: before.pointer, accumulate: false,
      training: false)
    // Changing the last position's key and value leaves every earlier output unchanged.
    for index in (Self.length - 1) * d..<Self.length * d { keyValue.pointer[index] += 1 }
    attention.forward(
      samples: 1, query: query.pointer, keyValue: keyValue.pointer, output: after.pointer, accumulate: false,
      training: false)
    let earlier = (Self.length - 1) * d
    let beforeValues = before.values
    let afterValues = after.values
    #expect(beforeValues[..<earlier] == afterValues[..<earlier])
    #expect(beforeValues[earlier...] != afterValues[earlier...])
  }

  @Test(arguments: [0, 0.3])
  func feedForwardWithReLUAndResidualMatchesFiniteDifferences(dropout: Double) {
    var generator = SeededGenerator(seed: 6)
    let d = Self.width
    var layout = ParameterLayout()
    layout.add("conv1.weight", shape: [d, d])
    layout.add("conv1.bias", shape: [d])
    layout.add("conv2.weight", shape: [d, d])
    layout.add("conv2.bias", shape: [d])
    let store = ParameterStore(layout: layout)
    randomize(store, scale: 0.5, generator: &generator)
    let feedForward = PointwiseFeedForward(
      width: d, length: Self.length, maxSamples: Self.samples, dropout: dropout, firstWeight: store.parameter(0),
      firstBias: store.parameter(1), secondWeight: store.parameter(2), secondBias: store.parameter(3), threads: 1)
    let input = TestArray(count: Self.tokens * d, scale: 1, generator: &generator)
    let coefficients = TestArray(count: Self.tokens * d, scale: 1, generator: &generator)
    let output = TestArray(count: Self.tokens * d)
    let inputGradient = TestArray(count: Self.tokens * d)
    func loss() -> Double {
      feedForward.forward(
        samples: Self.samples, input: input.pointer, output: output.pointer, training: true, stepSeed: 9)
      return output.weightedSum(coefficients)
    }
    _ = loss()
    feedForward.backward(
      samples: Self.samples, input: input.pointer, outputGradient: coefficients.pointer,
      inputGradient: inputGradient.pointer)
    // ReLU kinks: a step of 1e-3 crosses one only where a pre-activation is within 1e-3 of 0.
    checkGradient(
      "input", values: input.pointer, count: input.count, analytic: inputGradient.values, step: 1e-3, loss: loss)
    checkAllParameters(store, step: 1e-3, loss: loss)
  }

  /// (heads, dropout, output positions per sample): all, or only the last (SASRec's last block
  /// under the `bce` and `ce` losses).
  @Test(arguments: [(1, 0.0, 5), (2, 0.3, 5), (2, 0.3, 1), (1, 0.0, 1)])
  func transformerBlockWithResidualsAndTimelineMaskMatchesFiniteDifferences(
    heads: Int, dropout: Double, queryLength: Int
  ) {
    var generator = SeededGenerator(seed: 7)
    let d = Self.width
    var layout = ParameterLayout()
    let names = [
      ("attention_layernorm.weight", [d]), ("attention_layernorm.bias", [d]), ("in_proj_weight", [3 * d, d]),
      ("in_proj_bias", [3 * d]), ("out_proj.weight", [d, d]), ("out_proj.bias", [d]),
      ("forward_layernorm.weight", [d]), ("forward_layernorm.bias", [d]), ("conv1.weight", [d, d]),
      ("conv1.bias", [d]), ("conv2.weight", [d, d]), ("conv2.bias", [d]),
    ]
    for (name, shape) in names { layout.add(name, shape: shape) }
    let store = ParameterStore(layout: layout)
    randomize(store, scale: 0.5, generator: &generator)
    let p = (0..<names.count).map { store.parameter($0) }
    let block = TransformerBlock(
      width: d, heads: heads, length: Self.length, queryLength: queryLength, maxSamples: Self.samples,
      dropout: dropout,
      parameters: TransformerBlock.Parameters(
        attentionNormWeight: p[0], attentionNormBias: p[1], inProjectionWeight: p[2], inProjectionBias: p[3],
        outProjectionWeight: p[4], outProjectionBias: p[5], forwardNormWeight: p[6], forwardNormBias: p[7],
        firstWeight: p[8], firstBias: p[9], secondWeight: p[10], secondBias: p[11]),
      block: 0, threads: 1)
    // The network feeds a block zeros at padding; random values there check the key/value path too.
    let input = TestArray(count: Self.tokens * d, scale: 1, generator: &generator)
    let coefficients = TestArray(count: Self.samples * queryLength * d, scale: 1, generator: &generator)
    let output = TestArray(count: Self.samples * queryLength * d)
    let inputGradient = TestArray(count: Self.tokens * d)
    Self.timelineMask.withUnsafeBufferPointer { mask in
      func loss() -> Double {
        block.forward(
          samples: Self.samples, input: input.pointer, timelineMask: mask.baseAddress!, output: output.pointer,
          training: true, stepSeed: 3)
        return output.weightedSum(coefficients)
      }
      _ = loss()
      if queryLength == Self.length {
        #expect((0..<d).allSatisfy { output.pointer[5 * d + $0] == 0 }, "padding rows are masked")
      }
      block.backward(
        samples: Self.samples, input: input.pointer, timelineMask: mask.baseAddress!,
        outputGradient: coefficients.pointer, inputGradient: inputGradient.pointer)
      checkGradient(
        "input", values: input.pointer, count: input.count, analytic: inputGradient.values, step: 1e-3, loss: loss)
      checkAllParameters(store, step: 1e-3, loss: loss)
    }
  }
}
