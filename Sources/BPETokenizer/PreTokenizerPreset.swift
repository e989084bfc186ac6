/// The pre-tokenizer regexes of the byte-level BPE tokenizers we support, each implemented as a
/// hand-written scanner that splits text exactly as the regex does in `tokenizers` (Oniguruma):
/// alternatives tried in order, greedy quantifiers, the `\s+(?!\S)` look-ahead, and Oniguruma's
/// Unicode classes.
public enum PreTokenizerPreset: String, CaseIterable, Sendable {
  /// GPT-2 (and RoBERTa, GPT-J…): `'s|'t|…| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
  case gpt2
  /// Llama 3: case-insensitive contractions, one leading non-letter glued to a word, digits in
  /// groups of up to three, punctuation runs that keep their trailing newlines.
  case llama3
  /// Qwen 2: Llama 3's regex with single digits.
  case qwen2

  /// The regex, spelled as `tokenizer.json` spells it.
  public var pattern: String {
    switch self {
    case .gpt2:
      return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    case .llama3:
      return
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    case .qwen2:
      return
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    }
  }

  /// The preset whose regex is exactly `pattern`, or `nil`.
  public init?(pattern: String) {
    guard let preset = Self.allCases.first(where: { $0.pattern == pattern }) else { return nil }
    self = preset
  }

  /// Splits a text into the pieces the regex matches, in order (their concatenation is the text).
  public func pieces(of text: String) -> [String] {
    var text = text
    return text.withUTF8 { bytes in
      var pieces: [String] = []
      forEachPiece(in: bytes) { piece in pieces.append(String(decoding: piece, as: UTF8.self)) }
      return pieces
    }
  }

  /// Calls `body` with each piece of valid UTF-8 text, in order, without copying.
  ///
  /// - Complexity: O(n) in the number of bytes.
  public func forEachPiece(
    in bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void
  ) rethrows {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
    let scanner = PreTokenizerScanner(preset: self, bytes: base, count: bytes.count)
    var start = 0
    while start < bytes.count {
      let end = scanner.pieceEnd(from: start)
      try body(UnsafeBufferPointer(rebasing: bytes[start..<end]))
      start = end
    }
  }
}
