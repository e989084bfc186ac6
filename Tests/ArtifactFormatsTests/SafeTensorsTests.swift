import ArtifactFormats
import PipelineCore
import TestSupport
import Testing

@Suite struct SafeTensorsTests {
  let tensors = [
    SafeTensors.Tensor(name: "b.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5]),
    SafeTensors.Tensor(name: "a", shape: [1], values: [0.25]),
    SafeTensors.Tensor(name: "empty", shape: [0, 4], values: []),
  ]

  @Test func roundTripsTensorsAndMetadataInDataOrder() throws {
    let bytes = SafeTensors.encode(tensors, metadata: ["format": "test"])
    let (decoded, metadata) = try SafeTensors.decode(bytes, file: "t.safetensors")
    #expect(decoded == tensors)
    #expect(metadata == ["format": "test"])
    // The header length is a multiple of 8 and the header is canonical JSON padded with spaces.
    let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    #expect(length % 8 == 0)
    #expect(String(decoding: bytes[8..<16], as: UTF8.self) == "{\"__meta")
    #expect(bytes.count == 8 + length + 4 * 7)
    #expect(SafeTensors.encode(tensors, metadata: ["format": "test"]) == bytes)
  }

  @Test func readsFloat16BFloat16AndFloat64() throws {
    // One value of each dtype: 1.5 as F16 (0x3E00), as BF16 (0x3FC0), as F64.
    let header =
      #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]},"d":{"dtype":"F64","shape":[1],"data_offsets":[4,12]}}"#
    var bytes: [UInt8] = []
    let count = UInt64(header.utf8.count)
    for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: count >> UInt64(shift))) }
    bytes += Array(header.utf8) + [0x00, 0x3E, 0xC0, 0x3F]
    withUnsafeBytes(of: (1.5 as Double).bitPattern.littleEndian) { bytes += $0 }
    let decoded = try SafeTensors.decode(bytes, file: "mixed").tensors
    #expect(decoded.map(\.name) == ["h", "b", "d"])
    #expect(decoded.allSatisfy { $0.values == [1.5] })
  }

  @Test func refusesTruncatedAndInconsistentFilesNamingTheTensor() throws {
    let bytes = SafeTensors.encode(tensors)
    let truncated = errorMessage { _ = try SafeTensors.decode(Array(bytes.dropLast(3)), file: "m.safetensors") }
    #expect(truncated.contains("'m.safetensors'") && truncated.contains("truncated"), "\(truncated)")
    let short = errorMessage { _ = try SafeTensors.decode([1, 2, 3], file: "m.safetensors") }
    #expect(short.contains("fewer than the 8-byte header length"), "\(short)")
    let header = #"{"x":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#
    var odd: [UInt8] = [UInt8(header.utf8.count), 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8) + [0]
    let dtype = errorMessage { _ = try SafeTensors.decode(odd, file: "m") }
    #expect(dtype.contains("tensor 'x': dtype 'I8' is not supported"), "\(dtype)")
    let floatHeader = #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,1]}}"#
    odd = [UInt8(floatHeader.utf8.count), 0, 0, 0, 0, 0, 0, 0] + Array(floatHeader.utf8) + [0]
    let span = errorMessage { _ = try SafeTensors.decode(odd, file: "m") }
    #expect(span.contains("span 1 bytes, but shape [1] of F32 needs 4"), "\(span)")
  }

  @Test func writesEncodesBytesAndReadsFilesStraightIntoTheirArrays() throws {
    let directory = try TemporaryDirectory()
    let path = directory.path + "/m.safetensors"
    try SafeTensors.write(tensors, metadata: ["format": "test"], to: path)
    let bytes = try FileSystem.readFile(path)
    #expect(bytes == SafeTensors.encode(tensors, metadata: ["format": "test"]))
    let (read, metadata) = try SafeTensors.read(path)
    #expect(read == tensors && metadata == ["format": "test"])
    // From a file, a truncated tensor and a short file give the errors decoding their bytes gives.
    try FileSystem.writeFile(path, Array(bytes.dropLast(3)))
    let truncated = errorMessage { _ = try SafeTensors.read(path) }
    #expect(truncated.contains("m.safetensors'") && truncated.contains("truncated"), "\(truncated)")
    try FileSystem.writeFile(path, [1, 2, 3] as [UInt8])
    let short = errorMessage { _ = try SafeTensors.read(path) }
    #expect(short.contains("fewer than the 8-byte header length"), "\(short)")
    // Other dtypes from a file: F16 and BF16 1.5.
    let header =
      #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}"#
    var mixed: [UInt8] = [UInt8(header.utf8.count), 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8)
    mixed += [0x00, 0x3E, 0xC0, 0x3F]
    try FileSystem.writeFile(path, mixed)
    #expect(try SafeTensors.read(path).tensors.map(\.values) == [[1.5], [1.5]])
  }
}
