internal import COpenBLAS

/// Dense single-precision linear algebra on OpenBLAS. Row-major throughout.
public enum DenseLinearAlgebra {
  /// Pins OpenBLAS to `count` threads; results of a reduction then keep one order run after run.
  /// While an inversion runs (pinned to one thread) the count takes effect when it ends.
  public static func setThreadCount(_ count: Int) {
    setThreadCountAfterInversions(count)
  }

  /// C = alpha · op(A) · op(B) + beta · C, row-major (the C function is `cblas_sgemm`).
  /// - Parameters:
  ///   - a: m×k (or k×m when `transposeA`), leading dimension `lda`.
  ///   - b: k×n (or n×k when `transposeB`), leading dimension `ldb`.
  ///   - c: m×n, leading dimension `ldc`.
  /// - Complexity: O(m·n·k).
  public static func multiply(
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
  }

  /// Row-major matrix product of whole arrays: (m×k) · (k×n).
  public static func multiply(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
    precondition(a.count == m * k && b.count == k * n, "matrix shapes do not match")
    var c = [Float](repeating: 0, count: m * n)
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          multiply(
            m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n, c: pc.baseAddress!, ldc: n)
        }
      }
    }
    return c
  }
}
