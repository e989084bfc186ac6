import Foundation
import Interactions
import PipelineCore

/// The eval-mode scorer of SASRec and GRU4Rec: the user vector of a sample is the network's output
/// at the last position (no dropout), an item's vector is its `item_emb` row, the score their dot
/// product.
///
/// The weights are frozen at construction (the scorer keeps its `ParameterStore` alive through the
/// networks it makes). Networks, each with buffers for `batchSize` samples, are kept in a pool, so
/// concurrent callers each get their own and a call allocates nothing after the first.
final class NeuralScorer: EmbeddingScorer, @unchecked Sendable {
  /// Samples per forward pass: every pass has this shape (a short batch is padded), so a sample's
  /// vector never depends on the others in its batch. 64 rather than more, because the soft-label
  /// stage spreads user vectors over its threads in sub-batches of 64 and a padded pass costs the
  /// full shape. (With OpenBLAS's SkylakeX kernels a row does not depend on the row count or on its
  /// place in the pass: the golden hashes are the same with 256. With the Haswell kernels, on AVX2
  /// Intel and AMD Zen, its last bits depend on its place in the pass, so callers that must give
  /// the same bytes on every run start their passes at fixed samples, as the soft-label stage does.)
  static let batchSize = 64

  let itemCount: Int
  let dimension: Int
  let itemVectors: [Float]
  private let makeNetwork: () -> any SequenceNetwork
  private let lock = NSLock()
  private var pool: [any SequenceNetwork] = []

  /// `makeNetwork` builds a scoring-only network over the frozen parameters.
  init(
    itemCount: Int, dimension: Int, itemEmbedding: UnsafePointer<Float>,
    makeNetwork: @escaping () -> any SequenceNetwork
  ) {
    self.itemCount = itemCount
    self.dimension = dimension
    itemVectors = Array(UnsafeBufferPointer(start: itemEmbedding + dimension, count: itemCount * dimension))
    self.makeNetwork = makeNetwork
  }

  func userVectors(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
    let network = lock.withLock { pool.popLast() } ?? makeNetwork()
    defer { lock.withLock { pool.append(network) } }
    for lower in stride(from: range.lowerBound, to: range.upperBound, by: network.maxSamples) {
      let chunk = lower..<min(range.upperBound, lower + network.maxSamples)
      network.encode(samples, range: chunk, into: output + (lower - range.lowerBound) * dimension)
    }
  }
}
