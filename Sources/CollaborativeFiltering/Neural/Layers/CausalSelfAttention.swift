import Foundation
import PipelineCore

/// Causal multi-head attention as PyTorch `nn.MultiheadAttention(d, heads, dropout=p)` computes it
/// with the official SASRec's mask (position t attends to positions 0…t, padding included).
///
/// The queries come from one input, keys and values from another (SASRec passes the layer-normed
/// sequence as the query and the un-normed sequence as key and value). `in_proj_weight` `[3d, d]`
/// holds Wq, Wk, Wv in its rows 0..<d, d..<2d, 2d..<3d; per head (width e = d/heads) the weights are
/// softmax(q·kᵀ/√e) over the allowed positions, dropout p on those weights in training, then
/// `out_proj`. Keys and values are `samples × length` rows, sample-major; queries are the last
/// `queryLength` positions of each sample (all of them by default; only the last when just the last
/// position's output is needed, which gives the same outputs there for a fraction of the work).
///
/// The projections are one sgemm each over all rows; the attention itself runs per sample in
/// parallel (each sample writes only its own rows), with one fixed order of every sum.
public final class CausalSelfAttention {
  public let width: Int
  public let heads: Int
  public let length: Int
  public let queryLength: Int
  let headWidth: Int
  let scale: Float
  let threads: Int
  public let queryProjection: Linear
  public let keyValueProjection: Linear
  public let outputProjection: Linear
  let dropout: DropoutMask
  /// Saved for the backward pass: projections `[samples · queryLength, d]` and `[samples · L, 2d]`
  /// (keys then values per row), softmax weights `[samples, heads, queryLength, L]` before dropout,
  /// and the attended values `[samples · queryLength, d]`.
  let queries: FloatBuffer
  let keysValues: FloatBuffer
  let weights: FloatBuffer
  let context: FloatBuffer
  let contextGradient: FloatBuffer
  let queriesGradient: FloatBuffer
  let keysValuesGradient: FloatBuffer
  let scratch: FloatBuffer
  /// Whether the last forward pass applied dropout (its backward pass then does too).
  private var droppedOut = false

  public init(
    width: Int, heads: Int, length: Int, queryLength: Int? = nil, maxSamples: Int, dropout: Double,
    inProjectionWeight: Parameter, inProjectionBias: Parameter, outProjectionWeight: Parameter,
    outProjectionBias: Parameter, dropoutSite: UInt64 = 0, threads: Int, productThreads: Int = 1
  ) {
    precondition(heads > 0 && width % heads == 0, "attention: width must be a multiple of heads")
    let queryLength = queryLength ?? length
    precondition(queryLength >= 1 && queryLength <= length, "attention: queryLength must be in 1...length")
    self.width = width
    self.heads = heads
    self.length = length
    self.queryLength = queryLength
    self.threads = threads
    headWidth = width / heads
    scale = Float(1 / Double(width / heads).squareRoot())
    queryProjection = Linear(
      inputWidth: width, outputWidth: width, weight: inProjectionWeight.slice(offset: 0, count: width * width),
      bias: inProjectionBias.slice(offset: 0, count: width), threads: threads, productThreads: productThreads)
    keyValueProjection = Linear(
      inputWidth: width, outputWidth: 2 * width,
      weight: inProjectionWeight.slice(offset: width * width, count: 2 * width * width),
      bias: inProjectionBias.slice(offset: width, count: 2 * width), threads: threads,
      productThreads: productThreads)
    outputProjection = Linear(
      inputWidth: width, outputWidth: width, weight: outProjectionWeight, bias: outProjectionBias, threads: threads,
      productThreads: productThreads)
    self.dropout = DropoutMask(
      probability: dropout, site: dropoutSite, rowWidth: heads * queryLength * length, maxRows: maxSamples)
    let tokens = maxSamples * length
    let queryRows = maxSamples * queryLength
    queries = FloatBuffer(count: queryRows * width)
    keysValues = FloatBuffer(count: tokens * 2 * width)
    weights = FloatBuffer(count: maxSamples * heads * queryLength * length)
    context = FloatBuffer(count: queryRows * width)
    contextGradient = FloatBuffer(count: queryRows * width)
    queriesGradient = FloatBuffer(count: queryRows * width)
    keysValuesGradient = FloatBuffer(count: tokens * 2 * width)
    scratch = FloatBuffer(count: maxSamples * length)
  }

  /// output = MHA(query, keyValue, keyValue), or output += … when `accumulate` (the residual).
  /// `query` and `output` are `[samples · queryLength, d]`, `keyValue` `[samples · L, d]`.
  /// Dropout on the attention weights only when `training`.
  /// - Complexity: O(T·d²) in sgemm plus O(T·L·d) per-sample attention, T = samples · length.
  public func forward(
    samples: Int, query: UnsafePointer<Float>, keyValue: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    accumulate: Bool, training: Bool, stepSeed: UInt64 = 0
  ) {
    let queryRows = samples * queryLength
    queryProjection.forward(rows: queryRows, input: query, output: queries.base)
    keyValueProjection.forward(rows: samples * length, input: keyValue, output: keysValues.base)
    let useDropout = training && dropout.isActive
    droppedOut = useDropout
    if useDropout { dropout.generate(rows: samples, stepSeed: stepSeed, threads: threads) }
    let (width, heads, length, queryLength) = (self.width, self.heads, self.length, self.queryLength)
    let (headWidth, scale) = (self.headWidth, self.scale)
    let q = queries.shared
    let kv = keysValues.shared
    let p = weights.shared
    let c = context.shared
    let mask = dropout.mask.shared
    Parallel.forEach(samples, threads: threads, chunk: 4) { sample in
      let queryBase = q.base + sample * queryLength * width
      let keyBase = kv.base + sample * length * 2 * width
      let contextBase = c.base + sample * queryLength * width
      contextBase.update(repeating: 0, count: queryLength * width)
      for head in 0..<heads {
        let offset = head * headWidth
        for query in 0..<queryLength {
          let t = length - queryLength + query
          let cell = ((sample * heads + head) * queryLength + query) * length
          let row = p.base + cell
          let queryRow = queryBase + query * width + offset
          var largest = -Float.infinity
          for s in 0...t {
            let score = VectorKernels.dot(queryRow, keyBase + s * 2 * width + offset, headWidth) * scale
            row[s] = score
            largest = max(largest, score)
          }
          var total: Float = 0
          for s in 0...t {
            let value = exp(row[s] - largest)
            row[s] = value
            total += value
          }
          for s in 0...t { row[s] /= total }
          for s in (t + 1)..<max(t + 1, length) { row[s] = 0 }
          let contextRow = contextBase + query * width + offset
          let maskRow = mask.base + cell
          for s in 0...t {
            let weight = useDropout ? row[s] * maskRow[s] : row[s]
            VectorKernels.add(weight, keyBase + s * 2 * width + width + offset, to: contextRow, headWidth)
          }
        }
      }
    }
    outputProjection.forward(rows: queryRows, input: context.base, output: output, accumulate: accumulate)
  }

  /// Adds the projection gradients and sets (or adds to) the gradients of `query` and `keyValue`,
  /// from the gradient of the layer's output. Uses what the last `forward` saved.
  public func backward(
    samples: Int, query: UnsafePointer<Float>, keyValue: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
    queryGradient: UnsafeMutablePointer<Float>, accumulateQuery: Bool,
    keyValueGradient: UnsafeMutablePointer<Float>, accumulateKeyValue: Bool
  ) {
    let queryRows = samples * queryLength
    outputProjection.backward(
      rows: queryRows, input: context.base, outputGradient: outputGradient, inputGradient: contextGradient.base)
    let useDropout = droppedOut
    let (width, heads, length, queryLength) = (self.width, self.heads, self.length, self.queryLength)
    let (headWidth, scale) = (self.headWidth, self.scale)
    let q = queries.shared
    let kv = keysValues.shared
    let p = weights.shared
    let mask = dropout.mask.shared
    let dc = contextGradient.shared
    let dq = queriesGradient.shared
    let dkv = keysValuesGradient.shared
    let local = scratch.shared
    Parallel.forEach(samples, threads: threads, chunk: 4) { sample in
      let queryBase = q.base + sample * queryLength * width
      let keyBase = kv.base + sample * length * 2 * width
      let contextGradientBase = dc.base + sample * queryLength * width
      let queryGradientBase = dq.base + sample * queryLength * width
      let keyGradientBase = dkv.base + sample * length * 2 * width
      let weightGradient = local.base + sample * length
      queryGradientBase.update(repeating: 0, count: queryLength * width)
      keyGradientBase.update(repeating: 0, count: length * 2 * width)
      for head in 0..<heads {
        let offset = head * headWidth
        for query in 0..<queryLength {
          let t = length - queryLength + query
          let cell = ((sample * heads + head) * queryLength + query) * length
          let row = p.base + cell
          let maskRow = mask.base + cell
          let upstream = contextGradientBase + query * width + offset
          var projection: Float = 0
          for s in 0...t {
            let value = keyBase + s * 2 * width + width + offset
            // dL/d(dropped weight) = upstream · v_s; the value gets the dropped weight · upstream.
            var gradient = VectorKernels.dot(upstream, value, headWidth)
            let weight = useDropout ? row[s] * maskRow[s] : row[s]
            VectorKernels.add(weight, upstream, to: keyGradientBase + s * 2 * width + width + offset, headWidth)
            if useDropout { gradient *= maskRow[s] }
            weightGradient[s] = gradient
            projection += row[s] * gradient
          }
          let queryRow = queryBase + query * width + offset
          let queryGradientRow = queryGradientBase + query * width + offset
          for s in 0...t {
            let scoreGradient = row[s] * (weightGradient[s] - projection) * scale
            VectorKernels.add(scoreGradient, keyBase + s * 2 * width + offset, to: queryGradientRow, headWidth)
            VectorKernels.add(scoreGradient, queryRow, to: keyGradientBase + s * 2 * width + offset, headWidth)
          }
        }
      }
    }
    queryProjection.backward(
      rows: queryRows, input: query, outputGradient: queriesGradient.base, inputGradient: queryGradient,
      accumulate: accumulateQuery)
    keyValueProjection.backward(
      rows: samples * length, input: keyValue, outputGradient: keysValuesGradient.base,
      inputGradient: keyValueGradient, accumulate: accumulateKeyValue)
  }
}
