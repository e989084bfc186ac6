import Interactions
import PipelineCore

/// The official TCA4Rec SASRec (`sasrec/model.py`) with its forward and backward passes written
/// out on BLAS: item and learned position embeddings, `blocks` causal Transformer blocks, a last
/// LayerNorm, the user vector at the last position and dot-product scores with the item embedding.
///
/// Built once for at most `maxSamples` samples per batch: every activation and gradient buffer is
/// allocated here, none in a step. Under the `bce` and `ce` losses (and when scoring) the last block
/// computes only the last position, the only one the loss reads. A step costs O(B·L·d·(d + L)) in
/// sgemm and per-sample attention. Public for the gradient checks and benchmarks; the stage uses
/// `SASRec.train` and `SASRec.scorer`.
///
/// A network built with `threads` > 1 for training runs its sgemm blocks on several threads at once:
/// call `trainingStep` inside `DenseLinearAlgebra.withSingleThreadedBLAS` (as `SASRec.train` does),
/// so that no thread count changes the result.
public final class SASRecNetwork: SequenceNetwork {
  public let configuration: SASRecConfiguration
  public let itemCount: Int
  public let maxSamples: Int
  public let parameters: ParameterStore
  let threads: Int
  let embedding: SequenceEmbedding
  let blocks: [TransformerBlock]
  let lastNorm: LayerNorm
  let loss: SequenceLoss?
  let items: NeuralBuffer<Int32>
  let targets: NeuralBuffer<Int32>
  let timelineMask: FloatBuffer
  /// Positions of each sample the last block computes: only the last one, unless the loss is
  /// `bce-all` (the keys and values of every position still enter its attention).
  let lastQueryLength: Int
  /// The input of block i is `activations[i]`; the last is the output of the last block.
  let activations: [FloatBuffer]
  let features: FloatBuffer
  let gradients: (FloatBuffer, FloatBuffer)

  /// The tensors of the official `state_dict`, in its order.
  public static func layout(itemCount: Int, configuration: SASRecConfiguration) -> ParameterLayout {
    let d = configuration.hidden
    var layout = ParameterLayout()
    layout.add("item_emb.weight", shape: [itemCount + 1, d])
    layout.add("pos_emb.weight", shape: [configuration.maxLength, d])
    for block in 0..<configuration.blocks {
      layout.add("attention_layernorms.\(block).weight", shape: [d])
      layout.add("attention_layernorms.\(block).bias", shape: [d])
    }
    for block in 0..<configuration.blocks {
      layout.add("attention_layers.\(block).in_proj_weight", shape: [3 * d, d])
      layout.add("attention_layers.\(block).in_proj_bias", shape: [3 * d])
      layout.add("attention_layers.\(block).out_proj.weight", shape: [d, d])
      layout.add("attention_layers.\(block).out_proj.bias", shape: [d])
    }
    for block in 0..<configuration.blocks {
      layout.add("forward_layernorms.\(block).weight", shape: [d])
      layout.add("forward_layernorms.\(block).bias", shape: [d])
    }
    for block in 0..<configuration.blocks {
      layout.add("forward_layers.\(block).conv1.weight", shape: [d, d])
      layout.add("forward_layers.\(block).conv1.bias", shape: [d])
      layout.add("forward_layers.\(block).conv2.weight", shape: [d, d])
      layout.add("forward_layers.\(block).conv2.bias", shape: [d])
    }
    layout.add("last_layernorm.weight", shape: [d])
    layout.add("last_layernorm.bias", shape: [d])
    return layout
  }

  /// The Conv1d weights are stored `[d, d, 1]` in the official checkpoint.
  public static func storedShapes(configuration: SASRecConfiguration) -> [String: [Int]] {
    let d = configuration.hidden
    var shapes: [String: [Int]] = [:]
    for block in 0..<configuration.blocks {
      shapes["forward_layers.\(block).conv1.weight"] = [d, d, 1]
      shapes["forward_layers.\(block).conv2.weight"] = [d, d, 1]
    }
    return shapes
  }

  /// A network over `parameters` (zeros when nil; see `initializeParameters`). Without
  /// `forTraining` it only encodes users (no loss buffers).
  public init(
    itemCount: Int, configuration: SASRecConfiguration, maxSamples: Int, threads: Int,
    parameters: ParameterStore? = nil, forTraining: Bool = true
  ) {
    let layout = Self.layout(itemCount: itemCount, configuration: configuration)
    precondition(parameters.map { $0.layout.entries == layout.entries } ?? true, "SASRec parameter layout")
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
      width: d, length: length, maxSamples: maxSamples, scale: Float(Double(d).squareRoot()),
      dropout: configuration.dropout, itemEmbedding: itemEmbedding,
      positionEmbedding: store.parameter(named: "pos_emb.weight"), dropoutSite: RandomStreams.embeddingSite,
      threads: threads)
    let lastQueryLength = forTraining && configuration.loss == .bceAll ? length : 1
    self.lastQueryLength = lastQueryLength
    blocks = (0..<configuration.blocks).map { block in
      func named(_ suffix: String) -> Parameter { store.parameter(named: suffix) }
      let parameters = TransformerBlock.Parameters(
        attentionNormWeight: named("attention_layernorms.\(block).weight"),
        attentionNormBias: named("attention_layernorms.\(block).bias"),
        inProjectionWeight: named("attention_layers.\(block).in_proj_weight"),
        inProjectionBias: named("attention_layers.\(block).in_proj_bias"),
        outProjectionWeight: named("attention_layers.\(block).out_proj.weight"),
        outProjectionBias: named("attention_layers.\(block).out_proj.bias"),
        forwardNormWeight: named("forward_layernorms.\(block).weight"),
        forwardNormBias: named("forward_layernorms.\(block).bias"),
        firstWeight: named("forward_layers.\(block).conv1.weight"),
        firstBias: named("forward_layers.\(block).conv1.bias"),
        secondWeight: named("forward_layers.\(block).conv2.weight"),
        secondBias: named("forward_layers.\(block).conv2.bias"))
      return TransformerBlock(
        width: d, heads: configuration.heads, length: length,
        queryLength: block == configuration.blocks - 1 ? lastQueryLength : length, maxSamples: maxSamples,
        dropout: configuration.dropout, parameters: parameters, block: block, threads: threads,
        productThreads: productThreads)
    }
    lastNorm = LayerNorm(
      width: d, maxRows: tokens, weight: store.parameter(named: "last_layernorm.weight"),
      bias: store.parameter(named: "last_layernorm.bias"), threads: threads)
    loss =
      forTraining
      ? SequenceLoss(
        kind: configuration.loss, width: d, length: length, maxSamples: maxSamples, itemCount: itemCount,
        itemEmbedding: itemEmbedding, threads: threads, productThreads: productThreads) : nil
    items = NeuralBuffer(count: tokens)
    targets = NeuralBuffer(count: maxSamples)
    timelineMask = FloatBuffer(count: tokens)
    activations = (0...configuration.blocks).map { _ in FloatBuffer(count: tokens * d) }
    features = FloatBuffer(count: tokens * d)
    gradients =
      forTraining
      ? (FloatBuffer(count: tokens * d), FloatBuffer(count: tokens * d))
      : (FloatBuffer(count: 0), FloatBuffer(count: 0))
  }

  /// Draws the initial weights as the official `_init_weights` and PyTorch's defaults do, in
  /// layout order: `item_emb` (row 0 too) and `pos_emb` ~ N(0, 0.02); LayerNorms 1 and 0;
  /// `in_proj_weight` Xavier-uniform U(±√(6 / 4d)), `in_proj_bias` 0; `out_proj.weight`
  /// N(0, 0.02), its bias 0; conv1 and conv2 weight then bias ~ U(±1/√d).
  public func initializeParameters(generator: inout SeededGenerator) {
    let d = Double(configuration.hidden)
    for (index, entry) in parameters.layout.entries.enumerated() {
      let values = parameters.parameter(index).value
      let name = entry.name
      if name.hasSuffix("emb.weight") || name.hasSuffix("out_proj.weight") {
        generator.fillNormal(values, count: entry.count, mean: 0, deviation: 0.02)
      } else if name.hasSuffix("in_proj_weight") {
        generator.fillUniform(values, count: entry.count, bound: (6 / (4 * d)).squareRoot())
      } else if name.contains(".conv") {
        generator.fillUniform(values, count: entry.count, bound: 1 / d.squareRoot())
      } else if name.contains("layernorm") && name.hasSuffix(".weight") {
        values.update(repeating: 1, count: entry.count)
      } else {
        values.update(repeating: 0, count: entry.count)
      }
    }
  }

  /// One training step on the samples `indices` (at most `maxSamples`): zeroes the gradients, runs
  /// forward with dropout, the loss, and (with `computeGradient`) backward; returns the batch loss.
  /// Dropout masks and negatives come from `stepSeed` (see `RandomStreams`), so the same seed gives
  /// the same loss, which is what the gradient checks rely on.
  public func trainingStep(
    samples: SampleSet, indices: ArraySlice<Int>, stepSeed: UInt64, computeGradient: Bool = true
  ) -> Double {
    guard let loss else { preconditionFailure("this SASRec network was built for scoring only") }
    let count = indices.count
    precondition(count <= maxSamples, "batch larger than the network was built for")
    SequenceBatch.load(
      samples, indices: indices, length: configuration.maxLength, items: items.base, targets: targets.base,
      timelineMask: timelineMask.base)
    if computeGradient { parameters.zeroGradients() }
    forward(samples: count, training: true, stepSeed: stepSeed)
    let value = loss.evaluate(
      samples: count, items: items.base, targets: targets.base, features: features.base,
      featureLength: lastQueryLength, stepSeed: stepSeed, computeGradient: computeGradient)
    if computeGradient { backward(samples: count, outputGradient: loss.featureGradient) }
    return value
  }

  /// Writes the eval-mode user vectors (the last position's features) of `samples[range]`.
  ///
  /// The forward pass always runs on `maxSamples` samples (the rows past `range` are empty
  /// histories), so every sgemm has the same shape whatever the range: OpenBLAS takes other kernels
  /// for small products (and gemv for one row), which would change a sample's last bits with the
  /// size of its batch.
  func encode(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
    precondition(range.count <= maxSamples)
    let (d, length) = (configuration.hidden, configuration.maxLength)
    SequenceBatch.load(
      samples, indices: range, length: length, items: items.base, targets: nil, timelineMask: timelineMask.base)
    let padding = (maxSamples - range.count) * length
    (items.base + range.count * length).update(repeating: 0, count: padding)
    (timelineMask.base + range.count * length).update(repeating: 0, count: padding)
    forward(samples: maxSamples, training: false, stepSeed: 0)
    for row in 0..<range.count {
      (output + row * d).update(
        from: features.base + (row * lastQueryLength + lastQueryLength - 1) * d, count: d)
    }
  }

  func forward(samples: Int, training: Bool, stepSeed: UInt64) {
    embedding.forward(
      samples: samples, items: items.base, output: activations[0].base, training: training, stepSeed: stepSeed)
    for (index, block) in blocks.enumerated() {
      block.forward(
        samples: samples, input: activations[index].base, timelineMask: timelineMask.base,
        output: activations[index + 1].base, training: training, stepSeed: stepSeed)
    }
    lastNorm.forward(
      rows: samples * lastQueryLength, input: activations[blocks.count].base, output: features.base)
  }

  func backward(samples: Int, outputGradient: UnsafePointer<Float>) {
    var (current, next) = gradients
    lastNorm.backward(rows: samples * lastQueryLength, outputGradient: outputGradient, inputGradient: current.base)
    for (index, block) in blocks.enumerated().reversed() {
      block.backward(
        samples: samples, input: activations[index].base, timelineMask: timelineMask.base,
        outputGradient: current.base, inputGradient: next.base)
      swap(&current, &next)
    }
    embedding.backward(samples: samples, items: items.base, outputGradient: current.base)
  }
}
