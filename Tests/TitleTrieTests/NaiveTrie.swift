import PipelineCore
import TestSupport
import Testing
import TitleTrie

/// The oracle: a dictionary-of-dictionaries trie, as the official TCA4Rec code builds it, with none of
/// `TitleTrie`'s numbering or ranges.
final class NaiveTrie {
  final class Node {
    var children: [UInt32: Node] = [:]
    /// The items whose sequence ends here, in insertion (item id) order.
    var endingItems: [UInt32] = []
  }

  let root = Node()
  private(set) var nodeCount = 1

  /// `sequences[j]` is item `j + 1`'s sequence.
  init(_ sequences: [[UInt32]]) {
    for (index, sequence) in sequences.enumerated() {
      var node = root
      for token in sequence {
        if let next = node.children[token] {
          node = next
        } else {
          let next = Node()
          node.children[token] = next
          nodeCount += 1
          node = next
        }
      }
      node.endingItems.append(UInt32(index + 1))
    }
  }

  var distinctFirstTokens: Int { root.children.count }

  /// Every item under `node`, as a set.
  func allItems(_ node: Node) -> Set<UInt32> {
    var result = Set(node.endingItems)
    for child in node.children.values { result.formUnion(allItems(child)) }
    return result
  }

  /// Walks both tries together and records every difference: children's tokens, each node's
  /// item set, the items ending at each node, token and depth per node.
  func compare(with trie: TitleTrie) {
    var mismatches = 0
    func walk(_ node: UInt32, _ reference: Node, depth: Int) -> Set<UInt32> {
      guard mismatches < 5 else { return [] }
      let children = Array(trie.children(of: node))
      let tokens = children.map { trie.token[Int($0)] }
      let expectedTokens = reference.children.keys.sorted()
      if tokens != expectedTokens {
        Issue.record("node \(node): children tokens \(tokens), the naive trie has \(expectedTokens)")
        mismatches += 1
        return []
      }
      if Int(trie.depth[Int(node)]) != depth {
        Issue.record("node \(node): depth \(trie.depth[Int(node)]), expected \(depth)")
        mismatches += 1
      }
      var all = Set(reference.endingItems)
      for (child, token) in zip(children, tokens) {
        all.formUnion(walk(child, reference.children[token]!, depth: depth + 1))
      }
      let range = trie.items(of: node)
      if Set(range) != all || range.count != all.count {
        Issue.record("node \(node): items \(Array(range)), the naive trie has \(all.sorted())")
        mismatches += 1
      }
      let ownEnd = children.first.map { Int(trie.itemStart[Int($0)]) } ?? Int(trie.itemEnd[Int(node)])
      let own = Array(trie.itemOrder[Int(trie.itemStart[Int(node)])..<ownEnd])
      if own != reference.endingItems {
        Issue.record("node \(node): items ending here \(own), the naive trie has \(reference.endingItems)")
        mismatches += 1
      }
      return all
    }
    _ = walk(TitleTrie.root, root, depth: 0)
  }
}

/// `count` random sequences over a small vocabulary (so prefixes and whole sequences repeat), each of
/// 1...maximumLength tokens, with `eos` appended when given.
func randomSequences(
  count: Int, vocabulary: Int, maximumLength: Int, eos: UInt32?, generator: inout SeededGenerator
) -> [[UInt32]] {
  (0..<count).map { _ in
    let length = 1 + generator.nextInt(below: maximumLength)
    var sequence = (0..<length).map { _ in UInt32(generator.nextInt(below: vocabulary)) }
    if let eos { sequence.append(eos) }
    return sequence
  }
}
