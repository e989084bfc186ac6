internal import CIsal
internal import CZlib

/// Why a zlib or igzip call failed.
public struct ZlibError: Error, Sendable, CustomStringConvertible {
  public var operation: String
  public var code: Int32
  public var message: String
  public var description: String { "\(operation) (\(code)): \(message)" }
}

/// Checks a zlib result code (`Z_OK`, `Z_STREAM_END` and `Z_BUF_ERROR` are not failures here).
@discardableResult
func checked(_ code: Int32, _ operation: StaticString, _ stream: z_stream) throws(ZlibError) -> Int32 {
  if code == Z_OK || code == Z_STREAM_END || code == Z_BUF_ERROR { return code }
  let message = stream.msg.map { String(cString: $0) } ?? "error \(code)"
  throw ZlibError(operation: "zlib \(operation)", code: code, message: message)
}

/// Streaming gzip decompression, multi-member (as `zcat` reads `cat a.gz b.gz`), with ISA-L's igzip
/// inflate (about 4× zlib's on the same core; header, CRC-32 and length of every member checked).
public final class GzipDecompressor {
  private let state: UnsafeMutablePointer<inflate_state>
  /// Whether the last member ended cleanly (no member is partly decoded).
  public private(set) var isAtMemberBoundary = true

  public init() throws(ZlibError) {
    state = UnsafeMutablePointer<inflate_state>.allocate(capacity: 1)
    Self.start(state)
  }

  deinit { state.deallocate() }

  /// Resets `state` for a new gzip member.
  private static func start(_ state: UnsafeMutablePointer<inflate_state>) {
    isal_inflate_init(state)
    state.pointee.crc_flag = UInt32(ISAL_GZIP)
  }

  /// What an igzip error code means, in zlib's words where zlib has them.
  static func describe(_ code: Int32) -> String {
    switch code {
    case ISAL_INVALID_BLOCK: return "invalid block type or lengths"
    case ISAL_INVALID_SYMBOL: return "invalid code or symbol"
    case ISAL_INVALID_LOOKBACK: return "invalid distance too far back"
    case ISAL_INVALID_WRAPPER: return "incorrect header check"
    case ISAL_UNSUPPORTED_METHOD: return "unknown compression method"
    case ISAL_INCORRECT_CHECKSUM: return "incorrect data check"
    case ISAL_NEED_DICT: return "needs a preset dictionary"
    default: return "error \(code)"
    }
  }

  /// Decompresses as much of `input` as fits into `output`.
  /// - Returns: bytes consumed and bytes produced.
  public func decompress(
    _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
  ) throws(ZlibError) -> (consumed: Int, produced: Int) {
    guard input.count > 0 || !isAtMemberBoundary else { return (0, 0) }
    var empty: UInt8 = 0
    return try withUnsafeMutablePointer(to: &empty) { (placeholder) throws(ZlibError) -> (Int, Int) in
      state.pointee.next_in = UnsafeMutablePointer(
        mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(placeholder))
      state.pointee.avail_in = UInt32(input.count)
      state.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? placeholder
      state.pointee.avail_out = UInt32(output.count)
      let code = isal_inflate(state)
      let consumed = input.count - Int(state.pointee.avail_in)
      let produced = output.count - Int(state.pointee.avail_out)
      state.pointee.next_in = nil
      state.pointee.next_out = nil
      guard code >= 0 else { throw ZlibError(operation: "igzip inflate", code: code, message: Self.describe(code)) }
      if state.pointee.block_state == ISAL_BLOCK_FINISH {
        isAtMemberBoundary = true
        Self.start(state)
      } else if consumed > 0 || produced > 0 {
        isAtMemberBoundary = false
      }
      return (consumed, produced)
    }
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
