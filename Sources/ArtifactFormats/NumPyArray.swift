import Foundation
import PipelineCore

/// Element types we write to `.npy` files, with their NumPy `descr`.
public protocol NumPyElement: Sendable, BitwiseCopyable {
  static var numpyDescriptor: String { get }
}
extension UInt8: NumPyElement { public static var numpyDescriptor: String { "|u1" } }
extension Int32: NumPyElement { public static var numpyDescriptor: String { "<i4" } }
extension UInt32: NumPyElement { public static var numpyDescriptor: String { "<u4" } }
extension Int64: NumPyElement { public static var numpyDescriptor: String { "<i8" } }
extension UInt64: NumPyElement { public static var numpyDescriptor: String { "<u8" } }
extension Float: NumPyElement { public static var numpyDescriptor: String { "<f4" } }
extension Double: NumPyElement { public static var numpyDescriptor: String { "<f8" } }

/// The header of a NumPy `.npy` v1.0 file.
public struct NumPyHeader: Equatable, Sendable {
  public var descriptor: String
  public var shape: [Int]
  /// Where the array data starts (header length, a multiple of 64).
  public var dataOffset: Int

  public var elementCount: Int { shape.reduce(1, *) }
  public var elementSize: Int {
    switch descriptor {
    case "|u1", "|i1", "|b1": return 1
    case "<f2", "<u2", "<i2": return 2
    case "<u4", "<i4", "<f4": return 4
    default: return 8
    }
  }
}

/// NumPy `.npy` v1.0 files (little-endian, C order): what `numpy.load(mmap_mode="r")` reads.
public enum NumPyArray {
  static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]

  /// The header bytes for an array: magic, version 1.0, a little-endian uint16 length, then the
  /// Python dict literal padded with spaces and a newline to a 64-byte boundary.
  public static func headerBytes(descriptor: String, shape: [Int]) -> [UInt8] {
    let shapeText: String
    if shape.count == 1 {
      shapeText = "(\(shape[0]),)"
    } else {
      shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
    var dictionary = "{'descr': '\(descriptor)', 'fortran_order': False, 'shape': \(shapeText), }"
    let unpadded = magic.count + 2 + dictionary.utf8.count + 1
    let padding = (64 - unpadded % 64) % 64
    dictionary += String(repeating: " ", count: padding) + "\n"
    let length = UInt16(dictionary.utf8.count)
    return magic + [UInt8(length & 0xFF), UInt8(length >> 8)] + Array(dictionary.utf8)
  }

  /// Writes a 1-D (or shaped) array.
  public static func write<Element: NumPyElement>(
    _ values: [Element], shape: [Int]? = nil, to path: String
  ) throws(PipelineError) {
    let shape = shape ?? [values.count]
    precondition(shape.reduce(1, *) == values.count, "shape does not match element count")
    var bytes = headerBytes(descriptor: Element.numpyDescriptor, shape: shape)
    values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    try FileSystem.writeFile(path, bytes)
  }

  /// Parses and checks a header; the file size must equal header + data exactly, so a truncated or
  /// padded array is an error that names the file.
  public static func header(of bytes: [UInt8], path: String) throws(PipelineError) -> NumPyHeader {
    try header(prefix: bytes, fileSize: bytes.count, path: path)
  }

  /// The same from the file's first bytes (at least the header's; more are ignored) and its size.
  static func header(prefix bytes: [UInt8], fileSize: Int, path: String) throws(PipelineError) -> NumPyHeader {
    func bad(_ reason: String) -> PipelineError {
      .invalidArtifact("'\(path)' is not a valid .npy v1.0 file: \(reason); regenerate it with `tca run --force`")
    }
    guard bytes.count >= 10, Array(bytes[0..<8]) == magic else { throw bad("bad magic or version at byte 0") }
    let length = Int(bytes[8]) | (Int(bytes[9]) << 8)
    guard fileSize >= 10 + length, bytes.count >= 10 + length else {
      throw bad("header of \(length) bytes is cut off at byte \(fileSize)")
    }
    let text = String(decoding: bytes[10..<(10 + length)], as: UTF8.self)
    guard let descriptor = field(text, "descr"), text.contains("'fortran_order': False") else {
      throw bad("header dict lacks 'descr' or is Fortran-ordered")
    }
    guard let shapeStart = text.range(of: "'shape': ("),
      let shapeEnd = text[shapeStart.upperBound...].firstIndex(of: ")")
    else { throw bad("header dict lacks 'shape'") }
    let shape = text[shapeStart.upperBound..<shapeEnd].split(separator: ",").compactMap {
      Int($0.trimmingCharacters(in: .whitespaces))
    }
    let header = NumPyHeader(descriptor: descriptor, shape: shape, dataOffset: 10 + length)
    let expected = header.dataOffset + header.elementCount * header.elementSize
    guard fileSize == expected else {
      throw bad(
        "data is \(fileSize - header.dataOffset) bytes at byte \(header.dataOffset), shape \(shape) needs \(expected - header.dataOffset) (truncated or padded)"
      )
    }
    return header
  }

  private static func field(_ text: String, _ name: String) -> String? {
    guard let range = text.range(of: "'\(name)': '") else { return nil }
    guard let end = text[range.upperBound...].firstIndex(of: "'") else { return nil }
    return String(text[range.upperBound..<end])
  }

  /// Reads a whole array of the expected element type: the data goes straight from the file into
  /// the array, the only copy held (a split's imported scores are gigabytes).
  public static func read<Element: NumPyElement>(
    _ type: Element.Type, from path: String
  ) throws(PipelineError) -> (values: [Element], shape: [Int]) {
    let file = try FileSystem.openForReading(path)
    // A v1.0 header is at most 10 + 65,535 bytes.
    let header = try header(
      prefix: try file.read(at: 0, count: min(file.size, 10 + 65_535)), fileSize: file.size, path: path)
    guard header.descriptor == Element.numpyDescriptor else {
      throw .invalidArtifact(
        "'\(path)' holds dtype '\(header.descriptor)', expected '\(Element.numpyDescriptor)'; regenerate it with `tca run --force`"
      )
    }
    return (try file.read(Element.self, at: header.dataOffset, count: header.elementCount), header.shape)
  }
}
