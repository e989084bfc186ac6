import Dispatch

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A pointer handed to the threads of a parallel loop that each write a disjoint part of it (the
/// caller guarantees that; nothing checks it).
public struct DisjointPointer<Element>: @unchecked Sendable {
  public let base: UnsafeMutablePointer<Element>
  public init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
  public subscript(index: Int) -> Element {
    get { base[index] }
    nonmutating set { base[index] = newValue }
  }
}

extension DisjointPointer {
  public init(_ buffer: UnsafeMutableBufferPointer<Element>) { self.init(buffer.baseAddress!) }
}

/// Parallel loops whose results do not depend on the thread count: each index is computed by
/// exactly one thread, and nothing is reduced across threads.
public enum Parallel {
  /// The threads stages use: `TCA_THREADS` when it is a positive integer, else every online
  /// processor. Outputs never depend on it (the tests run stages with different counts and compare).
  public static var defaultThreadCount: Int {
    if let text = FileSystem.environment("TCA_THREADS"), let count = Int(text), count > 0 { return count }
    return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
  }

  /// Calls `body(index)` for every index in `0..<count` on up to `threads` threads; indices are
  /// dealt round-robin in contiguous chunks of `chunk`.
  public static func forEach(
    _ count: Int, threads: Int, chunk: Int = 1, _ body: @Sendable (Int) -> Void
  ) {
    guard count > 0 else { return }
    let chunks = (count + chunk - 1) / chunk
    let workers = max(1, min(threads, chunks))
    if workers == 1 {
      for index in 0..<count { body(index) }
      return
    }
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      var block = worker
      while block < chunks {
        for index in (block * chunk)..<min(count, (block + 1) * chunk) { body(index) }
        block += workers
      }
    }
  }
}

/// Work started on a thread of its own, whose result `wait()` collects (the driver hashes raw files
/// this way while a stage computes).
public final class BackgroundTask<Value: Sendable>: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  private let lock = Mutex()
  private var result: Result<Value, PipelineError>?

  public init(_ work: @escaping @Sendable () throws(PipelineError) -> Value) {
    DispatchQueue.global().async {
      let outcome: Result<Value, PipelineError>
      do throws(PipelineError) {
        outcome = .success(try work())
      } catch {
        outcome = .failure(error)
      }
      self.lock.withLock { self.result = outcome }
      self.done.signal()
    }
  }

  /// Blocks until the work is done; its value, or the error it threw. May be called more than once.
  public func wait() throws(PipelineError) -> Value {
    done.wait()
    done.signal()
    return try lock.withLock { result! }.get()
  }
}
