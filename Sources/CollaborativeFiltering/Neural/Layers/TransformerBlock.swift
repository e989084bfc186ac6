import PipelineCore

/// One block of the official SASRec `log2feats`:
///
///     Q = attention_layernorm(x);  s = Q + MHA(Q, x, x)      (the residual adds Q, not x)
///     u = forward_layernorm(s);    y = (FFN(u) + u) ⊙ timeline mask
///
/// Input rows are `samples × length` tokens, sample-major; the timeline mask is 1 for an item and 0
/// for padding, per token. The output has the last `queryLength` positions of each sample (all by
/// default): with `queryLength` 1 only the last position's output is computed, the keys and values
/// still from every position, which is all the last block needs when the loss reads only the last
/// position.
public final class TransformerBlock {
  public let width: Int
  public let length: Int
  public let queryLength: Int
  let threads: Int
  public let attentionNorm: LayerNorm
  public let attention: CausalSelfAttention
  public let forwardNorm: LayerNorm
  public let feedForward: PointwiseFeedForward
  /// Saved: the query rows of the input and their mask (when `queryLength` < L), Q, s and u
  /// (`[samples · queryLength, d]` each).
  let queryInput: FloatBuffer
  let queryMask: FloatBuffer
  let normalizedQuery: FloatBuffer
  let residual: FloatBuffer
  let normalizedResidual: FloatBuffer
  let maskedGradient: FloatBuffer
  let normalizedResidualGradient: FloatBuffer
  let residualGradient: FloatBuffer
  let normalizedQueryGradient: FloatBuffer
  let queryInputGradient: FloatBuffer

  /// The parameters in the order of the official names (`attention_layernorms.i`,
  /// `attention_layers.i`, `forward_layernorms.i`, `forward_layers.i`).
  public struct Parameters {
    public var attentionNormWeight, attentionNormBias: Parameter
    public var inProjectionWeight, inProjectionBias, outProjectionWeight, outProjectionBias: Parameter
    public var forwardNormWeight, forwardNormBias: Parameter
    public var firstWeight, firstBias, secondWeight, secondBias: Parameter

    public init(
      attentionNormWeight: Parameter, attentionNormBias: Parameter, inProjectionWeight: Parameter,
      inProjectionBias: Parameter, outProjectionWeight: Parameter, outProjectionBias: Parameter,
      forwardNormWeight: Parameter, forwardNormBias: Parameter, firstWeight: Parameter, firstBias: Parameter,
      secondWeight: Parameter, secondBias: Parameter
    ) {
      self.attentionNormWeight = attentionNormWeight
      self.attentionNormBias = attentionNormBias
      self.inProjectionWeight = inProjectionWeight
      self.inProjectionBias = inProjectionBias
      self.outProjectionWeight = outProjectionWeight
      self.outProjectionBias = outProjectionBias
      self.forwardNormWeight = forwardNormWeight
      self.forwardNormBias = forwardNormBias
      self.firstWeight = firstWeight
      self.firstBias = firstBias
      self.secondWeight = secondWeight
      self.secondBias = secondBias
    }
  }

  /// `block` numbers the random streams of the block's three dropouts.
  public init(
    width: Int, heads: Int, length: Int, queryLength: Int? = nil, maxSamples: Int, dropout: Double,
    parameters: Parameters, block: Int, threads: Int, productThreads: Int = 1
  ) {
    let queryLength = queryLength ?? length
    self.width = width
    self.length = length
    self.queryLength = queryLength
    self.threads = threads
    let queryRows = maxSamples * queryLength
    let sites = RandomStreams.blockSites(block)
    attentionNorm = LayerNorm(
      width: width, maxRows: queryRows, weight: parameters.attentionNormWeight, bias: parameters.attentionNormBias,
      threads: threads)
    attention = CausalSelfAttention(
      width: width, heads: heads, length: length, queryLength: queryLength, maxSamples: maxSamples,
      dropout: dropout,
      inProjectionWeight: parameters.inProjectionWeight, inProjectionBias: parameters.inProjectionBias,
      outProjectionWeight: parameters.outProjectionWeight, outProjectionBias: parameters.outProjectionBias,
      dropoutSite: sites.attention, threads: threads, productThreads: productThreads)
    forwardNorm = LayerNorm(
      width: width, maxRows: queryRows, weight: parameters.forwardNormWeight, bias: parameters.forwardNormBias,
      threads: threads)
    feedForward = PointwiseFeedForward(
      width: width, length: queryLength, maxSamples: maxSamples, dropout: dropout, firstWeight: parameters.firstWeight,
      firstBias: parameters.firstBias, secondWeight: parameters.secondWeight, secondBias: parameters.secondBias,
      dropoutSites: (sites.first, sites.second), threads: threads, productThreads: productThreads)
    let gathered = queryLength < length
    queryInput = FloatBuffer(count: gathered ? queryRows * width : 0)
    queryMask = FloatBuffer(count: gathered ? queryRows : 0)
    queryInputGradient = FloatBuffer(count: gathered ? queryRows * width : 0)
    normalizedQuery = FloatBuffer(count: queryRows * width)
    residual = FloatBuffer(count: queryRows * width)
    normalizedResidual = FloatBuffer(count: queryRows * width)
    maskedGradient = FloatBuffer(count: queryRows * width)
    normalizedResidualGradient = FloatBuffer(count: queryRows * width)
    residualGradient = FloatBuffer(count: queryRows * width)
    normalizedQueryGradient = FloatBuffer(count: queryRows * width)
  }

  /// output `[samples · queryLength, d]` = block(input `[samples · L, d]`) (no aliasing).
  /// - Complexity: O(T·d²) in sgemm, T = samples · length.
  public func forward(
    samples: Int, input: UnsafePointer<Float>, timelineMask: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    training: Bool, stepSeed: UInt64 = 0
  ) {
    let rows = samples * queryLength
    let (queries, mask) = gatherQueries(samples: samples, input: input, timelineMask: timelineMask)
    attentionNorm.forward(rows: rows, input: queries, output: normalizedQuery.base)
    residual.base.update(from: normalizedQuery.base, count: rows * width)
    attention.forward(
      samples: samples, query: normalizedQuery.base, keyValue: input, output: residual.base, accumulate: true,
      training: training, stepSeed: stepSeed)
    forwardNorm.forward(rows: rows, input: residual.base, output: normalizedResidual.base)
    feedForward.forward(
      samples: samples, input: normalizedResidual.base, output: output, training: training, stepSeed: stepSeed)
    Self.applyTimelineMask(tokens: rows, width: width, mask, to: output, threads: threads)
  }

  /// Adds every parameter gradient and sets `inputGradient` `[samples · L, d]` from the output
  /// gradient `[samples · queryLength, d]`.
  public func backward(
    samples: Int, input: UnsafePointer<Float>, timelineMask: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>
  ) {
    let rows = samples * queryLength
    let gathered = queryLength < length
    let mask = gathered ? UnsafePointer(queryMask.base) : timelineMask
    maskedGradient.base.update(from: outputGradient, count: rows * width)
    Self.applyTimelineMask(tokens: rows, width: width, mask, to: maskedGradient.base, threads: threads)
    feedForward.backward(
      samples: samples, input: normalizedResidual.base, outputGradient: maskedGradient.base,
      inputGradient: normalizedResidualGradient.base)
    forwardNorm.backward(
      rows: rows, outputGradient: normalizedResidualGradient.base, inputGradient: residualGradient.base)
    normalizedQueryGradient.base.update(from: residualGradient.base, count: rows * width)
    attention.backward(
      samples: samples, query: normalizedQuery.base, keyValue: input, outputGradient: residualGradient.base,
      queryGradient: normalizedQueryGradient.base, accumulateQuery: true, keyValueGradient: inputGradient,
      accumulateKeyValue: false)
    guard gathered else {
      attentionNorm.backward(
        rows: rows, outputGradient: normalizedQueryGradient.base, inputGradient: inputGradient, accumulate: true)
      return
    }
    attentionNorm.backward(
      rows: rows, outputGradient: normalizedQueryGradient.base, inputGradient: queryInputGradient.base)
    for sample in 0..<samples {
      let target = inputGradient + (sample * length + length - queryLength) * width
      let source = queryInputGradient.base + sample * queryLength * width
      for index in 0..<(queryLength * width) { target[index] += source[index] }
    }
  }

  /// The input rows and mask of the query positions: the input itself, or its last `queryLength`
  /// positions per sample copied out.
  private func gatherQueries(
    samples: Int, input: UnsafePointer<Float>, timelineMask: UnsafePointer<Float>
  ) -> (UnsafePointer<Float>, UnsafePointer<Float>) {
    guard queryLength < length else { return (input, timelineMask) }
    for sample in 0..<samples {
      let first = sample * length + length - queryLength
      (queryInput.base + sample * queryLength * width).update(from: input + first * width, count: queryLength * width)
      (queryMask.base + sample * queryLength).update(from: timelineMask + first, count: queryLength)
    }
    return (UnsafePointer(queryInput.base), UnsafePointer(queryMask.base))
  }

  /// rows ⊙= mask (one factor per token).
  static func applyTimelineMask(
    tokens: Int, width: Int, _ mask: UnsafePointer<Float>, to rows: UnsafeMutablePointer<Float>, threads: Int
  ) {
    let factors = DisjointPointer(reading: mask)
    let target = DisjointPointer(rows)
    Parallel.forEach(tokens, threads: tokens * width >= 32_768 ? threads : 1, chunk: 64) { token in
      let factor = factors.base[token]
      if factor == 1 { return }
      let line = target.base + token * width
      for index in 0..<width { line[index] *= factor }
    }
  }
}
