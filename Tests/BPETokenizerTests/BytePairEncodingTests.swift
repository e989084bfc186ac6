import BPETokenizer
import PipelineCore
import Testing

/// Hand-worked BPE on tiny vocabularies whose ids can be followed on paper.
@Suite("Byte pair encoding")
struct BytePairEncodingTests {
  /// a=0 b=1 c=2 Ġ=3; merges by rank: (a b)→ab=4, (ab c)→abc=5, (Ġ a)→Ġa=6, (a a)→aa=7.
  static func tiny(ignoreMerges: Bool = false, addedTokens: [AddedToken] = []) -> Tokenizer {
    Tokenizer(
      vocabulary: ["a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "abc": 5, "Ġa": 6, "aa": 7],
      merges: [("a", "b"), ("ab", "c"), ("Ġ", "a"), ("a", "a")], preset: .gpt2, addedTokens: addedTokens,
      ignoreMerges: ignoreMerges)
  }

  @Test func mergesTheLowestRankedPairFirst() {
    let tokenizer = Self.tiny()
    #expect(tokenizer.encode("abc") == [5])
    // " ab": the pieces are Ġ a b; (a b) has rank 0 and beats (Ġ a) of rank 2, so Ġa never forms.
    #expect(tokenizer.encode("abc ab") == [5, 3, 4])
    // " ac": (Ġ a) is the only pair that merges.
    #expect(tokenizer.encode(" ac") == [6, 2])
  }

  @Test func equalPairsMergeLeftmostFirst() {
    #expect(Self.tiny().encode("aaa") == [7, 0])
    #expect(Self.tiny().encode("aaaa") == [7, 7])
  }

  @Test func ignoreMergesEmitsAPieceThatIsAToken() {
    // "bc" is a token no merge reaches: merges give b c, ignore_merges gives bc.
    let vocabulary = ["a": 0, "b": 1, "c": 2, "bc": 3, "abc": 4, "ab": 5]
    let plain = Tokenizer(vocabulary: vocabulary, merges: [("a", "b")], preset: .llama3)
    let ignoring = Tokenizer(vocabulary: vocabulary, merges: [("a", "b")], preset: .llama3, ignoreMerges: true)
    #expect(plain.encode("bc") == [1, 2])
    #expect(ignoring.encode("bc") == [3])
    #expect(ignoring.encode("abc") == [4])
    #expect(plain.encode("abc") == [5, 2])
  }

  @Test func bytesMissingFromTheVocabularyAreDroppedWithoutUnknownToken() {
    // As in `tokenizers`: no unk_token, no byte_fallback, the character disappears and its
    // neighbours then merge.
    #expect(Self.tiny().encode("axb") == [4])
    #expect(Self.tiny().encode("xc") == [2])
  }

  @Test func unknownAndByteFallbackTokensReplaceMissingBytes() throws {
    func model(_ extra: JSONValue) throws -> Tokenizer {
      var model: [String: JSONValue] = [
        "type": "BPE", "vocab": ["<unk>": 0, "a": 1, "<0x78>": 2, "<0x79>": 3], "merges": [],
      ]
      for (key, value) in extra.objectValue ?? [:] { model[key] = value }
      return try Tokenizer(tokenizerJSON: [
        "version": "1.0", "model": .object(model),
        "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true],
        "decoder": ["type": "ByteLevel"],
      ])
    }
    #expect(try model(["unk_token": "<unk>"]).encode("axxa") == [1, 0, 0, 1])
    #expect(try model(["unk_token": "<unk>", "fuse_unk": true]).encode("axxa") == [1, 0, 1])
    // byte_fallback looks up the UTF-8 bytes of the byte-level character ("x" is itself).
    #expect(try model(["byte_fallback": true, "unk_token": "<unk>"]).encode("axyza") == [1, 2, 3, 0, 1])
  }

  @Test func longPiecesUseTheHeapAndAgreeWithShortOnes() {
    let tokenizer = Self.tiny()
    for length in [1, 2, 3, 127, 128, 129, 130, 1000, 10001] {
      let ids = tokenizer.encode(String(repeating: "a", count: length))
      #expect(ids == Array(repeating: 7, count: length / 2) + (length % 2 == 1 ? [0] : []))
    }
    let mixed = String(repeating: "abcaab", count: 50)
    // a b c a a b: both (a b) merge first (rank 0), then (ab c); (a a) has lost its second a.
    #expect(tokenizer.encode(mixed) == [5, 0, 4].repeated(50))
  }

  @Test func addedTokensAreSplitOffLeftmostLongestFirst() {
    let tokenizer = Self.tiny(addedTokens: [
      AddedToken(content: "<a>", id: 10), AddedToken(content: "<a><b>", id: 11),
      AddedToken(content: "bb", id: 12, special: false),
    ])
    #expect(tokenizer.encode("ab<a><b>c<a>bbb") == [4, 11, 2, 10, 12, 1])
    #expect(tokenizer.decode([4, 11, 2]) == "ab<a><b>c")
    #expect(tokenizer.decode([4, 11, 2, 12], skipSpecialTokens: true) == "abcbb")
  }

  @Test func stripAndSingleWordFlagsFollowTokenizers() {
    let tokenizer = Self.tiny(addedTokens: [
      AddedToken(content: "<m>", id: 10, lstrip: true, rstrip: true),
      AddedToken(content: "cab", id: 11, singleWord: true),
    ])
    // lstrip/rstrip take the spaces around the token.
    #expect(tokenizer.encode("a  <m>  b") == [0, 10, 1])
    // single_word: only between non-word characters.
    #expect(tokenizer.encode("cab") == [11])
    #expect(tokenizer.encode("a cab") == [0, 3, 11])
    #expect(tokenizer.encode("acab") == [0, 2, 4])
  }

  @Test func postProcessorAddsItsSpecialTokensOnRequest() {
    let tokenizer = Tokenizer(
      vocabulary: ["a": 0, "<s>": 1, "</s>": 2], merges: [], preset: .llama3,
      addedTokens: [AddedToken(content: "<s>", id: 1), AddedToken(content: "</s>", id: 2)], bosToken: "<s>",
      eosToken: "</s>", addsBOS: true, addsEOS: true)
    #expect(tokenizer.encode("aa", addSpecialTokens: true) == [1, 0, 0, 2])
    #expect(tokenizer.encode("aa") == [0, 0])
    #expect(tokenizer.bosID == 1)
    #expect(tokenizer.eosID == 2)
  }

  @Test func batchesGiveTheSameIdsOnAnyNumberOfThreads() {
    let tokenizer = Self.tiny()
    let texts = (0..<2000).map { index in String(repeating: "ab c", count: index % 17) + String(index) }
    let sequential = texts.map { tokenizer.encode($0) }
    for threads in [1, 2, 3, 8] { #expect(tokenizer.encodeBatch(texts, threads: threads) == sequential) }
  }

  @Test func tokenizerJSONReadsBackToTheSameTokenizer() throws {
    let tokenizer = Self.tiny(addedTokens: [AddedToken(content: "<a>", id: 8)])
    let copy = try Tokenizer(tokenizerJSON: tokenizer.tokenizerJSON())
    for text in ["abc ab", "aaa<a>aa", " ac", ""] { #expect(copy.encode(text) == tokenizer.encode(text)) }
    #expect(copy.vocabularySize == 9)
    #expect(copy.id(of: "Ġa") == 6)
    #expect(copy.token(of: 8) == "<a>")
  }
}

extension Array {
  fileprivate func repeated(_ count: Int) -> [Element] { (0..<count).flatMap { _ in self } }
}
