internal import CZlib

/// Why a zlib call failed.
public struct ZlibError: Error, Sendable, CustomStringConvertible {
  public var operation: String
  public var code: Int32
  public var message: String
  public var description: String { "zlib \(operation) (\(code)): \(message)" }
}

/// Checks a zlib result code (`Z_OK`, `Z_STREAM_END` and `Z_BUF_ERROR` are not failures here).
@discardableResult
func checked(_ code: Int32, _ operation: StaticString, _ stream: z_stream) throws(ZlibError) -> Int32 {
  if code == Z_OK || code == Z_STREAM_END || code == Z_BUF_ERROR { return code }
  let message = stream.msg.map { String(cString: $0) } ?? "error \(code)"
  throw ZlibError(operation: "\(operation)", code: code, message: message)
}

/// Streaming gzip decompression, multi-member (as `zcat` reads `cat a.gz b.gz`).
public final class GzipDecompressor {
  private var stream = z_stream()
  private var initialized = false
  /// Whether the last member ended cleanly (no member is partly decoded).
  public private(set) var isAtMemberBoundary = true

  public init() throws(ZlibError) {
    // 15 + 16: a 32 KiB window and gzip (not zlib) headers.
    let code = tca_inflate_init2(&stream, 15 + 16)
    try checked(code, "inflateInit2", stream)
    initialized = true
  }

  deinit { if initialized { inflateEnd(&stream) } }

  /// Decompresses as much of `input` as fits into `output`.
  /// - Returns: bytes consumed and bytes produced.
  public func decompress(
    _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
  ) throws(ZlibError) -> (consumed: Int, produced: Int) {
    guard input.count > 0 || !isAtMemberBoundary else { return (0, 0) }
    stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
    stream.avail_in = uInt(input.count)
    stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
    stream.avail_out = uInt(output.count)
    let code = inflate(&stream, Z_NO_FLUSH)
    try checked(code, "inflate", stream)
    let consumed = input.count - Int(stream.avail_in)
    let produced = output.count - Int(stream.avail_out)
    if code == Z_STREAM_END {
      isAtMemberBoundary = true
      try checked(inflateReset(&stream), "inflateReset", stream)
    } else if consumed > 0 || produced > 0 {
      isAtMemberBoundary = false
    }
    return (consumed, produced)
  }
}

/// gzip compression of whole buffers (tests and fixtures).
public enum Gzip {
  public static func compress(_ input: [UInt8], level: Int32 = 6) throws(ZlibError) -> [UInt8] {
    var stream = z_stream()
    try checked(tca_deflate_init2(&stream, level, 15 + 16), "deflateInit2", stream)
    defer { deflateEnd(&stream) }
    let bound = Int(deflateBound(&stream, uLong(input.count))) + 64
    var output = [UInt8](repeating: 0, count: bound)
    var input = input
    let (code, produced) = input.withUnsafeMutableBytes { source in
      output.withUnsafeMutableBytes { destination in
        stream.next_in = source.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_in = uInt(source.count)
        stream.next_out = destination.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(destination.count)
        let code = deflate(&stream, Z_FINISH)
        return (code, destination.count - Int(stream.avail_out))
      }
    }
    try checked(code, "deflate", stream)
    output.removeSubrange(produced...)
    return output
  }
}
