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
