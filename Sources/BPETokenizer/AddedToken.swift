/// A token matched in the raw text before pre-tokenization (`added_tokens` of `tokenizer.json`):
/// special tokens such as `<|begin_of_text|>`, and any other text the model keeps whole.
public struct AddedToken: Hashable, Sendable {
  public var content: String
  public var id: Int
  /// Special tokens are dropped by `decode(_:skipSpecialTokens: true)`.
  public var special: Bool
  /// Whether a match also takes the whitespace on its left.
  public var lstrip: Bool
  /// Whether a match also takes the whitespace on its right.
  public var rstrip: Bool
  /// Whether the token is matched in the normalized text (after the non-normalized tokens split it).
  public var normalized: Bool
  /// Whether the token only matches between non-word characters (`\w` of the Rust regex crate).
  public var singleWord: Bool

  /// A token with the flags of `tokenizers`' defaults: not stripped, not single-word, and
  /// normalized unless special.
  public init(
    content: String, id: Int, special: Bool = true, lstrip: Bool = false, rstrip: Bool = false,
    normalized: Bool? = nil, singleWord: Bool = false
  ) {
    self.content = content
    self.id = id
    self.special = special
    self.lstrip = lstrip
    self.rstrip = rstrip
    self.normalized = normalized ?? !special
    self.singleWord = singleWord
  }
}
