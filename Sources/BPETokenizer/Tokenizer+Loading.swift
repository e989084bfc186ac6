import PipelineCore

extension Tokenizer {
  /// Loads a Hugging Face `tokenizer.json` with a byte-level BPE model.
  ///
  /// Supported: model `BPE` (with `ignore_merges`, `byte_fallback`, `unk_token`, `fuse_unk`,
  /// `continuing_subword_prefix`, `end_of_word_suffix`; no dropout), normalizer `null`, pre-tokenizer
  /// `ByteLevel` or `Sequence` of `Split` (a preset's regex, behaviour `Isolated`) and `ByteLevel`,
  /// decoder `ByteLevel`, post-processors `ByteLevel`, `TemplateProcessing`, `RobertaProcessing`,
  /// `BertProcessing` and `Sequence` of them. `truncation` and `padding` are ignored. Added tokens
  /// get their ids as `tokenizers` assigns them: the vocabulary's id when the content is a token,
  /// else the next free id after the vocabulary.
  /// - Throws: `PipelineError` naming what is not supported or malformed.
  public static func load(tokenizerJSON path: String) throws -> Tokenizer {
    let bytes = try FileSystem.readFile(path)
    let json: JSONValue
    do {
      json = try JSONParser.parse(bytes)
    } catch {
      throw PipelineError.invalidInput("'\(path)' is not valid JSON: \(error)")
    }
    do {
      return try Tokenizer(tokenizerJSON: json)
    } catch let error as PipelineError {
      throw PipelineError(error.code, "'\(path)': \(error.message)")
    }
  }

  /// A tokenizer from the parsed contents of a `tokenizer.json` (see `load(tokenizerJSON:)`).
  public convenience init(tokenizerJSON json: JSONValue) throws {
    guard json.objectValue != nil else { throw PipelineError.invalidInput("a tokenizer.json must hold a JSON object") }
    if let version = json["version"]?.stringValue, version != "1.0" {
      throw PipelineError.invalidInput("tokenizer.json version '\(version)' is not supported (1.0 is)")
    }
    if let normalizer = json["normalizer"], normalizer != .null {
      throw PipelineError.invalidInput(
        "normalizer '\(normalizer["type"]?.stringValue ?? normalizer.typeName)' is not supported; only byte-level BPE tokenizers without a normalizer are"
      )
    }
    if let decoder = json["decoder"], decoder != .null, decoder["type"]?.stringValue != "ByteLevel" {
      throw PipelineError.invalidInput(
        "decoder '\(decoder["type"]?.stringValue ?? decoder.typeName)' is not supported; byte-level BPE needs the ByteLevel decoder"
      )
    }
    let model = try Self.parseModel(json["model"])
    let preTokenizer = try Self.parsePreTokenizer(json["pre_tokenizer"])
    let addedTokens = try Self.resolveAddedTokens(json["added_tokens"], model: model)
    let postProcessor = json["post_processor"] ?? .null
    let template = try SpecialTokenTemplate.parse(postProcessor)
    self.init(
      Parts(
        model: model, preTokenizer: preTokenizer, addedTokens: addedTokens, postProcessorJSON: postProcessor,
        template: template, bosToken: nil, eosToken: nil))
  }

  static func parseModel(_ json: JSONValue?) throws(PipelineError) -> BytePairModel {
    guard let json, json.objectValue != nil else { throw PipelineError.invalidInput("tokenizer.json has no model") }
    let type = json["type"]?.stringValue ?? "BPE"
    guard type == "BPE" else {
      throw PipelineError.invalidInput("model type '\(type)' is not supported; only BPE is")
    }
    if let dropout = json["dropout"]?.numberValue, dropout != 0 {
      throw PipelineError.invalidInput("BPE dropout \(dropout) makes encoding random; set it to null")
    }
    guard let vocabularyJSON = json["vocab"]?.objectValue else {
      throw PipelineError.invalidInput("the BPE model has no vocab object")
    }
    var vocabulary: [String: UInt32] = [:]
    vocabulary.reserveCapacity(vocabularyJSON.count)
    for (token, id) in vocabularyJSON {
      guard let value = id.integerValue, value >= 0, value < Int64(UInt32.max) else {
        throw PipelineError.invalidInput("vocabulary token '\(token)' has id \(id.canonicalText()), not a valid id")
      }
      vocabulary[token] = UInt32(value)
    }
    guard let mergesJSON = json["merges"]?.arrayValue else {
      throw PipelineError.invalidInput("the BPE model has no merges array")
    }
    var merges: [(String, String)] = []
    merges.reserveCapacity(mergesJSON.count)
    for (index, merge) in mergesJSON.enumerated() {
      if let pair = merge.arrayValue, pair.count == 2, let left = pair[0].stringValue, let right = pair[1].stringValue {
        merges.append((left, right))
      } else if let line = merge.stringValue {
        // The legacy "left right" form; lines starting "#version" are skipped and do not count.
        if line.hasPrefix("#version") { continue }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
          throw PipelineError.invalidInput("merge \(index + 1) '\(line)' is not two tokens separated by one space")
        }
        merges.append((String(parts[0]), String(parts[1])))
      } else {
        throw PipelineError.invalidInput("merge \(index + 1) is neither \"left right\" nor [left, right]")
      }
    }
    func optionalString(_ key: String) -> String? { json[key]?.stringValue }
    return try BytePairModel(
      vocabulary: vocabulary, merges: merges, ignoreMerges: json["ignore_merges"]?.boolValue ?? false,
      byteFallback: json["byte_fallback"]?.boolValue ?? false, unknownToken: optionalString("unk_token"),
      fuseUnknown: json["fuse_unk"]?.boolValue ?? false,
      continuingSubwordPrefix: optionalString("continuing_subword_prefix"),
      endOfWordSuffix: optionalString("end_of_word_suffix"))
  }

  static func parsePreTokenizer(_ json: JSONValue?) throws(PipelineError) -> PreTokenizerConfiguration {
    guard let json, json != .null else {
      throw PipelineError.invalidInput("the tokenizer has no pre_tokenizer; byte-level BPE needs ByteLevel")
    }
    var steps = [json]
    if json["type"]?.stringValue == "Sequence" { steps = json["pretokenizers"]?.arrayValue ?? [] }
    var split: PreTokenizerPreset?
    let unsupported = PipelineError.invalidInput(
      "pre_tokenizer \(json.canonicalText().prefix(300)) is not supported; ByteLevel, or Sequence[Split(Regex, Isolated), ByteLevel] is"
    )
    for (index, step) in steps.enumerated() {
      let type = step["type"]?.stringValue ?? step.typeName
      switch type {
      case "Split" where index == 0 && steps.count == 2:
        guard let pattern = step["pattern"]?["Regex"]?.stringValue else {
          throw PipelineError.invalidInput(
            "Split pre-tokenizer with pattern \(step["pattern"]?.canonicalText() ?? "null") is not supported; a Regex pattern of a preset is"
          )
        }
        guard let preset = PreTokenizerPreset(pattern: pattern) else {
          throw PipelineError.invalidInput(
            "unknown pre-tokenizer regex '\(pattern)'; supported are the regexes of \(PreTokenizerPreset.allCases.map(\.rawValue).joined(separator: ", "))"
          )
        }
        let behavior = step["behavior"]?.stringValue ?? ""
        guard behavior == "Isolated", step["invert"]?.boolValue != true else {
          throw PipelineError.invalidInput(
            "Split pre-tokenizer behaviour '\(behavior)'\(step["invert"]?.boolValue == true ? " inverted" : "") is not supported; Isolated is"
          )
        }
        split = preset
      case "ByteLevel" where index == steps.count - 1:
        return PreTokenizerConfiguration(
          split: split, addPrefixSpace: step["add_prefix_space"]?.boolValue ?? true,
          useRegex: step["use_regex"]?.boolValue ?? true, trimOffsets: step["trim_offsets"]?.boolValue ?? true)
      default:
        throw unsupported
      }
    }
    throw unsupported
  }

  /// Assigns added-token ids as `tokenizers` does when it loads `added_tokens`: a content that is
  /// already a token keeps that token's id; another gets the next id after the model vocabulary
  /// (its size) and the added tokens so far. The ids written in the file are not used.
  static func resolveAddedTokens(_ json: JSONValue?, model: BytePairModel) throws(PipelineError) -> [AddedToken] {
    guard let json, json != .null else { return [] }
    guard let list = json.arrayValue else { throw PipelineError.invalidInput("added_tokens must be an array") }
    var tokens: [AddedToken] = []
    var byContent: [String: Int] = [:]
    var nextID = model.vocabulary.count
    for entry in list {
      guard let content = entry["content"]?.stringValue else {
        throw PipelineError.invalidInput("added token \(entry.canonicalText()) has no content")
      }
      if content.isEmpty { continue }
      let special = entry["special"]?.boolValue ?? false
      var token = AddedToken(
        content: content, id: 0, special: special, lstrip: entry["lstrip"]?.boolValue ?? false,
        rstrip: entry["rstrip"]?.boolValue ?? false, normalized: entry["normalized"]?.boolValue ?? !special,
        singleWord: entry["single_word"]?.boolValue ?? false)
      if let index = byContent[content] {
        token.id = tokens[index].id
        tokens[index] = token
        continue
      }
      if let id = model.vocabulary[content] {
        token.id = Int(id)
      } else {
        token.id = nextID
        nextID += 1
      }
      byContent[content] = tokens.count
      tokens.append(token)
    }
    return tokens
  }

  /// Loads GPT-2-style `vocab.json` + `merges.txt` with a named pre-tokenizer preset (no
  /// post-processor, as `tokenizers` builds a `Tokenizer(BPE.from_file(…))`).
  ///
  /// - Parameter specialTokens: added special tokens (content → id), e.g. Qwen 2's `<|endoftext|>`.
  public static func load(
    vocabulary vocabPath: String, merges mergesPath: String, preset: PreTokenizerPreset,
    specialTokens: [String: Int] = [:]
  ) throws -> Tokenizer {
    let vocabularyJSON: JSONValue
    do {
      vocabularyJSON = try JSONParser.parse(try FileSystem.readFile(vocabPath))
    } catch let error as PipelineError {
      throw error
    } catch {
      throw PipelineError.invalidInput("'\(vocabPath)' is not valid JSON: \(error)")
    }
    guard let entries = vocabularyJSON.objectValue else {
      throw PipelineError.invalidInput("'\(vocabPath)' must hold a JSON object of token → id")
    }
    var vocabulary: [String: Int] = [:]
    vocabulary.reserveCapacity(entries.count)
    for (token, id) in entries {
      guard let value = id.integerValue else { continue }  // as `tokenizers`: non-numbers are skipped
      vocabulary[token] = Int(value)
    }
    let merges = try readMerges(mergesPath)
    let addedTokens = specialTokens.sorted { $0.value < $1.value }.map {
      AddedToken(content: $0.key, id: $0.value, special: true, normalized: false)
    }
    do {
      return Tokenizer(
        try makeParts(
          vocabulary: vocabulary, merges: merges, preTokenizer: .standard(preset), addedTokens: addedTokens,
          ignoreMerges: false, byteFallback: false, unknownToken: nil, bosToken: nil, eosToken: nil, addsBOS: false,
          addsEOS: false))
    } catch {
      throw PipelineError(error.code, "'\(vocabPath)' and '\(mergesPath)': \(error.message)")
    }
  }

  /// The merges of a `merges.txt`: one "left right" pair per line; lines starting `#version` are skipped.
  static func readMerges(_ path: String) throws -> [(String, String)] {
    let text = try FileSystem.readText(path)
    var merges: [(String, String)] = []
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    if lines.last == "" { lines.removeLast() }
    for (number, rawLine) in lines.enumerated() {
      let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
      if line.hasPrefix("#version") { continue }
      let parts = line.split(separator: " ", omittingEmptySubsequences: false)
      guard parts.count == 2 else {
        throw PipelineError.invalidInput(
          "'\(path)' line \(number + 1) is not two tokens separated by one space: '\(line.prefix(80))'")
      }
      merges.append((String(parts[0]), String(parts[1])))
    }
    return merges
  }

  /// Loads a tiktoken rank file (lines `base64(token bytes) rank`, as Llama 3's `tokenizer.model`)
  /// and encodes as tiktoken does: a piece that is a token is that token, else adjacent parts merge
  /// by the rank of their concatenation.
  ///
  /// With the `llama3` preset and `<|begin_of_text|>` among the special tokens,
  /// `encode(_:addSpecialTokens: true)` puts it first, as the Llama 3 tokenizer does.
  public static func load(
    tiktokenRanks path: String, preset: PreTokenizerPreset, specialTokens: [String: Int]
  ) throws -> Tokenizer {
    let bytes = try FileSystem.readFile(path)
    var ranks: [(bytes: [UInt8], rank: UInt32)] = []
    var lineNumber = 0
    var lineStart = 0
    while lineStart < bytes.count {
      var lineEnd = lineStart
      while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
      lineNumber += 1
      var fields = bytes[lineStart..<lineEnd].split(whereSeparator: { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 })
      lineStart = lineEnd + 1
      if fields.isEmpty { continue }
      guard fields.count == 2, let token = Base64.decode(fields[0]),
        let rank = UInt32(String(decoding: fields.removeLast(), as: UTF8.self))
      else {
        throw PipelineError.invalidInput("'\(path)' line \(lineNumber) is not 'base64 rank'")
      }
      ranks.append((token, rank))
    }
    let model: BytePairModel
    do {
      model = try BytePairModel(tokenRanks: ranks)
    } catch {
      throw PipelineError(error.code, "'\(path)': \(error.message)")
    }
    let addedTokens = specialTokens.sorted { $0.value < $1.value }.map {
      AddedToken(content: $0.key, id: $0.value, special: true, normalized: false)
    }
    let bos = preset == .llama3 && specialTokens["<|begin_of_text|>"] != nil ? "<|begin_of_text|>" : nil
    let (json, template) = try templateProcessing(
      bos: bos, eos: nil, addedTokens: addedTokens, vocabulary: model.vocabulary)
    return Tokenizer(
      Parts(
        model: model, preTokenizer: .standard(preset), addedTokens: addedTokens, postProcessorJSON: json,
        template: template, bosToken: nil, eosToken: nil))
  }

  /// The special tokens of Llama 3, which its tiktoken file leaves to code: ids 128000…128255
  /// (`<|begin_of_text|>`, `<|end_of_text|>`, `<|start_header_id|>`, `<|end_header_id|>`,
  /// `<|eot_id|>` and reserved tokens), as Meta's `tokenizer.py` defines them.
  public static let llama3SpecialTokens: [String: Int] = {
    var names = [
      "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
      "<|reserved_special_token_2|>", "<|reserved_special_token_3|>", "<|start_header_id|>", "<|end_header_id|>",
      "<|reserved_special_token_4|>", "<|eot_id|>",
    ]
    names += (5..<(256 - 5)).map { "<|reserved_special_token_\($0)|>" }
    return Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, 128_000 + $0.offset) })
  }()
}

/// Standard base64 (RFC 4648) decoding, for tiktoken rank files.
enum Base64 {
  private static let values: [UInt8] = {
    var table = [UInt8](repeating: 0xFF, count: 256)
    for (index, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
      table[Int(character)] = UInt8(index)
    }
    return table
  }()

  /// The bytes of a base64 text with optional `=` padding, or `nil` when it is not base64.
  static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
    var output: [UInt8] = []
    output.reserveCapacity(text.count * 3 / 4)
    var accumulator: UInt32 = 0
    var bits = 0
    var padding = 0
    for character in text {
      if character == UInt8(ascii: "=") {
        padding += 1
        continue
      }
      guard padding == 0 else { return nil }
      let value = values[Int(character)]
      guard value != 0xFF else { return nil }
      accumulator = accumulator << 6 | UInt32(value)
      bits += 6
      if bits >= 8 {
        bits -= 8
        output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
      }
    }
    return output
  }
}
