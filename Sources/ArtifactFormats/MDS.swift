import PipelineCore
import Zstd

#if _endian(big)
  #error("MDS copies values into shards as in-memory bytes, which MDS defines as little-endian")
#endif

/// MosaicML Streaming MDS (version 2) shards: what `streaming.StreamingDataset(local:)` of
/// mosaicml-streaming 0.13 reads, byte for byte what its `MDSWriter` writes for the same samples.
///
/// A dataset directory holds `index.json` and one zstd file per shard, `shard.NNNNN.mds.zstd`. A raw
/// (decompressed) shard is
///
///     uint32 sample count n
///     uint32 offsets[n + 1]       absolute; offsets[0] = 4 + 4(n + 1) + config length, offsets[n] = size
///     config JSON                 the shard's configuration, as Python's `json.dumps(sort_keys=True)`
///     samples                     per sample: a uint32 size for each variable-size column, in column
///                                 order, then each column's bytes in column order
///
/// with columns sorted by name and every number little-endian. `index.json` lists, per shard, the
/// configuration plus `raw_data`, `zip_data` (basename, bytes, hashes) and `samples`, and nothing else:
/// streaming's reader passes the entry to a constructor as keyword arguments, so one extra key breaks it.
///
/// `ndarray:<dtype>` columns have a static dtype and a dynamic shape: one byte `(ndim << 2) | code`
/// (code 0, 1, 2, 3 for a uint8, uint16, uint32, uint64 shape: the smallest that holds the largest
/// dimension), the shape, then the values. We write 1-D arrays only. streaming's writer refuses empty
/// arrays; we write one as ndim 1, a uint8 shape `[0]` and no values, which streaming's decoder reads
/// back as an empty array of the column's dtype.
public enum MDS {
  /// The column encodings we write and read (streaming's names).
  public enum Encoding: String, Sendable, CaseIterable {
    case uint32 = "uint32"
    case uint64 = "uint64"
    case ndarrayUInt32 = "ndarray:uint32"
    case ndarrayFloat32 = "ndarray:float32"
    case ndarrayFloat16 = "ndarray:float16"

    /// The encoded size of a fixed-size column (`column_sizes` in the config), `nil` for arrays.
    public var fixedSize: Int? {
      switch self {
      case .uint32: return 4
      case .uint64: return 8
      case .ndarrayUInt32, .ndarrayFloat32, .ndarrayFloat16: return nil
      }
    }

    /// Bytes per array element; 0 for scalars.
    var elementSize: Int {
      switch self {
      case .uint32, .uint64: return 0
      case .ndarrayUInt32, .ndarrayFloat32: return 4
      case .ndarrayFloat16: return 2
      }
    }

    /// The bytes an array of `count` elements takes in a sample (`ShardBuilder`'s encoding: the
    /// shape header, then the values); for a scalar, its fixed size.
    public func encodedBytes(count: Int) -> Int {
      if let fixedSize { return fixedSize }
      let shape = count < 1 << 8 ? 1 : count < 1 << 16 ? 2 : count < 1 << 32 ? 4 : 8
      return 1 + shape + count * elementSize
    }

    var dtypeName: String {
      switch self {
      case .uint32, .ndarrayUInt32: return "uint32"
      case .uint64: return "uint64"
      case .ndarrayFloat32: return "float32"
      case .ndarrayFloat16: return "float16"
      }
    }
  }

  /// One named column of every sample.
  public struct Column: Sendable, Equatable {
    public var name: String
    public var encoding: Encoding

    public init(_ name: String, _ encoding: Encoding) {
      self.name = name
      self.encoding = encoding
    }
  }

  /// Everything a shard's embedded config and its index entry share.
  public struct ShardConfiguration: Sendable, Equatable {
    /// The columns, sorted by name (code point order, as Python's `sorted`).
    public let columns: [Column]
    /// The zstd level, 1...22; written as `compression: "zstd:LEVEL"`.
    public let compressionLevel: Int32
    /// Hash algorithms (hashlib names, sorted, unique) listed for the raw and compressed files.
    public let hashes: [String]
    /// The writer's shard size limit in bytes, written as `size_limit` (`null` when `nil`).
    public let sizeLimit: Int?

    /// - Parameters:
    ///   - columns: The columns in any order; they are stored sorted by name. Names must be unique.
    ///   - compressionLevel: A zstd level, 1...22.
    ///   - hashes: Sorted, unique hash algorithm names, as streaming requires.
    ///   - sizeLimit: `nil`, or 1 ..< 2^32 (streaming's bound, since offsets are uint32).
    public init(columns: [Column], compressionLevel: Int32, hashes: [String] = ["sha256"], sizeLimit: Int? = nil) {
      let sorted = columns.sorted { JSONValue.codePointOrder($0.name, $1.name) }
      for index in sorted.indices.dropFirst() {
        precondition(sorted[index - 1].name != sorted[index].name, "MDS column '\(sorted[index].name)' appears twice")
      }
      precondition((1...22).contains(compressionLevel), "zstd level \(compressionLevel) is outside 1...22")
      precondition(
        zip(hashes, hashes.dropFirst()).allSatisfy { JSONValue.codePointOrder($0, $1) },
        "MDS hashes \(hashes) must be sorted and unique")
      if let sizeLimit { precondition(sizeLimit > 0 && sizeLimit < 1 << 32, "MDS size limit \(sizeLimit) ∉ 1..<2^32") }
      self.columns = sorted
      self.compressionLevel = compressionLevel
      self.hashes = hashes
      self.sizeLimit = sizeLimit
    }

    /// The bytes of a sample besides its arrays' (`Encoding.encodedBytes(count:)` each): a uint32
    /// size per variable-size column and the fixed-size columns.
    public var fixedSampleBytes: Int {
      columns.reduce(0) { $0 + ($1.encoding.fixedSize ?? 4) }
    }

    /// The config object: `column_encodings`, `column_names`, `column_sizes`, `compression`, `format`,
    /// `hashes`, `size_limit`, `version`.
    public var configJSON: JSONValue { .object(configMembers) }

    /// The config as streaming embeds it in each raw shard: Python's `json.dumps(obj, sort_keys=True)`.
    public var configText: String { MDS.pythonText(configJSON) }

    var configMembers: [String: JSONValue] {
      [
        "column_encodings": .array(columns.map { .string($0.encoding.rawValue) }),
        "column_names": .array(columns.map { .string($0.name) }),
        "column_sizes": .array(columns.map { $0.encoding.fixedSize.map(JSONValue.init) ?? .null }),
        "compression": .string("zstd:\(compressionLevel)"),
        "format": "mds",
        "hashes": .array(hashes.map(JSONValue.string)),
        "size_limit": sizeLimit.map(JSONValue.init) ?? .null,
        "version": 2,
      ]
    }

    static let configKeys: Set<String> = [
      "column_encodings", "column_names", "column_sizes", "compression", "format", "hashes", "size_limit", "version",
    ]

    /// Parses the config members of an index entry or an embedded config; `fail` builds the error.
    static func parse(
      _ members: [String: JSONValue], fail: (String) -> PipelineError
    ) throws(PipelineError) -> ShardConfiguration {
      func field(_ key: String) throws(PipelineError) -> JSONValue {
        guard let value = members[key] else { throw fail("field '\(key)' is missing") }
        return value
      }
      let version = try field("version")
      guard version.integerValue == 2 else { throw fail("field 'version' is \(pythonText(version)), expected 2") }
      let format = try field("format")
      guard format.stringValue == "mds" else { throw fail("field 'format' is \(pythonText(format)), expected \"mds\"") }
      let compression = try field("compression")
      guard let text = compression.stringValue, text.hasPrefix("zstd:"), let level = Int32(text.dropFirst(5)),
        (1...22).contains(level)
      else {
        throw fail("field 'compression' is \(pythonText(compression)), expected \"zstd:LEVEL\" with LEVEL in 1...22")
      }
      guard let hashValues = try field("hashes").arrayValue,
        case let hashes = hashValues.compactMap(\.stringValue), hashes.count == hashValues.count,
        zip(hashes, hashes.dropFirst()).allSatisfy({ JSONValue.codePointOrder($0, $1) })
      else { throw fail("field 'hashes' must be a sorted list of unique algorithm names") }
      let sizeLimitValue = try field("size_limit")
      var sizeLimit: Int?
      if sizeLimitValue != .null {
        guard let limit = sizeLimitValue.integerValue, limit > 0, limit < 1 << 32 else {
          throw fail("field 'size_limit' is \(pythonText(sizeLimitValue)), expected null or an integer in 1..<2^32")
        }
        sizeLimit = Int(limit)
      }
      guard let nameValues = try field("column_names").arrayValue,
        case let names = nameValues.compactMap(\.stringValue), names.count == nameValues.count, !names.isEmpty
      else { throw fail("field 'column_names' must be a non-empty list of strings") }
      for (previous, name) in zip(names, names.dropFirst()) where !JSONValue.codePointOrder(previous, name) {
        throw fail("field 'column_names' is not sorted and unique ('\(previous)' before '\(name)')")
      }
      guard let encodingValues = try field("column_encodings").arrayValue, encodingValues.count == names.count else {
        throw fail("field 'column_encodings' must be a list of \(names.count) encodings, one per column name")
      }
      guard let sizeValues = try field("column_sizes").arrayValue, sizeValues.count == names.count else {
        throw fail("field 'column_sizes' must be a list of \(names.count) sizes, one per column name")
      }
      var columns: [Column] = []
      for (index, name) in names.enumerated() {
        guard let encoding = encodingValues[index].stringValue.flatMap(Encoding.init(rawValue:)) else {
          throw fail(
            "field 'column_encodings' item \(index) (column '\(name)') is \(pythonText(encodingValues[index])), expected one of \(Encoding.allCases.map(\.rawValue).joined(separator: ", "))"
          )
        }
        let expected = encoding.fixedSize.map(JSONValue.init) ?? .null
        guard sizeValues[index] == expected else {
          throw fail(
            "field 'column_sizes' item \(index) (column '\(name)', \(encoding.rawValue)) is \(pythonText(sizeValues[index])), expected \(pythonText(expected))"
          )
        }
        columns.append(Column(name, encoding))
      }
      return ShardConfiguration(columns: columns, compressionLevel: level, hashes: hashes, sizeLimit: sizeLimit)
    }
  }

  /// Builds one raw shard sample by sample.
  ///
  /// Per sample: `beginSample()`, then one `append` per column in sorted column order (the order of
  /// `configuration.columns`), then `endSample()`. Appends copy into one growing buffer: a sample
  /// allocates nothing once the buffer has grown to its working size.
  public struct ShardBuilder {
    public let configuration: ShardConfiguration
    private let encodings: [Encoding]
    private let configBytes: [UInt8]
    /// Bytes of the size slots at the start of each sample, one uint32 per variable-size column.
    private let sizeHeaderLength: Int
    /// The samples, concatenated.
    private var data: [UInt8] = []
    /// Where each finished sample ends in `data`.
    private var sampleEnds: [Int] = []
    /// The next column to append, or -1 between samples.
    private var columnIndex = -1
    /// Where the next variable-size column's size goes in `data`.
    private var sizeSlot = 0

    /// - Parameters:
    ///   - configuration: The shard's columns and settings.
    ///   - reserveBytes: Expected sample bytes, to reserve the buffer once.
    public init(configuration: ShardConfiguration, reserveBytes: Int = 0) {
      self.configuration = configuration
      encodings = configuration.columns.map(\.encoding)
      configBytes = Array(configuration.configText.utf8)
      sizeHeaderLength = 4 * encodings.count(where: { $0.fixedSize == nil })
      data.reserveCapacity(reserveBytes)
    }

    /// Finished samples so far.
    public var sampleCount: Int { sampleEnds.count }

    /// The size of the raw shard `finish()` would return now (between samples): what streaming's
    /// writer compares with `size_limit`.
    public var byteCount: Int { 4 + 4 * (sampleEnds.count + 1) + configBytes.count + (sampleEnds.last ?? 0) }

    /// Starts a sample; appends follow in column order.
    public mutating func beginSample() {
      precondition(columnIndex < 0, "MDS.ShardBuilder.beginSample() called inside a sample; call endSample() first")
      sizeSlot = data.count
      data.append(contentsOf: repeatElement(0, count: sizeHeaderLength))
      columnIndex = 0
    }

    /// Appends a `uint32` column.
    public mutating func append(uint32 value: UInt32) {
      expect(.uint32)
      withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
      columnIndex += 1
    }

    /// Appends a `uint64` column.
    public mutating func append(uint64 value: UInt64) {
      expect(.uint64)
      withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
      columnIndex += 1
    }

    /// Appends an `ndarray:uint32` column (a 1-D array; may be empty).
    public mutating func append(uint32Array values: UnsafeBufferPointer<UInt32>) {
      appendArray(UnsafeRawBufferPointer(values), count: values.count, encoding: .ndarrayUInt32)
    }

    /// Appends an `ndarray:float32` column (a 1-D array; may be empty).
    public mutating func append(float32Array values: UnsafeBufferPointer<Float>) {
      appendArray(UnsafeRawBufferPointer(values), count: values.count, encoding: .ndarrayFloat32)
    }

    /// Appends an `ndarray:float16` column from IEEE binary16 bit patterns (see `MDS.float16Bits(_:)`).
    public mutating func append(float16Bits values: UnsafeBufferPointer<UInt16>) {
      appendArray(UnsafeRawBufferPointer(values), count: values.count, encoding: .ndarrayFloat16)
    }

    /// Ends a sample; every column must have been appended.
    public mutating func endSample() {
      precondition(
        columnIndex == encodings.count,
        "MDS.ShardBuilder.endSample(): \(max(columnIndex, 0)) of \(encodings.count) columns appended")
      sampleEnds.append(data.count)
      columnIndex = -1
    }

    /// Each finished sample's size in bytes, in order.
    public var sampleSizes: [Int] {
      var previous = 0
      return sampleEnds.map { end in
        defer { previous = end }
        return end - previous
      }
    }

    /// Calls `body` with the finished samples' bytes (what follows the header in the raw shard).
    public func withSampleBytes<Result, Failure: Error>(
      _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
      let count = sampleEnds.last ?? 0
      var outcome: Swift.Result<Result, Failure>!
      data.withUnsafeBytes { buffer in
        do throws(Failure) {
          outcome = .success(try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count])))
        } catch {
          outcome = .failure(error)
        }
      }
      return try outcome.get()
    }

    /// The raw shard's header (sample count, offsets, config) for samples of these sizes, in order.
    ///
    /// - Throws: When the shard would exceed 4 GiB − 1 bytes, the most MDS's uint32 offsets address.
    public static func header(sampleSizes: [Int], configuration: ShardConfiguration) throws(PipelineError) -> [UInt8] {
      let configBytes = Array(configuration.configText.utf8)
      let headerLength = 4 + 4 * (sampleSizes.count + 1) + configBytes.count
      let total = sampleSizes.reduce(headerLength, +)
      guard total <= Int(UInt32.max) else {
        throw PipelineError(
          .stageFailed,
          "an MDS shard of \(sampleSizes.count) samples would be \(total) bytes, over the \(UInt32.max) bytes its uint32 offsets can address; set a smaller shard size limit"
        )
      }
      var bytes: [UInt8] = []
      bytes.reserveCapacity(headerLength)
      func append(_ value: Int) {
        withUnsafeBytes(of: UInt32(value).littleEndian) { bytes.append(contentsOf: $0) }
      }
      append(sampleSizes.count)
      var offset = headerLength
      append(offset)
      for size in sampleSizes {
        offset += size
        append(offset)
      }
      bytes.append(contentsOf: configBytes)
      return bytes
    }

    /// The raw shard bytes.
    ///
    /// - Throws: When the shard would exceed 4 GiB − 1 bytes, the most MDS's uint32 offsets address.
    /// - Complexity: O(shard size): one copy of the samples behind the header.
    public func finish() throws(PipelineError) -> [UInt8] { try Self.finish(joining: [self]) }

    /// The raw shard of every finished sample of `parts` (built with one configuration), in order:
    /// threads encode runs of samples into builders of their own, and the shard is written once
    /// from all of them.
    public static func finish(joining parts: [ShardBuilder]) throws(PipelineError) -> [UInt8] {
      guard let first = parts.first else {
        preconditionFailure("MDS.ShardBuilder.finish(joining:) needs at least one builder")
      }
      for part in parts {
        precondition(
          part.columnIndex < 0, "MDS.ShardBuilder.finish() called inside a sample; call endSample() first")
        precondition(
          part.configuration.configText == first.configuration.configText,
          "MDS.ShardBuilder.finish(joining:): the builders' configurations differ")
      }
      var bytes = try header(sampleSizes: parts.flatMap(\.sampleSizes), configuration: first.configuration)
      bytes.reserveCapacity(bytes.count + parts.reduce(0) { $0 + ($1.sampleEnds.last ?? 0) })
      for part in parts {
        part.data.withUnsafeBufferPointer { bytes.append(contentsOf: $0[0..<(part.sampleEnds.last ?? 0)]) }
      }
      return bytes
    }

    private func expect(_ encoding: Encoding) {
      precondition(
        columnIndex >= 0 && columnIndex < encodings.count && encodings[columnIndex] == encoding,
        columnIndex < 0
          ? "MDS.ShardBuilder: append outside a sample; call beginSample() first"
          : columnIndex >= encodings.count
            ? "MDS.ShardBuilder: more appends than the \(encodings.count) columns"
            : "MDS.ShardBuilder: column \(columnIndex) '\(configuration.columns[columnIndex].name)' is \(encodings[columnIndex].rawValue), appended as \(encoding.rawValue)"
      )
    }

    private mutating func appendArray(_ values: UnsafeRawBufferPointer, count: Int, encoding: Encoding) {
      expect(encoding)
      let start = data.count
      // The shape: ndim 1 with the smallest unsigned type that holds the length (`_rightsize_shape_dtype`).
      if count < 1 << 8 {
        data.append(1 << 2 | 0)
        data.append(UInt8(count))
      } else if count < 1 << 16 {
        data.append(1 << 2 | 1)
        withUnsafeBytes(of: UInt16(count).littleEndian) { data.append(contentsOf: $0) }
      } else if count < 1 << 32 {
        data.append(1 << 2 | 2)
        withUnsafeBytes(of: UInt32(count).littleEndian) { data.append(contentsOf: $0) }
      } else {
        data.append(1 << 2 | 3)
        withUnsafeBytes(of: UInt64(count).littleEndian) { data.append(contentsOf: $0) }
      }
      data.append(contentsOf: values)
      // A column over 4 GiB makes `finish()` throw, so truncating its size here is never written.
      let size = UInt32(truncatingIfNeeded: data.count - start)
      data.withUnsafeMutableBytes { $0.storeBytes(of: size.littleEndian, toByteOffset: sizeSlot, as: UInt32.self) }
      sizeSlot += 4
      columnIndex += 1
    }
  }

  /// What the index says about one shard file pair.
  public struct ShardEntry: Sendable, Equatable {
    public var configuration: ShardConfiguration
    /// The decompressed file's name relative to the dataset directory (`shard.00000.mds`).
    public var rawBasename: String
    public var rawBytes: Int
    /// Hex digest per algorithm of `configuration.hashes`.
    public var rawHashes: [String: String]
    /// The compressed file's name relative to the dataset directory (`shard.00000.mds.zstd`).
    public var zipBasename: String
    public var zipBytes: Int
    public var zipHashes: [String: String]
    public var samples: Int

    public init(
      configuration: ShardConfiguration, rawBasename: String, rawBytes: Int, rawHashes: [String: String],
      zipBasename: String, zipBytes: Int, zipHashes: [String: String], samples: Int
    ) {
      self.configuration = configuration
      self.rawBasename = rawBasename
      self.rawBytes = rawBytes
      self.rawHashes = rawHashes
      self.zipBasename = zipBasename
      self.zipBytes = zipBytes
      self.zipHashes = zipHashes
      self.samples = samples
    }

    /// The index entry object, with exactly the 11 keys streaming's reader accepts.
    public var json: JSONValue {
      var members = configuration.configMembers
      members["raw_data"] = Self.fileInfo(rawBasename, rawBytes, rawHashes)
      members["samples"] = JSONValue(samples)
      members["zip_data"] = Self.fileInfo(zipBasename, zipBytes, zipHashes)
      return .object(members)
    }

    static let keys = ShardConfiguration.configKeys.union(["raw_data", "samples", "zip_data"])

    static func fileInfo(_ basename: String, _ bytes: Int, _ hashes: [String: String]) -> JSONValue {
      ["basename": .string(basename), "bytes": JSONValue(bytes), "hashes": .object(hashes.mapValues(JSONValue.string))]
    }

    /// Parses an index entry strictly: exactly the 11 keys, their types, version 2, format "mds",
    /// compression "zstd:LEVEL", known encodings with matching sizes, relative basenames.
    ///
    /// - Parameters:
    ///   - json: The entry object.
    ///   - file: The index file, for messages.
    ///   - shard: The entry's position in the index, for messages.
    public init(json: JSONValue, file: String, shard: Int? = nil) throws(PipelineError) {
      let place = shard.map { "shard \($0): " } ?? ""
      func fail(_ reason: String) -> PipelineError {
        .invalidArtifact("'\(file)': \(place)\(reason); regenerate it with `tca run --force`")
      }
      guard let members = json.objectValue else { throw fail("the entry is \(json.typeName), expected an object") }
      if let extra = members.keys.sorted(by: JSONValue.codePointOrder).first(where: { !Self.keys.contains($0) }) {
        throw fail(
          "unexpected field '\(extra)' (an MDS shard entry has exactly \(Self.keys.sorted(by: JSONValue.codePointOrder).joined(separator: ", ")); streaming's reader rejects any other)"
        )
      }
      let configuration = try ShardConfiguration.parse(members, fail: fail)
      func fileInfo(_ key: String) throws(PipelineError) -> (basename: String, bytes: Int, hashes: [String: String]) {
        guard let value = members[key] else { throw fail("field '\(key)' is missing") }
        guard let info = value.objectValue, Set(info.keys) == ["basename", "bytes", "hashes"] else {
          throw fail("field '\(key)' must be an object with exactly basename, bytes, hashes")
        }
        guard let basename = info["basename"]!.stringValue, MDS.isRelativePath(basename) else {
          throw fail(
            "field '\(key).basename' is \(pythonText(info["basename"]!)), expected a relative path without '.' or '..' parts"
          )
        }
        guard let bytes = info["bytes"]!.integerValue, bytes >= 0 else {
          throw fail("field '\(key).bytes' is \(pythonText(info["bytes"]!)), expected a non-negative integer")
        }
        guard let hashObject = info["hashes"]!.objectValue,
          case let hashes = hashObject.compactMapValues(\.stringValue), hashes.count == hashObject.count,
          Set(hashes.keys) == Set(configuration.hashes)
        else {
          throw fail(
            "field '\(key).hashes' must map exactly the algorithms of 'hashes' (\(configuration.hashes.joined(separator: ", "))) to hex digests"
          )
        }
        return (basename, Int(bytes), hashes)
      }
      let raw = try fileInfo("raw_data")
      let compressed = try fileInfo("zip_data")
      guard raw.basename.hasSuffix(".mds"), compressed.basename == raw.basename + ".zstd" else {
        throw fail(
          "field 'zip_data.basename' is '\(compressed.basename)' for 'raw_data.basename' '\(raw.basename)', expected 'NAME.mds.zstd' for 'NAME.mds'"
        )
      }
      guard let samplesValue = members["samples"] else { throw fail("field 'samples' is missing") }
      guard let samples = samplesValue.integerValue, samples >= 0 else {
        throw fail("field 'samples' is \(pythonText(samplesValue)), expected a non-negative integer")
      }
      self.init(
        configuration: configuration, rawBasename: raw.basename, rawBytes: raw.bytes, rawHashes: raw.hashes,
        zipBasename: compressed.basename, zipBytes: compressed.bytes, zipHashes: compressed.hashes,
        samples: Int(samples))
    }

    /// The same entry with both basenames under `directory` (what streaming's `merge_index` writes
    /// in a root index over split subdirectories).
    ///
    /// - Parameter directory: A relative path without `.` or `..` parts, such as `"train"`.
    public func prefixed(_ directory: String) -> ShardEntry {
      let trimmed = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
      precondition(MDS.isRelativePath(trimmed), "MDS prefix '\(directory)' must be a relative path without '..'")
      var entry = self
      entry.rawBasename = trimmed + "/" + rawBasename
      entry.zipBasename = trimmed + "/" + zipBasename
      return entry
    }
  }

  /// The job size of multi-threaded shard compression: a 10 MB shard is 5 jobs, and the frame is
  /// about 0.2 % larger than a single-threaded one at level 3.
  public static let compressionJobBytes = 2 << 20

  /// Compresses a raw shard into one zstd frame that records its content size, writes it to
  /// `<directory>/<zip basename>` and returns its index entry.
  ///
  /// - Parameters:
  ///   - raw: The raw shard (`ShardBuilder.finish()`).
  ///   - samples: Its sample count (checked against the raw shard's header).
  ///   - index: The shard number in the basenames: `shard.00042.mds(.zstd)`.
  ///   - configuration: The configuration the shard was built with.
  ///   - directory: The dataset directory.
  ///   - prefix: An optional subdirectory (`"train"`) that both basenames start with; it is created.
  ///   - compressionThreads: When given, the frame is compressed in zstd's multi-threaded mode, in
  ///     jobs of `compressionJobBytes` on up to this many threads: the bytes are the same for every
  ///     thread count (and differ from the single-threaded frame's, which `nil` writes).
  public static func writeShard(
    _ raw: [UInt8], samples: Int, index: Int, configuration: ShardConfiguration, directory: String,
    prefix: String? = nil, compressionThreads: Int? = nil
  ) throws(PipelineError) -> ShardEntry {
    if let threads = compressionThreads {
      let compressor = try ShardCompressor(level: configuration.compressionLevel, threads: threads)
      return try compressor.write(
        raw, samples: samples, index: index, configuration: configuration, directory: directory, prefix: prefix)
    }
    try checkShard(raw, samples: samples, index: index, configuration: configuration)
    let compressed: [UInt8]
    do {
      compressed = try Zstd.compress(raw, level: configuration.compressionLevel)
    } catch {
      throw PipelineError(.stageFailed, "cannot compress MDS shard \(index)", cause: error)
    }
    var result: Result<ShardEntry, PipelineError>!
    compressed.withUnsafeBytes { buffer in
      do throws(PipelineError) {
        result = .success(
          try place(
            raw: raw, compressed: buffer, samples: samples, index: index, configuration: configuration,
            directory: directory, prefix: prefix))
      } catch {
        result = .failure(error)
      }
    }
    return try result.get()
  }

  /// Writes many shards in zstd's multi-threaded mode (`writeShard`'s `compressionThreads`) with one
  /// compression context, whose threads and buffers are reused from shard to shard. Used by one
  /// thread at a time.
  public final class ShardCompressor {
    let compressor: ZstdCompressor

    public init(level: Int32, threads: Int) throws(PipelineError) {
      do {
        compressor = try ZstdCompressor(level: level, threads: threads, jobBytes: compressionJobBytes)
      } catch {
        throw PipelineError(.stageFailed, "cannot set up zstd compression", cause: error)
      }
    }

    /// What `writeShard(_:samples:index:configuration:directory:prefix:compressionThreads:)` does,
    /// with this context (the same bytes).
    public func write(
      _ raw: [UInt8], samples: Int, index: Int, configuration: ShardConfiguration, directory: String,
      prefix: String? = nil
    ) throws(PipelineError) -> ShardEntry {
      try checkShard(raw, samples: samples, index: index, configuration: configuration)
      let stream = try ShardStream(
        compressor: compressor, rawBytes: raw.count, samples: samples, index: index, configuration: configuration,
        directory: directory, prefix: prefix)
      try append(raw, to: stream)
      return try stream.finish()
    }

    /// Starts shard `index` of samples of these sizes (in bytes, in order) as a stream: its header
    /// is written; the samples' bytes follow with `ShardStream.append`. The shard's bytes are
    /// those `write` gives the whole raw shard, however they arrive.
    public func begin(
      sampleSizes: [Int], index: Int, configuration: ShardConfiguration, directory: String, prefix: String? = nil
    ) throws(PipelineError) -> ShardStream {
      try checkHashes(configuration)
      let header = try ShardBuilder.header(sampleSizes: sampleSizes, configuration: configuration)
      let stream = try ShardStream(
        compressor: compressor, rawBytes: sampleSizes.reduce(header.count, +), samples: sampleSizes.count,
        index: index, configuration: configuration, directory: directory, prefix: prefix)
      try append(header, to: stream)
      return stream
    }

    private func append(_ bytes: [UInt8], to stream: ShardStream) throws(PipelineError) {
      let failure = bytes.withUnsafeBytes { buffer -> PipelineError? in
        do throws(PipelineError) { try stream.append(buffer) } catch { return error }
        return nil
      }
      if let failure { throw failure }
    }
  }

  /// One shard written as its raw bytes arrive, in order: each piece is hashed and handed to zstd
  /// (whose threads compress a job while the caller prepares the next piece), and the compressed
  /// bytes are hashed and written to `<directory>/<zip basename>` as they come out, so no raw shard
  /// is ever assembled in memory. `finish()` checks that exactly the raw size announced arrived,
  /// closes the file and returns the index entry. Used by one thread at a time; a stream left
  /// unfinished (an error elsewhere) leaves a partial file in the stage's work directory, which
  /// the executor discards.
  public final class ShardStream {
    private let compressor: ZstdCompressor
    private let file: OutputFile
    private let index: Int
    private let rawBytes: Int
    private var received = 0
    private var zipBytes = 0
    private var rawHasher = StreamingHasher()
    private var zipHasher = StreamingHasher()
    private var entry: ShardEntry

    init(
      compressor: ZstdCompressor, rawBytes: Int, samples: Int, index: Int, configuration: ShardConfiguration,
      directory: String, prefix: String?
    ) throws(PipelineError) {
      precondition(index >= 0, "MDS shard number \(index) is negative")
      self.compressor = compressor
      self.index = index
      self.rawBytes = rawBytes
      entry = shardEntry(index: index, configuration: configuration, samples: samples, prefix: prefix)
      let path = FileSystem.join(directory, entry.zipBasename)
      try FileSystem.createDirectory(FileSystem.parentPath(path))
      file = try OutputFile(path: path)
      do { try compressor.begin(contentSize: rawBytes) } catch {
        throw PipelineError(.stageFailed, "cannot compress MDS shard \(index)", cause: error)
      }
    }

    /// The next raw bytes of the shard (none: nothing happens; after the last byte the frame is
    /// complete and another call would start a second one).
    public func append(_ bytes: UnsafeRawBufferPointer) throws(PipelineError) {
      guard !bytes.isEmpty else { return }
      guard received + bytes.count <= rawBytes else {
        throw PipelineError(
          .stageFailed,
          "MDS shard \(index): \(received + bytes.count) raw bytes arrived for a shard of \(rawBytes) (its header's sample sizes); the samples' sizes differ from the ones announced"
        )
      }
      rawHasher.update(bytes)
      received += bytes.count
      let output: UnsafeRawBufferPointer
      do { output = try compressor.compress(bytes, end: received == rawBytes) } catch {
        throw PipelineError(.stageFailed, "cannot compress MDS shard \(index)", cause: error)
      }
      zipHasher.update(output)
      zipBytes += output.count
      try file.write(output)
    }

    /// Closes the shard (fsynced) and returns its index entry.
    public func finish() throws(PipelineError) -> ShardEntry {
      guard received == rawBytes else {
        throw PipelineError(
          .stageFailed,
          "MDS shard \(index): \(received) raw bytes arrived for a shard of \(rawBytes) (its header's sample sizes); the samples' sizes differ from the ones announced"
        )
      }
      try file.close()
      entry.rawBytes = rawBytes
      entry.rawHashes = ["sha256": rawHasher.finalize()]
      entry.zipBytes = zipBytes
      entry.zipHashes = ["sha256": zipHasher.finalize()]
      return entry
    }
  }

  /// Shard `index`'s entry with its names (`shard.NNNNN.mds`, under `prefix` when given) and no
  /// sizes or hashes yet.
  static func shardEntry(index: Int, configuration: ShardConfiguration, samples: Int, prefix: String?) -> ShardEntry {
    var number = String(index)
    if number.count < 5 { number = String(repeating: "0", count: 5 - number.count) + number }
    let rawName = "shard.\(number).mds"
    let entry = ShardEntry(
      configuration: configuration, rawBasename: rawName, rawBytes: 0, rawHashes: [:], zipBasename: rawName + ".zstd",
      zipBytes: 0, zipHashes: [:], samples: samples)
    return prefix.map { entry.prefixed($0) } ?? entry
  }

  /// Hashes a shard's raw and compressed bytes, writes the compressed file and returns its entry.
  private static func place(
    raw: [UInt8], compressed: UnsafeRawBufferPointer, samples: Int, index: Int, configuration: ShardConfiguration,
    directory: String, prefix: String?
  ) throws(PipelineError) -> ShardEntry {
    var entry = shardEntry(index: index, configuration: configuration, samples: samples, prefix: prefix)
    entry.rawBytes = raw.count
    entry.rawHashes = ["sha256": ContentHash.sha256(raw)]
    entry.zipBytes = compressed.count
    entry.zipHashes = ["sha256": ContentHash.sha256(bytes: compressed)]
    let path = FileSystem.join(directory, entry.zipBasename)
    try FileSystem.createDirectory(FileSystem.parentPath(path))
    try FileSystem.writeFile(path, bytes: compressed)
    return entry
  }

  private static func checkShard(
    _ raw: [UInt8], samples: Int, index: Int, configuration: ShardConfiguration
  ) throws(PipelineError) {
    precondition(index >= 0, "MDS shard number \(index) is negative")
    guard raw.count >= 4, readUInt32(raw, at: 0) == samples else {
      throw PipelineError(
        .stageFailed, "MDS shard \(index): the raw shard does not start with its sample count \(samples)")
    }
    try checkHashes(configuration)
  }

  private static func checkHashes(_ configuration: ShardConfiguration) throws(PipelineError) {
    if let unsupported = configuration.hashes.first(where: { $0 != "sha256" }) {
      throw .usage("MDS hash algorithm '\(unsupported)' is not supported (only sha256 is); use hashes [\"sha256\"]")
    }
  }

  /// `index.json` for these entries, as streaming writes it: Python's `json.dump({"shards": ...,
  /// "version": 2}, sort_keys=True)`, without a final newline.
  public static func indexText(_ entries: [ShardEntry]) -> String {
    pythonText(["shards": .array(entries.map(\.json)), "version": 2])
  }

  /// Writes `indexText(entries)` to `path` atomically.
  public static func writeIndex(_ entries: [ShardEntry], to path: String) throws(PipelineError) {
    try FileSystem.writeFileAtomically(path, Array(indexText(entries).utf8))
  }

  /// Reads an `index.json` strictly: top-level keys exactly `shards` and `version`, version 2, each
  /// entry as `ShardEntry(json:file:shard:)` checks it, no basename twice.
  public static func readIndex(_ path: String) throws(PipelineError) -> [ShardEntry] {
    func fail(_ reason: String) -> PipelineError {
      .invalidArtifact("'\(path)': \(reason); regenerate it with `tca run --force`")
    }
    let bytes = try FileSystem.readFile(path)
    let document: JSONValue
    do {
      document = try JSONParser.parse(bytes)
    } catch {
      throw fail("invalid JSON: \(error.reason) at byte \(error.offset)")
    }
    guard let members = document.objectValue else {
      throw fail("the index is \(document.typeName), expected an object")
    }
    if let extra = members.keys.sorted(by: JSONValue.codePointOrder).first(where: { $0 != "shards" && $0 != "version" })
    {
      throw fail("unexpected field '\(extra)' (an MDS index has exactly shards, version)")
    }
    guard let version = members["version"] else { throw fail("field 'version' is missing") }
    guard version.integerValue == 2 else { throw fail("field 'version' is \(pythonText(version)), expected 2") }
    guard let shardsValue = members["shards"] else { throw fail("field 'shards' is missing") }
    guard let shards = shardsValue.arrayValue else {
      throw fail("field 'shards' is \(shardsValue.typeName), expected a list")
    }
    var entries: [ShardEntry] = []
    entries.reserveCapacity(shards.count)
    var seen: Set<String> = []
    for (number, shard) in shards.enumerated() {
      let entry = try ShardEntry(json: shard, file: path, shard: number)
      guard seen.insert(entry.zipBasename).inserted else {
        throw fail("shard \(number): file '\(entry.zipBasename)' is listed twice")
      }
      entries.append(entry)
    }
    return entries
  }

  /// Reads `<directory>/<entry.zipBasename>`, checks its size and every listed hash, decompresses it,
  /// checks the raw size and hashes, and decodes the shard against the entry's configuration.
  public static func readShard(_ entry: ShardEntry, directory: String) throws(PipelineError) -> Shard {
    let path = FileSystem.join(directory, entry.zipBasename)
    let what = "regenerate the dataset with `tca run --force`"
    let compressed = try FileSystem.readFile(path)
    try checkFile(compressed, name: "'\(path)'", bytes: entry.zipBytes, hashes: entry.zipHashes, what: what)
    let raw: [UInt8]
    do {
      raw = try Zstd.decompressFrame(compressed)
    } catch {
      throw PipelineError(
        .invalidArtifact, "'\(path)' is not one zstd frame with a content size; \(what)", cause: error)
    }
    try checkFile(raw, name: "'\(path)' (decompressed)", bytes: entry.rawBytes, hashes: entry.rawHashes, what: what)
    let shard = try Shard(raw: raw, file: path, expected: entry.configuration)
    guard shard.count == entry.samples else {
      throw .invalidArtifact("'\(path)' holds \(shard.count) samples, the index says \(entry.samples); \(what)")
    }
    return shard
  }

  private static func checkFile(
    _ bytes: [UInt8], name: String, bytes expected: Int, hashes: [String: String], what: String
  ) throws(PipelineError) {
    guard bytes.count == expected else {
      throw .invalidArtifact("\(name) is \(bytes.count) bytes, the index says \(expected); \(what)")
    }
    for (algorithm, digest) in hashes.sorted(by: { $0.key < $1.key }) {
      guard algorithm == "sha256" else {
        throw .invalidArtifact("\(name): cannot check hash '\(algorithm)' (only sha256 is supported); \(what)")
      }
      let actual = ContentHash.sha256(bytes)
      guard actual == digest else {
        throw .invalidArtifact("\(name) has sha256 \(actual), the index says \(digest); the file is corrupt, \(what)")
      }
    }
  }

  /// A decoded raw shard.
  public struct Shard: Sendable {
    public let configuration: ShardConfiguration
    /// The number of samples.
    public let count: Int
    private let raw: [UInt8]
    private let file: String

    /// One column value of a sample.
    public enum Value: Equatable, Sendable {
      case uint32(UInt32)
      case uint64(UInt64)
      case uint32Array([UInt32])
      case float32Array([Float])
      /// IEEE binary16 bit patterns (see `MDS.float32(fromFloat16Bits:)`).
      case float16Bits([UInt16])
    }

    /// Checks a raw shard completely: the sample count, that the offsets rise, stay in bounds and end
    /// at the end of the data, that the embedded config parses (and equals `expected`), and that
    /// every sample's size header and columns fill it exactly.
    ///
    /// - Parameters:
    ///   - raw: The decompressed shard.
    ///   - file: The shard's name, for messages.
    ///   - expected: The configuration the index lists for it, if known.
    public init(raw: [UInt8], file: String, expected: ShardConfiguration? = nil) throws(PipelineError) {
      func fail(_ reason: String) -> PipelineError {
        .invalidArtifact("'\(file)' is not a valid MDS shard: \(reason); regenerate it with `tca run --force`")
      }
      guard raw.count >= 4 else { throw fail("it has \(raw.count) bytes, fewer than the 4-byte sample count") }
      let count = Int(readUInt32(raw, at: 0))
      let headerEnd = 4 + 4 * (count + 1)
      guard headerEnd <= raw.count else {
        throw fail(
          "its \(count + 1) offsets (sample count \(count) at byte 0) end at byte \(headerEnd), past the end of the data (\(raw.count) bytes); it is truncated"
        )
      }
      var previous = headerEnd
      for index in 0...count {
        let offset = Int(readUInt32(raw, at: 4 + 4 * index))
        guard offset >= previous else {
          throw fail(
            "offset \(index) at byte \(4 + 4 * index) is \(offset), below \(previous) (\(index == 0 ? "the end of the offsets" : "offset \(index - 1)"))"
          )
        }
        guard offset <= raw.count else {
          throw fail(
            "offset \(index) at byte \(4 + 4 * index) is \(offset), past the end of the data (\(raw.count) bytes); it is truncated"
          )
        }
        previous = offset
      }
      guard previous == raw.count else {
        throw fail("the last offset (at byte \(4 + 4 * count)) is \(previous), but the data is \(raw.count) bytes")
      }
      let configEnd = Int(readUInt32(raw, at: 4))
      let config: JSONValue
      do {
        config = try JSONParser.parse(raw[headerEnd..<configEnd])
      } catch {
        throw fail("its config JSON: \(error.reason) at byte \(headerEnd + error.offset)")
      }
      func configFail(_ reason: String) -> PipelineError { fail("its config at byte \(headerEnd): \(reason)") }
      guard let members = config.objectValue else { throw configFail("it is \(config.typeName), expected an object") }
      if let extra = members.keys.sorted(by: JSONValue.codePointOrder).first(where: {
        !ShardConfiguration.configKeys.contains($0)
      }) {
        throw configFail("unexpected field '\(extra)'")
      }
      let configuration = try ShardConfiguration.parse(members, fail: configFail)
      if let expected, expected != configuration {
        throw fail(
          "its config at byte \(headerEnd) is \(configuration.configText), the index says \(expected.configText)")
      }
      self.configuration = configuration
      self.count = count
      self.raw = raw
      self.file = file
      for index in 0..<count {
        try forEachColumn(index) { (_, _, _, _) throws(PipelineError) in }
      }
    }

    /// One sample's values by column name.
    public func sample(_ index: Int) throws(PipelineError) -> [String: Value] {
      guard index >= 0 && index < count else {
        throw PipelineError(.stageFailed, "'\(file)': sample \(index) is out of range (the shard holds \(count))")
      }
      var values: [String: Value] = [:]
      values.reserveCapacity(configuration.columns.count)
      try forEachColumn(index) { (column, start, end, elements) throws(PipelineError) in
        values[column.name] = Self.decode(raw, column.encoding, start: start, end: end, elements: elements)
      }
      return values
    }

    private static func decode(_ raw: [UInt8], _ encoding: Encoding, start: Int, end: Int, elements: Int) -> Value {
      func array<Element>(_ type: Element.Type) -> [Element] {
        [Element](unsafeUninitializedCapacity: elements) { buffer, initialized in
          raw.withUnsafeBytes { bytes in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
          }
          initialized = elements
        }
      }
      switch encoding {
      case .uint32: return .uint32(readUInt32(raw, at: start))
      case .uint64: return .uint64(UInt64(readUInt32(raw, at: start)) | UInt64(readUInt32(raw, at: start + 4)) << 32)
      case .ndarrayUInt32: return .uint32Array(array(UInt32.self))
      case .ndarrayFloat32: return .float32Array(array(Float.self))
      case .ndarrayFloat16: return .float16Bits(array(UInt16.self))
      }
    }

    /// Calls `body` with each column of a sample and the byte range of its values (after an array's
    /// shape), checking that the sizes fit the sample exactly.
    private func forEachColumn(
      _ index: Int, _ body: (Column, Int, Int, Int) throws(PipelineError) -> Void
    ) throws(PipelineError) {
      let sampleStart = Int(readUInt32(raw, at: 4 + 4 * index))
      let sampleEnd = Int(readUInt32(raw, at: 8 + 4 * index))
      func fail(_ at: Int, _ column: Column?, _ reason: String) -> PipelineError {
        .invalidArtifact(
          "'\(file)' is not a valid MDS shard: sample \(index)\(column.map { ", column '\($0.name)'" } ?? "") at byte \(at): \(reason); regenerate it with `tca run --force`"
        )
      }
      var sizePosition = sampleStart
      var position = sampleStart + 4 * configuration.columns.count(where: { $0.encoding.fixedSize == nil })
      guard position <= sampleEnd else {
        throw fail(
          sampleStart, nil,
          "its size header needs \(position - sampleStart) bytes, the sample has \(sampleEnd - sampleStart)")
      }
      for column in configuration.columns {
        let encoding = column.encoding
        let size: Int
        if let fixed = encoding.fixedSize {
          size = fixed
        } else {
          size = Int(readUInt32(raw, at: sizePosition))
          sizePosition += 4
        }
        guard size <= sampleEnd - position else {
          throw fail(position, column, "its \(size) bytes run past the end of the sample at byte \(sampleEnd)")
        }
        var valuesStart = position
        var elements = 1
        if encoding.fixedSize == nil {
          guard size >= 2 else { throw fail(position, column, "\(size) bytes cannot hold an array shape") }
          let byte = raw[position]
          guard byte >> 2 == 1 else {
            throw fail(position, column, "the array has \(byte >> 2) dimensions; only 1-D arrays are supported")
          }
          let width = 1 << Int(byte & 3)
          guard 1 + width <= size else {
            throw fail(position, column, "\(size) bytes cannot hold a \(width)-byte shape")
          }
          var length: UInt64 = 0
          for offset in 0..<width { length |= UInt64(raw[position + 1 + offset]) << UInt64(8 * offset) }
          guard length <= UInt64(size), 1 + width + Int(length) * encoding.elementSize == size else {
            throw fail(
              position, column,
              "the array holds \(size - 1 - width) value bytes, but its shape [\(length)] of \(encoding.dtypeName) needs \(length.multipliedReportingOverflow(by: UInt64(encoding.elementSize)).partialValue)"
            )
          }
          valuesStart = position + 1 + width
          elements = Int(length)
        }
        try body(column, valuesStart, position + size, elements)
        position += size
      }
      guard position == sampleEnd else {
        throw fail(position, nil, "\(sampleEnd - position) bytes are left after the last column")
      }
    }
  }

  /// The IEEE binary16 bit pattern nearest to `value` (ties to even; subnormals, infinities, NaN).
  public static func float16Bits(_ value: Float) -> UInt16 {
    Float16(value).bitPattern
  }

  /// The value of an IEEE binary16 bit pattern (exact).
  public static func float32(fromFloat16Bits bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
  }

  // MARK: - Helpers

  static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian }
  }

  /// A path relative to a dataset directory: non-empty parts, none `.` or `..`, not absolute.
  static func isRelativePath(_ path: String) -> Bool {
    !path.isEmpty && !path.hasPrefix("/")
      && path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy {
        !$0.isEmpty && $0 != "." && $0 != ".."
      }
  }

  /// Python's `json.dumps(value, sort_keys=True)`: separators `", "` and `": "`, keys in code point
  /// order, `ensure_ascii` (every character outside space...`~` escaped, lowercase `\uXXXX`, astral
  /// characters as surrogate pairs).
  static func pythonText(_ value: JSONValue) -> String {
    var output = ""
    writePython(value, into: &output)
    return output
  }

  private static func writePython(_ value: JSONValue, into output: inout String) {
    switch value {
    case .null: output += "null"
    case .bool(let flag): output += flag ? "true" : "false"
    case .integer(let number): output += String(number)
    case .number(let number):
      // Python's float repr; only integers occur in MDS configs and indexes.
      var text = "\(number)"
      if !text.contains(".") && !text.contains("e") && number.isFinite { text += ".0" }
      output += text
    case .string(let text): writePythonString(text, into: &output)
    case .array(let elements):
      output += "["
      for (index, element) in elements.enumerated() {
        if index > 0 { output += ", " }
        writePython(element, into: &output)
      }
      output += "]"
    case .object(let members):
      output += "{"
      for (index, key) in members.keys.sorted(by: JSONValue.codePointOrder).enumerated() {
        if index > 0 { output += ", " }
        writePythonString(key, into: &output)
        output += ": "
        writePython(members[key]!, into: &output)
      }
      output += "}"
    }
  }

  private static func writePythonString(_ text: String, into output: inout String) {
    func escape(_ unit: UInt32) {
      let hex = String(unit, radix: 16)
      output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
    output += "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": output += "\\\""
      case "\\": output += "\\\\"
      case "\n": output += "\\n"
      case "\r": output += "\\r"
      case "\t": output += "\\t"
      case "\u{08}": output += "\\b"
      case "\u{0C}": output += "\\f"
      case " "..."~": output.unicodeScalars.append(scalar)
      default:
        if scalar.value > 0xFFFF {
          let value = scalar.value - 0x10000
          escape(0xD800 | (value >> 10))
          escape(0xDC00 | (value & 0x3FF))
        } else {
          escape(scalar.value)
        }
      }
    }
    output += "\""
  }
}
