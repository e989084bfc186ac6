/// The trainer's priority queue of candidate merges: a binary max-heap of (count, pair) entries
/// with lazy deletion.
///
/// Entries are never updated in place. When a pair's count changes, the trainer pushes a new entry
/// (for pairs that gained occurrences) or leaves the old one (for pairs that lost some); a popped
/// entry whose count no longer matches the pair's current count is stale and is re-pushed with the
/// current count or dropped. Because an existing pair's count only ever decreases after its entry is
/// pushed, the first fresh entry popped is the true maximum.
///
/// Order: higher count first; among equal counts, the smaller pair key first, where the key is
/// `left << 32 | right` (the smaller left token id, then the smaller right token id), which is the
/// order of `tokenizers`' `BpeTrainer`.
struct TrainingPairQueue {
  struct Entry {
    var count: Int64
    var pair: UInt64
  }

  private var entries: [Entry]

  /// Builds a heap from unordered entries.
  ///
  /// - Complexity: O(*n*).
  init(_ unordered: [Entry]) {
    entries = unordered
    var index = entries.count / 2
    while index > 0 {
      index -= 1
      siftDown(from: index)
    }
  }

  var isEmpty: Bool { entries.isEmpty }
  var count: Int { entries.count }

  @inline(__always)
  private static func precedes(_ left: Entry, _ right: Entry) -> Bool {
    left.count != right.count ? left.count > right.count : left.pair < right.pair
  }

  /// - Complexity: O(log *n*).
  mutating func push(_ entry: Entry) {
    entries.append(entry)
    var child = entries.count - 1
    entries.withUnsafeMutableBufferPointer { heap in
      while child > 0 {
        let parent = (child - 1) / 2
        guard Self.precedes(heap[child], heap[parent]) else { break }
        heap.swapAt(child, parent)
        child = parent
      }
    }
  }

  /// Removes and returns the first entry in queue order.
  ///
  /// - Complexity: O(log *n*).
  mutating func pop() -> Entry? {
    guard let last = entries.popLast() else { return nil }
    guard !entries.isEmpty else { return last }
    let top = entries[0]
    entries[0] = last
    siftDown(from: 0)
    return top
  }

  private mutating func siftDown(from start: Int) {
    entries.withUnsafeMutableBufferPointer { heap in
      var parent = start
      let count = heap.count
      while true {
        let left = 2 * parent + 1
        guard left < count else { return }
        var best = left
        let right = left + 1
        if right < count && Self.precedes(heap[right], heap[left]) { best = right }
        guard Self.precedes(heap[best], heap[parent]) else { return }
        heap.swapAt(best, parent)
        parent = best
      }
    }
  }
}
