import DenseLinearAlgebra
import SQLiteStore
import Testing
import Zlib
import Zstd

@Suite("SQLite wrapper")
struct SQLiteTests {
  @Test func roundTripsValuesThroughWALDatabase() throws {
    let path = "/tmp/tca-sqlite-\(UInt64.random(in: 0...UInt64.max)).sqlite"
    defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
    let database = try SQLiteDatabase(path: path)
    #expect(try database.query("PRAGMA journal_mode").first?.first?.text == "wal")
    try database.execute("CREATE TABLE t(a INTEGER, b TEXT, c REAL)")
    try database.query("INSERT INTO t VALUES (?,?,?)", [.integer(7), .text("é'quote"), .real(2.5)])
    let rows = try database.query("SELECT a, b, c FROM t")
    #expect(rows == [[.integer(7), .text("é'quote"), .real(2.5)]])
  }

  @Test func reportsSQLErrorsWithSQLitesMessage() throws {
    let database = try SQLiteDatabase(path: ":memory:")
    #expect {
      try database.query("SELECT * FROM missing")
    } throws: { error in
      (error as? SQLiteError)?.message.contains("no such table") == true
    }
  }
}

@Suite("zstd wrapper")
struct ZstdTests {
  @Test func compressedFrameRecordsContentSizeAndRoundTrips() throws {
    let input = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 31 / 7) }
    let frame = try Zstd.compress(input, level: 3)
    #expect(frame.count < input.count)
    #expect(Array(frame.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
    #expect(try Zstd.decompressFrame(frame) == input)
  }

  /// A level-3 frame in jobs of 1 MiB from a context of its own (the bytes returned live as long as
  /// their compressor, so it is kept until they are copied).
  static func freshFrame(_ buffer: UnsafeRawBufferPointer, threads: Int) throws -> [UInt8] {
    let compressor = try ZstdCompressor(level: 3, threads: threads, jobBytes: 1 << 20)
    return try withExtendedLifetime(compressor) { Array(try compressor.compress(buffer)) }
  }

  @Test func multiThreadedFramesAreTheSameForEveryThreadCount() throws {
    // 5 MB of half-compressible bytes: five jobs of 1 MiB.
    var state: UInt64 = 7
    let input = (0..<5_000_000).map { index -> UInt8 in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return index % 3 == 0 ? UInt8(truncatingIfNeeded: state >> 56) : UInt8(truncatingIfNeeded: index / 1000)
    }
    let frames = try [1, 2, 3, 4].map { threads in
      try input.withUnsafeBytes { buffer in try Self.freshFrame(buffer, threads: threads) }
    }
    #expect(Set(frames).count == 1)
    #expect(frames[0] != (try Zstd.compress(input, level: 3)))
    #expect(frames[0].count < input.count)
    // One frame whose header records the content size.
    #expect(try Zstd.decompressFrame(frames[0]) == input)
  }

  @Test func oneCompressorKeptForManyBuffersGivesEachTheFreshFrame() throws {
    // A kept context (threads, buffers and output reused) must not carry anything from one
    // buffer into the next: each frame equals a fresh context's, whatever came before it.
    var state: UInt64 = 11
    let inputs = [3_000_000, 100, 0, 2_500_000].map { count in
      (0..<count).map { index -> UInt8 in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return index % 2 == 0 ? UInt8(truncatingIfNeeded: state >> 60) : UInt8(truncatingIfNeeded: index / 500)
      }
    }
    let compressor = try ZstdCompressor(level: 3, threads: 2, jobBytes: 1 << 20)
    for input in inputs + inputs.reversed() {
      let kept = try input.withUnsafeBytes { buffer in Array(try compressor.compress(buffer)) }
      let fresh = try input.withUnsafeBytes { buffer in
        try Self.freshFrame(buffer, threads: 1)
      }
      #expect(kept == fresh)
      #expect(try Zstd.decompressFrame(kept) == input)
    }
  }

  @Test func aFrameGivenInPiecesHasTheBytesOfOneBuffer() throws {
    // 5 MB in jobs of 1 MiB (pieces that end exactly at a job's end, inside one, one byte long,
    // empty), and 100 kB, below zstd's multi-threading threshold (one single-threaded frame).
    var state: UInt64 = 3
    for count in [5_000_000, 100_000] {
      let input = (0..<count).map { index -> UInt8 in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return index % 3 == 0 ? UInt8(truncatingIfNeeded: state >> 58) : UInt8(truncatingIfNeeded: index / 700)
      }
      let whole = try input.withUnsafeBytes { try Self.freshFrame($0, threads: 2) }
      let cuts = [0, 1, 1, 70_000, 1 << 20, (1 << 20) + 1, 3 << 20, 4_999_999].filter { $0 < count } + [count]
      let compressor = try ZstdCompressor(level: 3, threads: 2, jobBytes: 1 << 20)
      var pieces: [UInt8] = []
      try compressor.begin(contentSize: count)
      try input.withUnsafeBytes { buffer in
        for (from, to) in zip(cuts, cuts.dropFirst()) {
          let piece = UnsafeRawBufferPointer(rebasing: buffer[from..<to])
          pieces += try compressor.compress(piece, end: to == count)
        }
      }
      #expect(pieces == whole, "\(count) bytes")
      #expect(try Zstd.decompressFrame(pieces) == input)
    }
  }

  @Test func aFrameShortOfItsContentSizeIsAnError() throws {
    let compressor = try ZstdCompressor(level: 1, threads: 2, jobBytes: 1 << 20)
    try compressor.begin(contentSize: 1000)
    let input = [UInt8](repeating: 7, count: 999)
    _ = try input.withUnsafeBytes { try compressor.compress(UnsafeRawBufferPointer(rebasing: $0[0..<500]), end: false) }
    #expect(throws: ZstdError.self) {
      _ = try input.withUnsafeBytes { try compressor.compress(UnsafeRawBufferPointer(rebasing: $0[500...]), end: true) }
    }
    // The next frame starts afresh.
    let frame = try input.withUnsafeBytes { Array(try compressor.compress($0)) }
    #expect(try Zstd.decompressFrame(frame) == input)
  }

  @Test func corruptFrameIsAnError() throws {
    var frame = try Zstd.compress(Array(repeating: 7, count: 1000), level: 1)
    frame[frame.count / 2] ^= 0xFF
    frame.removeLast(3)
    #expect(throws: ZstdError.self) { _ = try Zstd.decompressFrame(frame) }
  }
}

@Suite("zlib wrapper")
struct ZlibTests {
  @Test func gzipRoundTripsThroughTheStreamingDecompressor() throws {
    let input = Array("hello gzip\n".utf8) + (0..<50_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
    let compressed = try Gzip.compress(input)
    let decompressor = try GzipDecompressor()
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    var offset = 0
    while offset < compressed.count || !decompressor.isAtMemberBoundary {
      let chunk = Array(compressed[offset..<min(offset + 1000, compressed.count)])
      let (consumed, produced) = try chunk.withUnsafeBytes { input in
        try buffer.withUnsafeMutableBytes { try decompressor.decompress(input, into: $0) }
      }
      output += buffer[0..<produced]
      offset += consumed
      if consumed == 0 && produced == 0 { break }
    }
    #expect(output == input)
    #expect(decompressor.isAtMemberBoundary)
  }
}

/// Streams `compressed` through a fresh decompressor in input chunks of `step` bytes and 4 KiB outputs.
private func inflateStreaming(_ compressed: [UInt8], step: Int) throws -> (output: [UInt8], complete: Bool) {
  let decompressor = try GzipDecompressor()
  var output: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 4096)
  var offset = 0
  while true {
    let chunk = Array(compressed[offset..<min(offset + step, compressed.count)])
    let (consumed, produced) = try chunk.withUnsafeBytes { input in
      try buffer.withUnsafeMutableBytes { try decompressor.decompress(input, into: $0) }
    }
    output += buffer[0..<produced]
    offset += consumed
    if consumed == 0 && produced == 0 { break }
  }
  return (output, decompressor.isAtMemberBoundary && offset == compressed.count)
}

@Suite("gzip inflate (igzip)")
struct GzipInflateTests {
  let parts: [[UInt8]] = [
    Array("first member\n".utf8) + (0..<70_000).map { UInt8(truncatingIfNeeded: ($0 * 31) % 253) },
    Array("second\n".utf8),
    (0..<9_000).map { UInt8(truncatingIfNeeded: $0 / 7) },
  ]

  @Test(arguments: [1, 7, 1000, 1 << 20])
  func concatenatedMembersDecompressLikeZcat(step: Int) throws {
    let compressed = try parts.flatMap { try Gzip.compress($0, level: 6) }
    let (output, complete) = try inflateStreaming(compressed, step: step)
    #expect(output == parts.flatMap { $0 })
    #expect(complete)
  }

  @Test func aTruncatedMemberIsNotComplete() throws {
    let compressed = try Gzip.compress(parts[0])
    let (output, complete) = try inflateStreaming(Array(compressed.dropLast(20)), step: 4096)
    #expect(!complete)
    #expect(output.count < parts[0].count && output == Array(parts[0][0..<output.count]))
  }

  @Test func aWrongChecksumOrTrailingGarbageIsAnError() throws {
    var damaged = try Gzip.compress(parts[1])
    damaged[damaged.count - 6] ^= 0x01  // CRC-32 of the trailer
    #expect(throws: ZlibError.self) { _ = try inflateStreaming(damaged, step: 1 << 20) }
    let garbage = try Gzip.compress(parts[1]) + Array("this is not a gzip member\n".utf8)
    #expect(throws: ZlibError.self) { _ = try inflateStreaming(garbage, step: 1 << 20) }
    // Fewer bytes than a gzip header after a member: an unfinished member (the reader says truncated).
    let short = try inflateStreaming(try Gzip.compress(parts[1]) + Array("not gz".utf8), step: 1 << 20)
    #expect(!short.complete)
  }

  @Test func aFlippedByteInTheDataIsAnError() throws {
    var damaged = try Gzip.compress(parts[0], level: 1)
    for index in stride(from: 40, to: damaged.count - 16, by: 997) { damaged[index] ^= 0x5A }
    #expect(throws: ZlibError.self) { _ = try inflateStreaming(damaged, step: 4096) }
  }
}

@Suite("OpenBLAS wrapper")
struct DenseLinearAlgebraTests {
  @Test func sgemmMatchesANaiveProduct() {
    let m = 5, k = 7, n = 3
    let a = (0..<(m * k)).map { Float(($0 * 13) % 11) - 5 }
    let b = (0..<(k * n)).map { Float(($0 * 7) % 9) - 4 }
    let c = DenseLinearAlgebra.multiply(a, b, m: m, k: k, n: n)
    for row in 0..<m {
      for column in 0..<n {
        var sum: Float = 0
        for inner in 0..<k { sum += a[row * k + inner] * b[inner * n + column] }
        #expect(abs(c[row * n + column] - sum) <= 1e-5)
      }
    }
  }
}

#if canImport(Glibc)
  import Glibc
#endif
