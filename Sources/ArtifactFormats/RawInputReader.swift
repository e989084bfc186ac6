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

  /// Streams the decompressed bytes through `sink`.
  private func readDecompressed(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
    defer { input.deallocate() }
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
    defer { output.deallocate() }
    let gzip = compression == .gzip ? try GzipDecompressor() : nil
    let zstd = compression == .zstd ? ZstdDecompressor() : nil
    var offset: Int64 = 0
    while true {
      let count = read(descriptor, input.baseAddress!, chunkSize)
      if count < 0 {
        if errno == EINTR { continue }
        throw PipelineError(.invalidInput, "cannot read '\(path)' at byte \(offset): \(errnoDescription(errno))")
      }
      if count == 0 { break }
      if compression == .none {
        offset += Int64(count)
        bytesRead = offset
        try sink(UnsafeRawBufferPointer(rebasing: input[0..<count]))
        continue
      }
      var consumedTotal = 0
      while true {
        let remaining = UnsafeRawBufferPointer(rebasing: input[consumedTotal..<count])
        let consumed: Int
        let produced: Int
        do {
          if let gzip {
            (consumed, produced) = try gzip.decompress(remaining, into: output)
          } else {
            (consumed, produced) = try zstd!.decompress(remaining, into: output)
          }
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
        if produced > 0 { try sink(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
        if consumedTotal >= count && produced < output.count { break }
        if consumed == 0 && produced == 0 { break }
      }
      offset += Int64(count)
      bytesRead = offset
    }
    // Drain output the decompressor still holds.
    while compression != .none {
      let produced: Int
      do {
        if let gzip {
          produced = try gzip.decompress(UnsafeRawBufferPointer(start: nil, count: 0), into: output).produced
        } else {
          produced = try zstd!.decompress(UnsafeRawBufferPointer(start: nil, count: 0), into: output).produced
        }
      } catch { break }
      if produced == 0 { break }
      try sink(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
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
