import ArtifactFormats
import PipelineCore

extension TitleTrie {
  /// The `.npy` files of a trie, one per array (the module README describes each).
  /// `itemPosition` is not stored: reading derives it from `itemOrder`.
  public enum File: String, CaseIterable, Sendable {
    case nodeToken = "trie.node_token.npy"
    case nodeParent = "trie.node_parent.npy"
    case nodeDepth = "trie.node_depth.npy"
    case childOffsets = "trie.child_offsets.npy"
    case children = "trie.children.npy"
    case itemStart = "trie.item_start.npy"
    case itemEnd = "trie.item_end.npy"
    case itemOrder = "trie.item_order.npy"
    case itemLeaf = "items.leaf.npy"
    case itemTokenOffsets = "items.token_offsets.npy"
    case itemTokens = "items.tokens.npy"
  }

  /// Every array file name, in the order `write(to:)` writes them.
  public static var fileNames: [String] { File.allCases.map(\.rawValue) }

  /// Writes the eleven arrays into `directory` as NumPy `.npy` v1.0 files (uint32, and uint64 for
  /// the two offset arrays).
  ///
  /// - Complexity: O(nodes + items + tokens), one write per file.
  public func write(to directory: String) throws(PipelineError) {
    func path(_ file: File) -> String { FileSystem.join(directory, file.rawValue) }
    try NumPyArray.write(token, to: path(.nodeToken))
    try NumPyArray.write(parent, to: path(.nodeParent))
    try NumPyArray.write(depth, to: path(.nodeDepth))
    try NumPyArray.write(childOffsets, to: path(.childOffsets))
    try NumPyArray.write(children, to: path(.children))
    try NumPyArray.write(itemStart, to: path(.itemStart))
    try NumPyArray.write(itemEnd, to: path(.itemEnd))
    try NumPyArray.write(itemOrder, to: path(.itemOrder))
    try NumPyArray.write(itemLeaf, to: path(.itemLeaf))
    try NumPyArray.write(itemTokenOffsets, to: path(.itemTokenOffsets))
    try NumPyArray.write(itemTokens, to: path(.itemTokens))
  }

  /// Reads the arrays of a `trie` artifact and checks every invariant
  /// (`checkInvariants(directory:eosID:)`), so that no lookup on the result can go out of bounds.
  /// Errors name the file.
  ///
  /// - Parameter eosID: when given, every item must also end in a childless node with this token.
  /// - Complexity: O(nodes + items + tokens) time and the trie's memory.
  public static func read(from directory: String, eosID: UInt32? = nil) throws(PipelineError) -> TitleTrie {
    func path(_ file: File) -> String { FileSystem.join(directory, file.rawValue) }
    for file in File.allCases where !FileSystem.exists(path(file)) {
      throw .invalidArtifact("'\(path(file))' is missing; rerun the trie stage with --force")
    }
    func vector<Element: NumPyElement>(_ type: Element.Type, _ file: File) throws(PipelineError) -> [Element] {
      let (values, shape) = try NumPyArray.read(type, from: path(file))
      guard shape.count == 1 else {
        throw .invalidArtifact(
          "'\(path(file))' has shape \(shape), expected one dimension; rerun the trie stage with --force")
      }
      return values
    }
    let trie = TitleTrie(
      token: try vector(UInt32.self, .nodeToken), parent: try vector(UInt32.self, .nodeParent),
      depth: try vector(UInt32.self, .nodeDepth), childOffsets: try vector(UInt64.self, .childOffsets),
      children: try vector(UInt32.self, .children), itemStart: try vector(UInt32.self, .itemStart),
      itemEnd: try vector(UInt32.self, .itemEnd), itemOrder: try vector(UInt32.self, .itemOrder),
      itemLeaf: try vector(UInt32.self, .itemLeaf), itemTokenOffsets: try vector(UInt64.self, .itemTokenOffsets),
      itemTokens: try vector(UInt32.self, .itemTokens))
    try trie.checkInvariants(directory: directory, eosID: eosID)
    return trie
  }
}
