import PipelineCore

/// A byte-level BPE model: the vocabulary, the merges as a pair table, and the rules for bytes the
/// vocabulary lacks. It turns one pre-tokenized piece (UTF-8 bytes) into token ids exactly as the
/// `BPE` model of `tokenizers` does (or, for tiktoken rank files, as tiktoken does).
///
/// `tokenizers` works on the piece's byte-level string, one character per byte; this model works
/// on the bytes and maps each to the id of its character, which is the same thing without building
/// strings.
final class BytePairModel: @unchecked Sendable {  // immutable after init
  /// How merge priorities are defined.
  enum MergeSource: Sendable, Equatable {
    /// A list of merges; a pair's rank is its position in the list (`tokenizers`, `merges.txt`).
    case mergeList
    /// tiktoken ranks: any two adjacent parts whose concatenation is a token merge, with the
    /// token's rank (= id) as priority.
    case tokenRanks
  }

  /// The model vocabulary (byte-level token strings → id), without added tokens.
  let vocabulary: [String: UInt32]
  let pairs: PairRankTable
  let mergeSource: MergeSource
  /// Token ids by byte value (`UInt32.max` where the byte's character is not in the vocabulary).
  let byteIDs: UnsafeMutablePointer<UInt32>
  /// Whether every byte has an id and no prefix or suffix decorates symbols: the fast path.
  let isPlain: Bool
  /// Vocabulary tokens by their bytes, for `ignoreMerges` (tokens that are not all byte-level
  /// characters can never equal a piece and are left out).
  let tokensByBytes: ByteStringMap
  let ignoreMerges: Bool
  let byteFallback: Bool
  let unknownToken: String?
  let unknownID: UInt32?
  let fuseUnknown: Bool
  let continuingSubwordPrefix: String?
  let endOfWordSuffix: String?

  /// - Parameters:
  ///   - merges: pairs of token strings in rank order; each side and their concatenation (less the
  ///     continuing-subword prefix of the right side) must be in the vocabulary.
  convenience init(
    vocabulary: [String: UInt32], merges: [(String, String)], ignoreMerges: Bool, byteFallback: Bool,
    unknownToken: String?, fuseUnknown: Bool, continuingSubwordPrefix: String?, endOfWordSuffix: String?
  ) throws(PipelineError) {
    var entries: [(left: UInt32, right: UInt32, rank: UInt32, merged: UInt32)] = []
    entries.reserveCapacity(merges.count)
    let prefixLength = continuingSubwordPrefix?.utf8.count ?? 0
    for (rank, merge) in merges.enumerated() {
      guard let left = vocabulary[merge.0] else { throw Self.missingMergeToken(merge.0, rank: rank) }
      guard let right = vocabulary[merge.1] else { throw Self.missingMergeToken(merge.1, rank: rank) }
      let rightText =
        prefixLength == 0 ? merge.1 : String(decoding: merge.1.utf8.dropFirst(prefixLength), as: UTF8.self)
      let mergedText = merge.0 + rightText
      guard let merged = vocabulary[mergedText] else { throw Self.missingMergeToken(mergedText, rank: rank) }
      entries.append((left, right, UInt32(rank), merged))
    }
    try self.init(
      vocabulary: vocabulary, pairs: PairRankTable(entries), mergeSource: .mergeList, ignoreMerges: ignoreMerges,
      byteFallback: byteFallback, unknownToken: unknownToken, fuseUnknown: fuseUnknown,
      continuingSubwordPrefix: continuingSubwordPrefix, endOfWordSuffix: endOfWordSuffix)
  }

  /// A tiktoken model: each token's bytes and rank, which is also its id.
  convenience init(tokenRanks ranks: [(bytes: [UInt8], rank: UInt32)]) throws(PipelineError) {
    var vocabulary: [String: UInt32] = [:]
    vocabulary.reserveCapacity(ranks.count)
    let byBytes = ByteStringMap(minimumCapacity: ranks.count)
    for (bytes, rank) in ranks where !bytes.isEmpty {
      vocabulary[ByteLevelAlphabet.encode(bytes)] = rank
      if let existing = bytes.withUnsafeBufferPointer({ byBytes.find($0.baseAddress!, $0.count) }) {
        byBytes.values[existing.offset] = rank
      } else {
        byBytes.insert(bytes, value: rank)
      }
    }
    // Every split of a token into two tokens is a pair that merges with the token's rank.
    var entries: [(left: UInt32, right: UInt32, rank: UInt32, merged: UInt32)] = []
    for (bytes, rank) in ranks where bytes.count > 1 {
      bytes.withUnsafeBufferPointer { buffer in
        let base = buffer.baseAddress!
        for split in 1..<buffer.count {
          guard let left = byBytes.find(base, split), let right = byBytes.find(base + split, buffer.count - split)
          else { continue }
          entries.append((byBytes.values[left.offset], byBytes.values[right.offset], rank, rank))
        }
      }
    }
    try self.init(
      vocabulary: vocabulary, pairs: PairRankTable(entries), mergeSource: .tokenRanks, ignoreMerges: true,
      byteFallback: false, unknownToken: nil, fuseUnknown: false, continuingSubwordPrefix: nil, endOfWordSuffix: nil)
  }

  private init(
    vocabulary: [String: UInt32], pairs: PairRankTable, mergeSource: MergeSource, ignoreMerges: Bool,
    byteFallback: Bool, unknownToken: String?, fuseUnknown: Bool, continuingSubwordPrefix: String?,
    endOfWordSuffix: String?
  ) throws(PipelineError) {
    self.vocabulary = vocabulary
    self.pairs = pairs
    self.mergeSource = mergeSource
    self.ignoreMerges = ignoreMerges
    self.byteFallback = byteFallback
    self.unknownToken = unknownToken
    self.fuseUnknown = fuseUnknown
    self.continuingSubwordPrefix = continuingSubwordPrefix
    self.endOfWordSuffix = endOfWordSuffix
    if let unknownToken {
      guard let id = vocabulary[unknownToken] else {
        throw PipelineError.invalidInput(
          "the unknown token '\(unknownToken)' is not in the vocabulary; add it or set unk_token to null")
      }
      unknownID = id
    } else {
      unknownID = nil
    }
    byteIDs = .allocate(capacity: 256)
    var everyByte = true
    for byte in 0..<256 {
      let id = vocabulary[String(Character(ByteLevelAlphabet.characters[byte]))]
      byteIDs[byte] = id ?? UInt32.max
      if id == nil { everyByte = false }
    }
    isPlain = everyByte && (continuingSubwordPrefix ?? "").isEmpty && (endOfWordSuffix ?? "").isEmpty
    tokensByBytes = ByteStringMap(minimumCapacity: vocabulary.count)
    for (token, id) in vocabulary {
      if let bytes = ByteLevelAlphabet.decodeToken(token), !bytes.isEmpty { tokensByBytes.insert(bytes, value: id) }
    }
  }

  deinit { byteIDs.deallocate() }

  private static func missingMergeToken(_ token: String, rank: Int) -> PipelineError {
    .invalidInput(
      "merge \(rank + 1) uses '\(token)', which is not in the vocabulary; the vocabulary and merges do not belong together"
    )
  }

  // MARK: - Encoding one piece

  /// Appends the ids of one piece (non-empty UTF-8 bytes of one pre-token) to `output`.
  @inline(__always)
  func encode(piece: UnsafeBufferPointer<UInt8>, workspace: EncodingWorkspace, into output: inout [UInt32]) {
    let base = piece.baseAddress!
    let count = piece.count
    if ignoreMerges, let found = tokensByBytes.find(base, count) {
      output.append(tokensByBytes.values[found.offset])
      return
    }
    if count == 1 && isPlain {
      output.append(byteIDs[Int(base[0])])
      return
    }
    let cache = workspace.cache
    if let found = cache.find(base, count) {
      let values = cache.values + found.offset
      for index in 0..<found.count { output.append(values[index]) }
      return
    }
    let symbolCount: Int
    if isPlain {
      workspace.reserve(count)
      let symbols = workspace.symbols
      for index in 0..<count { symbols[index] = byteIDs[Int(base[index])] }
      symbolCount = merge(count: count, workspace: workspace)
    } else {
      let initial = initialSymbols(piece)
      workspace.reserve(initial.count)
      for (index, id) in initial.enumerated() { workspace.symbols[index] = id }
      symbolCount = initial.isEmpty ? 0 : merge(count: initial.count, workspace: workspace)
    }
    let symbols = workspace.symbols
    for index in 0..<symbolCount { output.append(symbols[index]) }
    if count < EncodingWorkspace.cachedPieceLimit {
      if cache.count >= EncodingWorkspace.cacheEntryLimit { cache.removeAll() }
      cache.insert(base, count, values: symbols, count: symbolCount)
    }
  }

  /// The symbols `tokenizers` starts from when a byte is missing from the vocabulary or symbols
  /// carry a prefix or suffix: per character, its id; else its `<0xXX>` byte-fallback tokens; else
  /// the unknown token (fused with a preceding one when `fuseUnknown`); else nothing.
  func initialSymbols(_ piece: UnsafeBufferPointer<UInt8>) -> [UInt32] {
    var symbols: [UInt32] = []
    var pendingUnknown = false
    for (index, byte) in piece.enumerated() {
      var text = String(Character(ByteLevelAlphabet.characters[Int(byte)]))
      if index > 0, let prefix = continuingSubwordPrefix { text = prefix + text }
      if index == piece.count - 1, let suffix = endOfWordSuffix { text += suffix }
      if let id = vocabulary[text] {
        if pendingUnknown, let unknownID { symbols.append(unknownID) }
        pendingUnknown = false
        symbols.append(id)
        continue
      }
      if byteFallback {
        let fallback = text.utf8.map { vocabulary["<0x" + Self.hexByte($0) + ">"] }
        if fallback.allSatisfy({ $0 != nil }) {
          // A pending unknown token stays pending across byte-fallback tokens, as in `tokenizers`.
          symbols += fallback.map { $0! }
          continue
        }
      }
      if let unknownID {
        if pendingUnknown && !fuseUnknown { symbols.append(unknownID) }
        pendingUnknown = true
      }
    }
    if pendingUnknown, let unknownID { symbols.append(unknownID) }
    return symbols
  }

  private static func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
  }

  // MARK: - Merging

  /// Applies merges to `workspace.symbols[0..<count]` until none applies: always the pair of lowest
  /// rank, the leftmost among equals, which is the order the priority queue of `tokenizers` pops.
  /// Returns the number of symbols left.
  ///
  /// - Complexity: O(n·m) for n symbols and m merges with a scan per merge, which beats a heap for
  ///   the short pieces of real text; pieces longer than 128 bytes use the heap, O(n log n).
  @inline(__always)
  func merge(count: Int, workspace: EncodingWorkspace) -> Int {
    if count < 2 { return count }
    if count > 128 { return mergeWithHeap(count: count, workspace: workspace) }
    let symbols = workspace.symbols
    let values = workspace.pairValues
    var count = count
    for index in 0..<(count - 1) { values[index] = pairs.value(symbols[index], symbols[index + 1]) }
    while true {
      var best = PairRankTable.absent
      var position = 0
      for index in 0..<(count - 1) where values[index] < best {
        best = values[index]
        position = index
      }
      if best == PairRankTable.absent { break }
      symbols[position] = UInt32(truncatingIfNeeded: best)
      // Remove symbol position + 1 and the pair it started.
      if position + 2 < count {
        (symbols + position + 1).update(from: symbols + position + 2, count: count - position - 2)
        (values + position + 1).update(from: values + position + 2, count: count - position - 3)
      }
      count -= 1
      if position > 0 { values[position - 1] = pairs.value(symbols[position - 1], symbols[position]) }
      if position + 1 < count { values[position] = pairs.value(symbols[position], symbols[position + 1]) }
    }
    return count
  }

  /// The merge loop of `tokenizers` (`Word::merge_all`): a min-heap of (rank, position) over a
  /// linked list of symbols, skipping stale entries.
  func mergeWithHeap(count: Int, workspace: EncodingWorkspace) -> Int {
    let symbols = workspace.symbols
    var previous = [Int](repeating: -1, count: count)
    var next = [Int](repeating: -1, count: count)
    var alive = [Bool](repeating: true, count: count)
    for index in 0..<count {
      previous[index] = index - 1
      next[index] = index + 1 < count ? index + 1 : -1
    }
    var heap = MergeHeap()
    for index in 0..<(count - 1) {
      let value = pairs.value(symbols[index], symbols[index + 1])
      if value != PairRankTable.absent { heap.push(value: value, position: index) }
    }
    while let top = heap.pop() {
      let position = top.position
      guard alive[position], next[position] >= 0 else { continue }
      let right = next[position]
      let current = pairs.value(symbols[position], symbols[right])
      // An entry is stale when the pair at its position no longer merges into the same token.
      guard current != PairRankTable.absent,
        UInt32(truncatingIfNeeded: current) == UInt32(truncatingIfNeeded: top.value)
      else { continue }
      symbols[position] = UInt32(truncatingIfNeeded: top.value)
      alive[right] = false
      next[position] = next[right]
      if next[right] >= 0 { previous[next[right]] = position }
      if previous[position] >= 0 {
        let value = pairs.value(symbols[previous[position]], symbols[position])
        if value != PairRankTable.absent { heap.push(value: value, position: previous[position]) }
      }
      if next[position] >= 0 {
        let value = pairs.value(symbols[position], symbols[next[position]])
        if value != PairRankTable.absent { heap.push(value: value, position: position) }
      }
    }
    var kept = 0
    var index = 0
    while index >= 0 && index < count {
      symbols[kept] = symbols[index]
      kept += 1
      index = next[index]
    }
    return kept
  }
}

/// A binary min-heap of merge candidates ordered by rank, then position.
struct MergeHeap {
  private var keys: [UInt64] = []
  private var values: [UInt64] = []

  mutating func push(value: UInt64, position: Int) {
    // rank in the high 32 bits, position in the low: one comparison orders both.
    var index = keys.count
    keys.append((value >> 32) << 32 | UInt64(position))
    values.append(value)
    while index > 0 {
      let parent = (index - 1) / 2
      if keys[parent] <= keys[index] { break }
      keys.swapAt(parent, index)
      values.swapAt(parent, index)
      index = parent
    }
  }

  mutating func pop() -> (value: UInt64, position: Int)? {
    guard let firstKey = keys.first else { return nil }
    let result = (values[0], Int(firstKey & 0xFFFF_FFFF))
    let lastKey = keys.removeLast()
    let lastValue = values.removeLast()
    if !keys.isEmpty {
      keys[0] = lastKey
      values[0] = lastValue
      var index = 0
      while true {
        let left = 2 * index + 1
        let right = left + 1
        var smallest = index
        if left < keys.count && keys[left] < keys[smallest] { smallest = left }
        if right < keys.count && keys[right] < keys[smallest] { smallest = right }
        if smallest == index { break }
        keys.swapAt(smallest, index)
        values.swapAt(smallest, index)
        index = smallest
      }
    }
    return result
  }
}
