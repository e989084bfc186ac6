internal import COpenBLAS
import Dispatch

/// A LAPACK routine reported a failure (its `info` result).
public struct DenseLinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
  public enum Reason: Equatable, Sendable {
    /// The leading minor of this order (1-based) is not positive definite (`dpotrf_` info > 0).
    case notPositiveDefinite(leadingMinor: Int)
    /// This diagonal element (1-based) of a triangular factor is exactly zero (`dtrtri_` info > 0).
    case singular(diagonal: Int)
    /// Argument `position` (1-based) had an illegal value (info < 0): a bug in the caller, not the data.
    case illegalArgument(position: Int)
  }

  /// What was being computed, in words ("Cholesky factorization").
  public var operation: String
  public var reason: Reason

  public init(operation: String, reason: Reason) {
    self.operation = operation
    self.reason = reason
  }

  public var description: String {
    switch reason {
    case .notPositiveDefinite(let order):
      return "\(operation): the leading minor of order \(order) is not positive definite"
    case .singular(let diagonal):
      return "\(operation): diagonal element \(diagonal) of the triangular factor is zero (the matrix is singular)"
    case .illegalArgument(let position):
      return "\(operation): argument \(position) had an illegal value"
    }
  }
}

/// The LAPACK routines whose `info` results `checked` reads.
enum LAPACKRoutine {
  case choleskyFactorization  // dpotrf_
  case choleskyInversion  // dpotri_
  case triangularInversion  // dtrtri_

  var operation: String {
    switch self {
    case .choleskyFactorization: "Cholesky factorization"
    case .choleskyInversion: "inverse from the Cholesky factor"
    case .triangularInversion: "triangular inverse"
    }
  }
}

/// Checks a LAPACK `info` result; `offset` is added to a positive info (the tile's first row).
func checked(_ info: Int32, _ routine: LAPACKRoutine, offset: Int = 0) throws(DenseLinearAlgebraError) {
  guard info != 0 else { return }
  let reason: DenseLinearAlgebraError.Reason
  if info < 0 {
    reason = .illegalArgument(position: Int(-info))
  } else if routine == .choleskyFactorization {
    reason = .notPositiveDefinite(leadingMinor: offset + Int(info))
  } else {
    reason = .singular(diagonal: offset + Int(info))
  }
  throw DenseLinearAlgebraError(operation: routine.operation, reason: reason)
}

extension DenseLinearAlgebra {
  /// The tile size of `invertSymmetricPositiveDefinite`, by measurement: on 2 cores, tiles of 128 to
  /// 512 are within 15% of each other for n = 3,000 and 6,000, and 256 is the fastest.
  public static let defaultTileSize = 256

  /// Replaces a symmetric positive definite n×n matrix by its inverse, in Double, through its Cholesky
  /// factor; the result is the full symmetric matrix (both triangles).
  ///
  /// Only the lower triangle of the row-major input is read (the same memory is LAPACK's column-major
  /// upper triangle). The inverse is LAPACK's: `dpotrf_` (A = L·Lᵀ), then what `dpotri_` does,
  /// `dtrtri_` (W = L⁻¹) and `dlauum_` (A⁻¹ = Wᵀ·W). For n ≤ `tileSize` those two routines run once.
  /// Larger matrices run the same three steps tiled (right-looking, as PLASMA's `pdpotrf`, `pdtrtri`
  /// and `pdlauum`): LAPACK on the diagonal tiles, `cblas_dtrsm`, `cblas_dgemm`, `cblas_dsyrk` and
  /// `cblas_dtrmm` on the others, the independent tile operations of each step spread over `threads`.
  ///
  /// The result is byte-identical whatever `threads` and OpenBLAS's thread count: OpenBLAS's own
  /// threaded `dpotrf_`/`dpotri_` (and even `dgemm` for some shapes) change their blocking with its
  /// thread count and with it the rounding, so every OpenBLAS call here runs single-threaded
  /// (OpenBLAS is pinned to one thread for the duration and restored afterwards; other BLAS work in
  /// the process meanwhile runs on one thread too) on a tiling that depends only on n and `tileSize`.
  /// (Different OpenBLAS kernels, `OPENBLAS_CORETYPE`, round differently.) It is as fast as OpenBLAS's
  /// threaded `dpotrf_` + `dpotri_` on 2 cores: n = 12,101 (Beauty) in 46 s with the SkylakeX kernels.
  ///
  /// - Parameters:
  ///   - matrix: n·n values, row-major; overwritten with the inverse.
  ///   - threads: threads for the independent tile operations.
  ///   - tileSize: the tile edge (results depend on it, so callers keep the default).
  /// - Throws: `DenseLinearAlgebraError` with `.notPositiveDefinite(leadingMinor:)` when the matrix
  ///   is not positive definite (then `matrix` holds partial results).
  /// - Complexity: n³/2 multiply-adds (n³/6 for each step); no memory beyond the matrix.
  public static func invertSymmetricPositiveDefinite(
    _ matrix: inout [Double], n: Int, threads: Int = 1, tileSize: Int = defaultTileSize
  ) throws(DenseLinearAlgebraError) {
    precondition(n >= 0 && matrix.count == n * n, "matrix has \(matrix.count) values, expected \(n)×\(n)")
    var failure: DenseLinearAlgebraError?
    matrix.withUnsafeMutableBufferPointer { buffer in
      guard n > 0 else { return }
      do throws(DenseLinearAlgebraError) {
        try invertSymmetricPositiveDefinite(buffer.baseAddress!, n: n, threads: threads, tileSize: tileSize)
      } catch {
        failure = error
      }
    }
    if let failure { throw failure }
  }

  /// The pointer form of `invertSymmetricPositiveDefinite(_:n:threads:tileSize:)`: `matrix` holds n·n
  /// row-major values.
  public static func invertSymmetricPositiveDefinite(
    _ matrix: UnsafeMutablePointer<Double>, n: Int, threads: Int = 1, tileSize: Int = defaultTileSize
  ) throws(DenseLinearAlgebraError) {
    precondition(n >= 0 && tileSize > 0)
    guard n > 0 else { return }
    SingleThreadedBLAS.enter()
    defer { SingleThreadedBLAS.leave() }

    let tiles = TiledMatrix(base: matrix, n: n, tileSize: tileSize)
    if tiles.count == 1 {
      try factorDiagonal(tiles, 0)
      var info: Int32 = 0
      var order = Int32(n)
      dpotri_("U", &order, matrix, &order, &info, 1)
      try checked(info, .choleskyInversion)
    } else {
      try tiles.factor(threads: threads)
      try tiles.invertTriangle(threads: threads)
      tiles.multiplyTransposeByTriangle(threads: threads)
    }
    tiles.mirrorLowerTriangle(threads: threads)
  }

  /// `dpotrf_` on diagonal tile `k`: its row-major lower triangle becomes L with L·Lᵀ = the tile.
  fileprivate static func factorDiagonal(_ tiles: TiledMatrix, _ k: Int) throws(DenseLinearAlgebraError) {
    var info: Int32 = 0
    var order = Int32(tiles.rows(k))
    var leading = Int32(tiles.n)
    dpotrf_("U", &order, tiles.tile(k, k), &leading, &info, 1)
    try checked(info, .choleskyFactorization, offset: k * tiles.tileSize)
  }
}

extension DenseLinearAlgebra {
  /// Sets OpenBLAS's thread count like `setThreadCount(_:)`, except that while an inversion holds
  /// OpenBLAS at one thread the new count takes effect when the last inversion ends, so a concurrent
  /// caller cannot change the rounding of an inversion in flight.
  public static func setThreadCountAfterInversions(_ count: Int) {
    SingleThreadedBLAS.setThreadCount(Int32(count))
  }
}

/// Pins OpenBLAS to one thread while any inversion runs: the first to enter saves OpenBLAS's thread
/// count, the last to leave restores it, so concurrent inversions do not restore it under each other.
private enum SingleThreadedBLAS {
  final class State: @unchecked Sendable {
    var active = 0
    var savedThreads: Int32 = 1
  }
  static let queue = DispatchQueue(label: "DenseLinearAlgebra.SingleThreadedBLAS")
  static let state = State()

  static func enter() {
    queue.sync {
      if state.active == 0 {
        state.savedThreads = openblas_get_num_threads()
        openblas_set_num_threads(1)
      }
      state.active += 1
    }
  }

  static func setThreadCount(_ count: Int32) {
    queue.sync {
      if state.active == 0 { openblas_set_num_threads(count) } else { state.savedThreads = count }
    }
  }

  static func leave() {
    queue.sync {
      state.active -= 1
      if state.active == 0 { openblas_set_num_threads(state.savedThreads) }
    }
  }
}

/// A row-major n×n matrix cut into square tiles of `tileSize` (the last row and column of tiles may be
/// smaller). Row-major lower triangle = LAPACK's column-major upper triangle, so the LAPACK calls on
/// diagonal tiles pass "U"; every tile operation of a step writes a different tile.
private struct TiledMatrix: @unchecked Sendable {
  let base: UnsafeMutablePointer<Double>
  let n: Int
  let tileSize: Int
  let count: Int

  init(base: UnsafeMutablePointer<Double>, n: Int, tileSize: Int) {
    self.base = base
    self.n = n
    self.tileSize = tileSize
    count = (n + tileSize - 1) / tileSize
  }

  func tile(_ i: Int, _ j: Int) -> UnsafeMutablePointer<Double> { base + i * tileSize * n + j * tileSize }
  func rows(_ i: Int) -> Int { min(tileSize, n - i * tileSize) }

  /// Calls `body` for each task on up to `threads` threads, dealt round-robin. Tasks write disjoint
  /// tiles, so the result does not depend on which thread runs which.
  func forEach(_ count: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
    let workers = max(1, min(threads, count))
    if workers <= 1 {
      for task in 0..<count { body(task) }
      return
    }
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      var task = worker
      while task < count {
        body(task)
        task += workers
      }
    }
  }

  /// C := C − A·Bᵀ (tiles), or the lower triangle of C := C − A·Aᵀ when C is a diagonal tile.
  func subtractProduct(_ i: Int, _ j: Int, _ k: Int) {
    let ld = blasint(n)
    if i == j {
      cblas_dsyrk(
        CblasRowMajor, CblasLower, CblasNoTrans, blasint(rows(i)), blasint(rows(k)), -1, tile(i, k), ld, 1,
        tile(i, i), ld)
    } else {
      cblas_dgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, blasint(rows(i)), blasint(rows(j)), blasint(rows(k)), -1,
        tile(i, k), ld, tile(j, k), ld, 1, tile(i, j), ld)
    }
  }

  /// Tiled right-looking Cholesky: the lower triangle becomes L with L·Lᵀ = A.
  func factor(threads: Int) throws(DenseLinearAlgebraError) {
    let ld = blasint(n)
    for k in 0..<count {
      try DenseLinearAlgebra.factorDiagonal(self, k)
      let below = count - k - 1
      guard below > 0 else { break }
      // Panel: A(i,k) := A(i,k)·L(k,k)⁻ᵀ.
      forEach(below, threads: threads) { offset in
        let i = k + 1 + offset
        cblas_dtrsm(
          CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, blasint(rows(i)), blasint(rows(k)), 1,
          tile(k, k), ld, tile(i, k), ld)
      }
      // Trailing update: A(i,j) −= A(i,k)·A(j,k)ᵀ for k < j ≤ i.
      let pairs = lowerPairs(from: k + 1)
      forEach(pairs.count, threads: threads) { task in subtractProduct(pairs[task].0, pairs[task].1, k) }
    }
  }

  /// Tiled in-place inverse of the lower-triangular factor (PLASMA's `pdtrtri`, lower): W = L⁻¹.
  func invertTriangle(threads: Int) throws(DenseLinearAlgebraError) {
    let ld = blasint(n)
    for k in 0..<count {
      let below = count - k - 1
      // A(m,k) := −A(m,k)·L(k,k)⁻¹ for m > k.
      forEach(below, threads: threads) { offset in
        let m = k + 1 + offset
        cblas_dtrsm(
          CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, blasint(rows(m)), blasint(rows(k)), -1,
          tile(k, k), ld, tile(m, k), ld)
      }
      // A(m,n) += A(m,k)·A(k,n) for m > k > n.
      forEach(below * k, threads: threads) { task in
        let m = k + 1 + task / k
        let column = task % k
        cblas_dgemm(
          CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(rows(m)), blasint(rows(column)), blasint(rows(k)), 1,
          tile(m, k), ld, tile(k, column), ld, 1, tile(m, column), ld)
      }
      // A(k,n) := L(k,k)⁻¹·A(k,n) for n < k.
      forEach(k, threads: threads) { column in
        cblas_dtrsm(
          CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, blasint(rows(k)), blasint(rows(column)), 1,
          tile(k, k), ld, tile(k, column), ld)
      }
      var info: Int32 = 0
      var order = Int32(rows(k))
      var leading = Int32(n)
      dtrtri_("U", "N", &order, tile(k, k), &leading, &info, 1, 1)
      try checked(info, .triangularInversion, offset: k * tileSize)
    }
  }

  /// Tiled in-place Wᵀ·W of the lower-triangular W (PLASMA's `pdlauum`, lower): the lower triangle
  /// becomes A⁻¹ = L⁻ᵀ·L⁻¹.
  func multiplyTransposeByTriangle(threads: Int) {
    let ld = blasint(n)
    for k in 0..<count {
      // A(m,n) += A(k,m)ᵀ·A(k,n) for n ≤ m < k (the lower triangle only when m = n).
      let pairs = lowerPairs(from: 0, below: k)
      forEach(pairs.count, threads: threads) { task in
        let (m, column) = pairs[task]
        if m == column {
          cblas_dsyrk(
            CblasRowMajor, CblasLower, CblasTrans, blasint(rows(m)), blasint(rows(k)), 1, tile(k, m), ld, 1,
            tile(m, m), ld)
        } else {
          cblas_dgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, blasint(rows(m)), blasint(rows(column)), blasint(rows(k)), 1,
            tile(k, m), ld, tile(k, column), ld, 1, tile(m, column), ld)
        }
      }
      // A(k,n) := W(k,k)ᵀ·A(k,n) for n < k.
      forEach(k, threads: threads) { column in
        cblas_dtrmm(
          CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, blasint(rows(k)), blasint(rows(column)), 1,
          tile(k, k), ld, tile(k, column), ld)
      }
      var info: Int32 = 0
      var order = Int32(rows(k))
      var leading = Int32(n)
      dlauum_("U", &order, tile(k, k), &leading, &info, 1)
      // dlauum_ reports only illegal arguments, which these never are.
      precondition(info == 0, "dlauum_ rejected argument \(-info)")
    }
  }

  /// Tile pairs (i, j) with `from` ≤ j ≤ i < `below`, in row order.
  func lowerPairs(from start: Int, below end: Int? = nil) -> [(Int, Int)] {
    let end = end ?? count
    var pairs: [(Int, Int)] = []
    pairs.reserveCapacity(max(0, (end - start) * (end - start + 1) / 2))
    for i in start..<max(start, end) {
      for j in start...i { pairs.append((i, j)) }
    }
    return pairs
  }

  /// Copies the lower triangle onto the upper one, tile by tile.
  func mirrorLowerTriangle(threads: Int) {
    let pairs = lowerPairs(from: 0)
    forEach(pairs.count, threads: threads) { task in
      let (i, j) = pairs[task]
      let source = tile(i, j)
      let destination = tile(j, i)
      for row in 0..<rows(i) {
        for column in 0..<(i == j ? row : rows(j)) {
          destination[column * n + row] = source[row * n + column]
        }
      }
    }
  }
}
