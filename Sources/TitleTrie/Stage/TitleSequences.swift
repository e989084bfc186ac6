import LogIngest
import PipelineCore

/// The token sequence of every item's title, as the trie stores it: the title after the
/// `TrieOptions` policies, encoded standalone (no BOS), then EOS.
public struct TitleSequences: Equatable, Sendable {
  /// The text encoded for item id `j + 1`: its title, stripped, or its raw id.
  public var texts: [String]
  /// N + 2 offsets indexed by item id (item 0, padding, is empty), as `TitleTrie.itemTokenOffsets`.
  public var itemTokenOffsets: [UInt64]
  /// Every item's tokens in item id order, as `TitleTrie.itemTokens`.
  public var itemTokens: [UInt32]
  /// Titles that stripping changed.
  public var strippedCount = 0
  /// Items whose raw id stood in for a missing title.
  public var rawIDCount = 0

  /// Applies the title policies and encodes every title.
  ///
  /// - Parameters:
  ///   - items: the items in id order (`items[j]` is item id `j + 1`).
  ///   - options: stripping, EOS, and what to do without a title.
  ///   - eosID: the id appended when `options.addEOS`; it must not occur inside a title's tokens.
  ///   - encode: the tokenizer's encoding of a batch of texts, in order, without special tokens
  ///     added (`Tokenizer.encodeBatch`, which spreads the batch over threads).
  /// - Throws: `PipelineError` (`invalidInput`) naming the first item without a title (under the
  ///   `error` policy), whose text encodes to no tokens, or whose tokens contain EOS.
  /// - Complexity: the encoder's cost over all titles; O(tokens) memory besides the titles.
  public init(
    items: [ItemRecord], options: TrieOptions, eosID: UInt32?, encode: ([String]) -> [[UInt32]]
  ) throws(PipelineError) {
    texts = []
    texts.reserveCapacity(items.count)
    for (index, item) in items.enumerated() {
      var text = item.title ?? ""
      if options.stripTitles {
        let stripped = Self.strip(text)
        if stripped != text { strippedCount += 1 }
        text = stripped
      }
      if item.title == nil || text.isEmpty {
        guard options.missingTitle == .rawID else {
          let what = item.title == nil ? "no title" : "an empty title"
          throw .invalidInput(
            "item \(index + 1) (raw id '\(item.rawID)') has \(what); set missing_title: raw-id in the trie stage's params to encode its raw id instead, or fix the source"
          )
        }
        text = item.rawID
        rawIDCount += 1
      }
      texts.append(text)
    }
    if options.addEOS && eosID == nil {
      throw .invalidInput(
        "add_eos is set but the tokenizer has no EOS token; set add_eos: false or use a tokenizer with one")
    }
    let encoded = encode(texts)
    precondition(
      encoded.count == texts.count, "the encoder returned \(encoded.count) sequences for \(texts.count) texts")
    itemTokenOffsets = [0, 0]
    itemTokenOffsets.reserveCapacity(items.count + 2)
    itemTokens = []
    itemTokens.reserveCapacity(encoded.reduce(0) { $0 + $1.count + 1 })
    for (index, tokens) in encoded.enumerated() {
      let item = index + 1
      guard !tokens.isEmpty else {
        throw .invalidInput(
          "item \(item) (raw id '\(items[index].rawID)', title '\(texts[index])') encodes to no tokens; give it a title or check the tokenizer"
        )
      }
      if options.addEOS, let eosID {
        if let position = tokens.firstIndex(of: eosID) {
          throw .invalidInput(
            "item \(item) (raw id '\(items[index].rawID)', title '\(texts[index])') encodes to the EOS token \(eosID) at position \(position); EOS may only end a title, so remove the special token's text from the title"
          )
        }
        itemTokens.append(contentsOf: tokens)
        itemTokens.append(eosID)
      } else {
        itemTokens.append(contentsOf: tokens)
      }
      itemTokenOffsets.append(UInt64(itemTokens.count))
    }
  }

  /// The sequence of item id `item` (1...N).
  public func tokens(ofItem item: Int) -> ArraySlice<UInt32> {
    itemTokens[Int(itemTokenOffsets[item])..<Int(itemTokenOffsets[item + 1])]
  }

  /// `text` without leading and trailing whitespace (characters that are Unicode `White_Space`,
  /// line breaks included).
  public static func strip(_ text: String) -> String {
    guard let first = text.firstIndex(where: { !$0.isWhitespace }) else { return "" }
    let last = text.lastIndex(where: { !$0.isWhitespace })!
    return String(text[first...last])
  }
}
