import PipelineCore
import TestSupport
import Testing
import TitleTrie

/// Tries small enough to number by hand.
@Suite struct HandWorkedTrieTests {
  static let eos: UInt32 = 9
  static let none = TitleTrie.noToken

  /// Items 1…4: [5, 7, EOS], [5, 7, EOS] (a duplicate), [5, 8, EOS], [3, EOS].
  ///
  /// Sorted: item 4 [3, 9] < items 1, 2 [5, 7, 9] < item 3 [5, 8, 9], so depth-first pre-order is
  /// root 0; 1 (3), 2 (3 9); 3 (5), 4 (5 7), 5 (5 7 9), 6 (5 8), 7 (5 8 9), and the item order is
  /// 4, 1, 2, 3.
  static func example() throws -> TitleTrie {
    try TitleTrie(sequences: [[5, 7, eos], [5, 7, eos], [5, 8, eos], [3, eos]])
  }

  @Test func nodesAreNumberedInPreOrderWithChildrenSortedByToken() throws {
    let trie = try Self.example()
    #expect(trie.nodeCount == 8)
    #expect(trie.token == [Self.none, 3, 9, 5, 7, 9, 8, 9])
    #expect(trie.parent == [Self.none, 0, 1, 0, 3, 4, 3, 6])
    #expect(trie.depth == [0, 1, 2, 1, 2, 3, 2, 3])
    #expect(trie.childOffsets == [0, 2, 3, 3, 5, 6, 6, 7, 7])
    #expect(trie.children == [1, 3, 2, 4, 6, 5, 7])
    #expect(Array(trie.children(of: 3)) == [4, 6])
    #expect(trie.childCount(of: 5) == 0)
  }

  @Test func everyNodeOwnsAContiguousRangeOfTheItemOrder() throws {
    let trie = try Self.example()
    #expect(trie.itemOrder == [4, 1, 2, 3])
    #expect(trie.itemStart == [0, 0, 0, 1, 1, 1, 3, 3])
    #expect(trie.itemEnd == [4, 1, 1, 4, 3, 3, 4, 4])
    #expect(Array(trie.items(of: 3)) == [1, 2, 3])
    #expect(Array(trie.items(of: 5)) == [1, 2], "duplicates share a leaf, in item id order")
    #expect(trie.itemLeaf == [Self.none, 5, 5, 7, 2])
    #expect(trie.itemPosition == [Self.none, 1, 2, 3, 0])
    #expect(trie.itemTokenOffsets == [0, 0, 3, 6, 9, 11])
    #expect(trie.itemTokens == [5, 7, 9, 5, 7, 9, 5, 8, 9, 3, 9])
    try trie.checkInvariants(eosID: Self.eos)
  }

  @Test func pathsAndChildLookupsFollowTheTokens() throws {
    let trie = try Self.example()
    #expect(trie.path(ofItem: 1) == [3, 4, 5])
    #expect(trie.path(ofItem: 2) == [3, 4, 5])
    #expect(trie.path(ofItem: 3) == [3, 6, 7])
    #expect(trie.path(ofItem: 4) == [1, 2])
    #expect(trie.prefixNodes(ofItem: 3) == [0, 3, 6])
    #expect(Array(trie.tokens(ofItem: 3)) == [5, 8, Self.eos])
    #expect(trie.child(of: 0, token: 5) == 3)
    #expect(trie.child(of: 0, token: 3) == 1)
    #expect(trie.child(of: 0, token: 4) == nil)
    #expect(trie.child(of: 3, token: 8) == 6)
    #expect(trie.child(of: 5, token: 9) == nil, "a leaf has no children")
    #expect(trie.node(following: [5, 7]) == 4)
    #expect(trie.node(following: []) == 0)
    #expect(trie.node(following: [5, 9]) == nil)
  }

  @Test func reportCountsNodesLeavesBranchingAndDuplicates() throws {
    let report = TitleTrieReport(try Self.example()) { "title \($0)" }
    #expect(report.nodes == 8)
    #expect(report.leaves == 3)
    #expect(report.branchingNodes == 2, "the root and node 3 (after token 5)")
    #expect(report.distinctFirstTokens == 2)
    #expect(report.distinctSequences == 3)
    #expect(report.maxChildren == 2)
    #expect(report.maxDepth == 3)
    #expect(report.nodesPerDepth == [1, 2, 3, 2])
    #expect(report.leavesPerDepth == [0, 0, 1, 2])
    #expect(abs(report.meanLeafDepth - 8.0 / 3.0) < 1e-12)
    #expect(abs(report.meanItemDepth - 2.75) < 1e-12)
    #expect(report.itemsPerLeaf == [1: 2, 2: 1])
    #expect(report.duplicateGroupCount == 1)
    #expect(report.duplicateItemCount == 2)
    #expect(report.largestGroup == 2)
    #expect(report.duplicateExamples == [.init(node: 5, size: 2, items: [1, 2], title: "title 1")])
    #expect(report.json["items_per_leaf"] == [["items": 1, "leaves": 2], ["items": 2, "leaves": 1]])
  }

  /// Without EOS a sequence can end inside another's path: items 1…3 are [1, 2], [1], [1, 2, 3].
  /// The items that end at a node come first in its range, before its children's ranges.
  @Test func sequencesThatArePrefixesOfOthersEndAtInnerNodes() throws {
    let trie = try TitleTrie(sequences: [[1, 2], [1], [1, 2, 3]])
    #expect(trie.token == [Self.none, 1, 2, 3])
    #expect(trie.parent == [Self.none, 0, 1, 2])
    #expect(trie.itemOrder == [2, 1, 3])
    #expect(trie.itemStart == [0, 0, 1, 2])
    #expect(trie.itemEnd == [3, 3, 3, 3])
    #expect(trie.itemLeaf == [Self.none, 2, 1, 3])
    try trie.checkInvariants()
    let message = errorMessage { try trie.checkInvariants(eosID: 3) }
    #expect(message.contains("items.leaf.npy") && message.contains("childless EOS node"), "\(message)")
    let report = TitleTrieReport(trie)
    #expect(report.leaves == 1)
    #expect(report.distinctSequences == 3)
    #expect(report.itemsPerLeaf == [1: 3])
  }

  @Test func anEmptyItemSetGivesTheRootAlone() throws {
    let trie = try TitleTrie(sequences: [])
    #expect(trie.nodeCount == 1)
    #expect(trie.itemLeaf == [Self.none])
    #expect(trie.itemTokenOffsets == [0, 0])
    #expect(trie.childOffsets == [0, 0])
    try trie.checkInvariants(eosID: Self.eos)
    #expect(TitleTrieReport(trie).nodesPerDepth == [1])
  }

  @Test func anEmptySequenceIsAnErrorNamingTheItem() {
    let message = errorMessage { _ = try TitleTrie(sequences: [[1, Self.eos], [], [2, Self.eos]]) }
    #expect(message.contains("item 2 has an empty token sequence"), "\(message)")
    let reserved = errorMessage { _ = try TitleTrie(sequences: [[1, Self.eos], [2, Self.none]]) }
    #expect(reserved.contains("item 2 has token 4294967295"), "\(reserved)")
  }
}
