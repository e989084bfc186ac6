/// The pre-tokenizer of a byte-level tokenizer: an optional regex `Split` (behaviour `Isolated`),
/// then `ByteLevel`, which may add a prefix space to each piece and split it again with GPT-2's regex.
///
/// This covers `ByteLevel` alone (GPT-2, RoBERTa) and `Sequence[Split, ByteLevel]` (Llama 3, Qwen 2).
struct PreTokenizerConfiguration: Sendable, Equatable {
  /// The regex of a `Split` step that runs before `ByteLevel`, if there is one.
  var split: PreTokenizerPreset?
  /// `ByteLevel.add_prefix_space`: a piece that does not start with a space gets one.
  var addPrefixSpace: Bool
  /// `ByteLevel.use_regex`: split each piece again with GPT-2's regex.
  var useRegex: Bool
  /// `ByteLevel.trim_offsets` (offsets only; kept to write the file back).
  var trimOffsets: Bool

  /// How a preset's tokenizer files configure it: GPT-2 splits inside `ByteLevel`, the others in a
  /// `Split` step before it.
  static func standard(_ preset: PreTokenizerPreset, addPrefixSpace: Bool = false) -> Self {
    switch preset {
    case .gpt2: return Self(split: nil, addPrefixSpace: addPrefixSpace, useRegex: true, trimOffsets: true)
    case .llama3, .qwen2:
      return Self(split: preset, addPrefixSpace: addPrefixSpace, useRegex: false, trimOffsets: preset == .llama3)
    }
  }

  /// The regex that decides word boundaries: the `Split` step's, else GPT-2's when `ByteLevel` splits.
  var effectivePreset: PreTokenizerPreset? { split ?? (useRegex ? .gpt2 : nil) }
}
