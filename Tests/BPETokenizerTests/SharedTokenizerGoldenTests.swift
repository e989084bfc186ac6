import BPETokenizer
import TestSupport
import Testing

/// Ids of the shared real tokenizers for a handful of strings. The expected ids were produced by
/// `tokenizers` 0.23.3 (GPT-2: `Tokenizer(BPE.from_file(vocab, merges))` with
/// `ByteLevel(add_prefix_space=False)`; Llama 3.2: `Tokenizer.from_file`; Qwen 2: `BPE.from_file` with
/// `Sequence([Split(Regex(qwen2), "isolated"), ByteLevel(use_regex=False)])` and its three special
/// tokens) and by tiktoken 0.14.0 (Llama 3 ranks, Meta's pattern and special tokens, `allowed_special="all"`);
/// Tests/python/test_tokenizer_oracle.py compares every title and prompt of the shared data.
@Suite("Shared tokenizers")
struct SharedTokenizerGoldenTests {
  static let texts = [
    "Hello world, it's a test.", "LEGO Star Wars 75037 Battle on Saleucami", "  He'LL pay 1234567 dollars!!\n\n",
    "日本語 😀 café", "<|endoftext|>x<|begin_of_text|>", "",
  ]

  static func check(_ tokenizer: Tokenizer, _ expected: [[UInt32]]) {
    for (text, ids) in zip(texts, expected) {
      #expect(tokenizer.encode(text) == ids, "\(text.debugDescription)")
      #expect(tokenizer.decode(tokenizer.encode(text)) == text)
    }
    #expect(tokenizer.encodeBatch(texts, threads: 2) == expected)
  }

  @Test(.enabled(if: SharedData.shouldRun("tokenizers/gpt2/vocab.json"), "needs ../shared/data/tokenizers/gpt2"))
  func gpt2VocabularyAndMerges() throws {
    guard SharedData.available("tokenizers/gpt2/vocab.json") else { return }
    let tokenizer = try Tokenizer.load(
      vocabulary: SharedData.path("tokenizers/gpt2/vocab.json"), merges: SharedData.path("tokenizers/gpt2/merges.txt"),
      preset: .gpt2)
    Self.check(
      tokenizer,
      [
        [15496, 995, 11, 340, 338, 257, 1332, 13],
        [2538, 11230, 2907, 6176, 19683, 2718, 5838, 319, 16467, 1229, 6277],
        [220, 679, 6, 3069, 1414, 17031, 2231, 3134, 5054, 3228, 628],
        [33768, 98, 17312, 105, 45739, 252, 30325, 222, 40304],
        [27, 91, 437, 1659, 5239, 91, 29, 87, 27, 91, 27471, 62, 1659, 62, 5239, 91, 29], [],
      ])
    #expect(tokenizer.vocabularySize == 50257)
    #expect(tokenizer.eosID == 50256)
  }

  @Test(
    .enabled(if: SharedData.shouldRun("tokenizers/llama3.2/tokenizer.json"), "needs ../shared/data/tokenizers/llama3.2")
  )
  func llama32TokenizerJSON() throws {
    guard SharedData.available("tokenizers/llama3.2/tokenizer.json") else { return }
    let tokenizer = try Tokenizer.load(tokenizerJSON: SharedData.path("tokenizers/llama3.2/tokenizer.json"))
    Self.check(
      tokenizer,
      [
        [9906, 1917, 11, 433, 596, 264, 1296, 13],
        [877, 15881, 7834, 15317, 220, 11711, 1806, 16506, 389, 13618, 1791, 10830],
        [220, 1283, 6, 4178, 2343, 220, 4513, 10961, 22, 11441, 25833], [102433, 102158, 91416, 53050],
        [27, 91, 8862, 728, 428, 91, 29, 87, 128000], [],
      ])
    #expect(tokenizer.encode("Hi", addSpecialTokens: true).first == 128_000)
    #expect(tokenizer.bosID == 128_000)
    #expect(tokenizer.eosID == 128_001)
    #expect(tokenizer.vocabularySize == 128_257)
    #expect(tokenizer.decode([128_000, 9906], skipSpecialTokens: true) == "Hello")
  }

  @Test(.enabled(if: SharedData.shouldRun("tokenizers/qwen2/vocab.json"), "needs ../shared/data/tokenizers/qwen2"))
  func qwen2VocabularyAndMerges() throws {
    guard SharedData.available("tokenizers/qwen2/vocab.json") else { return }
    let tokenizer = try Tokenizer.load(
      vocabulary: SharedData.path("tokenizers/qwen2/vocab.json"),
      merges: SharedData.path("tokenizers/qwen2/merges.txt"),
      preset: .qwen2, specialTokens: ["<|endoftext|>": 151_643, "<|im_start|>": 151_644, "<|im_end|>": 151_645])
    Self.check(
      tokenizer,
      [
        [9707, 1879, 11, 432, 594, 264, 1273, 13],
        [867, 15513, 7679, 14968, 220, 22, 20, 15, 18, 22, 16115, 389, 13315, 1754, 10606],
        [220, 1260, 6, 4086, 2291, 220, 16, 17, 18, 19, 20, 21, 22, 11192, 24796], [101059, 102819, 90316, 51950],
        [151643, 87, 27, 91, 7265, 3575, 4326, 91, 29], [],
      ])
  }

  @Test(
    .enabled(if: SharedData.shouldRun("tokenizers/llama3/tokenizer.model"), "needs ../shared/data/tokenizers/llama3"))
  func llama3TiktokenRanks() throws {
    guard SharedData.available("tokenizers/llama3/tokenizer.model") else { return }
    let tokenizer = try Tokenizer.load(
      tiktokenRanks: SharedData.path("tokenizers/llama3/tokenizer.model"), preset: .llama3,
      specialTokens: Tokenizer.llama3SpecialTokens)
    Self.check(
      tokenizer,
      [
        [9906, 1917, 11, 433, 596, 264, 1296, 13],
        [877, 15881, 7834, 15317, 220, 11711, 1806, 16506, 389, 13618, 1791, 10830],
        [220, 1283, 6, 4178, 2343, 220, 4513, 10961, 22, 11441, 25833], [102433, 102158, 91416, 53050],
        [27, 91, 8862, 728, 428, 91, 29, 87, 128000], [],
      ])
    // Its tokenizer.json, read back, is the same tokenizer.
    let copy = try Tokenizer(tokenizerJSON: tokenizer.tokenizerJSON())
    for text in Self.texts { #expect(copy.encode(text) == tokenizer.encode(text)) }
  }
}
