import Interactions
import PipelineCore

/// GRU4Rec: item embedding (padding 0) with dropout, one GRU layer (PyTorch `nn.GRU`) over the
/// left-padded last L history items, the final hidden state as the user vector, and dot-product
/// scores with the item embedding. Forward and backward written out on BLAS.
///
/// Built once for at most `maxSamples` samples per batch (no allocation in a step); a step costs
/// O(B·L·d²) in sgemm (the hidden projection one call per position). Public for the gradient checks
/// and benchmarks; the stage uses `GRU4Rec.train` and `GRU4Rec.scorer`. As `SASRecNetwork`: with
/// `threads` > 1, train inside `DenseLinearAlgebra.withSingleThreadedBLAS`.
public final class GRU4RecNetwork: SequenceNetwork {
  public let configuration: GRU4RecConfiguration
  public let itemCount: Int
  public let maxSamples: Int
  public let parameters: ParameterStore
  let threads: Int
  let embedding: SequenceEmbedding
  let recurrence: GRULayer
  let loss: SequenceLoss?
  let items: NeuralBuffer<Int32>
  let targets: NeuralBuffer<Int32>
  let inputs: FloatBuffer
  let features: FloatBuffer
  let inputGradient: FloatBuffer

  /// The tensors as PyTorch names them (`nn.Embedding` + `nn.GRU`), in that order.
  public static func layout(itemCount: Int, configuration: GRU4RecConfiguration) -> ParameterLayout {
    let d = configuration.hidden
    var layout = ParameterLayout()
    layout.add("item_emb.weight", shape: [itemCount + 1, d])
    layout.add("gru.weight_ih_l0", shape: [3 * d, d])
    layout.add("gru.weight_hh_l0", shape: [3 * d, d])
    layout.add("gru.bias_ih_l0", shape: [3 * d])
    layout.add("gru.bias_hh_l0", shape: [3 * d])
    return layout
  }

  /// Every tensor is stored with its layout shape.
  public static func storedShapes(configuration: GRU4RecConfiguration) -> [String: [Int]] { [:] }

  /// A network over `parameters` (zeros when nil; see `initializeParameters`). Without
  /// `forTraining` it only encodes users.
  public init(
    itemCount: Int, configuration: GRU4RecConfiguration, maxSamples: Int, threads: Int,
    parameters: ParameterStore? = nil, forTraining: Bool = true
  ) {
    let layout = Self.layout(itemCount: itemCount, configuration: configuration)
    precondition(parameters.map { $0.layout.entries == layout.entries } ?? true, "GRU4Rec parameter layout")
    let store = parameters ?? ParameterStore(layout: layout)
    self.configuration = configuration
    self.itemCount = itemCount
    self.maxSamples = maxSamples
    self.parameters = store
    self.threads = threads
    // Training runs with OpenBLAS held at one thread and its sgemm blocks on our threads; scoring
    // leaves OpenBLAS as it is and runs the blocks one after another.
    let productThreads = forTraining ? threads : 1
    let (d, length) = (configuration.hidden, configuration.maxLength)
    let tokens = maxSamples * length
    let itemEmbedding = store.parameter(named: "item_emb.weight")
    embedding = SequenceEmbedding(
      width: d, length: length, maxSamples: maxSamples, scale: 1, dropout: configuration.dropout,
      itemEmbedding: itemEmbedding, positionEmbedding: nil, dropoutSite: RandomStreams.embeddingSite, threads: threads)
    recurrence = GRULayer(
      width: d, length: length, maxSamples: maxSamples, inputWeight: store.parameter(named: "gru.weight_ih_l0"),
      hiddenWeight: store.parameter(named: "gru.weight_hh_l0"), inputBias: store.parameter(named: "gru.bias_ih_l0"),
      hiddenBias: store.parameter(named: "gru.bias_hh_l0"), threads: threads, productThreads: productThreads)
    loss =
      forTraining
      ? SequenceLoss(
        kind: configuration.loss, width: d, length: length, maxSamples: maxSamples, itemCount: itemCount,
        itemEmbedding: itemEmbedding, threads: threads, productThreads: productThreads) : nil
    items = NeuralBuffer(count: tokens)
    targets = NeuralBuffer(count: maxSamples)
    inputs = FloatBuffer(count: tokens * d)
    features = FloatBuffer(count: tokens * d)
    inputGradient = FloatBuffer(count: forTraining ? tokens * d : 0)
  }

  /// Draws the initial weights in layout order: `item_emb` rows 1...N ~ N(0, 0.02) (row 0, padding,
  /// stays 0 as `nn.Embedding(padding_idx=0)` leaves it); every GRU weight and bias ~ U(±1/√d)
  /// (PyTorch's default).
  public func initializeParameters(generator: inout SeededGenerator) {
    let d = configuration.hidden
    for (index, entry) in parameters.layout.entries.enumerated() {
      let values = parameters.parameter(index).value
      if entry.name == "item_emb.weight" {
        values.update(repeating: 0, count: d)
        generator.fillNormal(values + d, count: entry.count - d, mean: 0, deviation: 0.02)
      } else {
        generator.fillUniform(values, count: entry.count, bound: 1 / Double(d).squareRoot())
      }
    }
  }

  /// One training step on the samples `indices` (see `SASRecNetwork.trainingStep`).
  public func trainingStep(
    samples: SampleSet, indices: ArraySlice<Int>, stepSeed: UInt64, computeGradient: Bool = true
  ) -> Double {
    guard let loss else { preconditionFailure("this GRU4Rec network was built for scoring only") }
    let count = indices.count
    precondition(count <= maxSamples, "batch larger than the network was built for")
    SequenceBatch.load(
      samples, indices: indices, length: configuration.maxLength, items: items.base, targets: targets.base,
      timelineMask: nil)
    if computeGradient { parameters.zeroGradients() }
    forward(samples: count, training: true, stepSeed: stepSeed)
    let value = loss.evaluate(
      samples: count, items: items.base, targets: targets.base, features: features.base, stepSeed: stepSeed,
      computeGradient: computeGradient)
    if computeGradient {
      recurrence.backward(
        samples: count, items: items.base, input: inputs.base, outputGradient: loss.featureGradient,
        inputGradient: inputGradient.base)
      embedding.backward(samples: count, items: items.base, outputGradient: inputGradient.base)
    }
    return value
  }

  /// Writes the eval-mode user vectors (the final hidden states) of `samples[range]`, always
  /// running `maxSamples` samples (see `SASRecNetwork.encode`: same sgemm shapes, same bits).
  func encode(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
    precondition(range.count <= maxSamples)
    let (d, length) = (configuration.hidden, configuration.maxLength)
    SequenceBatch.load(samples, indices: range, length: length, items: items.base, targets: nil, timelineMask: nil)
    (items.base + range.count * length).update(repeating: 0, count: (maxSamples - range.count) * length)
    forward(samples: maxSamples, training: false, stepSeed: 0)
    for row in 0..<range.count {
      (output + row * d).update(from: features.base + (row * length + length - 1) * d, count: d)
    }
  }

  func forward(samples: Int, training: Bool, stepSeed: UInt64) {
    embedding.forward(samples: samples, items: items.base, output: inputs.base, training: training, stepSeed: stepSeed)
    recurrence.forward(
      samples: samples, items: items.base, input: inputs.base, initialHidden: nil, output: features.base)
  }
}
