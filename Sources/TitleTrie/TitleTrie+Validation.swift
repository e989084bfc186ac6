import PipelineCore

extension TitleTrie {
  /// Checks every invariant of the trie; the first violation is an `invalidArtifact` error that names
  /// the file holding the offending array (under `directory` when given) and the node or item.
  ///
  /// In order: array lengths and CSR offsets; the root (token and parent `noToken`, depth 0, range
  /// `0..<N`); for every other node a parent with a smaller id (pre-order), depth = parent's depth
  /// + 1, a real token; each node's children listed in the CSR are exactly the nodes naming it as
  /// parent, strictly increasing by token, the first one `node + 1` and each next one right after
  /// the previous one's subtree (so numbering is depth-first pre-order); item ranges non-empty
  /// (but the root's when there are no items) and nested: the items ending at a node first, then the children's ranges tiling the rest in order;
  /// `itemOrder` a permutation of 1...N; the items ending at each node exactly those whose
  /// `itemLeaf` is that node, in increasing id order; and for every item, a token path equal to its
  /// token sequence with its position inside the range of its leaf and of every ancestor.
  ///
  /// - Parameters:
  ///   - directory: the artifact directory, for the paths in messages.
  ///   - eosID: when given, every item's sequence must end in a childless node whose token is
  ///     `eosID` (a title's EOS leaf).
  /// - Complexity: O(nodes + items + tokens) time, O(nodes + items) extra memory.
  public func checkInvariants(directory: String? = nil, eosID: UInt32? = nil) throws(PipelineError) {
    func fail(_ file: File, _ reason: String) -> PipelineError {
      let path = directory.map { FileSystem.join($0, file.rawValue) } ?? file.rawValue
      return .invalidArtifact("'\(path)' \(reason); rerun the trie stage with --force")
    }
    try checkLengths(fail)
    let nodes = token.count
    let items = itemOrder.count

    // The root.
    guard token[0] == Self.noToken, parent[0] == Self.noToken else {
      throw fail(
        token[0] == Self.noToken ? .nodeParent : .nodeToken,
        "gives the root (node 0) token \(token[0]) and parent \(parent[0]), expected \(Self.noToken) for both")
    }
    guard depth[0] == 0 else { throw fail(.nodeDepth, "gives the root depth \(depth[0]), expected 0") }
    guard itemStart[0] == 0, itemEnd[0] == UInt32(items) else {
      throw fail(
        itemStart[0] == 0 ? .itemEnd : .itemStart,
        "gives the root the item range \(itemStart[0])..<\(itemEnd[0]), expected 0..<\(items) (every item)")
    }

    // Parents, depths and tokens of the other nodes.
    var degree = [UInt32](repeating: 0, count: nodes)
    for node in 1..<nodes {
      let owner = parent[node]
      guard owner < UInt32(node) else {
        throw fail(
          .nodeParent,
          "gives node \(node) parent \(owner), which does not precede it (nodes are numbered in pre-order)")
      }
      guard depth[node] == depth[Int(owner)] &+ 1 else {
        throw fail(
          .nodeDepth, "gives node \(node) depth \(depth[node]), but its parent \(owner) has depth \(depth[Int(owner)])")
      }
      guard token[node] != Self.noToken else {
        throw fail(.nodeToken, "gives node \(node) the reserved token \(Self.noToken)")
      }
      degree[Int(owner)] += 1
    }

    for node in 1..<nodes {
      guard itemEnd[node] <= UInt32(items) else {
        throw fail(.itemEnd, "gives node \(node) item end \(itemEnd[node]), past the \(items) items")
      }
      guard itemStart[node] < itemEnd[node] else {
        throw fail(
          .itemStart,
          "and 'trie.item_end.npy' give node \(node) the item range \(itemStart[node])..<\(itemEnd[node]); every node but an empty trie's root owns at least one item"
        )
      }
    }

    // Subtree sizes, bottom-up: parents precede children.
    var subtreeSize = [UInt32](repeating: 1, count: nodes)
    for node in stride(from: nodes - 1, through: 1, by: -1) { subtreeSize[Int(parent[node])] += subtreeSize[node] }

    // Children: sorted, pre-order, nested item ranges; the items ending at each node.
    var ownItems = 0
    for node in 0..<nodes {
      let first = Int(childOffsets[node])
      let last = Int(childOffsets[node + 1])
      guard last - first == Int(degree[node]) else {
        throw fail(
          .childOffsets,
          "gives node \(node) \(last - first) children, but \(degree[node]) nodes name it as parent in 'trie.node_parent.npy'"
        )
      }
      let start = itemStart[node]
      let end = itemEnd[node]
      var previousToken: UInt32? = nil
      for index in first..<last {
        let child = children[index]
        guard child >= 1, child < UInt32(nodes) else {
          throw fail(.children, "lists node \(child) as a child of node \(node), outside the nodes 1..<\(nodes)")
        }
        let childToken = token[Int(child)]
        if let previousToken, childToken <= previousToken {
          throw fail(
            .children,
            "lists the children of node \(node) out of token order: node \(child) has token \(childToken) after token \(previousToken)"
          )
        }
        previousToken = childToken
      }
      var expectedChild = UInt32(node) + 1
      var expectedStart: UInt32? = nil
      for index in first..<last {
        let child = children[index]
        guard child == expectedChild, parent[Int(child)] == UInt32(node) else {
          throw fail(
            .children,
            "lists node \(child) as child \(index - first) of node \(node), expected node \(expectedChild) (children in depth-first pre-order, each naming node \(node) as parent)"
          )
        }
        let childStart = itemStart[Int(child)]
        if let expectedStart, childStart != expectedStart {
          throw fail(
            .itemStart,
            "gives node \(child) item start \(childStart), but its previous sibling's range ends at \(expectedStart) (children's ranges tile their parent's in order)"
          )
        }
        if expectedStart == nil, childStart < start {
          throw fail(
            .itemStart,
            "gives node \(child) item start \(childStart), before its parent \(node)'s start \(start) (ranges nest)")
        }
        expectedStart = itemEnd[Int(child)]
        expectedChild = child + subtreeSize[Int(child)]
      }
      if let expectedStart, expectedStart != end {
        throw fail(
          .itemEnd,
          "gives the last child of node \(node) item end \(expectedStart), but node \(node)'s range ends at \(end) (children's ranges tile the end of their parent's)"
        )
      }
      // The items that end at this node come first in its range, in increasing id order.
      let ownEnd = first < last ? itemStart[Int(children[first])] : end
      var previousItem: UInt32 = 0
      for position in Int(start)..<Int(ownEnd) {
        let item = itemOrder[position]
        guard item >= 1, item <= UInt32(items) else {
          throw fail(.itemOrder, "holds item id \(item) at position \(position), outside 1...\(items)")
        }
        guard itemLeaf[Int(item)] == UInt32(node) else {
          throw fail(
            .itemLeaf,
            "gives item \(item) leaf \(itemLeaf[Int(item)]), but 'trie.item_order.npy' places it among the items ending at node \(node) (position \(position))"
          )
        }
        guard item > previousItem else {
          throw fail(
            .itemOrder,
            "lists the items ending at node \(node) out of id order: item \(item) after item \(previousItem) at position \(position)"
          )
        }
        previousItem = item
      }
      ownItems += Int(ownEnd - start)
    }
    guard ownItems == items else {
      throw fail(.itemOrder, "places \(ownItems) items at the end of a path, expected \(items)")
    }

    // itemOrder is a permutation, and every item's path spells its tokens.
    var seen = [Bool](repeating: false, count: items + 1)
    for (position, item) in itemOrder.enumerated() {
      guard !seen[Int(item)] else { throw fail(.itemOrder, "holds item \(item) twice (again at position \(position))") }
      seen[Int(item)] = true
    }
    guard itemLeaf[0] == Self.noToken else {
      throw fail(.itemLeaf, "gives padding item 0 leaf \(itemLeaf[0]), expected \(Self.noToken)")
    }
    for item in 1..<(items + 1) {
      let leaf = itemLeaf[item]
      guard leaf >= 1, leaf < UInt32(nodes) else {
        throw fail(.itemLeaf, "gives item \(item) leaf \(leaf), outside the nodes 1..<\(nodes)")
      }
      let first = Int(itemTokenOffsets[item])
      let length = Int(itemTokenOffsets[item + 1]) - first
      guard depth[Int(leaf)] == UInt32(length) else {
        throw fail(
          .itemTokenOffsets,
          "gives item \(item) \(length) tokens, but its leaf \(leaf) has depth \(depth[Int(leaf)])")
      }
      if let eosID {
        guard token[Int(leaf)] == eosID, childOffsets[Int(leaf)] == childOffsets[Int(leaf) + 1] else {
          throw fail(
            .itemLeaf,
            "gives item \(item) leaf \(leaf) with token \(token[Int(leaf)]) and \(childCount(of: leaf)) children; every item must end in a childless EOS node (token \(eosID))"
          )
        }
      }
      let position = itemPosition[item]
      var node = leaf
      var offset = length
      while node != Self.root {
        offset -= 1
        guard token[Int(node)] == itemTokens[first + offset] else {
          throw fail(
            .itemTokens,
            "gives item \(item) token \(itemTokens[first + offset]) at position \(offset), but its trie path has token \(token[Int(node)]) (node \(node))"
          )
        }
        guard itemStart[Int(node)] <= position, position < itemEnd[Int(node)] else {
          throw fail(
            .itemStart,
            "gives node \(node) the range \(itemStart[Int(node)])..<\(itemEnd[Int(node)]), which misses item \(item) at position \(position) on its path"
          )
        }
        node = parent[Int(node)]
      }
    }
  }

  /// Array lengths and CSR offsets, so that the other checks index safely.
  private func checkLengths(_ fail: (File, String) -> PipelineError) throws(PipelineError) {
    let nodes = token.count
    let items = itemOrder.count
    guard nodes >= 1 else { throw fail(.nodeToken, "is empty; a trie has at least its root") }
    let perNode: [(File, Int)] = [
      (.nodeParent, parent.count), (.nodeDepth, depth.count), (.itemStart, itemStart.count),
      (.itemEnd, itemEnd.count),
    ]
    for (file, count) in perNode where count != nodes {
      throw fail(file, "has \(count) elements, expected \(nodes) (one per node, as 'trie.node_token.npy')")
    }
    guard childOffsets.count == nodes + 1 else {
      throw fail(.childOffsets, "has \(childOffsets.count) elements, expected \(nodes + 1) (nodes + 1)")
    }
    guard children.count == nodes - 1 else {
      throw fail(.children, "has \(children.count) elements, expected \(nodes - 1) (every node but the root)")
    }
    guard itemLeaf.count == items + 1 else {
      throw fail(
        .itemLeaf,
        "has \(itemLeaf.count) elements, expected \(items + 1) (items + 1, indexed by item id; 'trie.item_order.npy' has \(items) items)"
      )
    }
    guard itemTokenOffsets.count == items + 2 else {
      throw fail(
        .itemTokenOffsets,
        "has \(itemTokenOffsets.count) elements, expected \(items + 2) (items + 2, indexed by item id)")
    }
    guard childOffsets[0] == 0, childOffsets[nodes] == UInt64(children.count) else {
      throw fail(
        .childOffsets,
        "must start at 0 and end at \(children.count) (the number of children), found \(childOffsets[0])…\(childOffsets[nodes])"
      )
    }
    for node in 0..<nodes where childOffsets[node + 1] < childOffsets[node] {
      throw fail(
        .childOffsets, "decreases at node \(node + 1) (\(childOffsets[node]) then \(childOffsets[node + 1]))")
    }
    guard itemTokenOffsets[0] == 0, itemTokenOffsets[1] == 0, itemTokenOffsets[items + 1] == UInt64(itemTokens.count)
    else {
      throw fail(
        .itemTokenOffsets,
        "must start 0, 0 (padding item 0 is empty) and end at \(itemTokens.count) (the number of tokens), found \(itemTokenOffsets[0]), \(itemTokenOffsets[1])…\(itemTokenOffsets[items + 1])"
      )
    }
    for item in 1..<(items + 1) where itemTokenOffsets[item + 1] <= itemTokenOffsets[item] {
      throw fail(
        .itemTokenOffsets,
        "gives item \(item) the token range \(itemTokenOffsets[item])..<\(itemTokenOffsets[item + 1]); every item has at least one token"
      )
    }
  }
}
