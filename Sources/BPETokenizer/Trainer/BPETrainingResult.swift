/// What BPE training learned: the vocabulary in id order and the merges in rank order.
///
/// Token strings are in the byte-level form of `tokenizer.json`: each byte is one character of
/// GPT-2's byte-to-unicode table (a space is `Ġ`), except special tokens, which are kept as given.
public struct BPETrainingResult: Equatable, Sendable {
  /// One learned merge: the two tokens whose concatenation became a token.
  public struct Merge: Hashable, Sendable, CustomStringConvertible {
    public var left: String
    public var right: String
    public init(_ left: String, _ right: String) {
      self.left = left
      self.right = right
    }
    /// The `merges.txt` form, `"left right"`.
    public var description: String { "\(left) \(right)" }
  }

  /// Why merging stopped.
  public enum StopReason: String, Sendable {
    /// The vocabulary reached the requested size.
    case vocabularySize = "vocabulary-size"
    /// The most frequent remaining pair occurs fewer than `minimumFrequency` times.
    case minimumFrequency = "min-frequency"
    /// No adjacent pair is left: every word is a single token.
    case noPairs = "no-pairs"
  }

  /// Every token by id: the special tokens (ids `0..<specialTokens.count`), then the 256
  /// byte-level characters in code-point order, then each token a merge created, in merge order.
  public var vocabulary: [String]
  /// The merges in rank order (rank 0 first). A merge whose result already was a token (two merge
  /// paths to one string) adds no token, so `merges.count` can exceed `vocabulary.count - 256 - k`.
  public var merges: [Merge]
  /// The special tokens as they entered the vocabulary (duplicates removed), ids `0..<count`.
  public var specialTokens: [String]
  /// The pre-tokenizer the words came from; the tokenizer must split text the same way.
  public var preset: PreTokenizerPreset
  public var stopReason: StopReason
  /// The count of the last merge made (0 when none was made).
  public var lastMergeCount: Int

  public init(
    vocabulary: [String], merges: [Merge], specialTokens: [String], preset: PreTokenizerPreset,
    stopReason: StopReason, lastMergeCount: Int
  ) {
    self.vocabulary = vocabulary
    self.merges = merges
    self.specialTokens = specialTokens
    self.preset = preset
    self.stopReason = stopReason
    self.lastMergeCount = lastMergeCount
  }

  /// The `merges.txt` lines, `"left right"`, in rank order.
  public var mergeLines: [String] { merges.map(\.description) }
}

extension BPETrainingResult {
  /// The vocabulary as `tokenizer.json`'s `model.vocab` has it: token string → id.
  public var vocabularyIDs: [String: Int] {
    // Token strings are distinct as bytes; the first id wins should two be canonically equivalent.
    Dictionary(vocabulary.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
  }

  /// The trained tokenizer: the vocabulary and merges, the preset's pre-tokenizer, and the special
  /// tokens as added tokens with their ids (`0..<k`), which are matched whole before pre-tokenizing.
  ///
  /// - Parameters:
  ///   - bosToken, eosToken: the tokens `Tokenizer.bosID` and `eosID` name; they are not added to
  ///     encodings (the post-processor is a plain `ByteLevel`).
  public func makeTokenizer(bosToken: String? = nil, eosToken: String? = nil) -> Tokenizer {
    Tokenizer(
      vocabulary: vocabularyIDs, merges: merges.map { ($0.left, $0.right) }, preset: preset,
      addedTokens: specialTokens.enumerated().map { AddedToken(content: $0.element, id: $0.offset) },
      bosToken: bosToken, eosToken: eosToken)
  }
}
