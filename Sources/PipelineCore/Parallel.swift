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

/// Work started on a thread of its own (a pthread, as the raw readers read ahead), whose result
/// `wait()` collects: the driver hashes raw files this way while a stage computes, and ingest reads
/// a meta file while it reads the reviews.
///
/// The work's captured state is handed over to the thread: the caller must not touch it until
/// `wait()` returns (`pthread_create` and `pthread_join` order the memory in between). When no
/// thread can be started, `wait()` does the work on the calling thread.
public final class BackgroundTask<Value>: @unchecked Sendable {
  private var work: (() -> Result<Value, PipelineError>)?
  private var result: Result<Value, PipelineError>?
  private var thread: pthread_t?

  public init(_ work: @escaping () throws(PipelineError) -> Value) {
    self.work = {
      do throws(PipelineError) {
        return .success(try work())
      } catch {
        return .failure(error)
      }
    }
    thread = ThreadStart.spawn { [self] in runWork() }
  }

  private func runWork() {
    guard let work else { return }
    self.work = nil
    result = work()
  }

  /// Blocks until the work is done; its value, or the error it threw. May be called more than once.
  public func wait() throws(PipelineError) -> Value {
    if let thread {
      pthread_join(thread, nil)
      self.thread = nil
    } else {
      runWork()
    }
    return try result!.get()
  }
}

/// Starts a pthread running a closure (a C entry point cannot capture generic context, so generic
/// callers go through this non-generic box).
private final class ThreadStart {
  private let body: () -> Void
  private init(_ body: @escaping () -> Void) { self.body = body }

  /// The thread started, or nil when none could be (the caller then runs the work itself).
  static func spawn(_ body: @escaping () -> Void) -> pthread_t? {
    let context = Unmanaged.passRetained(ThreadStart(body)).toOpaque()
    var thread = pthread_t()
    let code = pthread_create(
      &thread, nil,
      { context in
        Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue().body()
        return nil
      }, context)
    guard code == 0 else {
      Unmanaged<ThreadStart>.fromOpaque(context).release()
      return nil
    }
    return thread
  }
}
