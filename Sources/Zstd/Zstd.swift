internal import CZstd

/// Why a zstd call failed (the C function's error name).
public struct ZstdError: Error, Sendable, CustomStringConvertible {
  public var operation: String
  public var message: String
  public var description: String { "zstd \(operation): \(message)" }
}

/// Checks a zstd result (the library's `ZSTD_isError` convention).
@discardableResult
func checked(_ code: Int, _ operation: StaticString) throws(ZstdError) -> Int {
  if ZSTD_isError(code) != 0 {
    throw ZstdError(operation: "\(operation)", message: String(cString: ZSTD_getErrorName(code)))
  }
  return code
}

/// zstd compression of whole buffers (one frame that records its content size) and streaming
/// decompression of `.zst` inputs.
public enum Zstd {
  /// Compresses a buffer into one frame with the content size in its header
  /// (the C function is `ZSTD_compress`).
  public static func compress(_ input: UnsafeRawBufferPointer, level: Int32) throws(ZstdError) -> [UInt8] {
    let bound = ZSTD_compressBound(input.count)
    var code = 0
    // Uninitialised: zeroing the bound first cost as much as a tenth of the compression.
    let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
      code = ZSTD_compress(buffer.baseAddress, bound, input.baseAddress, input.count, level)
      count = ZSTD_isError(code) != 0 ? 0 : code
    }
    _ = try checked(code, "compress")
    return output
  }

  public static func compress(_ input: [UInt8], level: Int32) throws(ZstdError) -> [UInt8] {
    var result: Result<[UInt8], ZstdError> = .success([])
    input.withUnsafeBytes { buffer in
      do throws(ZstdError) { result = .success(try compress(buffer, level: level)) } catch { result = .failure(error) }
    }
    return try result.get()
  }

  /// Decompresses a single frame whose header records its content size.
  public static func decompressFrame(_ input: [UInt8]) throws(ZstdError) -> [UInt8] {
    let size = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
    guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN else {
      throw ZstdError(operation: "decompress", message: "frame has no content size")
    }
    var code = 0
    let output = [UInt8](unsafeUninitializedCapacity: Int(size)) { out, count in
      code = input.withUnsafeBytes { source in
        ZSTD_decompress(out.baseAddress, Int(size), source.baseAddress, source.count)
      }
      count = ZSTD_isError(code) == 0 && code == Int(size) ? code : 0
    }
    let written = try checked(code, "decompress")
    guard written == Int(size) else {
      throw ZstdError(operation: "decompress", message: "frame produced \(written) bytes, header says \(size)")
    }
    return output
  }

  /// The recommended input chunk size for streaming decompression.
  public static var recommendedInputSize: Int { ZSTD_DStreamInSize() }
}

/// zstd's multi-threaded mode, one context kept for many buffers: each buffer is cut into jobs of
/// `jobBytes` (each job also sees the end of the one before), compressed on up to `threads`
/// threads, into one frame with its content size in the header. The frame's bytes differ from
/// `Zstd.compress(_:level:)`'s but are the same for every thread count ≥ 1 (zstd's rule; the tests
/// check it), so outputs stay byte-identical across machines; any zstd decoder reads the frame.
/// The parameters are set once, and the worker threads and buffers (and the output buffer) are
/// reused instead of being created and faulted in again for each buffer; a kept context gives each
/// buffer the bytes a fresh one gives it. Used by one thread at a time.
public final class ZstdCompressor {
  private let context: OpaquePointer
  private var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)

  /// The C functions are `ZSTD_CCtx_setParameter` with `ZSTD_c_compressionLevel`,
  /// `ZSTD_c_nbWorkers` and `ZSTD_c_jobSize`.
  public init(level: Int32, threads: Int, jobBytes: Int) throws(ZstdError) {
    precondition(threads >= 1, "ZstdCompressor needs at least one thread")
    guard let context = ZSTD_createCCtx() else {
      throw ZstdError(operation: "createCCtx", message: "out of memory")
    }
    self.context = context
    try checked(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level), "setParameter(compressionLevel)")
    do throws(ZstdError) {
      try checked(ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(threads)), "setParameter(nbWorkers)")
    } catch {
      throw ZstdError(
        operation: error.operation,
        message: "\(error.message): this libzstd was built without multi-threading; install the distribution's libzstd")
    }
    try checked(ZSTD_CCtx_setParameter(context, ZSTD_c_jobSize, Int32(jobBytes)), "setParameter(jobSize)")
  }

  deinit {
    ZSTD_freeCCtx(context)
    output.deallocate()
  }

  /// Compresses `input` into one frame: `begin(contentSize:)` and one `compress(_:end:)` with all
  /// of it, so a frame given in pieces has the same bytes. The bytes returned are this compressor's
  /// buffer: valid until the next call, and only while the compressor is alive.
  public func compress(_ input: UnsafeRawBufferPointer) throws(ZstdError) -> UnsafeRawBufferPointer {
    try begin(contentSize: input.count)
    return try compress(input, end: true)
  }

  /// Starts a frame of exactly `contentSize` bytes (recorded in its header), given in pieces to
  /// `compress(_:end:)`: the C functions are `ZSTD_CCtx_reset` (session only: the parameters and
  /// threads stay) and `ZSTD_CCtx_setPledgedSrcSize`. Jobs are cut from the input by size alone,
  /// so the frame's bytes do not depend on how it is cut into pieces.
  public func begin(contentSize: Int) throws(ZstdError) {
    try checked(ZSTD_CCtx_reset(context, ZSTD_reset_session_only), "CCtx_reset")
    try checked(ZSTD_CCtx_setPledgedSrcSize(context, UInt64(contentSize)), "CCtx_setPledgedSrcSize")
  }

  /// Compresses the next piece of the frame begun by `begin(contentSize:)` (`ZSTD_compressStream2`;
  /// `end` for the last piece, which flushes the frame) and returns the compressed bytes this call
  /// produced: zstd's threads compress a job once enough input has arrived, and its output comes
  /// out of a later call. The bytes are this compressor's buffer: valid until the next call, and
  /// only while the compressor is alive. A frame given in more than one piece that does not add up
  /// to its content size is an error of its last call (zstd takes a frame given in one piece as
  /// the size it has).
  public func compress(_ input: UnsafeRawBufferPointer, end: Bool) throws(ZstdError) -> UnsafeRawBufferPointer {
    var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
    let directive = end ? ZSTD_e_end : ZSTD_e_continue
    let room = ZSTD_CStreamOutSize()
    var produced = 0
    while true {
      if output.count - produced < room {
        // Grown, keeping what this call has produced so far.
        let grown = UnsafeMutableRawBufferPointer.allocate(
          byteCount: max(2 * output.count, produced + ZSTD_compressBound(input.count) + room), alignment: 64)
        if produced > 0 { grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
        output.deallocate()
        output = grown
      }
      var destination = ZSTD_outBuffer(dst: output.baseAddress! + produced, size: output.count - produced, pos: 0)
      let remaining = try checked(ZSTD_compressStream2(context, &destination, &source, directive), "compressStream2")
      produced += destination.pos
      if end ? remaining == 0 : source.pos == source.size { break }
    }
    return UnsafeRawBufferPointer(start: output.baseAddress, count: produced)
  }
}

/// Streaming decompression of concatenated zstd frames (the C type is `ZSTD_DCtx`).
public final class ZstdDecompressor {
  private let context: OpaquePointer
  /// Whether the last call ended exactly at a frame boundary.
  public private(set) var isAtFrameBoundary = true

  public init() {
    context = ZSTD_createDCtx()
  }

  deinit { ZSTD_freeDCtx(context) }

  /// Decompresses as much of `input` as fits into `output`.
  /// - Returns: bytes consumed from input and bytes written to output.
  public func decompress(
    _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
  ) throws(ZstdError) -> (consumed: Int, produced: Int) {
    var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
    var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
    let hint = try checked(ZSTD_decompressStream(context, &outBuffer, &inBuffer), "decompressStream")
    // A hint of 0 means a frame just ended; a call that neither reads nor writes (draining at a
    // boundary, where the hint is the size of the next frame's header) changes nothing.
    if hint == 0 {
      isAtFrameBoundary = true
    } else if inBuffer.pos > 0 || outBuffer.pos > 0 {
      isAtFrameBoundary = false
    }
    return (inBuffer.pos, outBuffer.pos)
  }
}
