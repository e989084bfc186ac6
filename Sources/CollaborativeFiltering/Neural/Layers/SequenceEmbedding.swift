import PipelineCore

/// The input layer of the sequential models: per token,
/// x = dropout(item_emb[item] · scale + pos_emb[t]) ⊙ (item ≠ 0)
/// (SASRec: scale √d and learned positions; GRU4Rec: scale 1, no positions).
///
/// The backward pass scatter-adds into the embedding gradients serially, token by token in batch
/// order, so the sums have one order; padding (item 0) gets no gradient (`padding_idx=0`).
public final class SequenceEmbedding {
  public let width: Int
  public let length: Int
  public let scale: Float
  public let itemEmbedding: Parameter
  public let positionEmbedding: Parameter?
  let threads: Int
  let dropout: DropoutMask
  private var droppedOut = false

  public init(
    width: Int, length: Int, maxSamples: Int, scale: Float, dropout: Double, itemEmbedding: Parameter,
    positionEmbedding: Parameter?, dropoutSite: UInt64 = 0, threads: Int
  ) {
    precondition(positionEmbedding.map { $0.count == length * width } ?? true, "position embedding shape")
    self.width = width
    self.length = length
    self.scale = scale
    self.itemEmbedding = itemEmbedding
    self.positionEmbedding = positionEmbedding
    self.threads = threads
    self.dropout = DropoutMask(probability: dropout, site: dropoutSite, rowWidth: length * width, maxRows: maxSamples)
  }

  /// Writes `[samples · length, width]` rows for the item ids `items` (0 = padding).
  /// - Complexity: O(samples · length · width).
  public func forward(
    samples: Int, items: UnsafePointer<Int32>, output: UnsafeMutablePointer<Float>, training: Bool,
    stepSeed: UInt64 = 0
  ) {
    droppedOut = training && dropout.isActive
    if droppedOut { dropout.generate(rows: samples, stepSeed: stepSeed, threads: threads) }
    let useDropout = droppedOut
    let (width, length, scale) = (self.width, self.length, self.scale)
    let ids = DisjointPointer(reading: items)
    let table = DisjointPointer(itemEmbedding.value)
    let positions = positionEmbedding.map { DisjointPointer($0.value) }
    let target = DisjointPointer(output)
    let mask = dropout.mask.shared
    Parallel.forEach(samples * length, threads: samples * length * width >= 32_768 ? threads : 1, chunk: 64) {
      token in
      let line = target.base + token * width
      let item = Int(ids.base[token])
      guard item != 0 else {
        line.update(repeating: 0, count: width)
        return
      }
      let row = table.base + item * width
      let factors = mask.base + token * width
      let position = positions.map { $0.base + (token % length) * width }
      for index in 0..<width {
        var value = row[index] * scale
        if let position { value += position[index] }
        line[index] = useDropout ? value * factors[index] : value
      }
    }
  }

  /// Adds the embedding gradients from the output gradient.
  public func backward(samples: Int, items: UnsafePointer<Int32>, outputGradient: UnsafePointer<Float>) {
    let tokens = samples * length
    let useDropout = droppedOut
    let mask = dropout.mask.base
    for token in 0..<tokens {
      let item = Int(items[token])
      guard item != 0 else { continue }
      let upstream = outputGradient + token * width
      let factors = mask + token * width
      let itemRow = itemEmbedding.gradient + item * width
      let positionRow = positionEmbedding.map { $0.gradient + (token % length) * width }
      for index in 0..<width {
        let gradient = useDropout ? upstream[index] * factors[index] : upstream[index]
        itemRow[index] += gradient * scale
        positionRow?[index] += gradient
      }
    }
  }
}
