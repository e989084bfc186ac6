/// A flag one thread raises to ask work running on another to stop early: the driver cancels a
/// stage it started before its key was known when the key turns out to be in the store already.
/// Work checks it at convenient points (a reader between chunks) and stops with `PipelineError.cancelled`.
public final class Cancellation: @unchecked Sendable {
  private let lock = Mutex()
  private var cancelled = false

  public init() {}

  public var isCancelled: Bool { lock.withLock { cancelled } }

  public func cancel() { lock.withLock { cancelled = true } }

  /// Throws `PipelineError.cancelled` once `cancel()` has been called.
  public func check() throws(PipelineError) {
    if isCancelled { throw .cancelled }
  }
}

extension PipelineError {
  /// Work stopped because its result is no longer wanted (never shown to users: whoever cancels
  /// catches it).
  public static var cancelled: PipelineError { PipelineError(.cancelled, "cancelled: the result is no longer needed") }

  public var isCancellation: Bool { code == .cancelled }
}
