/// Numbers raw id strings (reviewer ids, ASINs) by first appearance, looked up by their UTF-8
/// bytes so that a line's id needs no `String` unless it is new.
///
/// `keys` and `index` are what a `[String: UInt32]` numbering gives: ids are the same id when
/// their strings are equal, which for Swift means canonically equivalent ("K" and the Kelvin sign
/// U+212A are one id). The byte table in front of `index` is only a cache: a byte sequence it has
/// not seen is decoded once, looked up in `index` (where a canonically equivalent id may already
/// be), and remembered with the index it got. Its slots hold the first 24 bytes of their id; the
/// bytes of longer ids are kept in one contiguous buffer.
struct RawIDInterner {
  /// The ids by index: the first string seen of each.
  private(set) var keys: [String] = []
  /// The index of each id (of `keys`).
  private(set) var index: [String: UInt32] = [:]

  /// Open addressing with linear probing; a slot holds its id's first 24 bytes (zero-padded), so
  /// a lookup of a short id reads one slot and nothing else.
  private var slots: [Slot] = Array(repeating: Slot(), count: 1024)
  private var occupied = 0
  /// The whole bytes of the ids longer than `Slot.inlineBytes`, back to back.
  private var longKeyBytes: [UInt8] = []

  fileprivate struct Slot {
    static let inlineBytes = 24
    var word0: UInt64 = 0
    var word1: UInt64 = 0
    /// Bytes 16..<24, or for a longer id the offset of its bytes in `longKeyBytes`.
    var word2: UInt64 = 0
    /// 0 when empty, else `1 << 63 | length << 32 | index`.
    var meta: UInt64 = 0
  }

  /// The index of `key`, a new one (the next) when it is new.
  mutating func index(of key: String) -> UInt32 {
    if let known = index[key] { return known }
    let new = UInt32(keys.count)
    index[key] = new
    keys.append(key)
    return new
  }

  /// A short id (at most `Slot.inlineBytes` bytes) ready to be looked up: its zero-padded bytes
  /// and hash. Probes let a caller load the slots of several ids at once (`touch`), so that their
  /// cache misses overlap, before looking them up in order (`index(of:)`).
  struct Probe {
    var word0: UInt64
    var word1: UInt64
    var word2: UInt64
    var count: Int
    var hash: UInt64

    /// The probe of `bytes`, or `nil` when the id is longer than a slot holds.
    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
      guard bytes.count <= Slot.inlineBytes else { return nil }
      word0 = RawIDInterner.word(bytes, 0)
      word1 = RawIDInterner.word(bytes, 8)
      word2 = RawIDInterner.word(bytes, 16)
      count = bytes.count
      hash = RawIDInterner.hash(word0, word1, word2, count: count)
    }
  }

  /// Reads the first slot `probe` looks at (to bring it into the cache); the result means nothing.
  @inline(__always)
  func touch(_ probe: Probe) -> UInt64 {
    slots.withUnsafeBufferPointer { $0[Int(truncatingIfNeeded: probe.hash) & ($0.count - 1)].meta }
  }

  /// The index of the id whose UTF-8 bytes are `bytes`, a new one when it is new.
  /// - Precondition: `bytes` is valid UTF-8.
  /// - Complexity: O(`bytes.count`) expected; a `String` is made only for bytes not seen before.
  mutating func index(ofUTF8 bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
    if let probe = Probe(bytes) { return index(of: probe) }
    let hash = Self.hash(bytes)
    let meta = 1 << 63 | UInt64(bytes.count) << 32
    let word0 = Self.word(bytes, 0)
    let word1 = Self.word(bytes, 8)
    if let found = find(hash: hash, meta: meta, word0, word1, { sameLongKey(at: Int($0), bytes) }) { return found }
    let value = index(of: String(decoding: bytes, as: UTF8.self))
    let offset = UInt64(longKeyBytes.count)
    longKeyBytes.append(contentsOf: bytes)
    insert(Slot(word0: word0, word1: word1, word2: offset, meta: meta | UInt64(value)), hash: hash)
    return value
  }

  /// The index of the short id `probe` describes, a new one when it is new.
  /// - Precondition: the id's bytes are valid UTF-8.
  mutating func index(of probe: Probe) -> UInt32 {
    let meta = 1 << 63 | UInt64(probe.count) << 32
    let word2 = probe.word2
    if let found = find(hash: probe.hash, meta: meta, probe.word0, probe.word1, { $0 == word2 }) { return found }
    let text = withUnsafeBytes(of: (probe.word0.littleEndian, probe.word1.littleEndian, word2.littleEndian)) {
      String(decoding: $0.prefix(probe.count), as: UTF8.self)
    }
    let value = index(of: text)
    insert(Slot(word0: probe.word0, word1: probe.word1, word2: word2, meta: meta | UInt64(value)), hash: probe.hash)
    return value
  }

  /// The index stored for the id with this hash, length (`meta`) and first 16 bytes, whose
  /// `word2` passes `sameRest`; `nil` when there is none.
  @inline(__always)
  private func find(
    hash: UInt64, meta: UInt64, _ word0: UInt64, _ word1: UInt64, _ sameRest: (UInt64) -> Bool
  ) -> UInt32? {
    slots.withUnsafeBufferPointer { slots in
      let mask = slots.count - 1
      var slot = Int(truncatingIfNeeded: hash) & mask
      while true {
        let candidate = slots[slot]
        if candidate.meta == 0 { return nil }
        if candidate.meta & 0xFFFF_FFFF_0000_0000 == meta && candidate.word0 == word0 && candidate.word1 == word1
          && sameRest(candidate.word2)
        {
          return UInt32(truncatingIfNeeded: candidate.meta)
        }
        slot = (slot + 1) & mask
      }
    }
  }

  /// Whether the long id stored at `offset` of `longKeyBytes` has the bytes `bytes` (whose length
  /// is the stored one).
  private func sameLongKey(at offset: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    longKeyBytes.withUnsafeBufferPointer { stored in
      UnsafeBufferPointer(rebasing: stored[offset..<(offset + bytes.count)]).elementsEqual(bytes)
    }
  }

  /// Adds a new id's slot, growing the table past half full.
  private mutating func insert(_ slot: Slot, hash: UInt64) {
    place(slot, hash: hash)
    occupied += 1
    if occupied * 2 > slots.count { grow() }
  }

  private mutating func place(_ slot: Slot, hash: UInt64) {
    let mask = slots.count - 1
    var position = Int(truncatingIfNeeded: hash) & mask
    while slots[position].meta != 0 { position = (position + 1) & mask }
    slots[position] = slot
  }

  /// Doubles the slots and re-inserts every id.
  private mutating func grow() {
    let old = slots
    slots = Array(repeating: Slot(), count: old.count * 2)
    for slot in old where slot.meta != 0 {
      let count = Int(truncatingIfNeeded: (slot.meta >> 32) & 0x7FFF_FFFF)
      let hash: UInt64
      if count > Slot.inlineBytes {
        let offset = Int(slot.word2)
        hash = longKeyBytes.withUnsafeBufferPointer {
          Self.hash(UnsafeBufferPointer(rebasing: $0[offset..<(offset + count)]))
        }
      } else {
        hash = Self.hash(slot.word0, slot.word1, slot.word2, count: count)
      }
      place(slot, hash: hash)
    }
  }

  /// Bytes `offset..<offset + 8` of `bytes` as a little-endian word, zero past the end.
  @inline(__always)
  fileprivate static func word(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int) -> UInt64 {
    let count = bytes.count
    if offset + 8 <= count {
      return UnsafeRawPointer(bytes.baseAddress! + offset).loadUnaligned(as: UInt64.self).littleEndian
    }
    var word: UInt64 = 0
    var index = offset
    while index < count {
      word |= UInt64(bytes[index]) << (8 * UInt64(index - offset))
      index += 1
    }
    return word
  }

  /// The hash of an id of at most `Slot.inlineBytes` bytes, from its zero-padded words.
  @inline(__always)
  fileprivate static func hash(_ word0: UInt64, _ word1: UInt64, _ word2: UInt64, count: Int) -> UInt64 {
    mix(mix(mix(UInt64(count) &* 0x9E37_79B9_7F4A_7C15 ^ word0) ^ word1) ^ word2)
  }

  /// The hash of a longer id: its zero-padded words, as for a short one, continued.
  private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var hash = UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15
    var offset = 0
    while offset < bytes.count {
      hash = mix(hash ^ word(bytes, offset))
      offset += 8
    }
    return hash
  }

  @inline(__always)
  private static func mix(_ value: UInt64) -> UInt64 {
    var value = value &* 0xBF58_476D_1CE4_E5B9
    value ^= value >> 31
    value = value &* 0x94D0_49BB_1331_11EB
    return value ^ (value >> 29)
  }
}
