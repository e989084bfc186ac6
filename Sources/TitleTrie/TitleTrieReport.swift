import PipelineCore

/// The shape of a title trie, for `report.json` of the `trie` artifact: sizes, branching, depths and
/// duplicate titles.
///
/// A *terminal node* is where at least one item's sequence ends; with EOS appended to every title
/// (the default) the terminal nodes are exactly the leaves and each is one distinct title.
public struct TitleTrieReport: Equatable, Sendable {
  /// Items sharing one terminal node: a duplicate title.
  public struct DuplicateGroup: Equatable, Sendable {
    /// The shared terminal node.
    public var node: UInt32
    /// How many items end there.
    public var size: Int
    /// The first (smallest) item ids of the group, at most `TitleTrieReport.exampleItemLimit`.
    public var items: [UInt32]
    /// The title the items share, when the caller knows it.
    public var title: String?

    public init(node: UInt32, size: Int, items: [UInt32], title: String? = nil) {
      self.node = node
      self.size = size
      self.items = items
      self.title = title
    }
  }

  /// How many duplicate groups the report lists as examples (the largest, ties by node id).
  public static let exampleGroupLimit = 5
  /// How many item ids an example lists.
  public static let exampleItemLimit = 10

  public var items: Int
  public var tokens: Int
  public var nodes: Int
  /// Nodes without children.
  public var leaves: Int
  /// Nodes with at least two children: the positions where a soft label has a choice.
  public var branchingNodes: Int
  /// Children of the root.
  public var distinctFirstTokens: Int
  /// Terminal nodes: the number of distinct token sequences (distinct titles).
  public var distinctSequences: Int
  /// The largest number of children of one node.
  public var maxChildren: Int
  public var maxDepth: Int
  /// Mean depth over the leaves.
  public var meanLeafDepth: Double
  /// Mean sequence length over the items (title tokens + EOS), the mean depth of their terminal node.
  public var meanItemDepth: Double
  /// Nodes at each depth, index = depth (the root is depth 0).
  public var nodesPerDepth: [Int]
  /// Leaves at each depth, index = depth.
  public var leavesPerDepth: [Int]
  /// How many terminal nodes hold each number of items: `[items: terminal nodes]`.
  public var itemsPerLeaf: [Int: Int]
  /// Terminal nodes with at least two items.
  public var duplicateGroupCount: Int
  /// Items in those groups.
  public var duplicateItemCount: Int
  /// The size of the largest group (1 when every title is distinct, 0 without items).
  public var largestGroup: Int
  /// The largest groups, at most `exampleGroupLimit`, by size descending then node id.
  public var duplicateExamples: [DuplicateGroup]

  /// Measures `trie`.
  ///
  /// - Parameter title: the title of an item id, to label duplicate examples (optional).
  /// - Complexity: O(nodes + items).
  public init(_ trie: TitleTrie, title: ((UInt32) -> String?)? = nil) {
    let nodeCount = trie.nodeCount
    items = trie.itemCount
    tokens = trie.tokenCount
    nodes = nodeCount
    distinctFirstTokens = trie.childCount(of: TitleTrie.root)
    var leaves = 0
    var branching = 0
    var maxChildren = 0
    var maxDepth = 0
    var leafDepthSum = 0
    for node in 0..<nodeCount {
      maxDepth = max(maxDepth, Int(trie.depth[node]))
    }
    var nodesPerDepth = [Int](repeating: 0, count: maxDepth + 1)
    var leavesPerDepth = [Int](repeating: 0, count: maxDepth + 1)
    var itemsPerLeaf: [Int: Int] = [:]
    var groups: [DuplicateGroup] = []
    var terminal = 0
    var duplicateItems = 0
    var largest = 0
    for node in 0..<nodeCount {
      let children = trie.childCount(of: UInt32(node))
      let depth = Int(trie.depth[node])
      nodesPerDepth[depth] += 1
      maxChildren = max(maxChildren, children)
      if children >= 2 { branching += 1 }
      if children == 0 && node != 0 {
        leaves += 1
        leafDepthSum += depth
        leavesPerDepth[depth] += 1
      }
      // The items ending here come before the first child's range.
      let start = Int(trie.itemStart[node])
      let ownEnd =
        children > 0 ? Int(trie.itemStart[Int(trie.children(of: UInt32(node)).first!)]) : Int(trie.itemEnd[node])
      let own = ownEnd - start
      guard own > 0 else { continue }
      terminal += 1
      itemsPerLeaf[own, default: 0] += 1
      largest = max(largest, own)
      if own >= 2 {
        duplicateItems += own
        let members = Array(trie.itemOrder[start..<(start + min(own, Self.exampleItemLimit))])
        groups.append(
          DuplicateGroup(node: UInt32(node), size: own, items: members, title: title.flatMap { $0(members[0]) }))
      }
    }
    var itemDepthSum = 0
    for item in 1..<(items + 1) { itemDepthSum += Int(trie.depth[Int(trie.itemLeaf[item])]) }
    self.leaves = leaves
    branchingNodes = branching
    distinctSequences = terminal
    self.maxChildren = maxChildren
    self.maxDepth = maxDepth
    meanLeafDepth = leaves > 0 ? Double(leafDepthSum) / Double(leaves) : 0
    meanItemDepth = items > 0 ? Double(itemDepthSum) / Double(items) : 0
    self.nodesPerDepth = nodesPerDepth
    self.leavesPerDepth = leavesPerDepth
    self.itemsPerLeaf = itemsPerLeaf
    duplicateGroupCount = groups.count
    duplicateItemCount = duplicateItems
    largestGroup = largest
    // Largest first; equal sizes in node order, which is the order of their titles' tokens.
    duplicateExamples = Array(
      groups.sorted { $0.size != $1.size ? $0.size > $1.size : $0.node < $1.node }.prefix(Self.exampleGroupLimit))
  }

  /// The report as `report.json` holds it (keys in snake case).
  public var json: JSONValue {
    [
      "items": JSONValue(items),
      "tokens": JSONValue(tokens),
      "nodes": JSONValue(nodes),
      "leaves": JSONValue(leaves),
      "branching_nodes": JSONValue(branchingNodes),
      "distinct_first_tokens": JSONValue(distinctFirstTokens),
      "distinct_sequences": JSONValue(distinctSequences),
      "max_children": JSONValue(maxChildren),
      "max_depth": JSONValue(maxDepth),
      "mean_leaf_depth": JSONValue(meanLeafDepth),
      "mean_item_depth": JSONValue(meanItemDepth),
      "depth_histogram": ["nodes": JSONValue(nodesPerDepth), "leaves": JSONValue(leavesPerDepth)],
      "items_per_leaf": .array(
        itemsPerLeaf.keys.sorted().map { ["items": JSONValue($0), "leaves": JSONValue(itemsPerLeaf[$0]!)] }),
      "duplicate_titles": [
        "groups": JSONValue(duplicateGroupCount),
        "items": JSONValue(duplicateItemCount),
        "largest": JSONValue(largestGroup),
        "examples": .array(
          duplicateExamples.map { group in
            var example: [String: JSONValue] = [
              "node": JSONValue(Int(group.node)), "size": JSONValue(group.size),
              "items": .array(group.items.map { JSONValue(Int($0)) }),
            ]
            if let title = group.title { example["title"] = .string(title) }
            return .object(example)
          }),
      ],
    ]
  }

  /// The keys of `json` that `TrieStage.validate` compares with the arrays: every count, both
  /// histograms and the duplicate-group counts (the examples' titles come from the titles, not the
  /// trie).
  public var countsJSON: [String: JSONValue] {
    var counts = json.objectValue!
    counts["duplicate_titles"] = [
      "groups": JSONValue(duplicateGroupCount), "items": JSONValue(duplicateItemCount),
      "largest": JSONValue(largestGroup),
    ]
    return counts
  }
}
