import DenseLinearAlgebra
import Foundation
import TestSupport
import Testing

@Suite("Cholesky inverse")
struct CholeskyTests {
  /// The second-difference matrix tridiag(−1, 2, −1) of order 3, whose inverse is worked by hand:
  /// adj(A) / det(A) with det(A) = 4.
  @Test func secondDifferenceMatrixInvertsToTheHandWorkedInverse() throws {
    // The upper triangle is never read: NaN there proves it.
    var matrix: [Double] = [
      2, .nan, .nan,
      -1, 2, .nan,
      0, -1, 2,
    ]
    try DenseLinearAlgebra.invertSymmetricPositiveDefinite(&matrix, n: 3)
    let expected: [Double] = [
      0.75, 0.5, 0.25,
      0.5, 1.0, 0.5,
      0.25, 0.5, 0.75,
    ]
    for (value, wanted) in zip(matrix, expected) { #expect(abs(value - wanted) < 1e-15) }
  }

  /// The same matrix cut into 1×1 and 2×2 tiles takes the tiled path (LAPACK on diagonal tiles,
  /// BLAS between them) and gives the same inverse.
  @Test(arguments: [1, 2])
  func tiledPathGivesTheHandWorkedInverse(tileSize: Int) throws {
    var matrix: [Double] = [2, -1, 0, -1, 2, -1, 0, -1, 2]
    try DenseLinearAlgebra.invertSymmetricPositiveDefinite(&matrix, n: 3, threads: 2, tileSize: tileSize)
    let expected: [Double] = [0.75, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.75]
    for (value, wanted) in zip(matrix, expected) { #expect(abs(value - wanted) < 1e-15) }
  }

  @Test func indefiniteMatrixNamesTheLeadingMinor() {
    // [[1, 2], [2, 1]] has eigenvalues 3 and −1: the 1×1 minor is fine, the 2×2 one is not.
    var matrix: [Double] = [1, 2, 2, 1]
    #expect(
      throws: DenseLinearAlgebraError(
        operation: "Cholesky factorization", reason: .notPositiveDefinite(leadingMinor: 2))
    ) {
      try DenseLinearAlgebra.invertSymmetricPositiveDefinite(&matrix, n: 2)
    }
    let error = DenseLinearAlgebraError(
      operation: "Cholesky factorization", reason: .notPositiveDefinite(leadingMinor: 2))
    #expect(error.description == "Cholesky factorization: the leading minor of order 2 is not positive definite")
  }

  @Test func indefiniteMinorInALaterTileIsCountedFromTheFirstRow() {
    // The identity of order 6 with a negative 5th diagonal element; tiles of 2 put it in tile 2.
    var matrix = identity(6)
    matrix[4 * 6 + 4] = -1
    #expect(
      throws: DenseLinearAlgebraError(
        operation: "Cholesky factorization", reason: .notPositiveDefinite(leadingMinor: 5))
    ) {
      try DenseLinearAlgebra.invertSymmetricPositiveDefinite(&matrix, n: 6, threads: 2, tileSize: 2)
    }
  }

  /// An oracle: Gauss–Jordan elimination with partial pivoting on the full matrix.
  @Test(arguments: [(50, 7), (64, 16), (23, 256)])
  func tiledInverseMatchesGaussJordan(n: Int, tileSize: Int) throws {
    let matrix = randomPositiveDefinite(n, seed: UInt64(n))
    var inverse = matrix
    try DenseLinearAlgebra.invertSymmetricPositiveDefinite(&inverse, n: n, threads: 3, tileSize: tileSize)
    let reference = gaussJordanInverse(matrix, n: n)
    var largest = 0.0
    for index in 0..<(n * n) { largest = max(largest, abs(inverse[index] - reference[index])) }
    #expect(largest < 1e-12)
    for i in 0..<n {
      for j in 0..<i { #expect(inverse[i * n + j] == inverse[j * n + i]) }
    }
  }

  /// OpenBLAS's own threaded dpotrf_/dpotri_ round differently with 1 and 2 threads; ours must not.
  @Test func resultIsByteIdenticalWhateverTheThreadCounts() throws {
    let n = 300
    let matrix = randomPositiveDefinite(n, seed: 7)
    var results: [[Double]] = []
    for blasThreads in [1, 2] {
      DenseLinearAlgebra.setThreadCountAfterInversions(blasThreads)
      for threads in [1, 2, 3] {
        var inverse = matrix
        try DenseLinearAlgebra.invertSymmetricPositiveDefinite(&inverse, n: n, threads: threads, tileSize: 64)
        results.append(inverse)
      }
    }
    DenseLinearAlgebra.setThreadCountAfterInversions(ProcessInfo.processInfo.activeProcessorCount)
    for result in results.dropFirst() {
      #expect(result.map(\.bitPattern) == results[0].map(\.bitPattern))
    }
  }

  @Test func emptyMatrixIsItsOwnInverse() throws {
    var matrix: [Double] = []
    try DenseLinearAlgebra.invertSymmetricPositiveDefinite(&matrix, n: 0)
    #expect(matrix.isEmpty)
  }

  func identity(_ n: Int) -> [Double] {
    var matrix = [Double](repeating: 0, count: n * n)
    for i in 0..<n { matrix[i * n + i] = 1 }
    return matrix
  }

  /// Mᵀ·M + I for M with entries in [−1, 1) from a 64-bit LCG (Knuth's MMIX constants).
  func randomPositiveDefinite(_ n: Int, seed: UInt64) -> [Double] {
    var state = seed
    var factor = [Double](repeating: 0, count: n * n)
    for index in factor.indices {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      factor[index] = Double(state >> 11) / Double(1 << 52) - 1
    }
    var matrix = identity(n)
    for i in 0..<n {
      for j in 0..<n {
        var sum = 0.0
        for k in 0..<n { sum += factor[k * n + i] * factor[k * n + j] }
        matrix[i * n + j] += sum
      }
    }
    return matrix
  }
}
