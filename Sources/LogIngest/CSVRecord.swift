/// One CSV record: its fields' bytes back to back, with where each field ends.
public struct CSVRecord {
  public private(set) var bytes: [UInt8] = []
  public private(set) var ends: [Int] = []

  public var count: Int { ends.count }

  public mutating func removeAll() {
    bytes.removeAll(keepingCapacity: true)
    ends.removeAll(keepingCapacity: true)
  }

  @inline(__always)
  public mutating func append(_ byte: UInt8) { bytes.append(byte) }

  public mutating func append(_ run: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: run) }

  public mutating func endField() { ends.append(bytes.count) }

  public func range(_ index: Int) -> Range<Int> {
    (index == 0 ? 0 : ends[index - 1])..<ends[index]
  }

  /// Calls `body` with the bytes of field `index`, valid only during the call.
  public func withField<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result
  {
    try bytes.withUnsafeBufferPointer { try body($0[field: range(index)]) }
  }

  /// Field `index` decoded as UTF-8 (invalid sequences repaired).
  public func string(_ index: Int) -> String {
    withField(index) { String(decoding: $0, as: UTF8.self) }
  }
}
