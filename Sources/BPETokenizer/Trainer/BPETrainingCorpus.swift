/// The words a BPE trainer learns from: distinct byte strings with their counts, in order of first
/// appearance.
///
/// A word is what the pre-tokenizer yields for a piece of text (GPT-2's regex splits
/// `"Lego set"` into `"Lego"` and `" set"`); merges never cross word boundaries. Words are kept as raw
/// UTF-8 bytes, never as `String`s, because Swift compares strings by canonical equivalence and
/// would count `"é"` (U+00E9) and `"e\u{301}"` as one word though their bytes, and so their tokens,
/// differ.
///
/// The distinct words live in one byte buffer behind an open-addressing hash table, so counting a
/// word that was seen before allocates nothing.
public struct BPETrainingCorpus: Sendable {
  /// How often each distinct word occurs, in order of first appearance.
  public private(set) var counts: [Int] = []
  /// How many texts were added with `add(_:preset:)`.
  public private(set) var textCount = 0
  /// Word occurrences in all: the sum of `counts`.
  public private(set) var occurrenceCount = 0

  /// The distinct words' bytes, concatenated; word `i` is `bytes[offsets[i]..<offsets[i + 1]]`.
  private var bytes: [UInt8] = []
  private var offsets: [Int] = [0]
  private var hashes: [UInt64] = []
  /// Word numbers by hash slot, `-1` where empty.
  private var slots = [Int32](repeating: -1, count: 1024)

  public init() {}

  /// The number of distinct words.
  public var wordCount: Int { counts.count }

  /// The bytes of distinct word `index`.
  public func word(_ index: Int) -> ArraySlice<UInt8> { bytes[offsets[index]..<offsets[index + 1]] }

  /// The distinct words, in order of first appearance.
  public var words: [[UInt8]] { (0..<wordCount).map { Array(word($0)) } }

  /// Calls `body` with the bytes of every distinct word, in order, without copying.
  func forEachWord(_ body: (Int, UnsafeBufferPointer<UInt8>) -> Void) {
    bytes.withUnsafeBufferPointer { buffer in
      for index in 0..<wordCount {
        body(index, UnsafeBufferPointer(rebasing: buffer[offsets[index]..<offsets[index + 1]]))
      }
    }
  }

  /// Adds `count` occurrences of one word, given as bytes, without pre-tokenizing it.
  ///
  /// Empty words are ignored (they have no bytes to merge).
  ///
  /// - Complexity: O(*n*) in the word's length, amortised.
  public mutating func add(word: UnsafeBufferPointer<UInt8>, count: Int = 1) {
    precondition(count >= 0, "a word count cannot be negative")
    guard !word.isEmpty, count > 0 else { return }
    occurrenceCount += count
    // FNV-1a: words are short, and this is the one hash computed per word occurrence.
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in word { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    let mask = slots.count - 1
    var slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
    while true {
      let number = Int(slots[slot])
      if number < 0 { break }
      if hashes[number] == hash && matches(number, word) {
        counts[number] += count
        return
      }
      slot = (slot + 1) & mask
    }
    slots[slot] = Int32(counts.count)
    hashes.append(hash)
    counts.append(count)
    bytes.append(contentsOf: word)
    offsets.append(bytes.count)
    if counts.count * 2 > slots.count { grow() }
  }

  /// Adds `count` occurrences of one word, given as bytes, without pre-tokenizing it.
  public mutating func add(word: some Collection<UInt8>, count: Int = 1) {
    Array(word).withUnsafeBufferPointer { add(word: $0, count: count) }
  }

  /// Adds `count` occurrences of one word, given as text (its UTF-8 bytes), without pre-tokenizing it.
  public mutating func add(word: String, count: Int = 1) {
    add(word: word.utf8, count: count)
  }

  private func matches(_ number: Int, _ word: UnsafeBufferPointer<UInt8>) -> Bool {
    let start = offsets[number]
    guard offsets[number + 1] - start == word.count else { return false }
    return bytes.withUnsafeBufferPointer { buffer in
      for index in 0..<word.count where buffer[start + index] != word[index] { return false }
      return true
    }
  }

  private mutating func grow() {
    slots = [Int32](repeating: -1, count: slots.count * 2)
    let mask = slots.count - 1
    for (number, hash) in hashes.enumerated() {
      var slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
      while slots[slot] >= 0 { slot = (slot + 1) & mask }
      slots[slot] = Int32(number)
    }
  }
}

extension BPETrainingCorpus {
  /// Pre-tokenizes `text` with the preset's regex (the pieces `tokenizers`' pre-tokenizer yields,
  /// before the byte-level mapping) and adds each piece as one word.
  ///
  /// - Complexity: O(*n*) in the text's UTF-8 length.
  public mutating func add(_ text: String, preset: PreTokenizerPreset) {
    textCount += 1
    var text = text
    text.withUTF8 { bytes in
      preset.forEachPiece(in: bytes) { piece in add(word: piece) }
    }
  }
}
