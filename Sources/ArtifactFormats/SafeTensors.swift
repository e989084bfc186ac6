import PipelineCore

/// safetensors files (the format PyTorch and every Hugging Face tool load): an 8-byte little-endian
/// header length, a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
/// {string: string}}` padded with spaces to a multiple of 8 bytes, then the raw little-endian tensors.
///
/// We write float32 only, tensors in the order given, the header as canonical JSON (sorted keys),
/// so the same tensors give the same bytes. We read F32, F64, F16 and BF16 (converted to Float).
public enum SafeTensors {
  /// One named tensor, row-major (C order).
  public struct Tensor: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
      precondition(
        shape.reduce(1, *) == values.count, "tensor '\(name)': shape \(shape) does not match \(values.count) values")
      self.name = name
      self.shape = shape
      self.values = values
    }
  }

  static let elementSizes = ["F32": 4, "F64": 8, "F16": 2, "BF16": 2]

  /// The file's bytes.
  public static func encode(_ tensors: [Tensor], metadata: [String: String] = [:]) -> [UInt8] {
    var bytes = prefix(tensors, metadata: metadata)
    bytes.reserveCapacity(bytes.count + tensors.reduce(0) { $0 + $1.values.count * 4 })
    for tensor in tensors {
      tensor.values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }
    return bytes
  }

  /// The header length and the header: everything before the tensors' data.
  static func prefix(_ tensors: [Tensor], metadata: [String: String]) -> [UInt8] {
    var header: [String: JSONValue] = [:]
    var offset = 0
    for tensor in tensors {
      precondition(header[tensor.name] == nil, "tensor '\(tensor.name)' appears twice")
      let end = offset + tensor.values.count * 4
      header[tensor.name] = .object([
        "dtype": "F32", "shape": JSONValue(tensor.shape), "data_offsets": JSONValue([offset, end]),
      ])
      offset = end
    }
    if !metadata.isEmpty {
      header["__metadata__"] = .object(metadata.mapValues(JSONValue.string))
    }
    var headerBytes = Array(JSONValue.object(header).canonicalText().utf8)
    headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)
    var bytes: [UInt8] = []
    let length = UInt64(headerBytes.count)
    for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
    return bytes + headerBytes
  }

  /// Writes `encode`'s bytes, the tensors straight from their arrays (a large tensor is not copied
  /// into the file's bytes first).
  public static func write(_ tensors: [Tensor], metadata: [String: String] = [:], to path: String) throws(PipelineError)
  {
    let file = try OutputFile(path: path)
    try file.write(prefix(tensors, metadata: metadata))
    for tensor in tensors {
      let failure = tensor.values.withUnsafeBytes { buffer -> PipelineError? in
        do throws(PipelineError) { try file.write(buffer) } catch { return error }
        return nil
      }
      if let failure { throw failure }
    }
    try file.close()
  }

  /// The tensors in data-offset order, and the metadata. Errors name `file`, the tensor and the field.
  public static func decode(_ bytes: [UInt8], file: String) throws(PipelineError) -> (
    tensors: [Tensor], metadata: [String: String]
  ) {
    try decode(
      fileSize: bytes.count, file: file, bytes: { Array(bytes[$0]) },
      values: { start, count, dtype in
        bytes.withUnsafeBytes { decodeValues($0, start: start, count: count, dtype: dtype) }
      })
  }

  /// The same from a file's size, its bytes in a range (the header's) and the values of a tensor
  /// (its first byte, element count and dtype), so that a file's tensors can be read straight into
  /// their arrays.
  static func decode(
    fileSize: Int, file: String, bytes: (Range<Int>) throws(PipelineError) -> [UInt8],
    values: (Int, Int, String) throws(PipelineError) -> [Float]
  ) throws(PipelineError) -> (tensors: [Tensor], metadata: [String: String]) {
    func fail(_ reason: String) -> PipelineError {
      .invalidArtifact("'\(file)' is not a valid safetensors file: \(reason)")
    }
    guard fileSize >= 8 else { throw fail("it has \(fileSize) bytes, fewer than the 8-byte header length") }
    var length: UInt64 = 0
    for (index, byte) in try bytes(0..<8).enumerated() { length |= UInt64(byte) << UInt64(8 * index) }
    guard length <= UInt64(fileSize - 8) else {
      throw fail("the header length \(length) runs past the end of the file (\(fileSize) bytes)")
    }
    let dataStart = 8 + Int(length)
    let header: JSONValue
    let headerBytes = try bytes(8..<dataStart)
    do {
      header = try JSONParser.parse(headerBytes)
    } catch {
      throw fail("its JSON header: \(error.reason) at byte \(8 + error.offset)")
    }
    guard let entries = header.objectValue else { throw fail("the header is not a JSON object") }
    var metadata: [String: String] = [:]
    var located: [(begin: Int, end: Int, tensor: Tensor)] = []
    for name in entries.keys.sorted() {
      let entry = entries[name]!
      if name == "__metadata__" {
        guard let object = entry.objectValue else { throw fail("'__metadata__' is not an object") }
        for (key, value) in object {
          guard let text = value.stringValue else { throw fail("'__metadata__.\(key)' is not a string") }
          metadata[key] = text
        }
        continue
      }
      guard let dtype = entry["dtype"]?.stringValue else { throw fail("tensor '\(name)': field 'dtype' is missing") }
      guard let size = elementSizes[dtype] else {
        throw fail(
          "tensor '\(name)': dtype '\(dtype)' is not supported (F32, F64, F16, BF16 are); convert it to float32")
      }
      guard let shapeValues = entry["shape"]?.arrayValue,
        case let shape = shapeValues.compactMap({ $0.integerValue.map(Int.init) }), shape.count == shapeValues.count,
        shape.allSatisfy({ $0 >= 0 })
      else { throw fail("tensor '\(name)': field 'shape' must be a list of non-negative integers") }
      guard let offsetValues = entry["data_offsets"]?.arrayValue, offsetValues.count == 2,
        let begin = offsetValues[0].integerValue, let end = offsetValues[1].integerValue, begin >= 0, begin <= end
      else { throw fail("tensor '\(name)': field 'data_offsets' must be [begin, end] with 0 <= begin <= end") }
      let count = shape.reduce(1, *)
      guard Int(end - begin) == count * size else {
        throw fail(
          "tensor '\(name)': data_offsets span \(end - begin) bytes, but shape \(shape) of \(dtype) needs \(count * size)"
        )
      }
      guard dataStart + Int(end) <= fileSize else {
        throw fail(
          "tensor '\(name)': data ends at byte \(dataStart + Int(end)), past the end of the file (\(fileSize) bytes); the file is truncated"
        )
      }
      located.append(
        (
          Int(begin), Int(end),
          Tensor(name: name, shape: shape, values: try values(dataStart + Int(begin), count, dtype))
        ))
    }
    located.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
    var expected = 0
    for entry in located {
      guard entry.begin == expected else {
        throw fail(
          "tensor '\(entry.tensor.name)' starts at data offset \(entry.begin), expected \(expected) (tensors must tile the data without gaps or overlaps)"
        )
      }
      expected = entry.end
    }
    guard dataStart + expected == fileSize else {
      throw fail("the tensors end at byte \(dataStart + expected), but the file has \(fileSize) bytes")
    }
    return (located.map(\.tensor), metadata)
  }

  public static func read(_ path: String) throws(PipelineError) -> (tensors: [Tensor], metadata: [String: String]) {
    // Each tensor's data straight from the file into its array (float32) or through its own bytes.
    let file = try FileSystem.openForReading(path)
    return try decode(
      fileSize: file.size, file: path,
      bytes: { (range) throws(PipelineError) in
        try file.read(at: range.lowerBound, count: range.count)
      },
      values: { (start, count, dtype) throws(PipelineError) in
        #if _endian(little)
          if dtype == "F32" { return try file.read(Float.self, at: start, count: count) }
        #endif
        let bytes = try file.read(at: start, count: count * elementSizes[dtype]!)
        return bytes.withUnsafeBytes { decodeValues($0, start: 0, count: count, dtype: dtype) }
      })
  }

  static func decodeValues(_ raw: UnsafeRawBufferPointer, start: Int, count: Int, dtype: String) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { output, initialized in
      #if _endian(little)
        if dtype == "F32" {
          UnsafeMutableRawBufferPointer(output).copyMemory(
            from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + 4 * count)]))
          initialized = count
          return
        }
      #endif
      for index in 0..<count {
        switch dtype {
        case "F32":
          output[index] = Float(
            bitPattern: raw.loadUnaligned(fromByteOffset: start + 4 * index, as: UInt32.self).littleEndian)
        case "F64":
          output[index] = Float(
            Double(bitPattern: raw.loadUnaligned(fromByteOffset: start + 8 * index, as: UInt64.self).littleEndian))
        case "F16":
          output[index] = Float(
            Float16(bitPattern: raw.loadUnaligned(fromByteOffset: start + 2 * index, as: UInt16.self).littleEndian))
        default:  // BF16: the high half of a float32
          let bits = UInt32(raw.loadUnaligned(fromByteOffset: start + 2 * index, as: UInt16.self).littleEndian) << 16
          output[index] = Float(bitPattern: bits)
        }
      }
      initialized = count
    }
  }
}
