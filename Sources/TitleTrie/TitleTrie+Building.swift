import PipelineCore

extension TitleTrie {
  /// Builds the trie of per-item token sequences: `sequences[j]` is item `j + 1`'s sequence.
  ///
  /// - Parameter sequences: one non-empty token sequence per item (title tokens, then EOS), in
  ///   item id order.
  /// - Throws: `PipelineError` (`invalidInput`) naming the first empty sequence or reserved token.
  /// - Complexity: as `init(itemTokenOffsets:itemTokens:)`, plus one copy of the tokens.
  public init(sequences: [[UInt32]]) throws(PipelineError) {
    var offsets: [UInt64] = [0, 0]
    offsets.reserveCapacity(sequences.count + 2)
    var tokens: [UInt32] = []
    tokens.reserveCapacity(sequences.reduce(0) { $0 + $1.count })
    for sequence in sequences {
      tokens.append(contentsOf: sequence)
      offsets.append(UInt64(tokens.count))
    }
    try self.init(itemTokenOffsets: offsets, itemTokens: tokens)
  }

  /// Builds the trie of per-item token sequences given as CSR indexed by item id.
  ///
  /// The item ids are sorted by their sequences lexicographically (a shorter sequence before its
  /// extensions, ties by item id); one pass over that order then creates, for each item, the nodes
  /// below the longest common prefix with the previous item's sequence. Nodes are thus created in
  /// depth-first pre-order with siblings in increasing token order, each node's items are a
  /// contiguous run of the sorted order, and a node's range ends when the first item that does
  /// not share its prefix arrives. The children CSR follows from the parents by a counting pass.
  ///
  /// - Parameters:
  ///   - itemTokenOffsets: N + 2 offsets; item `i`'s sequence is
  ///     `itemTokens[itemTokenOffsets[i]..<itemTokenOffsets[i + 1]]`, item 0 (padding) is empty.
  ///   - itemTokens: every item's sequence, in item id order.
  /// - Throws: `PipelineError` (`invalidInput`) when the offsets are malformed, an item's sequence
  ///   is empty, a token is `noToken`, or the counts do not fit 32 bits.
  /// - Complexity: O(*N* log *N* · *p* + *T*) time for *N* items of *T* tokens in all, where *p* is
  ///   the mean length of the common prefix two compared sequences share; O(*T* log *N*) at worst,
  ///   since a comparison costs at most the length of the sequence a merge step outputs. Besides
  ///   the trie (see the type's memory bound): O(*N*) for the sort, and the five node columns at
  ///   their largest size, 20·(*T* + 1) bytes, until the used part is copied out. No hashing: the
  ///   order does all the work.
  public init(itemTokenOffsets: [UInt64], itemTokens: [UInt32]) throws(PipelineError) {
    try Self.checkInput(itemTokenOffsets, itemTokens)
    let itemCount = itemTokenOffsets.count - 2
    let order = Self.sortedItems(itemTokenOffsets, itemTokens)

    // The node columns at their largest possible size (every token a new node, plus the root), so
    // the pass below writes without growth or bounds checks; the used prefix is copied out after.
    let columns = NodeColumns(capacity: itemTokens.count + 1)
    defer { columns.deallocate() }
    columns.add(token: Self.noToken, parent: Self.noToken, depth: 0, itemStart: 0, at: 0)
    columns.itemEnd[0] = UInt32(itemCount)
    var nodeCount = 1
    var itemLeaf = [UInt32](repeating: Self.noToken, count: itemCount + 1)

    itemTokens.withUnsafeBufferPointer { tokens in
      itemTokenOffsets.withUnsafeBufferPointer { offsets in
        // path[d] is the node at depth d on the current item's path.
        var path: [UInt32] = [Self.root]
        var previousStart = 0
        var previousLength = 0
        for (position, item) in order.enumerated() {
          let start = Int(offsets[Int(item)])
          let length = Int(offsets[Int(item) + 1]) - start
          var common = 0
          let limit = min(length, previousLength)
          while common < limit && tokens[start + common] == tokens[previousStart + common] { common += 1 }
          // Nodes below the common prefix own no later item: their ranges end here.
          while path.count - 1 > common { columns.itemEnd[Int(path.removeLast())] = UInt32(position) }
          for offset in common..<length {
            columns.add(
              token: tokens[start + offset], parent: path[path.count - 1], depth: UInt32(offset + 1),
              itemStart: UInt32(position), at: nodeCount)
            path.append(UInt32(nodeCount))
            nodeCount += 1
          }
          itemLeaf[Int(item)] = path[path.count - 1]
          previousStart = start
          previousLength = length
        }
        while path.count > 1 { columns.itemEnd[Int(path.removeLast())] = UInt32(itemCount) }
      }
    }

    let parent = columns.array(columns.parent, count: nodeCount)
    let (childOffsets, children) = Self.childrenCSR(parent: parent)
    self.init(
      token: columns.array(columns.token, count: nodeCount), parent: parent,
      depth: columns.array(columns.depth, count: nodeCount), childOffsets: childOffsets, children: children,
      itemStart: columns.array(columns.itemStart, count: nodeCount),
      itemEnd: columns.array(columns.itemEnd, count: nodeCount),
      itemOrder: order, itemLeaf: itemLeaf, itemTokenOffsets: itemTokenOffsets, itemTokens: itemTokens)
  }
  private static func checkInput(_ offsets: [UInt64], _ tokens: [UInt32]) throws(PipelineError) {
    guard offsets.count >= 2, offsets[0] == 0, offsets[1] == 0 else {
      throw .invalidInput(
        "item token offsets must hold N + 2 entries starting 0, 0 (item 0 is padding and empty), found \(offsets.prefix(2))"
      )
    }
    guard offsets[offsets.count - 1] == UInt64(tokens.count) else {
      throw .invalidInput(
        "item token offsets end at \(offsets[offsets.count - 1]), but there are \(tokens.count) tokens")
    }
    // Node ids, item ids and positions are uint32 with UInt32.max reserved: nodes ≤ tokens + 1.
    guard tokens.count < Int(UInt32.max) - 1, offsets.count - 2 < Int(UInt32.max) else {
      throw .invalidInput(
        "\(offsets.count - 2) items with \(tokens.count) tokens do not fit 32-bit node ids; split the item set")
    }
    for item in 1..<(offsets.count - 1) {
      guard offsets[item + 1] > offsets[item] else {
        if offsets[item + 1] < offsets[item] {
          throw .invalidInput(
            "item token offsets decrease at item \(item + 1) (\(offsets[item]) then \(offsets[item + 1]))")
        }
        throw .invalidInput("item \(item) has an empty token sequence; every item needs at least one token (EOS)")
      }
    }
    if let index = tokens.firstIndex(of: noToken) {
      let item = offsets.lastIndex(where: { $0 <= UInt64(index) }) ?? 0
      throw .invalidInput("item \(item) has token \(noToken), which the trie reserves for 'no token'")
    }
  }

  /// Item ids 1...N sorted by their sequences lexicographically, ties by item id.
  private static func sortedItems(_ offsets: [UInt64], _ tokens: [UInt32]) -> [UInt32] {
    let itemCount = offsets.count - 2
    var order = (0..<itemCount).map { UInt32($0 + 1) }
    offsets.withUnsafeBufferPointer { offsets in
      tokens.withUnsafeBufferPointer { tokens in
        order.sort { left, right in
          let leftStart = Int(offsets[Int(left)])
          let leftLength = Int(offsets[Int(left) + 1]) - leftStart
          let rightStart = Int(offsets[Int(right)])
          let rightLength = Int(offsets[Int(right) + 1]) - rightStart
          let limit = min(leftLength, rightLength)
          var index = 0
          while index < limit {
            let leftToken = tokens[leftStart + index]
            let rightToken = tokens[rightStart + index]
            if leftToken != rightToken { return leftToken < rightToken }
            index += 1
          }
          if leftLength != rightLength { return leftLength < rightLength }
          return left < right
        }
      }
    }
    return order
  }

  /// The children CSR from the parents: counts, prefix sums, then a fill in node id order, which
  /// keeps each node's children in creation order, that is in increasing token order.
  static func childrenCSR(parent: [UInt32]) -> (offsets: [UInt64], children: [UInt32]) {
    let nodeCount = parent.count
    var offsets = [UInt64](repeating: 0, count: nodeCount + 1)
    var children = [UInt32](repeating: 0, count: max(nodeCount - 1, 0))
    guard nodeCount > 1 else { return (offsets, children) }
    parent.withUnsafeBufferPointer { parent in
      offsets.withUnsafeMutableBufferPointer { offsets in
        // Node v's child count goes to offsets[v + 1]; the running sum then leaves offsets[v] at
        // the start of node v's children.
        for node in 1..<nodeCount { offsets[Int(parent[node]) + 1] += 1 }
        for node in 0..<nodeCount { offsets[node + 1] += offsets[node] }
        children.withUnsafeMutableBufferPointer { children in
          var cursor = Array(offsets)
          cursor.withUnsafeMutableBufferPointer { cursor in
            for node in 1..<nodeCount {
              let owner = Int(parent[node])
              children[Int(cursor[owner])] = UInt32(node)
              cursor[owner] += 1
            }
          }
        }
      }
    }
    return (offsets, children)
  }
}

/// The node columns of a trie under construction, allocated once at their largest size.
private struct NodeColumns {
  let token: UnsafeMutableBufferPointer<UInt32>
  let parent: UnsafeMutableBufferPointer<UInt32>
  let depth: UnsafeMutableBufferPointer<UInt32>
  let itemStart: UnsafeMutableBufferPointer<UInt32>
  let itemEnd: UnsafeMutableBufferPointer<UInt32>

  init(capacity: Int) {
    token = .allocate(capacity: capacity)
    parent = .allocate(capacity: capacity)
    depth = .allocate(capacity: capacity)
    itemStart = .allocate(capacity: capacity)
    itemEnd = .allocate(capacity: capacity)
  }

  /// Writes a new node; its item end is written when its range closes.
  @inline(__always)
  func add(token value: UInt32, parent owner: UInt32, depth level: UInt32, itemStart start: UInt32, at node: Int) {
    token[node] = value
    parent[node] = owner
    depth[node] = level
    itemStart[node] = start
  }

  /// The first `count` entries of a column, copied into an array.
  func array(_ column: UnsafeMutableBufferPointer<UInt32>, count: Int) -> [UInt32] {
    Array(UnsafeBufferPointer(rebasing: column[..<count]))
  }

  func deallocate() {
    for column in [token, parent, depth, itemStart, itemEnd] { column.deallocate() }
  }
}
