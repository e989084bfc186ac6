import ArtifactFormats
import Foundation
import PipelineCore
import TestSupport
import Testing

/// Builds a raw shard from samples given as values by column name (every column present).
func buildShard(_ configuration: MDS.ShardConfiguration, _ samples: [[String: MDS.Shard.Value]]) throws -> [UInt8] {
  var builder = MDS.ShardBuilder(configuration: configuration, reserveBytes: 1 << 16)
  for sample in samples { appendSample(sample, to: &builder) }
  #expect(builder.sampleCount == samples.count)
  let raw = try builder.finish()
  #expect(builder.byteCount == raw.count)
  return raw
}

/// Appends one sample given as values by column name (every column present).
func appendSample(_ sample: [String: MDS.Shard.Value], to builder: inout MDS.ShardBuilder) {
  builder.beginSample()
  for column in builder.configuration.columns {
    switch sample[column.name]! {
    case .uint32(let value): builder.append(uint32: value)
    case .uint64(let value): builder.append(uint64: value)
    case .uint32Array(let values): values.withUnsafeBufferPointer { builder.append(uint32Array: $0) }
    case .float32Array(let values): values.withUnsafeBufferPointer { builder.append(float32Array: $0) }
    case .float16Bits(let values): values.withUnsafeBufferPointer { builder.append(float16Bits: $0) }
    }
  }
  builder.endSample()
}

func littleEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

@Suite("MosaicML Streaming MDS shards")
struct MDSTests {
  static let columns = [
    MDS.Column("user", .uint32), MDS.Column("sample_id", .uint64), MDS.Column("soft_probs", .ndarrayFloat16),
    MDS.Column("history", .ndarrayUInt32), MDS.Column("weights", .ndarrayFloat32),
  ]
  static let configuration = MDS.ShardConfiguration(columns: columns, compressionLevel: 3, sizeLimit: 1 << 26)

  /// Samples that exercise every encoding, empty arrays and the uint8, uint16 and uint32 shape types.
  static func samples(count: Int, seed: UInt64, allowEmpty: Bool = true) -> [[String: MDS.Shard.Value]] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { index in
      let lengths = [0, 1, 5, 255, 256, 300, 65_535, 65_536]
      var length = allowEmpty ? lengths[index % lengths.count] : Int.random(in: 1...400, using: &generator)
      if length > 1000 && index > lengths.count { length = Int.random(in: 0...40, using: &generator) }
      return [
        "user": .uint32(UInt32.random(in: 0...UInt32.max, using: &generator)),
        "sample_id": .uint64(UInt64.random(in: 0...UInt64.max, using: &generator)),
        "history": .uint32Array((0..<length).map { _ in UInt32.random(in: 0...UInt32.max, using: &generator) }),
        "weights": .float32Array((0..<(length % 97)).map { _ in Float.random(in: -2...2, using: &generator) }),
        "soft_probs": .float16Bits(
          (0..<(length % 13)).map { _ in MDS.float16Bits(Float.random(in: 0...1, using: &generator)) }),
      ]
    }
  }

  @Test func configTextIsPythonsJSONDumpsWithSortedKeys() {
    #expect(
      Self.configuration.configText
        == #"{"column_encodings": ["ndarray:uint32", "uint64", "ndarray:float16", "uint32", "ndarray:float32"], "column_names": ["history", "sample_id", "soft_probs", "user", "weights"], "column_sizes": [null, 8, null, 4, null], "compression": "zstd:3", "format": "mds", "hashes": ["sha256"], "size_limit": 67108864, "version": 2}"#
    )
    // ensure_ascii escapes (lowercase hex, surrogate pairs for astral characters) and code point order.
    let escaped = MDS.ShardConfiguration(
      columns: [MDS.Column("é😀\n\u{7F}", .uint32), MDS.Column("a\"\\", .uint64), MDS.Column("Z", .uint32)],
      compressionLevel: 22, hashes: [])
    #expect(
      escaped.configText
        == #"{"column_encodings": ["uint32", "uint64", "uint32"], "column_names": ["Z", "a\"\\", "\u00e9\ud83d\ude00\n\u007f"], "column_sizes": [4, 8, 4], "compression": "zstd:22", "format": "mds", "hashes": [], "size_limit": null, "version": 2}"#
    )
    #expect(MDS.Encoding.allCases.map(\.fixedSize) == [4, 8, nil, nil, nil])
  }

  @Test func handWorkedShardHasTheDocumentedLayout() throws {
    let configuration = MDS.ShardConfiguration(
      columns: [MDS.Column("x", .ndarrayUInt32), MDS.Column("id", .uint32)], compressionLevel: 1)
    let raw = try buildShard(
      configuration,
      [
        ["id": .uint32(7), "x": .uint32Array([1, 300])],
        ["id": .uint32(0x0102_0304), "x": .uint32Array([])],
      ])
    let config = Array(configuration.configText.utf8)
    let dataStart = UInt32(4 + 4 * 3 + config.count)
    // Sample 0: size of x (1 + 1 + 8 = 10), id, then x as (ndim 1 << 2 | uint8 shape), [2], values.
    let first: [UInt8] = [10, 0, 0, 0, 7, 0, 0, 0, 0x04, 2, 1, 0, 0, 0, 0x2C, 0x01, 0, 0]
    // Sample 1: an empty array is ndim 1, uint8 shape [0], no values.
    let second: [UInt8] = [2, 0, 0, 0, 4, 3, 2, 1, 0x04, 0]
    let expected =
      littleEndian(2) + littleEndian(dataStart) + littleEndian(dataStart + 18) + littleEndian(dataStart + 28) + config
      + first + second
    #expect(raw == expected)
    // A 300-element array takes a uint16 shape, a 65,536-element one a uint32 shape.
    let long = try buildShard(
      configuration,
      [
        ["id": .uint32(1), "x": .uint32Array(Array(repeating: 9, count: 300))],
        ["id": .uint32(2), "x": .uint32Array(Array(repeating: 9, count: 65_536))],
      ])
    let start = 4 + 4 * 3 + config.count
    #expect(Array(long[start..<(start + 11)]) == [0xB3, 0x04, 0, 0, 1, 0, 0, 0, 0x05, 0x2C, 0x01])
    let secondStart = start + 8 + 3 + 1200
    #expect(Array(long[(secondStart + 8)..<(secondStart + 13)]) == [0x06, 0, 0, 1, 0])
  }

  @Test func everyEncodingRoundTripsThroughFilesIncludingEmptyArrays() throws {
    let directory = try TemporaryDirectory()
    let samples = Self.samples(count: 40, seed: 1)
    let raw = try buildShard(Self.configuration, samples)
    let entry = try MDS.writeShard(
      raw, samples: samples.count, index: 3, configuration: Self.configuration, directory: directory.path)
    #expect(entry.rawBasename == "shard.00003.mds" && entry.zipBasename == "shard.00003.mds.zstd")
    #expect(entry.rawBytes == raw.count && entry.rawHashes == ["sha256": ContentHash.sha256(raw)])
    #expect(FileSystem.exists(directory.file("shard.00003.mds.zstd")))
    let shard = try MDS.readShard(entry, directory: directory.path)
    #expect(shard.count == samples.count && shard.configuration == Self.configuration)
    for (index, sample) in samples.enumerated() {
      #expect(try shard.sample(index) == sample, "sample \(index)")
    }
    // Decoding the same bytes in memory agrees, and an out-of-range sample is an error.
    #expect(try MDS.Shard(raw: raw, file: "mem").sample(7) == samples[7])
    let range = errorMessage { _ = try shard.sample(40) }
    #expect(range.contains("sample 40 is out of range"), "\(range)")
  }

  @Test func oneShardCompressorWritesWhatWriteShardWritesForEachShard() throws {
    let kept = try TemporaryDirectory()
    let fresh = try TemporaryDirectory()
    let compressor = try MDS.ShardCompressor(level: Self.configuration.compressionLevel, threads: 2)
    for (index, count) in [40, 3, 25].enumerated() {
      let samples = Self.samples(count: count, seed: UInt64(20 + index))
      let raw = try buildShard(Self.configuration, samples)
      let entry = try compressor.write(
        raw, samples: count, index: index, configuration: Self.configuration, directory: kept.path, prefix: "train")
      let expected = try MDS.writeShard(
        raw, samples: count, index: index, configuration: Self.configuration, directory: fresh.path, prefix: "train",
        compressionThreads: 2)
      #expect(entry == expected)
      #expect(
        try FileSystem.readFile(kept.file(entry.zipBasename))
          == (try FileSystem.readFile(fresh.file(entry.zipBasename))))
      #expect(try MDS.readShard(entry, directory: kept.path).sample(count - 1) == samples[count - 1])
    }
  }

  @Test func aShardStreamedFromItsSampleSizesIsTheShardWrittenWhole() throws {
    let whole = try TemporaryDirectory()
    let streamed = try TemporaryDirectory()
    let compressor = try MDS.ShardCompressor(level: Self.configuration.compressionLevel, threads: 2)
    let samples = Self.samples(count: 30, seed: 8)
    var parts: [MDS.ShardBuilder] = []
    var next = 0
    for size in [4, 0, 19, 7] {
      var part = MDS.ShardBuilder(configuration: Self.configuration)
      for sample in samples[next..<(next + size)] { appendSample(sample, to: &part) }
      next += size
      parts.append(part)
    }
    // A sample's size follows from its arrays' lengths alone.
    let sizes = samples.map { sample in
      Self.configuration.columns.reduce(Self.configuration.fixedSampleBytes) { total, column in
        switch sample[column.name]! {
        case .uint32, .uint64: return total
        case .uint32Array(let values): return total + column.encoding.encodedBytes(count: values.count)
        case .float32Array(let values): return total + column.encoding.encodedBytes(count: values.count)
        case .float16Bits(let values): return total + column.encoding.encodedBytes(count: values.count)
        }
      }
    }
    #expect(sizes == parts.flatMap(\.sampleSizes))
    let raw = try MDS.ShardBuilder.finish(joining: parts)
    #expect(
      Array(raw.prefix(try MDS.ShardBuilder.header(sampleSizes: sizes, configuration: Self.configuration).count))
        == (try MDS.ShardBuilder.header(sampleSizes: sizes, configuration: Self.configuration)))
    let expected = try compressor.write(
      raw, samples: samples.count, index: 2, configuration: Self.configuration, directory: whole.path, prefix: "train")
    let stream = try compressor.begin(
      sampleSizes: sizes, index: 2, configuration: Self.configuration, directory: streamed.path, prefix: "train")
    for part in parts { try part.withSampleBytes { try stream.append($0) } }
    // Nothing more after the last byte changes nothing (no second frame).
    try stream.append(UnsafeRawBufferPointer(start: nil, count: 0))
    let entry = try stream.finish()
    #expect(entry == expected)
    #expect(
      try FileSystem.readFile(streamed.file(entry.zipBasename))
        == (try FileSystem.readFile(whole.file(entry.zipBasename))))

    // Bytes beyond the announced sizes, or short of them, are an error naming the shard.
    let over = try compressor.begin(
      sampleSizes: Array(sizes.dropLast()), index: 4, configuration: Self.configuration, directory: streamed.path)
    let overflow = errorMessage { for part in parts { try part.withSampleBytes { try over.append($0) } } }
    #expect(overflow.contains("MDS shard 4:") && overflow.contains("differ from the ones announced"), "\(overflow)")
    let short = try compressor.begin(
      sampleSizes: sizes, index: 5, configuration: Self.configuration, directory: streamed.path)
    try parts[0].withSampleBytes { try short.append($0) }
    let missing = errorMessage { _ = try short.finish() }
    #expect(missing.contains("MDS shard 5:") && missing.contains("raw bytes arrived"), "\(missing)")
  }

  @Test func buildersJoinedInOrderGiveTheBytesOfOneBuilder() throws {
    let samples = Self.samples(count: 23, seed: 5)
    let whole = try buildShard(Self.configuration, samples)
    // Runs of 0, 1, 7 and 15 samples (an empty builder adds nothing), as threads encode units.
    var parts: [MDS.ShardBuilder] = []
    var next = 0
    for size in [0, 1, 7, 0, 15] {
      var part = MDS.ShardBuilder(configuration: Self.configuration)
      for sample in samples[next..<(next + size)] { appendSample(sample, to: &part) }
      next += size
      parts.append(part)
    }
    #expect(next == samples.count)
    let joined = try MDS.ShardBuilder.finish(joining: parts)
    #expect(joined == whole)
    #expect(try MDS.ShardBuilder.finish(joining: [parts[1]]) == parts[1].finish())
    #expect(try MDS.Shard(raw: joined, file: "mem").sample(22) == samples[22])
  }

  @Test func multiShardIndexRoundTripsWithPrefixedBasenames() throws {
    let directory = try TemporaryDirectory()
    var entries: [MDS.ShardEntry] = []
    var written: [[[String: MDS.Shard.Value]]] = []
    for (index, prefix) in [(0, "train"), (1, "train"), (0, "valid/part")] {
      let samples = Self.samples(count: 5 + index, seed: UInt64(10 + entries.count))
      let entry = try MDS.writeShard(
        try buildShard(Self.configuration, samples), samples: samples.count, index: index,
        configuration: Self.configuration, directory: directory.path, prefix: prefix)
      entries.append(entry)
      written.append(samples)
    }
    #expect(
      entries.map(\.zipBasename) == [
        "train/shard.00000.mds.zstd", "train/shard.00001.mds.zstd", "valid/part/shard.00000.mds.zstd",
      ])
    #expect(entries[2].rawBasename == "valid/part/shard.00000.mds")
    #expect(FileSystem.exists(directory.file("valid/part/shard.00000.mds.zstd")))
    let indexPath = directory.file("index.json")
    try MDS.writeIndex(entries, to: indexPath)
    let text = try FileSystem.readText(indexPath)
    #expect(text == MDS.indexText(entries))
    #expect(
      text.hasPrefix(#"{"shards": [{"column_encodings": ["ndarray:uint32", "#) && text.hasSuffix(#"], "version": 2}"#))
    #expect(text.contains(#""raw_data": {"basename": "train/shard.00001.mds", "bytes": "#))
    let read = try MDS.readIndex(indexPath)
    #expect(read == entries)
    #expect(read.map { $0.json.objectValue!.count } == [11, 11, 11])
    for (entry, samples) in zip(read, written) {
      let shard = try MDS.readShard(entry, directory: directory.path)
      #expect(try (0..<shard.count).map { try shard.sample($0) } == samples)
    }
    // An unprefixed entry read from a prefixed directory works the same way.
    let unprefixed = MDS.ShardEntry(
      configuration: entries[0].configuration, rawBasename: "shard.00000.mds", rawBytes: entries[0].rawBytes,
      rawHashes: entries[0].rawHashes, zipBasename: "shard.00000.mds.zstd", zipBytes: entries[0].zipBytes,
      zipHashes: entries[0].zipHashes, samples: entries[0].samples)
    #expect(unprefixed.prefixed("train") == entries[0])
    #expect(try MDS.readShard(unprefixed, directory: directory.file("train")).count == written[0].count)
  }

  /// Rewrites the first shard entry of an index with `change` and returns the error reading it gives.
  func indexError(_ change: (inout [String: JSONValue], inout [String: JSONValue]) -> Void) throws -> String {
    let directory = try TemporaryDirectory()
    let entry = try MDS.writeShard(
      try buildShard(Self.configuration, Self.samples(count: 2, seed: 5)), samples: 2, index: 0,
      configuration: Self.configuration, directory: directory.path)
    var top: [String: JSONValue] = ["shards": [entry.json], "version": 2]
    var shard = entry.json.objectValue!
    change(&top, &shard)
    if top["shards"] != nil { top["shards"] = [.object(shard)] }
    try FileSystem.writeText(directory.file("index.json"), JSONValue.object(top).canonicalText())
    return errorMessage { _ = try MDS.readIndex(directory.file("index.json")) }
  }

  @Test func indexParsingIsStrictAndNamesTheField() throws {
    let extra = try indexError { _, shard in shard["lineage"] = "x" }
    #expect(extra.contains("index.json': shard 0: unexpected field 'lineage'"), "\(extra)")
    let missing = try indexError { _, shard in shard["samples"] = nil }
    #expect(missing.contains("shard 0: field 'samples' is missing"), "\(missing)")
    let version = try indexError { _, shard in shard["version"] = 1 }
    #expect(version.contains("shard 0: field 'version' is 1, expected 2"), "\(version)")
    let topVersion = try indexError { top, _ in top["version"] = 3 }
    #expect(topVersion.contains("field 'version' is 3, expected 2"), "\(topVersion)")
    let topExtra = try indexError { top, _ in top["manifest"] = "x" }
    #expect(topExtra.contains("unexpected field 'manifest'"), "\(topExtra)")
    let noShards = try indexError { top, _ in top["shards"] = nil }
    #expect(noShards.contains("field 'shards' is missing"), "\(noShards)")
    let compression = try indexError { _, shard in shard["compression"] = "zstd" }
    #expect(compression.contains("field 'compression' is \"zstd\""), "\(compression)")
    let encoding = try indexError { _, shard in
      shard["column_encodings"] = ["ndarray:uint32", "uint64", "pkl", "uint32", "ndarray:float32"]
    }
    #expect(encoding.contains("item 2 (column 'soft_probs') is \"pkl\""), "\(encoding)")
    let size = try indexError { _, shard in shard["column_sizes"] = [nil, 8, nil, 8, nil] }
    #expect(size.contains("field 'column_sizes' item 3 (column 'user', uint32) is 8, expected 4"), "\(size)")
    let unsorted = try indexError { _, shard in
      shard["column_names"] = ["sample_id", "history", "soft_probs", "user", "weights"]
    }
    #expect(unsorted.contains("is not sorted"), "\(unsorted)")
    let escape = try indexError { _, shard in
      var info = shard["zip_data"]!.objectValue!
      info["basename"] = "../shard.00000.mds.zstd"
      shard["zip_data"] = .object(info)
    }
    #expect(escape.contains("field 'zip_data.basename' is \"../shard.00000.mds.zstd\""), "\(escape)")
    let hashes = try indexError { _, shard in
      var info = shard["raw_data"]!.objectValue!
      info["hashes"] = [:]
      shard["raw_data"] = .object(info)
    }
    #expect(hashes.contains("field 'raw_data.hashes' must map exactly"), "\(hashes)")
  }

  @Test func corruptCompressedFileIsAnErrorNamingTheFile() throws {
    let directory = try TemporaryDirectory()
    let entry = try MDS.writeShard(
      try buildShard(Self.configuration, Self.samples(count: 3, seed: 2)), samples: 3, index: 12,
      configuration: Self.configuration, directory: directory.path)
    let path = directory.file("shard.00012.mds.zstd")
    var bytes = try FileSystem.readFile(path)
    bytes[bytes.count / 2] ^= 0x40
    try FileSystem.writeFile(path, bytes)
    let flipped = errorMessage { _ = try MDS.readShard(entry, directory: directory.path) }
    #expect(flipped.contains("'\(path)' has sha256 ") && flipped.contains("the file is corrupt"), "\(flipped)")
    try FileSystem.writeFile(path, bytes.dropLast())
    let short = errorMessage { _ = try MDS.readShard(entry, directory: directory.path) }
    #expect(short.contains("'\(path)' is \(bytes.count - 1) bytes, the index says \(bytes.count)"), "\(short)")
  }

  @Test func truncatedOrInconsistentRawShardsAreErrorsWithByteOffsets() throws {
    let samples = Self.samples(count: 4, seed: 3)
    let raw = try buildShard(Self.configuration, samples)
    let configEnd = 4 + 4 * 5 + Self.configuration.configText.utf8.count
    func message(_ bytes: [UInt8], expected: MDS.ShardConfiguration? = nil) -> String {
      errorMessage { _ = try MDS.Shard(raw: bytes, file: "s.mds", expected: expected) }
    }
    let truncated = message(Array(raw.dropLast(5)))
    #expect(truncated.contains("'s.mds' is not a valid MDS shard: offset 4 at byte 20 is \(raw.count)"), "\(truncated)")
    #expect(truncated.contains("past the end of the data (\(raw.count - 5) bytes)"), "\(truncated)")
    #expect(message([1, 0]).contains("fewer than the 4-byte sample count"))
    #expect(message([9, 0, 0, 0, 0, 0]).contains("end at byte 44, past the end of the data (6 bytes)"))
    var padded = raw
    padded.append(0)
    #expect(
      message(padded).contains("the last offset (at byte 20) is \(raw.count), but the data is \(raw.count + 1) bytes"))
    var backwards = raw
    backwards.replaceSubrange(12..<16, with: littleEndian(UInt32(configEnd - 1)))
    let order = message(backwards)
    #expect(order.contains("offset 2 at byte 12 is \(configEnd - 1), below"), "\(order)")
    // A size header that disagrees with the array inside: sample 0's history size is one byte too big.
    var sized = raw
    let historySize = Int(sized[configEnd]) | Int(sized[configEnd + 1]) << 8
    sized.replaceSubrange(configEnd..<(configEnd + 4), with: littleEndian(UInt32(historySize + 1)))
    let column = message(sized)
    #expect(column.contains("sample 0, column 'history' at byte \(configEnd + 12):"), "\(column)")
    // The embedded config must be the one the index lists.
    let other = MDS.ShardConfiguration(columns: Self.columns, compressionLevel: 4, sizeLimit: 1 << 26)
    let mismatch = message(raw, expected: other)
    #expect(mismatch.contains("its config at byte 24 is {") && mismatch.contains("\"zstd:4\""), "\(mismatch)")
    var garbled = raw
    garbled[24] = UInt8(ascii: "[")
    #expect(message(garbled).contains("its config JSON:"))
  }

  @Test func float16BitsAreIEEEBinary16RoundedToNearestEven() {
    let cases: [(Float, UInt16)] = [
      (1.0, 0x3C00), (-2.0, 0xC000), (0.0, 0x0000), (-0.0, 0x8000), (65504, 0x7BFF), (6.1035156e-05, 0x0400),
      (5.9604645e-08, 0x0001), (0.33325195, 0x3555), (.infinity, 0x7C00), (-.infinity, 0xFC00),
      (1 + 0x1p-11, 0x3C00),  // halfway between 0x3C00 and 0x3C01: to the even one
      (1 + 3 * 0x1p-11, 0x3C02),  // halfway between 0x3C01 and 0x3C02: to the even one
      (65520, 0x7C00),  // halfway between 65504 and 65536 (infinity): rounds to infinity
      (0x1p-25, 0x0000), (3 * 0x1p-25, 0x0002),  // halfway cases among subnormals
      (1e-9, 0x0000), (1e6, 0x7C00),
    ]
    for (value, bits) in cases {
      #expect(MDS.float16Bits(value) == bits, "\(value)")
    }
    #expect(MDS.float16Bits(.nan) & 0x7C00 == 0x7C00 && MDS.float16Bits(.nan) & 0x03FF != 0)
    for bits: UInt16 in [0x3C00, 0x7BFF, 0x0400, 0x0001, 0x3555, 0xC000, 0x7C00] {
      #expect(MDS.float16Bits(MDS.float32(fromFloat16Bits: bits)) == bits)
    }
    #expect(MDS.float32(fromFloat16Bits: 0x0001) == 0x1p-24)
    #expect(MDS.float32(fromFloat16Bits: 0x3555) == 0.33325195)
  }
}

/// The oracle: mosaicml-streaming 0.13 itself (`Tests/python/mds_reference_writer.py`). Set
/// `MDS_REFERENCE_PYTHON` to a Python that has it (`pip install mosaicml-streaming==0.13.0`).
@Suite("MDS against mosaicml-streaming")
struct MDSReferenceTests {
  static let python = ProcessInfo.processInfo.environment["MDS_REFERENCE_PYTHON"]
  static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("python/mds_reference_writer.py").path

  static func specValue(_ value: MDS.Shard.Value) -> JSONValue {
    switch value {
    case .uint32(let number): return .integer(Int64(number))
    case .uint64(let number): return .string(String(number))  // beyond JSON integers that Int64 holds
    case .uint32Array(let values): return .array(values.map { .integer(Int64($0)) })
    case .float32Array(let values): return .array(values.map { .integer(Int64($0.bitPattern)) })
    case .float16Bits(let values): return .array(values.map { .integer(Int64($0)) })
    }
  }

  /// The samples as the spec's JSON text.
  static func samplesText(_ samples: [[String: MDS.Shard.Value]]) -> String {
    JSONValue.array(samples.map { .object($0.mapValues(specValue)) }).canonicalText()
  }

  @Test(.enabled(if: python != nil, "set MDS_REFERENCE_PYTHON to a Python with mosaicml-streaming 0.13"))
  func rawShardAndIndexAreByteIdenticalToMDSWritersAndStreamingReadsOurs() throws {
    let directory = try TemporaryDirectory()
    let configuration = MDS.ShardConfiguration(columns: MDSTests.columns, compressionLevel: 3, sizeLimit: 1 << 30)
    // MDSWriter refuses empty arrays, so the byte comparison uses non-empty ones.
    var samples = MDSTests.samples(count: 300, seed: 7, allowEmpty: false)
    samples[0]["history"] = .uint32Array(Array(0..<70_000))  // a uint32 shape
    samples[1]["history"] = .uint32Array(Array(0..<300))  // a uint16 shape
    for index in samples.indices {
      for (name, value) in samples[index] {
        switch value {
        case .float32Array(let values) where values.isEmpty: samples[index][name] = .float32Array([1.5])
        case .float16Bits(let values) where values.isEmpty: samples[index][name] = .float16Bits([0x3C00])
        default: break
        }
      }
    }
    let columns = JSONValue.object(
      Dictionary(uniqueKeysWithValues: configuration.columns.map { ($0.name, JSONValue.string($0.encoding.rawValue)) }))
    let spec =
      "{\"columns\": \(columns.canonicalText()), \"compression\": \"zstd:3\", \"hashes\": [\"sha256\"], \"size_limit\": \(1 << 30), \"samples\": \(Self.samplesText(samples))}"
    try directory.write("spec.json", spec)
    _ = try runCommand([Self.python!, Self.script, "write", directory.file("spec.json"), directory.file("theirs")])

    try FileSystem.createDirectory(directory.file("ours"))
    let raw = try buildShard(configuration, samples)
    let entry = try MDS.writeShard(
      raw, samples: samples.count, index: 0, configuration: configuration, directory: directory.file("ours"))
    try MDS.writeIndex([entry], to: directory.file("ours/index.json"))

    let theirs = try MDS.readIndex(directory.file("theirs/index.json"))
    #expect(theirs.count == 1)
    _ = try runCommand([
      "/bin/sh", "-c", "zstd -q -d -c \"$0\" > \"$1\"", directory.file("theirs/shard.00000.mds.zstd"),
      directory.file("theirs.mds"),
    ])
    #expect(try FileSystem.readFile(directory.file("theirs.mds")) == raw)
    #expect(theirs[0].rawHashes == entry.rawHashes && theirs[0].rawBytes == entry.rawBytes)
    // The zstd library streaming bundles may compress differently from ours; everything else is identical.
    var ourEntry = entry
    ourEntry.zipBytes = theirs[0].zipBytes
    ourEntry.zipHashes = theirs[0].zipHashes
    #expect(MDS.indexText([ourEntry]) == (try FileSystem.readText(directory.file("theirs/index.json"))))
    if theirs[0].zipHashes == entry.zipHashes {
      #expect(
        try FileSystem.readText(directory.file("ours/index.json"))
          == FileSystem.readText(directory.file("theirs/index.json")))
    }
    // Our reader reads theirs; streaming reads ours, empty arrays included.
    let shard = try MDS.readShard(theirs[0], directory: directory.file("theirs"))
    #expect(try (0..<shard.count).map { try shard.sample($0) } == samples)
    let read = try runCommand([Self.python!, Self.script, "read", directory.file("ours")])
    #expect(try JSONParser.parse(read) == JSONParser.parse(Self.samplesText(samples)))

    let empties = MDSTests.samples(count: 20, seed: 8)
    try FileSystem.createDirectory(directory.file("empty"))
    let emptyEntry = try MDS.writeShard(
      try buildShard(configuration, empties), samples: empties.count, index: 0, configuration: configuration,
      directory: directory.file("empty"))
    try MDS.writeIndex([emptyEntry], to: directory.file("empty/index.json"))
    let emptyRead = try runCommand([Self.python!, Self.script, "read", directory.file("empty")])
    #expect(try JSONParser.parse(emptyRead) == JSONParser.parse(Self.samplesText(empties)))
  }
}
