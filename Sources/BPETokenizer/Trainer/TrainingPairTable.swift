/// The trainer's index of adjacent token pairs: for each pair, its current weighted count (the sum of
/// the counts of the words it occurs in, once per occurrence) and the words it occurs in.
///
/// Pairs are keyed by `left << 32 | right` and numbered densely in order of first insertion; the
/// key-to-number map is open addressing with linear probing, which is several times faster than a
/// `Dictionary` for this one hot lookup.
///
/// A pair's word list may hold words that no longer contain it (an overlapping merge consumed the
/// occurrence); merging skips them. A word is appended at most once per merge step (`lastWord`).
struct TrainingPairTable {
  private static let emptySlot = UInt64.max

  private var slotKeys: [UInt64]
  private var slotPairs: [Int32]
  private var mask: Int

  /// Pair keys, by pair number.
  private(set) var keys: [UInt64] = []
  /// Current weighted counts, by pair number.
  var counts: [Int64] = []
  /// The words each pair occurs (or once occurred) in, by pair number.
  var words: [[Int32]] = []
  /// The last word appended to each pair's list, to skip repeats within a merge step.
  var lastWord: [Int32] = []

  init(capacity: Int) {
    var slots = 16
    while slots < capacity * 2 { slots <<= 1 }
    slotKeys = [UInt64](repeating: Self.emptySlot, count: slots)
    slotPairs = [Int32](repeating: -1, count: slots)
    mask = slots - 1
    keys.reserveCapacity(capacity)
    counts.reserveCapacity(capacity)
    words.reserveCapacity(capacity)
    lastWord.reserveCapacity(capacity)
  }

  static func key(_ left: UInt32, _ right: UInt32) -> UInt64 { UInt64(left) << 32 | UInt64(right) }

  @inline(__always)
  private static func slot(of key: UInt64, mask: Int) -> Int {
    // Fibonacci hashing: the high bits of the product mix both halves of the key.
    Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
  }

  /// The number of the pair, or `nil` when it has never been seen.
  func find(_ key: UInt64) -> Int? {
    var slot = Self.slot(of: key, mask: mask)
    while true {
      let stored = slotKeys[slot]
      if stored == key { return Int(slotPairs[slot]) }
      if stored == Self.emptySlot { return nil }
      slot = (slot + 1) & mask
    }
  }

  /// The number of the pair, added with count 0 and no words when new.
  ///
  /// - Complexity: amortised O(1).
  @inline(__always)
  mutating func number(of key: UInt64) -> Int {
    var slot = Self.slot(of: key, mask: mask)
    while true {
      let stored = slotKeys[slot]
      if stored == key { return Int(slotPairs[slot]) }
      if stored == Self.emptySlot { break }
      slot = (slot + 1) & mask
    }
    let number = keys.count
    slotKeys[slot] = key
    slotPairs[slot] = Int32(number)
    keys.append(key)
    counts.append(0)
    words.append([])
    lastWord.append(-1)
    if keys.count * 2 > slotKeys.count { grow() }
    return number
  }

  /// Adds `delta` to the pair's count and, when `word` is given, records that the pair occurs in it.
  /// Returns the pair's number.
  @discardableResult @inline(__always)
  mutating func add(_ key: UInt64, _ delta: Int64, word: Int32?) -> Int {
    let number = number(of: key)
    counts[number] += delta
    if let word, lastWord[number] != word {
      lastWord[number] = word
      words[number].append(word)
    }
    return number
  }

  private mutating func grow() {
    let slots = slotKeys.count * 2
    slotKeys = [UInt64](repeating: Self.emptySlot, count: slots)
    slotPairs = [Int32](repeating: -1, count: slots)
    mask = slots - 1
    for (number, key) in keys.enumerated() {
      var slot = Self.slot(of: key, mask: mask)
      while slotKeys[slot] != Self.emptySlot { slot = (slot + 1) & mask }
      slotKeys[slot] = key
      slotPairs[slot] = Int32(number)
    }
  }
}
