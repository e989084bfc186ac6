import TitleTrie

/// How the stored probabilities are written.
public enum ProbabilityType: String, CaseIterable, Sendable {
  case float32
  case float16

  /// The value a probability is stored as, returned in single precision (a float16 value is exact
  /// in a Float). Sorting uses this value, so what a reader sees is ordered exactly.
  ///
  /// float32 rounds to nearest (a position's stored values then sum to at most 1 + 6e-8); float16
  /// rounds toward zero, since rounding to nearest could lift a position's sum by up to 2⁻¹¹.
  @inline(__always)
  public func stored(_ value: Float) -> Float {
    switch self {
    case .float32: return value
    case .float16:
      var half = Float16(value)
      if Float(half) > value { half = half.nextDown }
      return Float(half)
    }
  }
}

/// The soft labels of one sample: per position of the target's token path (title tokens, then EOS
/// when the trie appends it) the trie node before the token and the kept children with their
/// conditional CF probabilities.
public struct SampleLabels: Sendable, Equatable {
  public var labels: [UInt32] = []
  public var nodes: [UInt32] = []
  /// positions + 1 offsets into `softIDs` / `softProbabilities`.
  public var softOffsets: [UInt32] = [0]
  public var softIDs: [UInt32] = []
  /// Already rounded to the stored type.
  public var softProbabilities: [Float] = []
  /// Set when the scores held NaN (a broken CF model): the stage stops with an error.
  public var hasInvalidScores = false

  public init() {}

  /// Empties every array (keeping its storage), as `init()` leaves them.
  mutating func reset() {
    labels.removeAll(keepingCapacity: true)
    nodes.removeAll(keepingCapacity: true)
    softOffsets.removeAll(keepingCapacity: true)
    softOffsets.append(0)
    softIDs.removeAll(keepingCapacity: true)
    softProbabilities.removeAll(keepingCapacity: true)
    hasInvalidScores = false
  }
}

/// Computes the token-level soft labels of ARCHITECTURE.md §1 for one sample at a time from its
/// scores over all items, given in the trie's item order (`TitleTrie.itemOrder`), so that every
/// node's items are one contiguous run.
///
/// The scores stream in, in chunks of `chunkItems` items (`begin`, `consume` per chunk, `finish`),
/// so a stage can produce, exponentiate and sum each chunk while it is in the first-level cache. Per
/// chunk: m = the running maximum of the scores so far, e_i = exp((z_i − m)/β) in single precision
/// (one vectorised pass), and the root's children's masses Σ e over their item ranges accumulated in
/// double precision; when a later chunk raises the maximum, the masses so far are multiplied by
/// exp((m_old − m_new)/β), so every mass ends relative to the sample's maximum. The scores of the
/// target's first-token subtree are kept, and `finish` computes the deeper positions from them, with
/// exponentials relative to the subtree's maximum: per position with node v and children c,
/// mass(c) = Σ e over c's item range, the node's mass is the sum of its children's plus that of items
/// ending at v, and p(c) = mass(c)/mass(v). A node with one child gives it probability 1 with no
/// arithmetic. When a node's mass falls below `recomputeBelow` (e⁻¹⁶: its items score far below the
/// subtree's best, as with a small β), its masses are recomputed from the scores with the node's own
/// maximum, so no distribution loses precision or underflows: the scores are never truncated. Kept
/// per position: the `k` most probable children (every child when `k` is nil), ordered by stored
/// probability, descending, then token id.
///
/// The chunking is fixed, so a sample's labels have the same bits whichever way its scores arrive.
/// Thread-safe: a `Workspace` per thread and a `Sample` per sample in flight carry the state.
public struct SoftLabelComputer: Sendable {
  /// Items per chunk of the streaming pass (a multiple of `PackedItems.panelWidth`).
  public static let chunkItems = 1024

  /// Candidate counts `selectTop` ranks (`FastMath.rankOrder`) rather than sorts: a root's top 64
  /// (ranking is slower below 48 and above 128).
  static let rankedCandidates = 48...128

  public let trie: TitleTrie
  public let k: Int?
  public let beta: Double
  public let type: ProbabilityType
  public let excludeHistory: Bool
  /// The most children any node has.
  let maximumChildren: Int
  /// The root's segments: 0 holds the items that end at the root, s ≥ 1 the range of its (s−1)-th
  /// child; segment s is `rootBoundaries[s]..<rootBoundaries[s + 1]`.
  let rootBoundaries: [Int]
  /// The most items under one child of the root (the longest subtree `finish` works on).
  let maximumSubtree: Int
  /// Per chunk of `chunkItems` items, the non-empty pieces of root segments in it: (segment, start,
  /// end) relative to the chunk, grouped by length — 1, 2, 3, 4 and longer items; class k of chunk c
  /// is `chunkPieceOffsets[5c + k]..<chunkPieceOffsets[5c + k + 1]` — and the segment the chunk ends
  /// in (whose mass a later chunk may still add to). Most of a title trie's root children hold one
  /// to four items (Llama titles on Toys: 68 % of 1,270), and a short piece's sum needs no vector
  /// reduction.
  let chunkSegments: [SIMD3<Int32>]
  /// Aligned with `trie.children`: each child's token and the start of its item range (a node's
  /// children's ranges tile the end of its own), so a node's children are read sequentially instead
  /// of at their scattered node ids.
  let childTokens: [UInt32]
  let childStarts: [UInt32]
  let chunkPieceOffsets: [Int32]
  let chunkLastSegment: [Int32]
  /// Per chunk, the root segment that started in an earlier chunk and goes on in this one, or -1:
  /// every other piece is its segment's first, so the masses need no zeroing per sample (a piece
  /// writes its sum; the carried one adds to it), except the segments no piece covers (`emptySegments`).
  let chunkCarriedSegment: [Int32]
  let emptySegments: [Int]
  /// Every item's path (`TitleTrie.path(ofItem:)`), aligned with `trie.itemTokens` (a path has a
  /// node per token, as the trie's invariants check), so item i's is at
  /// `trie.itemTokenOffsets[i]..<trie.itemTokenOffsets[i + 1]`: walked once here, not per sample.
  let itemPaths: [UInt32]
  /// Aligned with `itemPaths`: the children of the node before each path position (the root before
  /// the first), as (index of its first child in `trie.children`, child count, the path's own
  /// child's index among them), so a sample reads its positions' nodes sequentially instead of at
  /// their scattered node ids and never searches for the target's child.
  let pathChildren: [SIMD4<UInt32>]
  /// The most positions of one item's path, and the most soft entries (kept children) its positions
  /// take together: the sizes of a workspace's position buffers.
  let maximumPositions: Int
  let maximumSoftEntries: Int
  /// Per item (index = item id), the soft entries (kept children) its path's positions take
  /// together: with the path's length, what a sample's columns hold, known before its scores.
  let itemSoftEntries: [Int32]

  public init(trie: TitleTrie, k: Int?, beta: Double, type: ProbabilityType, excludeHistory: Bool) {
    self.trie = trie
    self.k = k
    self.beta = beta
    self.type = type
    self.excludeHistory = excludeHistory
    var widest = 1
    for node in 0..<trie.nodeCount {
      widest = max(widest, Int(trie.childOffsets[node + 1] - trie.childOffsets[node]))
    }
    maximumChildren = widest
    childTokens = trie.children.map { trie.token[Int($0)] }
    childStarts = trie.children.map { trie.itemStart[Int($0)] }
    let root = Int(TitleTrie.root)
    let rootChildren = trie.children[Int(trie.childOffsets[root])..<Int(trie.childOffsets[root + 1])]
    var boundaries = [Int(trie.itemStart[root])]
    var longest = 1
    for child in rootChildren {
      boundaries.append(Int(trie.itemStart[Int(child)]))
      longest = max(longest, Int(trie.itemEnd[Int(child)] - trie.itemStart[Int(child)]))
    }
    boundaries.append(Int(trie.itemEnd[root]))
    rootBoundaries = boundaries
    maximumSubtree = longest
    var pieces: [SIMD3<Int32>] = []
    var offsets: [Int32] = [0]
    var last: [Int32] = []
    var segment = 0
    for start in stride(from: 0, to: trie.itemCount, by: Self.chunkItems) {
      let end = min(start + Self.chunkItems, trie.itemCount)
      var classes = [[SIMD3<Int32>]](repeating: [], count: 5)
      while segment < boundaries.count - 1 {
        let low = max(boundaries[segment], start)
        let high = min(boundaries[segment + 1], end)
        if high > low {
          classes[min(high - low, 5) - 1].append(SIMD3(Int32(segment), Int32(low - start), Int32(high - start)))
        }
        if boundaries[segment + 1] > end { break }
        segment += 1
      }
      segment = min(segment, boundaries.count - 2)
      for pieceClass in classes {
        pieces += pieceClass
        offsets.append(Int32(pieces.count))
      }
      last.append(Int32(segment))
    }
    chunkSegments = pieces
    chunkPieceOffsets = offsets
    chunkLastSegment = last
    chunkCarriedSegment = (0..<last.count).map { chunk in
      guard chunk > 0 else { return -1 }
      let segment = Int(last[chunk - 1])
      let start = chunk * Self.chunkItems
      return boundaries[segment] < start && boundaries[segment + 1] > start ? Int32(segment) : -1
    }
    emptySegments = (0..<(boundaries.count - 1)).filter { boundaries[$0] == boundaries[$0 + 1] }
    var paths = [UInt32](repeating: 0, count: trie.itemTokens.count)
    var path: [UInt32] = []
    for item in stride(from: 1, through: trie.itemCount, by: 1) {
      trie.path(ofItem: UInt32(item), into: &path)
      let start = Int(trie.itemTokenOffsets[item])
      paths.replaceSubrange(start..<(start + path.count), with: path)
    }
    itemPaths = paths
    var children = [SIMD4<UInt32>](repeating: .zero, count: paths.count)
    var (positions, softEntries) = (1, 1)
    var itemEntries = [Int32](repeating: 0, count: trie.itemCount + 1)
    for item in stride(from: 1, through: trie.itemCount, by: 1) {
      var node = TitleTrie.root
      let range = Int(trie.itemTokenOffsets[item])..<Int(trie.itemTokenOffsets[item + 1])
      var entries = 0
      for position in range {
        let first = Int(trie.childOffsets[Int(node)])
        let count = Int(trie.childOffsets[Int(node) + 1]) - first
        // Children are numbered in token order, so their node ids increase.
        var (low, high) = (first, first + count)
        while low < high {
          let middle = (low + high) / 2
          if trie.children[middle] < paths[position] { low = middle + 1 } else { high = middle }
        }
        let own = low - first
        children[position] = SIMD4(UInt32(first), UInt32(count), UInt32(own), 0)
        entries += count == 1 ? 1 : min(count, k ?? count)
        node = paths[position]
      }
      positions = max(positions, range.count)
      softEntries = max(softEntries, entries)
      itemEntries[item] = Int32(entries)
    }
    itemSoftEntries = itemEntries
    pathChildren = children
    maximumPositions = positions
    maximumSoftEntries = softEntries
  }

  var scale: Float { Float(1 / beta) }

  /// Scratch memory of one thread (used by one thread at a time, hence `@unchecked Sendable`).
  public final class Workspace: @unchecked Sendable {
    let exponentials: UnsafeMutablePointer<Float>
    let local: UnsafeMutablePointer<Float>
    /// One chunk of scores (with `FastMath.sum`'s padding).
    let chunk: UnsafeMutablePointer<Float>
    /// Per child of the current position: masses, then probabilities; the probabilities in single
    /// precision; as stored (float16 rounding; the same buffer as `single` for float32); the kept
    /// children's indices; sort keys.
    let masses: UnsafeMutablePointer<Double>
    let single: UnsafeMutablePointer<Float>
    let stored: UnsafeMutablePointer<Float>
    let order: UnsafeMutablePointer<Int32>
    let keys: UnsafeMutablePointer<UInt64>
    /// `FastMath.rankOrder`'s scratch for up to 128 candidates.
    let ranks: UnsafeMutablePointer<Int32>
    /// One sample's columns as `finish` builds them (per position: node, soft offset; per kept
    /// child: token, stored probability), appended to its `SampleLabels` in one copy each.
    let nodes: UnsafeMutablePointer<UInt32>
    let softOffsets: UnsafeMutablePointer<UInt32>
    let softIDs: UnsafeMutablePointer<UInt32>
    let softProbabilities: UnsafeMutablePointer<Float>
    let sample: Sample

    init(computer: SoftLabelComputer) {
      // Padded for `FastMath.sum`'s last masked load.
      let subtree = computer.maximumSubtree + FastMath.sumPadding
      exponentials = .allocate(capacity: subtree)
      exponentials.initialize(repeating: 0, count: subtree)
      local = .allocate(capacity: subtree)
      local.initialize(repeating: 0, count: subtree)
      chunk = .allocate(capacity: chunkItems + FastMath.sumPadding)
      chunk.initialize(repeating: 0, count: chunkItems + FastMath.sumPadding)
      let widest = computer.maximumChildren
      masses = .allocate(capacity: widest)
      masses.initialize(repeating: 0, count: widest)
      single = .allocate(capacity: widest)
      single.initialize(repeating: 0, count: widest)
      if computer.type == .float32 {
        stored = single
      } else {
        stored = .allocate(capacity: widest)
        stored.initialize(repeating: 0, count: widest)
      }
      order = .allocate(capacity: widest)
      order.initialize(repeating: 0, count: widest)
      keys = .allocate(capacity: widest)
      let scratch = FastMath.rankOrderScratch(SoftLabelComputer.rankedCandidates.upperBound)
      ranks = .allocate(capacity: scratch)
      ranks.initialize(repeating: 0, count: scratch)
      keys.initialize(repeating: 0, count: widest)
      nodes = .allocate(capacity: computer.maximumPositions)
      nodes.initialize(repeating: 0, count: computer.maximumPositions)
      softOffsets = .allocate(capacity: computer.maximumPositions + 1)
      softOffsets.initialize(repeating: 0, count: computer.maximumPositions + 1)
      softIDs = .allocate(capacity: computer.maximumSoftEntries)
      softIDs.initialize(repeating: 0, count: computer.maximumSoftEntries)
      softProbabilities = .allocate(capacity: computer.maximumSoftEntries)
      softProbabilities.initialize(repeating: 0, count: computer.maximumSoftEntries)
      sample = computer.makeSample()
    }

    deinit {
      exponentials.deallocate()
      local.deallocate()
      chunk.deallocate()
      masses.deallocate()
      if stored != single { stored.deallocate() }
      single.deallocate()
      order.deallocate()
      keys.deallocate()
      ranks.deallocate()
      nodes.deallocate()
      softOffsets.deallocate()
      softIDs.deallocate()
      softProbabilities.deallocate()
    }
  }

  public func makeWorkspace() -> Workspace { Workspace(computer: self) }

  /// The streaming state of one sample (reused: `begin` resets it).
  public final class Sample: @unchecked Sendable {
    var target: UInt32 = 0
    /// The nodes the target's tokens lead to (`TitleTrie.path(ofItem:)`):
    /// `itemPaths[pathStart..<pathStart + pathCount]`.
    var pathStart = 0
    var pathCount = 0
    /// The largest score so far (NaN never is); the exponentials so far are relative to it.
    var maximum = -Float.infinity
    /// The root segment the next chunk starts in.
    var segment = 0
    /// The root's segment masses so far, relative to `maximum` (a segment's is stale until the
    /// first chunk with its items writes it).
    let masses: UnsafeMutablePointer<Double>
    let segmentCount: Int
    /// The scores of the target's first-token subtree, `subtreeStart..<subtreeEnd` in trie order.
    let subtree: UnsafeMutablePointer<Float>
    var subtreeStart = 0
    var subtreeEnd = 0
    /// Trie positions of the excluded history items, ascending, and the next one to apply.
    var excluded: [Int] = []
    var nextExcluded = 0
    var chunkStart = 0

    init(segmentCount: Int, subtreeCapacity: Int) {
      self.segmentCount = segmentCount
      masses = .allocate(capacity: segmentCount)
      masses.initialize(repeating: 0, count: segmentCount)
      subtree = .allocate(capacity: subtreeCapacity)
      subtree.initialize(repeating: 0, count: subtreeCapacity)
    }

    deinit {
      masses.deallocate()
      subtree.deallocate()
    }
  }

  public func makeSample() -> Sample {
    Sample(segmentCount: rootBoundaries.count - 1, subtreeCapacity: maximumSubtree + FastMath.sumPadding)
  }

  /// The soft labels of the sample with `target` and `history`, from `scores` (N floats in trie
  /// order, `scores[p]` for item `trie.itemOrder[p]`; left unchanged).
  public func labels(
    scores: UnsafePointer<Float>, target: UInt32, history: ArraySlice<UInt32>, workspace: Workspace
  ) -> SampleLabels {
    var statistics = LabelStatistics()
    return labels(scores: scores, target: target, history: history, workspace: workspace, statistics: &statistics)
  }

  /// The same, adding the sample to `statistics`.
  func labels(
    scores: UnsafePointer<Float>, target: UInt32, history: ArraySlice<UInt32>, workspace: Workspace,
    statistics: inout LabelStatistics
  ) -> SampleLabels {
    var result = SampleLabels()
    labels(
      scores: scores, target: target, history: history, workspace: workspace, statistics: &statistics, into: &result)
    return result
  }

  /// The same into `result`, whose arrays are emptied and reused.
  func labels(
    scores: UnsafePointer<Float>, target: UInt32, history: ArraySlice<UInt32>, workspace: Workspace,
    statistics: inout LabelStatistics, into result: inout SampleLabels
  ) {
    let sample = workspace.sample
    begin(sample, target: target, history: history)
    for start in stride(from: 0, to: trie.itemCount, by: Self.chunkItems) {
      let count = min(Self.chunkItems, trie.itemCount - start)
      workspace.chunk.update(from: scores + start, count: count)
      consume(sample, chunk: workspace.chunk, count: count)
    }
    finish(sample, workspace: workspace, statistics: &statistics, into: &result)
  }

  /// Starts `sample` for `target` and `history`; its chunks follow in order.
  public func begin(_ sample: Sample, target: UInt32, history: ArraySlice<UInt32>) {
    sample.target = target
    sample.maximum = -.infinity
    sample.segment = 0
    sample.chunkStart = 0
    for segment in emptySegments { sample.masses[segment] = 0 }
    sample.pathStart = Int(trie.itemTokenOffsets[Int(target)])
    sample.pathCount = Int(trie.itemTokenOffsets[Int(target) + 1]) - sample.pathStart
    if sample.pathCount > 0 {
      let first = itemPaths[sample.pathStart]
      sample.subtreeStart = Int(trie.itemStart[Int(first)])
      sample.subtreeEnd = Int(trie.itemEnd[Int(first)])
    } else {
      (sample.subtreeStart, sample.subtreeEnd) = (0, 0)
    }
    sample.excluded.removeAll(keepingCapacity: true)
    sample.nextExcluded = 0
    if excludeHistory {
      for item in history where item != target && item >= 1 && Int(item) <= trie.itemCount {
        sample.excluded.append(Int(trie.itemPosition[Int(item)]))
      }
      sample.excluded.sort()
    }
  }

  /// Takes the sample's next `count` scores (`chunkItems`, fewer only for the last chunk), in
  /// `chunk`, which must be readable `FastMath.sumPadding` floats past `count`; overwrites them.
  /// `maximum`, when given, is the largest of the `count` scores (NaN never is; the kernel's), else
  /// it is computed here.
  public func consume(_ sample: Sample, chunk: UnsafeMutablePointer<Float>, count: Int, maximum: Float? = nil) {
    let chunkIndex = exponentiate(sample, chunk: chunk, count: count, maximum: maximum)
    addPieces(
      masses: InlineArray<1, UnsafeMutablePointer<Double>>(repeating: sample.masses),
      chunks: InlineArray<1, UnsafePointer<Float>>(repeating: chunk), chunkIndex: chunkIndex)
    sample.segment = Int(chunkLastSegment[chunkIndex])
  }

  /// `consume` for `U` samples at once, each with its chunk of the same items (`chunks[u]` for
  /// `samples[u]`; `maxima[u]` its largest score, when given): each sample's exponentials, then one
  /// pass over the chunk's root-segment pieces that sums each piece for all of them, so a piece's
  /// bounds are read once per group instead of once per sample. Every sum is the one `consume`
  /// computes, so the bits are the same.
  public func consume<let U: Int>(
    _ samples: InlineArray<U, Sample>, chunks: UnsafePointer<UnsafeMutablePointer<Float>>, count: Int,
    maxima: UnsafePointer<Float>?
  ) {
    var chunkIndex = 0
    var masses = InlineArray<U, UnsafeMutablePointer<Double>>(repeating: samples[0].masses)
    var scores = InlineArray<U, UnsafePointer<Float>>(repeating: chunks[0])
    // One pass over one chunk's pieces serves the group only if every sample is at that chunk.
    let position = samples[0].chunkStart
    for user in 0..<U {
      precondition(
        samples[user].chunkStart == position, "SoftLabelComputer.consume: a group's samples must be at the same chunk")
      chunkIndex = exponentiate(samples[user], chunk: chunks[user], count: count, maximum: maxima?[user])
      masses[user] = samples[user].masses
      scores[user] = UnsafePointer(chunks[user])
    }
    addPieces(masses: masses, chunks: scores, chunkIndex: chunkIndex)
    for user in 0..<U { samples[user].segment = Int(chunkLastSegment[chunkIndex]) }
  }

  /// The per-sample part of `consume`: applies the excluded history, rescales the masses so far
  /// when the chunk raises the maximum, keeps the first-token subtree's scores and exponentiates
  /// the chunk in place. Returns the chunk's number.
  @inline(__always)
  private func exponentiate(_ sample: Sample, chunk: UnsafeMutablePointer<Float>, count: Int, maximum: Float?) -> Int {
    let start = sample.chunkStart
    let end = start + count
    sample.chunkStart = end
    var known = maximum
    while sample.nextExcluded < sample.excluded.count && sample.excluded[sample.nextExcluded] < end {
      chunk[sample.excluded[sample.nextExcluded] - start] = -.infinity
      sample.nextExcluded += 1
      known = nil
    }
    let chunkMaximum = known ?? FastMath.maximum(chunk, count: count)
    if chunkMaximum > sample.maximum {
      if sample.maximum.isFinite {
        // The masses so far were relative to the old maximum.
        let factor = Double(FastMath.expNonPositive((sample.maximum - chunkMaximum) * scale))
        for segment in 0...sample.segment { sample.masses[segment] *= factor }
      }
      sample.maximum = chunkMaximum
    }
    let overlapStart = max(start, sample.subtreeStart)
    let overlapEnd = min(end, sample.subtreeEnd)
    if overlapStart < overlapEnd {
      (sample.subtree + (overlapStart - sample.subtreeStart)).update(
        from: chunk + (overlapStart - start), count: overlapEnd - overlapStart)
    }
    let shift = sample.maximum.isFinite ? sample.maximum : 0
    FastMath.exponentiate(chunk, into: chunk, count: count, shift: shift, scale: scale)
    return start / Self.chunkItems
  }

  /// Writes the root segments' masses from chunk `chunkIndex`'s exponentials, for each of `U`
  /// samples (`masses[u]`, `chunks[u]`). The same sums as `FastMath.sum` (zeros in the unused lanes
  /// add nothing): one to four items without a vector reduction, longer pieces with it. Each piece
  /// writes its segment's mass; the segment carried over from the last chunk then gets its earlier
  /// mass added (the bits of adding the piece to it: addition commutes).
  @inline(__always)
  private func addPieces<let U: Int>(
    masses: InlineArray<U, UnsafeMutablePointer<Double>>, chunks: InlineArray<U, UnsafePointer<Float>>,
    chunkIndex: Int
  ) {
    chunkSegments.withUnsafeBufferPointer { pieces in
      chunkPieceOffsets.withUnsafeBufferPointer { offsets in
        let carried = Int(chunkCarriedSegment[chunkIndex])
        var earlier = InlineArray<U, Double>(repeating: 0)
        if carried >= 0 { for user in 0..<U { earlier[user] = masses[user][carried] } }
        let classes = chunkIndex &* 5
        func range(_ pieceClass: Int) -> Range<Int> {
          Int(offsets[classes &+ pieceClass])..<Int(offsets[classes &+ pieceClass &+ 1])
        }
        for piece in range(0) {
          let (segment, first) = (Int(pieces[piece].x), Int(pieces[piece].y))
          for user in 0..<U { masses[user][segment] = Double(chunks[user][first]) }
        }
        for piece in range(1) {
          let (segment, first) = (Int(pieces[piece].x), Int(pieces[piece].y))
          for user in 0..<U {
            let at = chunks[user] + first
            masses[user][segment] = Double(at[0]) + Double(at[1])
          }
        }
        for piece in range(2) {
          let (segment, first) = (Int(pieces[piece].x), Int(pieces[piece].y))
          for user in 0..<U {
            let at = chunks[user] + first
            masses[user][segment] = (Double(at[0]) + Double(at[2])) + Double(at[1])
          }
        }
        for piece in range(3) {
          let (segment, first) = (Int(pieces[piece].x), Int(pieces[piece].y))
          for user in 0..<U {
            let at = chunks[user] + first
            masses[user][segment] = (Double(at[0]) + Double(at[2])) + (Double(at[1]) + Double(at[3]))
          }
        }
        for piece in range(4) {
          let (segment, first, end) = (Int(pieces[piece].x), Int(pieces[piece].y), Int(pieces[piece].z))
          if end &- first < 32 {
            let sums = FastMath.shortSums(chunks, from: first, to: end)
            for user in 0..<U { masses[user][segment] = sums[user] }
          } else {
            for user in 0..<U { masses[user][segment] = Self.longSum(chunks[user], from: first, to: end) }
          }
        }
        if carried >= 0 { for user in 0..<U { masses[user][carried] = earlier[user] + masses[user][carried] } }
      }
    }
  }

  /// `FastMath.sum` as a call of its own (for pieces of 32 items or more, where a call costs
  /// little): inlined into `addPieces`' loop over a group's samples, the compiler still split its
  /// 4-lane widenings and sums into 2-lane pieces.
  @inline(never)
  static func longSum(_ values: UnsafePointer<Float>, from start: Int, to end: Int) -> Double {
    FastMath.sum(values, from: start, to: end)
  }

  /// The sample's labels once all its chunks are in.
  public func finish(_ sample: Sample, workspace: Workspace) -> SampleLabels {
    var statistics = LabelStatistics()
    return finish(sample, workspace: workspace, statistics: &statistics)
  }

  /// The same, adding the sample to `statistics`.
  func finish(_ sample: Sample, workspace: Workspace, statistics: inout LabelStatistics) -> SampleLabels {
    var result = SampleLabels()
    finish(sample, workspace: workspace, statistics: &statistics, into: &result)
    return result
  }

  /// The same into `result`, whose arrays are emptied and reused (a thread keeps one per sample
  /// of a unit, so a sample allocates nothing once they have grown).
  func finish(
    _ sample: Sample, workspace: Workspace, statistics: inout LabelStatistics, into result: inout SampleLabels
  ) {
    result.reset()
    let target = sample.target
    result.labels.append(contentsOf: trie.tokens(ofItem: target))
    let positions = sample.pathCount
    if !sample.maximum.isFinite && sample.maximum > 0 { result.hasInvalidScores = true }
    let subtreeCount = sample.subtreeEnd - sample.subtreeStart
    if positions > 1 {
      // The deeper positions' exponentials are relative to the subtree's own maximum: a node's
      // probabilities do not depend on it, and the nearer it is, the fewer bits z − m loses.
      let maximum = FastMath.maximum(sample.subtree, count: subtreeCount)
      FastMath.exponentiate(
        sample.subtree, into: workspace.exponentials, count: subtreeCount, shift: maximum.isFinite ? maximum : 0,
        scale: scale)
    }
    // Indexed by trie position: only the subtree's positions are ever read.
    let exponentials = workspace.exponentials - sample.subtreeStart
    let scores = sample.subtree - sample.subtreeStart
    let (nodes, offsets, ids, probabilities) =
      (workspace.nodes, workspace.softOffsets, workspace.softIDs, workspace.softProbabilities)
    var entries = 0
    var invalid = false
    var node = TitleTrie.root
    for position in 0..<positions {
      nodes[position] = node
      offsets[position] = UInt32(truncatingIfNeeded: entries)
      let next = itemPaths[sample.pathStart &+ position]
      let children = pathChildren[sample.pathStart &+ position]
      let firstChild = Int(children.x)
      let childCount = Int(children.y)
      if childCount == 1 {
        // The only child is the target's own token.
        ids[entries] = result.labels[position]
        probabilities[entries] = 1
        entries &+= 1
      } else {
        let masses: UnsafeMutablePointer<Double>
        let total: Double
        if node == TitleTrie.root {
          // The root's masses are the streamed segment masses (segment 0: items ending at the root).
          masses = sample.masses + 1
          total = sample.masses[0] + FastMath.sum(masses, count: childCount)
        } else {
          masses = workspace.masses
          total = self.masses(
            node: node, firstChild: firstChild, childCount: childCount, scores: scores, exponentials: exponentials,
            local: workspace.local - sample.subtreeStart, workspace: workspace)
        }
        if total.isNaN { invalid = true }
        entries &+= appendPosition(
          firstChild: firstChild, childCount: childCount, targetIndex: Int(children.z), depth: position,
          masses: masses, total: total, workspace: workspace, at: entries, statistics: &statistics)
      }
      node = next
    }
    offsets[positions] = UInt32(truncatingIfNeeded: entries)
    if invalid { result.hasInvalidScores = true }
    result.nodes.append(contentsOf: UnsafeBufferPointer(start: nodes, count: positions))
    // `reset` left the leading 0.
    result.softOffsets.append(contentsOf: UnsafeBufferPointer(start: offsets + 1, count: positions))
    result.softIDs.append(contentsOf: UnsafeBufferPointer(start: ids, count: entries))
    result.softProbabilities.append(contentsOf: UnsafeBufferPointer(start: probabilities, count: entries))
    statistics.addSample(positions: positions, keptChildren: entries)
  }

  /// A node below the root whose mass, relative to the maximum of the target's first-token subtree,
  /// is below e⁻¹⁶ has its masses recomputed relative to its own maximum. Underflow is the lesser
  /// reason: a score far below the maximum loses bits in z − m (a float of magnitude 32–64 is
  /// exact to 2⁻¹⁹, so two items 41 nats down could split a probability of ½ off by 9.5e-7). Above
  /// e⁻¹⁶, a node's heavy items are within 16 + ln(its item count) nats of the maximum, where the
  /// difference is exact to 2⁻²⁰ or better.
  static let recomputeBelow = 1.125_351_747_192_591e-7

  /// Fills `workspace.masses[0..<childCount]` with the masses of the children of `node` (not the
  /// root) and returns the node's, recomputing them relative to the node's own maximum when they
  /// are below `recomputeBelow`. `scores`, `exponentials` and the scratch `local` are indexed by
  /// trie position.
  private func masses(
    node: UInt32, firstChild: Int, childCount: Int, scores: UnsafeMutablePointer<Float>,
    exponentials: UnsafeMutablePointer<Float>, local: UnsafeMutablePointer<Float>, workspace: Workspace
  ) -> Double {
    let total = masses(
      node: node, firstChild: firstChild, childCount: childCount, exponentials: exponentials, workspace: workspace)
    guard !(total >= Self.recomputeBelow) else { return total }
    // Far below the subtree's maximum: redo this node relative to its own maximum.
    let nodeStart = Int(trie.itemStart[Int(node)])
    let nodeEnd = Int(trie.itemEnd[Int(node)])
    let localMaximum = FastMath.maximum(scores + nodeStart, count: nodeEnd - nodeStart)
    FastMath.exponentiate(
      scores + nodeStart, into: local + nodeStart, count: nodeEnd - nodeStart,
      shift: localMaximum.isFinite ? localMaximum : 0, scale: scale)
    return masses(
      node: node, firstChild: firstChild, childCount: childCount, exponentials: local, workspace: workspace)
  }

  /// Turns `masses[0..<childCount]` (the children's masses; `total` the node's; overwritten with
  /// their probabilities) into the position's probabilities, writes the kept children's tokens and
  /// stored probabilities to the workspace's soft entries from `at`, adds the position to
  /// `statistics` and returns how many it kept.
  private func appendPosition(
    firstChild: Int, childCount: Int, targetIndex: Int, depth: Int, masses: UnsafeMutablePointer<Double>,
    total: Double, workspace: Workspace, at entry: Int, statistics: inout LabelStatistics
  ) -> Int {
    let inverse = total > 0 ? 1 / total : 0
    let (single, stored) = (workspace.single, workspace.stored)
    for index in 0..<childCount {
      let probability = masses[index] * inverse
      masses[index] = probability
      single[index] = Float(probability)
    }
    if type == .float16 {
      for index in 0..<childCount { stored[index] = type.stored(single[index]) }
    }
    let entropy = FastMath.entropy(single, count: childCount)
    let targetProbability = masses[targetIndex]
    let kept = selectTop(childCount: childCount, workspace: workspace)
    var keptMass: Double = 0
    var targetKept = false
    let order = workspace.order
    let (ids, probabilities) = (workspace.softIDs + entry, workspace.softProbabilities + entry)
    childTokens.withUnsafeBufferPointer { tokens in
      for slot in 0..<kept {
        let index = Int(order[slot])
        ids[slot] = tokens[firstChild &+ index]
        probabilities[slot] = stored[index]
        keptMass += masses[index]
        if index == targetIndex { targetKept = true }
      }
    }
    statistics.addBranching(
      depth: depth, entropy: entropy, kept: keptMass, target: targetProbability, targetKept: targetKept)
    return kept
  }

  /// Fills `workspace.masses[0..<childCount]` with the children's masses and returns the node's.
  @inline(__always)
  private func masses(
    node: UInt32, firstChild: Int, childCount: Int, exponentials: UnsafeMutablePointer<Float>, workspace: Workspace
  ) -> Double {
    childStarts.withUnsafeBufferPointer { starts in
      let masses = workspace.masses
      // Children's ranges tile the node's range after the items that end at the node.
      var total = FastMath.sum(exponentials, from: Int(trie.itemStart[Int(node)]), to: Int(starts[firstChild]))
      var start = Int(starts[firstChild])
      let nodeEnd = Int(trie.itemEnd[Int(node)])
      for index in 0..<childCount {
        let end = index &+ 1 < childCount ? Int(starts[firstChild &+ index &+ 1]) : nodeEnd
        let mass = FastMath.sum(exponentials, from: start, to: end)
        masses[index] = mass
        total += mass
        start = end
      }
      return total
    }
  }

  /// Puts the indices of the kept children into `workspace.order[0..<kept]`, best first: larger
  /// stored probability, then smaller index (children are sorted by token, so smaller token id).
  /// Returns `kept`.
  ///
  /// Each candidate child becomes one 64-bit key, (complemented probability bits) << 32 | index:
  /// stored probabilities are non-negative, so their bit patterns order like their values, and
  /// ascending keys are exactly the required order. When fewer than all are kept, a binary search
  /// over the bit patterns (counting, 16 lanes at a time, the children at or above a threshold)
  /// finds a threshold that at least `kept` and at most `kept` + 16 children reach, and only those
  /// are sorted (or, 48 to 128 of them, ranked: `FastMath.rankOrder`, the same order).
  private func selectTop(childCount: Int, workspace: Workspace) -> Int {
    let kept = min(childCount, k ?? childCount)
    let (stored, keys) = (workspace.stored, workspace.keys)
    var threshold: UInt32 = 0
    if kept < childCount {
      var high: UInt32 = 0x7F80_0001  // above every finite non-negative float
      var reaching = childCount
      while high &- threshold > 1 && reaching > kept &+ 16 {
        let middle = threshold &+ (high &- threshold) / 2
        let count = FastMath.countAtLeast(stored, count: childCount, bits: middle)
        if count >= kept {
          threshold = middle
          reaching = count
        } else {
          high = middle
        }
      }
    }
    // The candidates, 16 lanes at a time: a lane mask of the children at or above the threshold,
    // then one key per set bit (a few dozen of a root's thousand children).
    var candidates = 0
    let raw = UnsafeRawPointer(stored)
    let lanes = SIMD16<UInt32>(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
    let bound = SIMD16<UInt32>(repeating: threshold)
    var base = 0
    while base &+ 16 <= childCount {
      let bits = raw.loadUnaligned(fromByteOffset: base &* 4, as: SIMD16<UInt32>.self)
      var mask = SIMD16<UInt32>.zero.replacing(with: lanes, where: bits .>= bound).wrappedSum()
      while mask != 0 {
        let index = base &+ mask.trailingZeroBitCount
        // The bits from memory, not from the vector: a dynamically indexed lane makes the compiler
        // store the whole vector and read one lane back, a store-forwarding stall per candidate.
        keys[candidates] = UInt64(UInt32.max &- stored[index].bitPattern) &<< 32 | UInt64(index)
        candidates &+= 1
        mask &= mask &- 1
      }
      base &+= 16
    }
    for index in base..<childCount {
      let bits = stored[index].bitPattern
      keys[candidates] = UInt64(UInt32.max &- bits) &<< 32 | UInt64(truncatingIfNeeded: index)
      candidates &+= bits >= threshold ? 1 : 0
    }
    if Self.rankedCandidates.contains(candidates) {
      FastMath.rankOrder(keys, count: candidates, limit: kept, into: workspace.order, scratch: workspace.ranks)
    } else {
      FastMath.sortAscending(keys, count: candidates)
      for slot in 0..<kept { workspace.order[slot] = Int32(truncatingIfNeeded: keys[slot]) }
    }
    return kept
  }
}
