import PipelineCore

/// The scratch memory of one encoding thread: symbol and pair buffers for the merge loop, a buffer
/// for pieces that get a prefix space, and the word cache (piece bytes → token ids).
///
/// A workspace is used by one thread at a time; `WorkspacePool` hands them out so that the cache
/// survives from one `encode` call to the next.
final class EncodingWorkspace {
  var symbols: UnsafeMutablePointer<UInt32>
  var pairValues: UnsafeMutablePointer<UInt64>
  private(set) var capacity: Int
  /// Bytes of a piece with its prefix space.
  var prefixed: [UInt8] = []
  /// Word cache of the model (`tokenizers` caches the same way; it changes no result).
  let cache = ByteStringMap(minimumCapacity: 4096)

  /// Largest piece, in bytes, whose ids are cached (as in `tokenizers`).
  static let cachedPieceLimit = 256
  /// The cache is emptied when it holds this many words, bounding its memory to a few MB.
  static let cacheEntryLimit = 1 << 16

  init() {
    capacity = 256
    symbols = .allocate(capacity: capacity)
    pairValues = .allocate(capacity: capacity)
  }

  deinit {
    symbols.deallocate()
    pairValues.deallocate()
  }

  /// Makes room for a piece of `count` symbols.
  @inline(__always)
  func reserve(_ count: Int) {
    guard count > capacity else { return }
    var newCapacity = capacity
    while newCapacity < count { newCapacity *= 2 }
    symbols.deallocate()
    pairValues.deallocate()
    symbols = .allocate(capacity: newCapacity)
    pairValues = .allocate(capacity: newCapacity)
    capacity = newCapacity
  }
}

/// Workspaces waiting to be reused, shared by the threads that encode with one tokenizer.
final class WorkspacePool: @unchecked Sendable {  // guarded by `lock`
  private let lock = Mutex()
  private var idle: [EncodingWorkspace] = []

  /// Runs `body` with a workspace no other thread is using.
  func withWorkspace<Result>(_ body: (EncodingWorkspace) throws -> Result) rethrows -> Result {
    let workspace = lock.withLock { idle.popLast() } ?? EncodingWorkspace()
    defer { lock.withLock { if idle.count < 64 { idle.append(workspace) } } }
    return try body(workspace)
  }
}
