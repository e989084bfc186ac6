import DenseLinearAlgebra
import Foundation
import Interactions
import PipelineCore

/// What the soft-label stage needs from any CF model: scores over every item for a batch of samples.
///
/// Column `j` of a row is item id `j + 1` (ids are the `samples` artifact's; padding 0 is never
/// scored). A scorer reads a sample's user id and history (oldest first) and nothing else, so valid
/// and test samples are scored exactly as they will be at soft-label time.
public protocol Scorer: Sendable {
  /// N: scores cover item ids 1...N.
  var itemCount: Int { get }

  /// Writes `range.count × itemCount` scores, row-major, for the samples `range` of `samples`.
  /// Deterministic: the same samples give the same bytes whatever else is in the batch.
  func scores(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>)
}

/// A scorer whose score is a dot product of a per-sample user vector and a per-item vector
/// (SASRec, GRU4Rec, BPR-MF, external vectors): the soft-label stage packs `itemVectors` once in
/// trie order and computes the products with its own kernel.
public protocol EmbeddingScorer: Scorer {
  /// d, the length of every vector.
  var dimension: Int { get }
  /// N × d, row-major; row `j` is item id `j + 1`.
  var itemVectors: [Float] { get }
  /// Writes `range.count × dimension` user vectors, row-major.
  func userVectors(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>)
}

extension EmbeddingScorer {
  /// One sgemm of the batch's user vectors against all item vectors, cut into fixed blocks of 2,048
  /// items, each a single-threaded OpenBLAS call run on this process's threads: the scores do not
  /// depend on any thread count (OpenBLAS's threaded sgemm rounds differently with its thread count).
  public func scores(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
    guard !range.isEmpty else { return }
    let users = UnsafeMutablePointer<Float>.allocate(capacity: range.count * dimension)
    defer { users.deallocate() }
    userVectors(samples, range: range, into: users)
    itemVectors.withUnsafeBufferPointer { items in
      DenseLinearAlgebra.withSingleThreadedBLAS {
        TiledProduct.columnBlocks(
          m: range.count, n: itemCount, k: dimension, a: users, lda: dimension, b: items.baseAddress!,
          ldb: dimension, transposeB: true, c: output, ldc: itemCount, blockColumns: 2048,
          threads: Parallel.defaultThreadCount)
      }
    }
  }
}
