#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An open-addressing hash table from byte strings to short lists of token ids: the vocabulary by
/// bytes (one id each) and the word cache (a word's ids).
///
/// Keys and values live in two arenas, so an insert allocates only when an arena or the slot array
/// grows. Not thread-safe; the vocabulary table is never mutated after it is built.
final class ByteStringMap: @unchecked Sendable {  // shared only when no longer mutated
  private struct Slot {
    /// 0 marks an empty slot (real hashes have the low bit set).
    var hash: UInt64
    var keyOffset: UInt32
    var keyLength: UInt32
    var valueOffset: UInt32
    var valueCount: UInt32
  }

  private var slots: UnsafeMutablePointer<Slot>
  private var capacity: Int
  private var keyBytes: UnsafeMutablePointer<UInt8>
  private var keyCapacity: Int
  private var keyCount = 0
  private(set) var values: UnsafeMutablePointer<UInt32>
  private var valueCapacity: Int
  private var valueCount = 0
  /// The number of keys.
  private(set) var count = 0

  init(minimumCapacity: Int = 1024) {
    var capacity = 16
    while capacity < minimumCapacity * 2 { capacity <<= 1 }
    self.capacity = capacity
    slots = .allocate(capacity: capacity)
    slots.initialize(
      repeating: Slot(hash: 0, keyOffset: 0, keyLength: 0, valueOffset: 0, valueCount: 0), count: capacity)
    keyCapacity = max(64, minimumCapacity * 8)
    keyBytes = .allocate(capacity: keyCapacity)
    valueCapacity = max(64, minimumCapacity * 2)
    values = .allocate(capacity: valueCapacity)
  }

  deinit {
    slots.deallocate()
    keyBytes.deallocate()
    values.deallocate()
  }

  /// A 64-bit hash of the bytes, never 0.
  @inline(__always)
  static func hash(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(truncatingIfNeeded: count &+ 1)
    var index = 0
    while index + 8 <= count {
      let word = UnsafeRawPointer(bytes + index).loadUnaligned(as: UInt64.self)
      state = (state ^ word) &* 0xBF58_476D_1CE4_E5B9
      state ^= state >> 31
      index += 8
    }
    if index < count {
      var word: UInt64 = 0
      var shift: UInt64 = 0
      while index < count {
        word |= UInt64(bytes[index]) << shift
        shift += 8
        index += 1
      }
      state = (state ^ word) &* 0x94D0_49BB_1331_11EB
      state ^= state >> 29
    }
    state = state &* 0xBF58_476D_1CE4_E5B9
    state ^= state >> 32
    return state | 1
  }

  /// The values of `key`: their offset into `values` and their count, or `nil`.
  @inline(__always)
  func find(_ key: UnsafePointer<UInt8>, _ length: Int) -> (offset: Int, count: Int)? {
    let hash = Self.hash(key, length)
    var slot = Int(truncatingIfNeeded: hash >> 7) & (capacity - 1)
    while true {
      let entry = slots[slot]
      if entry.hash == 0 { return nil }
      if entry.hash == hash && Int(entry.keyLength) == length
        && memcmp(keyBytes + Int(entry.keyOffset), key, length) == 0
      {
        return (Int(entry.valueOffset), Int(entry.valueCount))
      }
      slot = (slot + 1) & (capacity - 1)
    }
  }

  /// Adds a key that is not in the table yet.
  func insert(_ key: UnsafePointer<UInt8>, _ length: Int, values newValues: UnsafePointer<UInt32>, count: Int) {
    if (self.count + 1) * 2 > capacity { grow() }
    if keyCount + length > keyCapacity {
      keyBytes = Self.enlarge(keyBytes, used: keyCount, capacity: &keyCapacity, needed: keyCount + length)
    }
    if valueCount + count > valueCapacity {
      values = Self.enlarge(values, used: valueCount, capacity: &valueCapacity, needed: valueCount + count)
    }
    (keyBytes + keyCount).update(from: key, count: length)
    (values + valueCount).update(from: newValues, count: count)
    let hash = Self.hash(key, length)
    var slot = Int(truncatingIfNeeded: hash >> 7) & (capacity - 1)
    while slots[slot].hash != 0 { slot = (slot + 1) & (capacity - 1) }
    slots[slot] = Slot(
      hash: hash, keyOffset: UInt32(keyCount), keyLength: UInt32(length), valueOffset: UInt32(valueCount),
      valueCount: UInt32(count))
    keyCount += length
    valueCount += count
    self.count += 1
  }

  /// Adds a key with one value.
  func insert(_ key: [UInt8], value: UInt32) {
    var value = value
    key.withUnsafeBufferPointer { buffer in
      insert(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!, buffer.count, values: &value, count: 1)
    }
  }

  /// Empties the table, keeping its memory.
  func removeAll() {
    slots.update(repeating: Slot(hash: 0, keyOffset: 0, keyLength: 0, valueOffset: 0, valueCount: 0), count: capacity)
    count = 0
    keyCount = 0
    valueCount = 0
  }

  /// Bytes held by the arenas, to bound a cache.
  var arenaBytes: Int { keyCount + valueCount * 4 }

  private func grow() {
    let oldSlots = slots
    let oldCapacity = capacity
    capacity *= 2
    slots = .allocate(capacity: capacity)
    slots.initialize(
      repeating: Slot(hash: 0, keyOffset: 0, keyLength: 0, valueOffset: 0, valueCount: 0), count: capacity)
    for index in 0..<oldCapacity where oldSlots[index].hash != 0 {
      var slot = Int(truncatingIfNeeded: oldSlots[index].hash >> 7) & (capacity - 1)
      while slots[slot].hash != 0 { slot = (slot + 1) & (capacity - 1) }
      slots[slot] = oldSlots[index]
    }
    oldSlots.deallocate()
  }

  private static func enlarge<Element>(
    _ buffer: UnsafeMutablePointer<Element>, used: Int, capacity: inout Int, needed: Int
  ) -> UnsafeMutablePointer<Element> {
    var newCapacity = capacity * 2
    while newCapacity < needed { newCapacity *= 2 }
    let larger = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
    larger.moveInitialize(from: buffer, count: used)
    buffer.deallocate()
    capacity = newCapacity
    return larger
  }
}
