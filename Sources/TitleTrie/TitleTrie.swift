/// The title trie: every item's token sequence (its title encoded standalone, EOS appended) as a path
/// from the root, with nodes numbered so that every node owns a contiguous range of a permutation of
/// the items.
///
/// Nodes are numbered in depth-first pre-order with children visited in increasing token order; the
/// root is node 0 (token `noToken`, parent `noToken`, depth 0). Items are permuted into `itemOrder`,
/// the order in which a depth-first walk meets the ends of their sequences; items with identical
/// sequences share one terminal node and are ordered by item id within it. Node `v` then owns
/// `itemOrder[itemStart[v]..<itemEnd[v]]`: exactly the items whose sequence starts with `v`'s token
/// path. The items whose sequence ends at `v` come first in that range, then the ranges of `v`'s
/// children in token order, which tile the rest of it.
///
/// Item ids are the `samples` artifact's: 1...N, with 0 as padding, so every per-item array is
/// indexed by item id and its entry 0 is padding.
///
/// Memory: per node 6 uint32 and 1 uint64 (`token`, `parent`, `depth`, `itemStart`, `itemEnd`, its
/// entry in `children`, `childOffsets`), 32 bytes; per item 3 uint32 and 1 uint64 (`itemOrder`,
/// `itemLeaf`, `itemPosition`, `itemTokenOffsets`), 20 bytes; 4 bytes per token. There are at most
/// T + 1 nodes for T tokens in all, so a trie of N items takes at most 36·T + 20·N + 64 bytes.
public struct TitleTrie: Equatable, Sendable {
  /// The token of the root, the parent of the root and the leaf of padding item 0.
  public static let noToken: UInt32 = .max

  /// The node id of the root.
  public static let root: UInt32 = 0

  // MARK: Nodes

  /// The token on the edge into each node; `noToken` for the root.
  public internal(set) var token: [UInt32]
  /// The parent of each node, always a smaller id (pre-order); `noToken` for the root.
  public internal(set) var parent: [UInt32]
  /// The number of tokens on the path from the root to each node.
  public internal(set) var depth: [UInt32]
  /// Node count + 1 offsets: node `v`'s children are `children[childOffsets[v]..<childOffsets[v + 1]]`.
  public internal(set) var childOffsets: [UInt64]
  /// Child node ids, grouped by parent and sorted by their token within a group.
  public internal(set) var children: [UInt32]
  /// The start of each node's range in `itemOrder`.
  public internal(set) var itemStart: [UInt32]
  /// The end (exclusive) of each node's range in `itemOrder`.
  public internal(set) var itemEnd: [UInt32]

  // MARK: Items

  /// Item ids (1...N) in depth-first order of their terminal nodes, ties by item id.
  public internal(set) var itemOrder: [UInt32]
  /// The node where each item's sequence ends, indexed by item id; entry 0 (padding) is `noToken`.
  public internal(set) var itemLeaf: [UInt32]
  /// Each item's index in `itemOrder`, indexed by item id; entry 0 (padding) is `noToken`.
  public internal(set) var itemPosition: [UInt32]
  /// N + 2 offsets indexed by item id: item `i`'s tokens are
  /// `itemTokens[itemTokenOffsets[i]..<itemTokenOffsets[i + 1]]`; item 0 (padding) is empty.
  public internal(set) var itemTokenOffsets: [UInt64]
  /// Every item's token sequence (title tokens, then EOS), in item id order.
  public internal(set) var itemTokens: [UInt32]

  /// Assembles a trie from its arrays without checking them; `checkInvariants()` does.
  ///
  /// `itemPosition` is derived from `itemOrder` (entries outside 1...N are left as `noToken`).
  public init(
    token: [UInt32], parent: [UInt32], depth: [UInt32], childOffsets: [UInt64], children: [UInt32],
    itemStart: [UInt32], itemEnd: [UInt32], itemOrder: [UInt32], itemLeaf: [UInt32], itemTokenOffsets: [UInt64],
    itemTokens: [UInt32]
  ) {
    self.token = token
    self.parent = parent
    self.depth = depth
    self.childOffsets = childOffsets
    self.children = children
    self.itemStart = itemStart
    self.itemEnd = itemEnd
    self.itemOrder = itemOrder
    self.itemLeaf = itemLeaf
    self.itemTokenOffsets = itemTokenOffsets
    self.itemTokens = itemTokens
    var position = [UInt32](repeating: Self.noToken, count: itemOrder.count + 1)
    for (index, item) in itemOrder.enumerated() where item >= 1 && Int(item) < position.count {
      position[Int(item)] = UInt32(index)
    }
    self.itemPosition = position
  }

  /// The number of nodes, root included.
  public var nodeCount: Int { token.count }

  /// The number of items N (real item ids are 1...N).
  public var itemCount: Int { itemOrder.count }

  /// The total number of tokens over all items.
  public var tokenCount: Int { itemTokens.count }
}

// MARK: - Lookups

extension TitleTrie {
  /// The children of `node`, sorted by their token.
  public func children(of node: UInt32) -> ArraySlice<UInt32> {
    children[Int(childOffsets[Int(node)])..<Int(childOffsets[Int(node) + 1])]
  }

  /// The number of children of `node`.
  public func childCount(of node: UInt32) -> Int {
    Int(childOffsets[Int(node) + 1] - childOffsets[Int(node)])
  }

  /// The child of `node` reached by `token`, or `nil` when there is none.
  ///
  /// - Complexity: O(log *k*) for *k* children (binary search over the sorted children).
  public func child(of node: UInt32, token wanted: UInt32) -> UInt32? {
    var low = Int(childOffsets[Int(node)])
    var high = Int(childOffsets[Int(node) + 1])
    while low < high {
      let middle = (low + high) / 2
      let candidate = children[middle]
      let candidateToken = token[Int(candidate)]
      if candidateToken == wanted { return candidate }
      if candidateToken < wanted { low = middle + 1 } else { high = middle }
    }
    return nil
  }

  /// The item ids in `node`'s range: every item whose sequence starts with `node`'s token path.
  public func items(of node: UInt32) -> ArraySlice<UInt32> {
    itemOrder[Int(itemStart[Int(node)])..<Int(itemEnd[Int(node)])]
  }

  /// The token sequence of `item` (1...N): its title tokens, then EOS.
  public func tokens(ofItem item: UInt32) -> ArraySlice<UInt32> {
    itemTokens[Int(itemTokenOffsets[Int(item)])..<Int(itemTokenOffsets[Int(item) + 1])]
  }

  /// The nodes that `item`'s tokens lead to, one per token: `path[k]` is the node reached after
  /// token `k`, so the path has as many nodes as the item has tokens, the root is not in it and the
  /// last node is the item's leaf.
  ///
  /// - Complexity: O(*L*) for a sequence of *L* tokens (a walk up the parents).
  public func path(ofItem item: UInt32) -> [UInt32] {
    var result: [UInt32] = []
    path(ofItem: item, into: &result)
    return result
  }

  /// The same into `result` (replacing its contents, reusing its storage).
  public func path(ofItem item: UInt32, into result: inout [UInt32]) {
    var node = itemLeaf[Int(item)]
    let count = Int(depth[Int(node)])
    result.removeAll(keepingCapacity: true)
    result.append(contentsOf: repeatElement(0, count: count))
    var index = count
    while node != Self.root {
      index -= 1
      result[index] = node
      node = parent[Int(node)]
    }
  }

  /// The node before each of `item`'s tokens: `prefixNodes[k]` is the node whose children are the
  /// choices for token `k` (the root for the first token). A soft label for position `k` sums the
  /// item masses of that node's children; this is the `nodes` column of the soft-label shards.
  public func prefixNodes(ofItem item: UInt32) -> [UInt32] {
    var result = path(ofItem: item)
    guard !result.isEmpty else { return result }
    result.removeLast()
    result.insert(Self.root, at: 0)
    return result
  }

  /// The node reached from the root by `tokens`, or `nil` when the trie has no such path.
  public func node(following tokens: some Sequence<UInt32>) -> UInt32? {
    var node = Self.root
    for token in tokens {
      guard let next = child(of: node, token: token) else { return nil }
      node = next
    }
    return node
  }
}
