internal import COpenBLAS
import Dispatch

extension DenseLinearAlgebra {
  /// Runs `body` with OpenBLAS held at one thread, for callers that cut their products into fixed
  /// blocks and run the blocks on their own threads.
  ///
  /// OpenBLAS's threaded sgemm rounds differently with its thread count (it partitions the product
  /// across threads and splits the k-loop by other rules than its single-threaded driver); one
  /// single-threaded call of a given shape always rounds the same. Concurrent and nested uses are
  /// counted: the first saves OpenBLAS's thread count and sets one thread, the last restores it.
  /// Both go through `setThreadCountAfterInversions`, so an inversion that ends inside `body` keeps
  /// OpenBLAS at one thread, and one that is running when `body` ends gets the saved count when it
  /// ends. (A `setThreadCount` from another thread while `body` runs still takes effect at once.)
  public static func withSingleThreadedBLAS<Result>(_ body: () throws -> Result) rethrows -> Result {
    SingleThreadedProducts.enter()
    defer { SingleThreadedProducts.leave() }
    return try body()
  }
}

extension DenseLinearAlgebra {
  /// Ends OpenBLAS's idle thread pool now; the next threaded product starts it again.
  ///
  /// OpenBLAS starts one pool thread per core when the library loads, and after that and after
  /// every threaded call each one spins (yielding) for about 2²⁸ cycles, a tenth of a second, before
  /// it sleeps. A stage that runs its own threads with single-threaded products calls this first, so
  /// that the spinning does not take cores from it. Call it only while no product runs on another
  /// thread (OpenBLAS does the same before a `fork`).
  public static func stopIdleThreads() {
    _ = blas_thread_shutdown_()
  }
}

/// The counter behind `withSingleThreadedBLAS`.
private enum SingleThreadedProducts {
  final class State: @unchecked Sendable {
    var active = 0
    var savedThreads: Int32 = 1
  }
  static let queue = DispatchQueue(label: "DenseLinearAlgebra.SingleThreadedProducts")
  static let state = State()

  static func enter() {
    queue.sync {
      if state.active == 0 {
        state.savedThreads = openblas_get_num_threads()
        DenseLinearAlgebra.setThreadCountAfterInversions(1)
        openblas_set_num_threads(1)
      }
      state.active += 1
    }
  }

  static func leave() {
    queue.sync {
      state.active -= 1
      if state.active == 0 { DenseLinearAlgebra.setThreadCountAfterInversions(Int(state.savedThreads)) }
    }
  }
}
