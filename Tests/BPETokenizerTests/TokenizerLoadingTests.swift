import BPETokenizer
import PipelineCore
import TestSupport
import Testing

@Suite("Loading tokenizers")
struct TokenizerLoadingTests {
  static func json(preTokenizer: JSONValue, normalizer: JSONValue = nil) -> JSONValue {
    [
      "version": "1.0", "normalizer": normalizer, "pre_tokenizer": preTokenizer, "decoder": ["type": "ByteLevel"],
      "model": ["type": "BPE", "vocab": ["a": 0], "merges": []],
    ]
  }

  @Test func anUnknownRegexIsAnErrorThatNamesThePattern() {
    let split: JSONValue = [
      "type": "Sequence",
      "pretokenizers": [
        ["type": "Split", "pattern": ["Regex": #"\w+|\s+"#], "behavior": "Isolated", "invert": false],
        ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
      ],
    ]
    #expect {
      try Tokenizer(tokenizerJSON: Self.json(preTokenizer: split))
    } throws: { error in
      "\(error)".contains(#"unknown pre-tokenizer regex '\w+|\s+'"#)
    }
  }

  @Test func unsupportedPartsAreErrors() {
    let byteLevel: JSONValue = ["type": "ByteLevel"]
    #expect(throws: PipelineError.self) {
      try Tokenizer(tokenizerJSON: Self.json(preTokenizer: byteLevel, normalizer: ["type": "NFKC"]))
    }
    #expect(throws: PipelineError.self) {
      try Tokenizer(tokenizerJSON: Self.json(preTokenizer: ["type": "Whitespace"]))
    }
  }

  @Test func addedTokensTakeTheIdsTokenizersAssigns() throws {
    // A content already in the vocabulary keeps its id; others follow the vocabulary's size.
    var json = Self.json(preTokenizer: ["type": "ByteLevel"])
    if case .object(var members) = json {
      members["added_tokens"] = [
        ["id": 5, "content": "<x>", "special": true], ["id": 99, "content": "a", "special": true],
        ["id": 7, "content": "<y>", "special": false],
      ]
      json = .object(members)
    }
    let tokenizer = try Tokenizer(tokenizerJSON: json)
    #expect(tokenizer.id(of: "<x>") == 1)
    #expect(tokenizer.id(of: "a") == 0)
    #expect(tokenizer.id(of: "<y>") == 2)
    #expect(tokenizer.isSpecial(1) && !tokenizer.isSpecial(2))
  }

  @Test func tiktokenRankFilesReadBase64Lines() throws {
    let directory = try TemporaryDirectory()
    // a=0 b=1 ab=2 ("YQ==", "Yg==", "YWI=")
    let path = try directory.write("ranks.tiktoken", "YQ== 0\nYg== 1\nYWI= 2\n\n")
    let tokenizer = try Tokenizer.load(tiktokenRanks: path, preset: .llama3, specialTokens: ["<|begin_of_text|>": 3])
    #expect(tokenizer.encode("abab") == [2, 2])
    #expect(tokenizer.encode("ba", addSpecialTokens: true) == [3, 1, 0])
    #expect(tokenizer.vocabularySize == 4)
  }

  @Test func mergesFilesSkipTheVersionLineAndRejectBadLines() throws {
    let directory = try TemporaryDirectory()
    let vocabulary = try directory.write("vocab.json", #"{"a": 0, "b": 1, "ab": 2}"#)
    let merges = try directory.write("merges.txt", "#version: 0.2\na b\n")
    let tokenizer = try Tokenizer.load(vocabulary: vocabulary, merges: merges, preset: .gpt2)
    #expect(tokenizer.encode("abba") == [2, 1, 0])
    let bad = try directory.write("bad.txt", "#version: 0.2\na b c\n")
    #expect(throws: PipelineError.self) { try Tokenizer.load(vocabulary: vocabulary, merges: bad, preset: .gpt2) }
  }

  @Test func llama3SpecialTokensAreTheTwoHundredFiftySixOfMetasCode() {
    let tokens = Tokenizer.llama3SpecialTokens
    #expect(tokens.count == 256)
    #expect(tokens["<|begin_of_text|>"] == 128_000)
    #expect(tokens["<|end_of_text|>"] == 128_001)
    #expect(tokens["<|start_header_id|>"] == 128_006)
    #expect(tokens["<|end_header_id|>"] == 128_007)
    #expect(tokens["<|eot_id|>"] == 128_009)
    #expect(tokens["<|reserved_special_token_250|>"] == 128_255)
  }
}
