import PipelineCore

extension Tokenizer {
  /// The tokenizer as a Hugging Face `tokenizer.json`: model `BPE` (vocabulary, merges in rank
  /// order, flags), the pre-tokenizer, the `ByteLevel` decoder, the post-processor and the added
  /// tokens. `tokenizers.Tokenizer.from_file` loads it and encodes exactly as this tokenizer does.
  ///
  /// A tokenizer loaded from tiktoken ranks is written the way `transformers` converts Llama 3:
  /// every split of a token into two tokens is a merge, ordered by the token's rank, with
  /// `ignore_merges` on. An added token whose id `tokenizers` would not assign on loading (the next
  /// id after the vocabulary) is also written into the vocabulary, which pins its id.
  public func tokenizerJSON() -> JSONValue {
    var modelTexts = [String?](repeating: nil, count: vocabularySize)
    for (token, id) in model.vocabulary { modelTexts[Int(id)] = token }
    let pairs = model.pairs.entries().sorted { ($0.rank, $0.left, $0.right) < ($1.rank, $1.left, $1.right) }
    let merges: [JSONValue] = pairs.map { pair in
      [.string(modelTexts[Int(pair.left)] ?? ""), .string(modelTexts[Int(pair.right)] ?? "")]
    }
    var vocabulary: [String: JSONValue] = [:]
    vocabulary.reserveCapacity(model.vocabulary.count + addedTokens.count)
    for (token, id) in model.vocabulary { vocabulary[token] = .integer(Int64(id)) }
    // What `tokenizers` assigns when it reads the added tokens in id order.
    var nextID = model.vocabulary.count
    for token in addedTokens.sorted(by: { $0.id < $1.id }) where model.vocabulary[token.content] == nil {
      if token.id != nextID { vocabulary[token.content] = .integer(Int64(token.id)) } else { nextID += 1 }
    }
    func optional(_ text: String?) -> JSONValue { text.map { .string($0) } ?? .null }
    let modelJSON: JSONValue = [
      "type": "BPE", "dropout": nil, "unk_token": optional(model.unknownToken),
      "continuing_subword_prefix": optional(model.continuingSubwordPrefix),
      "end_of_word_suffix": optional(model.endOfWordSuffix), "fuse_unk": .bool(model.fuseUnknown),
      "byte_fallback": .bool(model.byteFallback), "ignore_merges": .bool(model.ignoreMerges),
      "vocab": .object(vocabulary), "merges": .array(merges),
    ]
    let added: [JSONValue] = addedTokens.sorted(by: { $0.id < $1.id }).map { token in
      [
        "id": .integer(Int64(token.id)), "content": .string(token.content), "single_word": .bool(token.singleWord),
        "lstrip": .bool(token.lstrip), "rstrip": .bool(token.rstrip), "normalized": .bool(token.normalized),
        "special": .bool(token.special),
      ]
    }
    let byteLevel: JSONValue = [
      "type": "ByteLevel", "add_prefix_space": .bool(preTokenizer.addPrefixSpace),
      "trim_offsets": .bool(preTokenizer.trimOffsets), "use_regex": .bool(preTokenizer.useRegex),
    ]
    var preTokenizerJSON = byteLevel
    if let split = preTokenizer.split {
      preTokenizerJSON = [
        "type": "Sequence",
        "pretokenizers": [
          ["type": "Split", "pattern": ["Regex": .string(split.pattern)], "behavior": "Isolated", "invert": false],
          byteLevel,
        ],
      ]
    }
    return [
      "version": "1.0", "truncation": nil, "padding": nil, "added_tokens": .array(added), "normalizer": nil,
      "pre_tokenizer": preTokenizerJSON, "post_processor": postProcessorJSON,
      "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
      "model": modelJSON,
    ]
  }
}
