/// A byte-level BPE trainer: learns a vocabulary of a given size from texts (item titles), as a
/// tokenizer whose `tokenizer.json` the `tokenizers` library loads and encodes with identically.
///
/// Training pre-tokenizes each text with the preset's regex, counts the distinct pieces (words),
/// spells them in GPT-2's byte-level alphabet, and then repeatedly merges the most frequent adjacent
/// pair of tokens inside words until the vocabulary has `vocabularySize` tokens or the most
/// frequent pair occurs fewer than `minimumFrequency` times.
///
/// Vocabulary layout (as `tokenizers`' `BpeTrainer` lays it out): the special tokens first, ids
/// `0..<k` in the order given (repeats dropped); then all 256 byte-level characters, sorted by code
/// point (the order of GPT-2's `vocab.json`: `!` … `~`, `¡` … `ÿ`, `Ā` … `Ń`), so any input can be
/// encoded; then one token per merge. `vocabularySize` counts all of them.
///
/// Tie-breaking: among pairs with the highest count, the pair whose left token has the smallest id
/// wins, then the one whose right token has the smallest id. Ids grow in creation order, so this
/// prefers pairs of older tokens. It is the rule of `tokenizers`' `BpeTrainer` (a heap ordered by
/// count, then by the pair of ids ascending), so given the same words, vocabulary size, minimum
/// frequency, special tokens and the full byte-level alphabet as `initial_alphabet`, both learn the
/// same merges in the same order.
///
/// Occurrences of a pair inside one word merge left to right without overlap, and the counts of
/// the pairs around them are updated incrementally: an index from each pair to the words containing
/// it limits each merge to those words, and a max-heap with lazy deletion finds the next pair.
public struct BPETrainer: Sendable {
  /// The size of the vocabulary to reach: special tokens + 256 bytes + merged tokens.
  public var vocabularySize: Int
  /// The smallest count a pair needs to be merged; training stops at the first pair below it.
  public var minimumFrequency: Int
  /// Tokens that get ids `0..<k`, matched whole when encoding and never learned from the corpus.
  public var specialTokens: [String]
  /// The pre-tokenizer regex that splits texts into words, and is written into `tokenizer.json`.
  public var preset: PreTokenizerPreset

  public init(
    vocabularySize: Int, minimumFrequency: Int = 2, specialTokens: [String] = ["<|endoftext|>"],
    preset: PreTokenizerPreset = .gpt2
  ) {
    self.vocabularySize = vocabularySize
    self.minimumFrequency = minimumFrequency
    self.specialTokens = specialTokens
    self.preset = preset
  }

  /// The smallest vocabulary size that allows a merge: the distinct special tokens and 256 bytes.
  public var baseVocabularySize: Int { Set(specialTokens.map { Array($0.utf8) }).count + 256 }

  /// Pre-tokenizes the texts with `preset` and counts their words.
  ///
  /// - Complexity: O(*n*) in the total UTF-8 length.
  public func corpus(_ texts: some Sequence<String>) -> BPETrainingCorpus {
    var corpus = BPETrainingCorpus()
    for text in texts { corpus.add(text, preset: preset) }
    return corpus
  }

  /// Learns merges from counted words.
  ///
  /// - Complexity: O(*P* + *M* log *P* + Σ over merges of the lengths of the words containing the
  ///   merged pair), for *P* distinct pairs and *M* merges.
  public func train(_ corpus: BPETrainingCorpus) -> BPETrainingResult {
    BPEMergeLearner(
      vocabularySize: vocabularySize, minimumFrequency: minimumFrequency, specialTokens: specialTokens, preset: preset
    ).learn(corpus)
  }

  /// Pre-tokenizes the texts and learns merges from their words.
  public func train(_ texts: some Sequence<String>) -> BPETrainingResult {
    train(corpus(texts))
  }
}
