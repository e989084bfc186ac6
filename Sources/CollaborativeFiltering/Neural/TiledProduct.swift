import DenseLinearAlgebra
import PipelineCore

/// sgemm cut into fixed blocks of C, the blocks computed on up to `threads` of our threads.
///
/// With OpenBLAS held at one thread (`DenseLinearAlgebra.withSingleThreadedBLAS`, as the trainers
/// run), each block is one single-threaded call whose shape depends only on the product's, so the
/// result does not depend on any thread count. With `threads` 1 the blocks run one after another on
/// the calling thread (and each may use OpenBLAS's threads), as the scorers run them.
enum TiledProduct {
  /// C = alpha · op(A) · op(B) + beta · C (row-major, as `DenseLinearAlgebra.multiply`) in blocks of
  /// `blockRows` rows of C.
  static func rowBlocks(
    m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false, beta: Float = 0, c: UnsafeMutablePointer<Float>,
    ldc: Int, blockRows: Int, threads: Int
  ) {
    guard m > 0 && n > 0 else { return }
    let (left, right, out) = (DisjointPointer(reading: a), DisjointPointer(reading: b), DisjointPointer(c))
    let blocks = (m + blockRows - 1) / blockRows
    Parallel.forEach(blocks, threads: threads) { block in
      let lower = block * blockRows
      let rows = min(m, lower + blockRows) - lower
      // Row r of op(A) is row r of A, or column r of A when transposed.
      let start = transposeA ? left.base + lower : left.base + lower * lda
      DenseLinearAlgebra.multiply(
        m: rows, n: n, k: k, alpha: alpha, a: start, lda: lda, transposeA: transposeA, b: right.base, ldb: ldb,
        transposeB: transposeB, beta: beta, c: out.base + lower * ldc, ldc: ldc)
    }
  }

  /// The same in blocks of `blockColumns` columns of C.
  static func columnBlocks(
    m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false, beta: Float = 0, c: UnsafeMutablePointer<Float>,
    ldc: Int, blockColumns: Int, threads: Int
  ) {
    guard m > 0 && n > 0 else { return }
    let (left, right, out) = (DisjointPointer(reading: a), DisjointPointer(reading: b), DisjointPointer(c))
    let blocks = (n + blockColumns - 1) / blockColumns
    Parallel.forEach(blocks, threads: threads) { block in
      let lower = block * blockColumns
      let columns = min(n, lower + blockColumns) - lower
      // Column j of op(B) is column j of B, or row j of B when transposed.
      let start = transposeB ? right.base + lower * ldb : right.base + lower
      DenseLinearAlgebra.multiply(
        m: m, n: columns, k: k, alpha: alpha, a: left.base, lda: lda, transposeA: transposeA, b: start, ldb: ldb,
        transposeB: transposeB, beta: beta, c: out.base + lower, ldc: ldc)
    }
  }
}
