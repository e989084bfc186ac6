import Crypto

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// SHA-256 digests in lowercase hex: the content hashes of raw files, artifacts and stage keys.
public enum ContentHash {
  public static func sha256(_ bytes: [UInt8]) -> String {
    hex(SHA256.hash(data: bytes))
  }

  public static func sha256(bytes: UnsafeRawBufferPointer) -> String {
    hex(SHA256.hash(data: bytes))
  }

  public static func sha256(_ text: String) -> String {
    sha256(Array(text.utf8))
  }

  /// Hashes a file by streaming it in 1 MiB reads (constant memory).
  /// - Complexity: O(file size); one sequential read.
  public static func sha256(fileAt path: String) throws(PipelineError) -> (digest: String, size: Int64) {
    var hasher = SHA256()
    let total = try FileSystem.forEachChunk(ofFileAt: path) { (chunk: UnsafeRawBufferPointer) throws(PipelineError) in
      hasher.update(bufferPointer: chunk)
    }
    return (hex(hasher.finalize()), total)
  }

  static func hex(_ digest: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var output: [UInt8] = []
    output.reserveCapacity(64)
    for byte in digest {
      output.append(digits[Int(byte >> 4)])
      output.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: output, as: UTF8.self)
  }
}

/// An incremental SHA-256 for writers that hash what they write as they write it.
public struct StreamingHasher {
  private var hasher = SHA256()
  public init() {}
  public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
  public mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }
  public func finalize() -> String { ContentHash.hex(hasher.finalize()) }
}
