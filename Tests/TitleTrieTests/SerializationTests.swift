import ArtifactFormats
import PipelineCore
import TestSupport
import Testing
import TitleTrie

/// Writing and reading the trie's arrays, and what reading says about damaged ones.
@Suite struct SerializationTests {
  static let eos: UInt32 = 9

  @Test func readInvertsWrite() throws {
    var generator = SeededGenerator(seed: 21)
    let sequences = randomSequences(count: 400, vocabulary: 7, maximumLength: 6, eos: 100, generator: &generator)
    let trie = try TitleTrie(sequences: sequences)
    let directory = try TemporaryDirectory()
    try trie.write(to: directory.path)
    #expect(try FileSystem.listFilesRecursively(directory.path) == TitleTrie.fileNames.sorted())
    let copy = try TitleTrie.read(from: directory.path, eosID: 100)
    #expect(copy == trie)
    #expect(copy.itemPosition == trie.itemPosition)
  }

  @Test func arraysAreNumPyFilesWithTheDocumentedTypes() throws {
    let trie = try HandWorkedTrieTests.example()
    let directory = try TemporaryDirectory()
    try trie.write(to: directory.path)
    for file in TitleTrie.File.allCases {
      let header = try NumPyArray.header(
        of: try FileSystem.readFile(directory.file(file.rawValue)), path: file.rawValue)
      let wide = file == .childOffsets || file == .itemTokenOffsets
      #expect(header.descriptor == (wide ? "<u8" : "<u4"), "\(file.rawValue)")
    }
    #expect(try NumPyArray.read(UInt32.self, from: directory.file("trie.item_order.npy")).values == [4, 1, 2, 3])
    #expect(try NumPyArray.read(UInt32.self, from: directory.file("items.leaf.npy")).shape == [5])
    #expect(try NumPyArray.read(UInt64.self, from: directory.file("items.token_offsets.npy")).shape == [6])
  }

  /// Writes the hand-worked trie, replaces one array, and returns what reading it says.
  func damaged<Element: NumPyElement>(
    _ file: TitleTrie.File, _ change: (inout [Element]) -> Void, eosID: UInt32? = nil
  ) throws -> String {
    let directory = try TemporaryDirectory()
    try HandWorkedTrieTests.example().write(to: directory.path)
    var values = try NumPyArray.read(Element.self, from: directory.file(file.rawValue)).values
    change(&values)
    try NumPyArray.write(values, to: directory.file(file.rawValue))
    return errorMessage { _ = try TitleTrie.read(from: directory.path, eosID: eosID) }
  }

  @Test func childrenOutOfTokenOrderNameTheChildrenFile() throws {
    // The root's children are nodes 1 (token 3) and 3 (token 5).
    let message = try damaged(.children) { (children: inout [UInt32]) in children.swapAt(0, 1) }
    #expect(message.contains("trie.children.npy"), "\(message)")
    #expect(message.contains("children of node 0 out of token order"), "\(message)")
    #expect(message.hasSuffix("rerun the trie stage with --force"))
  }

  @Test func equalSiblingTokensAreOutOfOrder() throws {
    // Node 6 (token 8) gets token 7, its sibling node 4's.
    let message = try damaged(.nodeToken) { (tokens: inout [UInt32]) in tokens[6] = 7 }
    #expect(message.contains("trie.children.npy") && message.contains("out of token order"), "\(message)")
  }

  @Test func rangesThatDoNotNestNameTheRangeFile() throws {
    let end = try damaged(.itemEnd) { (ends: inout [UInt32]) in ends[0] = 3 }
    #expect(end.contains("trie.item_end.npy") && end.contains("root"), "\(end)")
    let start = try damaged(.itemStart) { (starts: inout [UInt32]) in starts[6] = 2 }
    #expect(start.contains("trie.item_start.npy") && start.contains("node 6"), "\(start)")
    let empty = try damaged(.itemEnd) { (ends: inout [UInt32]) in ends[7] = 3 }
    #expect(empty.contains("trie.item_start.npy' and 'trie.item_end.npy' give node 7 the item range 3..<3"), "\(empty)")
  }

  @Test func parentsAndDepthsAreChecked() throws {
    let parent = try damaged(.nodeParent) { (parents: inout [UInt32]) in parents[4] = 5 }
    #expect(parent.contains("trie.node_parent.npy") && parent.contains("does not precede"), "\(parent)")
    let depth = try damaged(.nodeDepth) { (depths: inout [UInt32]) in depths[6] = 3 }
    #expect(depth.contains("trie.node_depth.npy") && depth.contains("node 6"), "\(depth)")
  }

  @Test func itemArraysAreChecked() throws {
    let order = try damaged(.itemOrder) { (order: inout [UInt32]) in order.swapAt(1, 2) }
    #expect(order.contains("trie.item_order.npy") && order.contains("out of id order"), "\(order)")
    let leaf = try damaged(.itemLeaf) { (leaves: inout [UInt32]) in leaves[3] = 5 }
    #expect(leaf.contains("items.leaf.npy") && leaf.contains("item 3"), "\(leaf)")
    let tokens = try damaged(.itemTokens) { (tokens: inout [UInt32]) in tokens[7] = 7 }
    #expect(tokens.contains("items.tokens.npy") && tokens.contains("item 3"), "\(tokens)")
    let padding = try damaged(.itemLeaf) { (leaves: inout [UInt32]) in leaves[0] = 0 }
    #expect(padding.contains("items.leaf.npy") && padding.contains("padding item 0"), "\(padding)")
    let length = try damaged(.itemTokenOffsets) { (offsets: inout [UInt64]) in offsets.removeLast() }
    #expect(length.contains("items.token_offsets.npy") && length.contains("items + 2"), "\(length)")
  }

  @Test func aLeafThatIsNotEOSIsNamed() throws {
    let message = try damaged(.nodeToken, { (_: inout [UInt32]) in }, eosID: 8)
    #expect(message.contains("items.leaf.npy") && message.contains("childless EOS node (token 8)"), "\(message)")
  }

  @Test func missingTruncatedAndMistypedFilesAreNamed() throws {
    let directory = try TemporaryDirectory()
    let trie = try HandWorkedTrieTests.example()
    try trie.write(to: directory.path)
    let bytes = try FileSystem.readFile(directory.file("trie.node_depth.npy"))
    try FileSystem.writeFile(directory.file("trie.node_depth.npy"), bytes.dropLast(4))
    let truncated = errorMessage { _ = try TitleTrie.read(from: directory.path) }
    #expect(truncated.contains("trie.node_depth.npy") && truncated.contains("truncated"), "\(truncated)")

    try NumPyArray.write(trie.children.map(UInt64.init), to: directory.file("trie.node_depth.npy"))
    let mistyped = errorMessage { _ = try TitleTrie.read(from: directory.path) }
    #expect(mistyped.contains("trie.node_depth.npy") && mistyped.contains("'<u8'"), "\(mistyped)")

    try FileSystem.removeTree(directory.file("trie.children.npy"))
    let missing = errorMessage { _ = try TitleTrie.read(from: directory.path) }
    #expect(missing.contains("trie.children.npy' is missing"), "\(missing)")
  }
}
