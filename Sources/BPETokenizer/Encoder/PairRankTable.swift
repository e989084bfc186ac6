/// The merges of a BPE model as an open-addressing hash table from a pair of token ids to the
/// merge's rank and the id of the merged token.
///
/// A key is `left << 32 | right`; a value is `rank << 32 | mergedID`, so comparing values compares
/// ranks first. Linear probing in a power-of-two table at most half full, hashed by one
/// multiplication: a lookup is usually one cache line, where a `Dictionary` would run SipHash.
final class PairRankTable: @unchecked Sendable {  // immutable after init
  /// The value of an absent pair: larger than every real value.
  static let absent = UInt64.max
  private static let emptyKey = UInt64.max

  private let keys: UnsafeMutablePointer<UInt64>
  private let values: UnsafeMutablePointer<UInt64>
  private let capacity: Int
  private let shift: UInt64
  /// The number of distinct pairs.
  let count: Int

  /// Builds the table; when a pair repeats, its last entry wins (as in `tokenizers`, which collects
  /// merges into a hash map).
  init(_ entries: [(left: UInt32, right: UInt32, rank: UInt32, merged: UInt32)]) {
    var capacity = 16
    while capacity < entries.count * 2 { capacity <<= 1 }
    self.capacity = capacity
    shift = UInt64(64 - capacity.trailingZeroBitCount)
    keys = .allocate(capacity: capacity)
    keys.initialize(repeating: Self.emptyKey, count: capacity)
    values = .allocate(capacity: capacity)
    values.initialize(repeating: Self.absent, count: capacity)
    var distinct = 0
    for entry in entries {
      let key = UInt64(entry.left) << 32 | UInt64(entry.right)
      var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
      while keys[slot] != Self.emptyKey && keys[slot] != key { slot = (slot + 1) & (capacity - 1) }
      if keys[slot] == Self.emptyKey { distinct += 1 }
      keys[slot] = key
      values[slot] = UInt64(entry.rank) << 32 | UInt64(entry.merged)
    }
    count = distinct
  }

  deinit {
    keys.deallocate()
    values.deallocate()
  }

  /// `rank << 32 | mergedID` of the pair, or `absent`.
  @inline(__always)
  func value(_ left: UInt32, _ right: UInt32) -> UInt64 {
    let key = UInt64(left) << 32 | UInt64(right)
    var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    while true {
      let found = keys[slot]
      if found == key { return values[slot] }
      if found == Self.emptyKey { return Self.absent }
      slot = (slot + 1) & (capacity - 1)
    }
  }

  /// Every entry as `(left, right, rank, merged)`, in no particular order.
  func entries() -> [(left: UInt32, right: UInt32, rank: UInt32, merged: UInt32)] {
    var result: [(left: UInt32, right: UInt32, rank: UInt32, merged: UInt32)] = []
    result.reserveCapacity(count)
    for slot in 0..<capacity where keys[slot] != Self.emptyKey {
      let key = keys[slot]
      let value = values[slot]
      result.append(
        (
          UInt32(truncatingIfNeeded: key >> 32), UInt32(truncatingIfNeeded: key),
          UInt32(truncatingIfNeeded: value >> 32),
          UInt32(truncatingIfNeeded: value)
        ))
    }
    return result
  }
}
