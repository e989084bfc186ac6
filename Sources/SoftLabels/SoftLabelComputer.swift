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
}

/// Computes the token-level soft labels of ARCHITECTURE.md §1 for one sample at a time from its
/// scores over all items, given in the trie's item order (`TitleTrie.itemOrder`), so that every
/// node's items are one contiguous run.
///
/// Per sample: the scores' maximum m, then e_i = exp((z_i − m)/β) in single precision (one
/// vectorised pass over the N items); per position with node v and children c, the mass of c is
/// Σ e over c's item range accumulated in double precision, the node's mass is the sum of its
/// children's plus that of items ending at v, and p(c) = mass(c)/mass(v). A node with one child
/// gives it probability 1 with no arithmetic. When a node's mass falls below 1e-20 (its items
/// score far below the sample's best, as with a small β), its masses are recomputed from the
/// scores with the node's own maximum, so no distribution is lost to underflow: the scores are never
/// truncated. Kept per position: the `k` most probable children (every child when `k` is nil),
/// ordered by stored probability, descending, then token id.
///
/// Thread-safe: a `Workspace` per thread carries the scratch buffers.
public struct SoftLabelComputer: Sendable {
  public let trie: TitleTrie
  public let k: Int?
  public let beta: Double
  public let type: ProbabilityType
  public let excludeHistory: Bool
  /// The most children any node has.
  let maximumChildren: Int

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
  }

  /// Scratch memory of one thread (used by one thread at a time, hence `@unchecked Sendable`).
  public final class Workspace: @unchecked Sendable {
    let exponentials: UnsafeMutablePointer<Float>
    let local: UnsafeMutablePointer<Float>
    var masses: [Double]
    var stored: [Float]
    var single: [Float]
    var order: [Int32]
    var keys: [UInt64]

    init(itemCount: Int, maximumChildren: Int) {
      // Padded for `FastMath.sum`'s last masked load.
      exponentials = .allocate(capacity: itemCount + FastMath.sumPadding)
      exponentials.initialize(repeating: 0, count: itemCount + FastMath.sumPadding)
      local = .allocate(capacity: itemCount + FastMath.sumPadding)
      local.initialize(repeating: 0, count: itemCount + FastMath.sumPadding)
      masses = [Double](repeating: 0, count: maximumChildren)
      stored = [Float](repeating: 0, count: maximumChildren)
      single = [Float](repeating: 0, count: maximumChildren)
      order = [Int32](repeating: 0, count: maximumChildren)
      keys = [UInt64](repeating: 0, count: maximumChildren)
    }

    deinit {
      exponentials.deallocate()
      local.deallocate()
    }
  }

  public func makeWorkspace() -> Workspace { Workspace(itemCount: trie.itemCount, maximumChildren: maximumChildren) }

  /// The soft labels of the sample with `target` and `history`, from `scores` (N floats in trie
  /// order, `scores[p]` for item `trie.itemOrder[p]`; excluded history items are set to −∞ in place).
  public func labels(
    scores: UnsafeMutablePointer<Float>, target: UInt32, history: ArraySlice<UInt32>, workspace: Workspace
  ) -> SampleLabels {
    var statistics = LabelStatistics()
    return labels(scores: scores, target: target, history: history, workspace: workspace, statistics: &statistics)
  }

  /// The same, adding the sample to `statistics`.
  func labels(
    scores: UnsafeMutablePointer<Float>, target: UInt32, history: ArraySlice<UInt32>, workspace: Workspace,
    statistics: inout LabelStatistics
  ) -> SampleLabels {
    let itemCount = trie.itemCount
    if excludeHistory {
      for item in history where item != target && item >= 1 && Int(item) <= itemCount {
        scores[Int(trie.itemPosition[Int(item)])] = -.infinity
      }
    }
    let maximum = FastMath.maximum(scores, count: itemCount)
    let scale = Float(1 / beta)
    FastMath.exponentiate(
      scores, into: workspace.exponentials, count: itemCount, shift: maximum.isFinite ? maximum : 0, scale: scale)

    var result = SampleLabels()
    result.labels = Array(trie.tokens(ofItem: target))
    let path = trie.path(ofItem: target)
    let positions = path.count
    result.nodes.reserveCapacity(positions)
    result.softOffsets.reserveCapacity(positions + 1)
    var node = TitleTrie.root
    for position in 0..<positions {
      result.nodes.append(node)
      let next = path[position]
      appendPosition(
        node: node, next: next, depth: position, scores: scores, workspace: workspace, into: &result,
        statistics: &statistics)
      result.softOffsets.append(UInt32(result.softIDs.count))
      node = next
    }
    statistics.samples += 1
    return result
  }

  private func appendPosition(
    node: UInt32, next: UInt32, depth: Int, scores: UnsafeMutablePointer<Float>, workspace: Workspace,
    into result: inout SampleLabels, statistics: inout LabelStatistics
  ) {
    let firstChild = Int(trie.childOffsets[Int(node)])
    let childCount = Int(trie.childOffsets[Int(node) + 1]) - firstChild
    if childCount == 1 {
      result.softIDs.append(trie.token[Int(next)])
      result.softProbabilities.append(1)
      statistics.add(depth: depth, branching: false, entropy: 0, kept: 1, keptCount: 1, target: 1, targetKept: true)
      return
    }
    let nodeStart = Int(trie.itemStart[Int(node)])
    let nodeEnd = Int(trie.itemEnd[Int(node)])
    var total = masses(
      node: node, firstChild: firstChild, childCount: childCount, exponentials: workspace.exponentials,
      workspace: workspace)
    if !(total >= 1e-20) {
      // Far below the sample's maximum: redo this node relative to its own maximum.
      let localMaximum = FastMath.maximum(scores + nodeStart, count: nodeEnd - nodeStart)
      FastMath.exponentiate(
        scores + nodeStart, into: workspace.local + nodeStart, count: nodeEnd - nodeStart,
        shift: localMaximum.isFinite ? localMaximum : 0, scale: Float(1 / beta))
      total = masses(
        node: node, firstChild: firstChild, childCount: childCount, exponentials: workspace.local,
        workspace: workspace)
    }
    if total.isNaN { result.hasInvalidScores = true }
    // Children are numbered in token order, so their node ids increase: find the target's by
    // binary search.
    var low = firstChild
    var high = firstChild + childCount
    while low < high {
      let middle = (low + high) / 2
      if trie.children[middle] < next { low = middle + 1 } else { high = middle }
    }
    let targetIndex = low - firstChild
    let inverse = total > 0 ? 1 / total : 0
    let entropy = workspace.masses.withUnsafeMutableBufferPointer { masses in
      workspace.stored.withUnsafeMutableBufferPointer { stored in
        workspace.single.withUnsafeMutableBufferPointer { single in
          for index in 0..<childCount {
            let probability = masses[index] * inverse
            masses[index] = probability
            single[index] = Float(probability)
          }
          switch type {
          case .float32:
            for index in 0..<childCount { stored[index] = single[index] }
          case .float16:
            for index in 0..<childCount { stored[index] = type.stored(single[index]) }
          }
          return FastMath.entropy(single.baseAddress!, count: childCount)
        }
      }
    }
    let targetProbability = workspace.masses[targetIndex]
    let kept = selectTop(childCount: childCount, workspace: workspace)
    var keptMass: Double = 0
    var targetKept = false
    for slot in 0..<kept {
      let index = Int(workspace.order[slot])
      result.softIDs.append(trie.token[Int(trie.children[firstChild + index])])
      result.softProbabilities.append(workspace.stored[index])
      keptMass += workspace.masses[index]
      if index == targetIndex { targetKept = true }
    }
    statistics.add(
      depth: depth, branching: true, entropy: entropy, kept: keptMass, keptCount: kept, target: targetProbability,
      targetKept: targetKept)
  }

  /// Fills `workspace.masses[0..<childCount]` with the children's masses and returns the node's.
  @inline(__always)
  private func masses(
    node: UInt32, firstChild: Int, childCount: Int, exponentials: UnsafeMutablePointer<Float>, workspace: Workspace
  ) -> Double {
    trie.itemStart.withUnsafeBufferPointer { itemStart in
      trie.itemEnd.withUnsafeBufferPointer { itemEnd in
        trie.children.withUnsafeBufferPointer { children in
          workspace.masses.withUnsafeMutableBufferPointer { masses in
            let firstChildNode = Int(children[firstChild])
            var total = FastMath.sum(
              exponentials, from: Int(itemStart[Int(node)]), to: Int(itemStart[firstChildNode]))
            for index in 0..<childCount {
              let child = Int(children[firstChild + index])
              let mass = FastMath.sum(exponentials, from: Int(itemStart[child]), to: Int(itemEnd[child]))
              masses[index] = mass
              total += mass
            }
            return total
          }
        }
      }
    }
  }

  /// Puts the indices of the kept children into `workspace.order[0..<kept]`, best first: larger
  /// stored probability, then smaller index (children are sorted by token, so smaller token id).
  /// Returns `kept`.
  ///
  /// Each child becomes one 64-bit key, (complemented probability bits) << 32 | index: stored
  /// probabilities are non-negative, so their bit patterns order like their values, and ascending
  /// keys are exactly the required order with no comparison closure.
  private func selectTop(childCount: Int, workspace: Workspace) -> Int {
    let kept = min(childCount, k ?? childCount)
    return workspace.stored.withUnsafeBufferPointer { stored in
      workspace.keys.withUnsafeMutableBufferPointer { keys in
        for index in 0..<childCount {
          keys[index] = UInt64(UInt32.max - stored[index].bitPattern) << 32 | UInt64(index)
        }
        if kept < childCount {
          // A max-heap of the `kept` smallest keys so far, the worst at the root.
          func siftDown(_ start: Int) {
            var parent = start
            while true {
              let left = 2 * parent + 1
              if left >= kept { return }
              var larger = left
              if left + 1 < kept && keys[left + 1] > keys[left] { larger = left + 1 }
              if keys[larger] <= keys[parent] { return }
              keys.swapAt(parent, larger)
              parent = larger
            }
          }
          for start in stride(from: kept / 2 - 1, through: 0, by: -1) { siftDown(start) }
          for index in kept..<childCount where keys[index] < keys[0] {
            keys[0] = keys[index]
            siftDown(0)
          }
        }
        // Insertion sort: at most k keys, or a node's children, mostly a handful.
        for position in 1..<max(1, kept) {
          let key = keys[position]
          var slot = position
          while slot > 0 && key < keys[slot - 1] {
            keys[slot] = keys[slot - 1]
            slot -= 1
          }
          keys[slot] = key
        }
        workspace.order.withUnsafeMutableBufferPointer { order in
          for slot in 0..<kept { order[slot] = Int32(truncatingIfNeeded: keys[slot]) }
        }
        return kept
      }
    }
  }
}
