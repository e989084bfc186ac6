import PipelineCore
import Zlib
import Zstd

#if canImport(Glibc)
  import Glibc
#endif

/// Reads a raw input file line by line in constant memory, whether it is plain, gzip or zstd
/// (detected by magic bytes, not by name). A truncated or corrupt compressed stream is an error that
/// names the file and the compressed byte offset, never a silent partial read.
public final class RawInputReader {
  public enum Compression: String, Sendable { case none, gzip, zstd }

  public let path: String
  public let compression: Compression
  /// Keep the complete lines of a truncated stream instead of failing; `truncatedAt` then says where.
  public let allowTruncated: Bool
  public private(set) var truncatedAt: Int64?
  /// Bytes of the file consumed so far (compressed bytes for compressed files), for progress.
  public private(set) var bytesRead: Int64 = 0
  public let fileSize: Int64
  /// Checked between chunks: once cancelled, reading stops with `PipelineError.cancelled`.
  public var cancellation: Cancellation?

  private let descriptor: Int32
  private let chunkSize = 1 << 22

  public init(path: String, allowTruncated: Bool = false) throws(PipelineError) {
    self.path = path
    self.allowTruncated = allowTruncated
    descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw PipelineError(
        .invalidInput, "cannot open '\(path)': \(errnoDescription(errno)); check the path and TCA_DATA")
    }
    var info = stat()
    fstat(descriptor, &info)
    fileSize = Int64(info.st_size)
    var magic = [UInt8](repeating: 0, count: 4)
    let count = pread(descriptor, &magic, 4, 0)
    if count >= 2 && magic[0] == 0x1F && magic[1] == 0x8B {
      compression = .gzip
    } else if count == 4 && magic == [0x28, 0xB5, 0x2F, 0xFD] {
      compression = .zstd
    } else {
      compression = .none
    }
  }

  deinit { close(descriptor) }

  /// Calls `body` with each line (without its `\n` or `\r\n`, and without a leading UTF-8 BOM on
  /// line 1) and its 1-based line number. The buffer is valid only during the call.
  public func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
    var pending: [UInt8] = []
    var lineNumber = 0
    var isFirstLine = true
    func deliver(_ chunk: UnsafeRawBufferPointer) throws {
      let bytes = chunk.bindMemory(to: UInt8.self)
      var start = 0
      var index = 0
      let count = bytes.count
      while index < count {
        guard let newline = memchr(bytes.baseAddress! + index, 0x0A, count - index) else { break }
        let end = bytes.baseAddress!.distance(to: newline.assumingMemoryBound(to: UInt8.self))
        lineNumber += 1
        if pending.isEmpty {
          try emit(UnsafeBufferPointer(rebasing: bytes[start..<end]))
        } else {
          pending.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
          let line = pending
          pending.removeAll(keepingCapacity: true)
          try line.withUnsafeBufferPointer { try emit($0) }
        }
        start = end + 1
        index = start
      }
      if start < count { pending.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<count])) }
    }
    func emit(_ line: UnsafeBufferPointer<UInt8>) throws {
      var line = line
      if isFirstLine {
        isFirstLine = false
        if line.count >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
          line = UnsafeBufferPointer(rebasing: line[3...])
        }
      }
      if let last = line.last, last == 0x0D { line = UnsafeBufferPointer(rebasing: line[..<(line.count - 1)]) }
      try body(line, lineNumber)
    }
    try readDecompressed(deliver)
    // The partial last line of a truncated stream is dropped: only complete lines are kept.
    if !pending.isEmpty && truncatedAt == nil {
      lineNumber += 1
      let line = pending
      try line.withUnsafeBufferPointer { try emit($0) }
    }
  }

  /// Streams the decompressed bytes through `sink`, read (and decompressed) on a second thread
  /// (`BackgroundReader`) while `sink` runs here, the buffers handed over in order.
  private func readDecompressed(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
    let reader = BackgroundReader(
      descriptor: descriptor, path: path, compression: compression, allowTruncated: allowTruncated,
      gzip: compression == .gzip ? try GzipDecompressor() : nil,
      zstd: compression == .zstd ? ZstdDecompressor() : nil, chunkSize: chunkSize,
      bufferCount: Self.bufferCount)
    try reader.start()
    defer { reader.stop() }
    while let filled = reader.next() {
      try cancellation?.check()
      bytesRead = filled.bytesRead
      try sink(UnsafeRawBufferPointer(rebasing: reader.buffers[filled.buffer][0..<filled.count]))
      reader.recycle(filled.buffer)
    }
    reader.stop()
    bytesRead = reader.bytesRead
    if let failure = reader.failure { throw failure }
    truncatedAt = reader.truncatedAt
  }

  /// How many chunks may be ready or in use at once (memory: that many × `chunkSize`).
  static let bufferCount = 4
}

/// Reads a file on a thread of its own, decompressing a gzip or zstd one, into a few buffers, which
/// the reading thread takes in order (`next`) and gives back (`recycle`) once it has used them:
/// memory stays at `bufferCount` × `chunkSize` however far ahead the thread could run. (Even a
/// plain file gains: the kernel's copy into the buffers happens on the other core.)
///
/// The decompression calls are the ones a single thread makes (4 MiB of input, then calls into
/// a whole 4 MiB output buffer until the input is used), so a corrupt or truncated stream fails at
/// the same byte offset with the same message; the failure (or, with `allowTruncated`, where it
/// stopped) is reported after every buffer decompressed before it.
private final class BackgroundReader: @unchecked Sendable {
  /// A decompressed buffer ready to be read.
  struct Filled {
    var buffer: Int
    var count: Int
    /// Bytes of the file consumed before this buffer's input chunk (after it, for a plain file),
    /// for progress.
    var bytesRead: Int64
  }

  let buffers: [UnsafeMutableRawBufferPointer]
  private let descriptor: Int32
  private let path: String
  private let compression: RawInputReader.Compression
  private let allowTruncated: Bool
  private let gzip: GzipDecompressor?
  private let zstd: ZstdDecompressor?
  private let chunkSize: Int

  // Guarded by `mutex`; `changed` is signalled whenever any of them changes.
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private var freeBuffers: [Int]
  private var ready: [Filled] = []
  private var readyStart = 0
  private var finished = false
  private var cancelled = false
  /// Set by the thread before `finished`; read after it.
  private(set) var failure: (any Error)?
  private(set) var truncatedAt: Int64?
  private(set) var bytesRead: Int64 = 0

  private var thread: pthread_t?

  init(
    descriptor: Int32, path: String, compression: RawInputReader.Compression, allowTruncated: Bool,
    gzip: GzipDecompressor?, zstd: ZstdDecompressor?, chunkSize: Int, bufferCount: Int
  ) {
    self.descriptor = descriptor
    self.path = path
    self.compression = compression
    self.allowTruncated = allowTruncated
    self.gzip = gzip
    self.zstd = zstd
    self.chunkSize = chunkSize
    buffers = (0..<bufferCount).map { _ in
      UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
    }
    freeBuffers = Array(buffers.indices.reversed())
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(changed, nil)
  }

  deinit {
    for buffer in buffers { buffer.deallocate() }
    pthread_cond_destroy(changed)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    changed.deallocate()
  }

  /// Starts the decompressing thread.
  func start() throws {
    let context = Unmanaged.passRetained(self).toOpaque()
    var thread = pthread_t()
    let code = pthread_create(
      &thread, nil,
      { context in
        let decompressor = Unmanaged<BackgroundReader>.fromOpaque(context!).takeRetainedValue()
        decompressor.run()
        return nil
      }, context)
    guard code == 0 else {
      Unmanaged<BackgroundReader>.fromOpaque(context).release()
      throw PipelineError(.invalidInput, "cannot start a thread to read '\(path)': \(errnoDescription(code))")
    }
    self.thread = thread
  }

  /// Stops the thread (when the reader gives up early) and waits for it; idempotent.
  func stop() {
    guard let thread else { return }
    withLock {
      cancelled = true
      pthread_cond_broadcast(changed)
    }
    pthread_join(thread, nil)
    self.thread = nil
  }

  /// The next decompressed buffer in order, waiting for it; `nil` after the last one.
  func next() -> Filled? {
    withLock {
      while readyStart == ready.count && !finished { pthread_cond_wait(changed, mutex) }
      guard readyStart < ready.count else { return nil }
      let filled = ready[readyStart]
      readyStart += 1
      if readyStart == ready.count {
        ready.removeAll(keepingCapacity: true)
        readyStart = 0
      }
      pthread_cond_broadcast(changed)
      return filled
    }
  }

  /// Gives a buffer that `next` returned back for decompression.
  func recycle(_ buffer: Int) {
    withLock {
      freeBuffers.append(buffer)
      pthread_cond_broadcast(changed)
    }
  }

  private func withLock<Result>(_ body: () -> Result) -> Result {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body()
  }

  // MARK: The decompressing thread

  private func run() {
    let failure: (any Error)?
    do {
      try decompress()
      failure = nil
    } catch {
      failure = error
    }
    withLock {
      self.failure = failure
      finished = true
      pthread_cond_broadcast(changed)
    }
  }

  /// A free buffer to decompress into, waiting for one; `nil` once the reader has stopped.
  private func takeFreeBuffer() -> Int? {
    withLock {
      while freeBuffers.isEmpty && !cancelled { pthread_cond_wait(changed, mutex) }
      return cancelled ? nil : freeBuffers.removeLast()
    }
  }

  private func publish(_ filled: Filled) {
    withLock {
      ready.append(filled)
      pthread_cond_broadcast(changed)
    }
  }

  private func decompress() throws {
    guard var output = takeFreeBuffer() else { return }
    var offset: Int64 = 0
    if compression == .none {
      while true {
        let count = read(descriptor, buffers[output].baseAddress!, chunkSize)
        if count < 0 {
          if errno == EINTR { continue }
          throw PipelineError(.invalidInput, "cannot read '\(path)' at byte \(offset): \(errnoDescription(errno))")
        }
        if count == 0 { break }
        offset += Int64(count)
        bytesRead = offset
        publish(Filled(buffer: output, count: count, bytesRead: offset))
        guard let next = takeFreeBuffer() else { return }
        output = next
      }
      return
    }
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
    defer { input.deallocate() }
    /// Hands the output buffer's first `produced` bytes over; `false` when the reader has stopped.
    func hand(_ produced: Int) -> Bool {
      publish(Filled(buffer: output, count: produced, bytesRead: offset))
      guard let next = takeFreeBuffer() else { return false }
      output = next
      return true
    }
    func decompress(_ input: UnsafeRawBufferPointer) throws -> (consumed: Int, produced: Int) {
      if let gzip { return try gzip.decompress(input, into: buffers[output]) }
      return try zstd!.decompress(input, into: buffers[output])
    }
    while true {
      let count = read(descriptor, input.baseAddress!, chunkSize)
      if count < 0 {
        if errno == EINTR { continue }
        throw PipelineError(.invalidInput, "cannot read '\(path)' at byte \(offset): \(errnoDescription(errno))")
      }
      if count == 0 { break }
      var consumedTotal = 0
      while true {
        let remaining = UnsafeRawBufferPointer(rebasing: input[consumedTotal..<count])
        let consumed: Int
        let produced: Int
        do {
          (consumed, produced) = try decompress(remaining)
        } catch {
          if allowTruncated {
            truncatedAt = offset + Int64(consumedTotal)
            return
          }
          throw PipelineError(
            .invalidInput,
            "'\(path)' is corrupt at byte \(offset + Int64(consumedTotal)) (\(compression.rawValue): \(error)); re-download it"
          )
        }
        consumedTotal += consumed
        if produced > 0 && !hand(produced) { return }
        if consumedTotal >= count && produced < chunkSize { break }
        if consumed == 0 && produced == 0 { break }
      }
      offset += Int64(count)
      bytesRead = offset
    }
    // Drain output the decompressor still holds.
    while true {
      let produced: Int
      do {
        produced = try decompress(UnsafeRawBufferPointer(start: nil, count: 0)).produced
      } catch { break }
      if produced == 0 { break }
      if !hand(produced) { return }
    }
    let complete = gzip?.isAtMemberBoundary ?? zstd?.isAtFrameBoundary ?? true
    if !complete {
      if allowTruncated {
        truncatedAt = offset
        return
      }
      throw PipelineError(
        .invalidInput,
        "'\(FileSystem.baseName(path))' is truncated at byte \(offset) (\(compression.rawValue) stream ends early); re-download it, or set allow_truncated: true in the ingest params to keep the complete lines"
      )
    }
  }
}
