import ArtifactFormats
import Interactions
import PipelineCore

/// The `tokenizer` stage: a byte-level BPE tokenizer for the item titles, either loaded from a
/// pretrained file (`mode: pretrained`) or learned from the titles of the `samples` artifact
/// (`mode: train`), written as a Hugging Face `tokenizer.json` with the ids of its BOS, EOS and PAD
/// tokens.
///
/// Outputs:
/// - `tokenizer.json`: what `tokenizers.Tokenizer.from_file` and `Tokenizer.load(tokenizerJSON:)`
///   load. A pretrained `tokenizer.json` is copied byte for byte; a trained tokenizer and one built
///   from `vocab.json` + `merges.txt` or a tiktoken rank file are written by `tokenizerJSON()` with
///   sorted keys (the same bytes run after run).
/// - `special_tokens.json`: `{"bos": {"id", "token"} or null, "eos": …, "pad": …, "vocab_size": n}`.
/// - `report.json`: the mode and, for training, the corpus counts and why training stopped.
///
/// The `samples` input is declared in both modes so every pipeline has the same shape; a pretrained
/// tokenizer ignores it, but its key still includes the samples key, so re-preparing samples
/// recomputes (cheaply) a pretrained tokenizer too. Timings are printed as diagnostics only: the
/// artifact and its manifest hold no clock readings, so they are byte-identical run after run.
///
/// Memory: training holds the titles, the distinct words (bytes and counts) and the pair index, a
/// small multiple of the titles' size; pretrained mode holds the tokenizer (tens of MB for Llama 3).
public enum TokenizerStage: PipelineStage {
  public static let name = "tokenizer"
  public static let version = 1
  public static let summary =
    "Loads a pretrained byte-level BPE tokenizer or trains one on the item titles, as a Hugging Face tokenizer.json."

  public static let tokenizerFile = "tokenizer.json"
  public static let specialTokensFile = "special_tokens.json"
  public static let reportFile = "report.json"

  /// The values of the `mode` parameter.
  public enum Mode: String, CaseIterable, Sendable {
    case pretrained
    case train
  }

  /// The values of the `format` parameter (pretrained mode).
  public enum Format: String, CaseIterable, Sendable {
    /// A Hugging Face `tokenizer.json` (Llama 3.2, or one we trained).
    case tokenizerJSON = "tokenizer-json"
    /// GPT-2-style `vocab.json` (`file`) + `merges.txt` (`merges_file`), split by `preset`.
    case vocabularyAndMerges = "vocab-merges"
    /// A tiktoken rank file (Llama 3's `tokenizer.model`), split by `preset`.
    case tiktoken
  }

  public static let parameters: [ParameterSpecification] = [
    ParameterSpecification(
      "mode", .choice(Mode.allCases.map(\.rawValue)), default: "train",
      "pretrained: load 'file'; train: learn a byte-level BPE from the item titles of the samples input"),
    ParameterSpecification(
      "file", .string, default: "",
      "pretrained: the tokenizer file (tokenizer.json, vocab.json or a tiktoken rank file), relative to the data root; its content hash enters the key",
      entersKey: false),
    ParameterSpecification(
      "format", .choice(Format.allCases.map(\.rawValue)), default: "tokenizer-json",
      "pretrained: the format of 'file': tokenizer-json, vocab-merges (with merges_file) or tiktoken"),
    ParameterSpecification(
      "merges_file", .string, default: "", "pretrained, vocab-merges: the merges.txt, relative to the data root",
      entersKey: false),
    ParameterSpecification(
      "config_file", .string, default: "",
      "pretrained: an optional tokenizer_config.json whose bos_token, eos_token, pad_token and added_tokens_decoder are used; relative to the data root",
      entersKey: false),
    ParameterSpecification(
      "preset", .choice(PreTokenizerPreset.allCases.map(\.rawValue)), default: "gpt2",
      "the pre-tokenizer regex: of the trained tokenizer (train) or of a vocab-merges or tiktoken file (pretrained)"),
    ParameterSpecification(
      "vocab_size", .integer(minimum: 1, maximum: 1 << 24), default: 4096,
      "train: the vocabulary size to reach, counting the special tokens and the 256 bytes"),
    ParameterSpecification(
      "min_frequency", .integer(minimum: 0, maximum: nil), default: 2,
      "train: training stops when the most frequent pair occurs fewer times than this"),
    ParameterSpecification(
      "special_tokens", .stringList, default: ["<|endoftext|>"],
      "train: tokens that get ids 0..k-1 (bos/eos/pad tokens not listed are appended); pretrained vocab-merges and tiktoken: tokens of the file to match whole as special tokens (others are ignored)"
    ),
    ParameterSpecification(
      "bos_token", .string, default: .null,
      "the beginning-of-sequence token; unset: none (train) or from config_file, the post-processor or a known name (pretrained); \"\" for none"
    ),
    ParameterSpecification(
      "eos_token", .string, default: .null,
      "the end-of-sequence token; unset: <|endoftext|> or the first special token (train), or from config_file, the post-processor or a known name (pretrained); \"\" for none"
    ),
    ParameterSpecification(
      "pad_token", .string, default: .null,
      "the padding token; unset: the EOS token (train), or from config_file or a known name, else EOS (pretrained); \"\" for none"
    ),
  ]

  public static let inputs = [
    InputSpecification(
      name: "samples", producer: "prepare",
      summary: "the prepared samples, whose items.jsonl titles train the tokenizer (unused in pretrained mode)")
  ]

  public static var declaredOutputs: [String] { [tokenizerFile, specialTokensFile, reportFile] }

  public static func rawFiles(_ parameters: StageParameters) throws(PipelineError) -> [String: String] {
    let options = try Options(parameters)
    guard options.mode == .pretrained else { return [:] }
    var files = ["tokenizer": options.file]
    if options.format == .vocabularyAndMerges { files["merges"] = options.mergesFile }
    if !options.configFile.isEmpty { files["config"] = options.configFile }
    return files
  }

  // MARK: - Options

  /// A role's token choice: automatic (the parameter is unset), none (`""`) or a named token.
  enum TokenChoice: Equatable {
    case automatic
    case none
    case named(String)

    init(_ parameters: StageParameters, _ name: String) throws(PipelineError) {
      switch try parameters.optionalString(name) {
      case nil: self = .automatic
      case ""?: self = .none
      case let token?: self = .named(token)
      }
    }
  }

  struct Options {
    var mode: Mode
    var file: String
    var format: Format
    var mergesFile: String
    var configFile: String
    var preset: PreTokenizerPreset
    var vocabularySize: Int
    var minimumFrequency: Int
    var specialTokens: [String]
    var bos: TokenChoice
    var eos: TokenChoice
    var pad: TokenChoice

    init(_ parameters: StageParameters) throws(PipelineError) {
      let stage = parameters.stage
      func choice<Value: RawRepresentable<String>>(_ name: String, _ type: Value.Type) throws(PipelineError) -> Value {
        let text = try parameters.string(name)
        guard let value = Value(rawValue: text) else {
          throw .usage("stage '\(stage)': parameter '\(name)' has unknown value '\(text)'")
        }
        return value
      }
      mode = try choice("mode", Mode.self)
      file = try parameters.optionalString("file") ?? ""
      format = try choice("format", Format.self)
      mergesFile = try parameters.optionalString("merges_file") ?? ""
      configFile = try parameters.optionalString("config_file") ?? ""
      preset = try choice("preset", PreTokenizerPreset.self)
      vocabularySize = try parameters.integer("vocab_size")
      minimumFrequency = try parameters.integer("min_frequency")
      specialTokens = try parameters.stringList("special_tokens")
      bos = try TokenChoice(parameters, "bos_token")
      eos = try TokenChoice(parameters, "eos_token")
      pad = try TokenChoice(parameters, "pad_token")
      if mode == .pretrained {
        if file.isEmpty {
          throw .usage(
            "stage '\(stage)': mode pretrained needs parameter 'file' (the tokenizer file, relative to the data root)")
        }
        if format == .vocabularyAndMerges && mergesFile.isEmpty {
          throw .usage("stage '\(stage)': format vocab-merges needs parameter 'merges_file' (the merges.txt)")
        }
      }
      if specialTokens.contains("") {
        throw .usage("stage '\(stage)': parameter 'special_tokens' holds an empty string; remove it")
      }
    }

    /// Train mode: the special tokens in id order: `special_tokens`, then any named BOS, EOS or PAD
    /// token they lack.
    var trainingSpecialTokens: [String] {
      var tokens: [String] = []
      for case .named(let token) in [bos, eos, pad] where !specialTokens.contains(token) && !tokens.contains(token) {
        tokens.append(token)
      }
      return specialTokens + tokens
    }
  }

  // MARK: - Special tokens

  /// The BOS, EOS and PAD tokens of a tokenizer artifact (`special_tokens.json`).
  public struct SpecialTokens: Equatable, Sendable {
    public struct Token: Equatable, Sendable {
      public var token: String
      public var id: UInt32
      public init(token: String, id: UInt32) {
        self.token = token
        self.id = id
      }
    }

    public var bos: Token?
    public var eos: Token?
    public var pad: Token?
    /// The number of ids of the tokenizer (one more than its largest id).
    public var vocabularySize: Int

    public init(bos: Token?, eos: Token?, pad: Token?, vocabularySize: Int) {
      self.bos = bos
      self.eos = eos
      self.pad = pad
      self.vocabularySize = vocabularySize
    }

    public var json: JSONValue {
      func entry(_ token: Token?) -> JSONValue {
        token.map { ["token": .string($0.token), "id": .integer(Int64($0.id))] } ?? .null
      }
      return ["bos": entry(bos), "eos": entry(eos), "pad": entry(pad), "vocab_size": JSONValue(vocabularySize)]
    }

    /// Reads `special_tokens.json`; errors name the file.
    public init(json: JSONValue, path: String) throws(PipelineError) {
      func entry(_ role: String) throws(PipelineError) -> Token? {
        guard let value = json[role], value != .null else { return nil }
        guard let token = value["token"]?.stringValue, let id = value["id"]?.integerValue, id >= 0,
          id < Int64(UInt32.max)
        else {
          throw .invalidArtifact(
            "'\(path)': '\(role)' must be null or {\"token\": string, \"id\": integer}; rerun the tokenizer stage with --force"
          )
        }
        return Token(token: token, id: UInt32(id))
      }
      guard let size = json["vocab_size"]?.integerValue, size > 0 else {
        throw .invalidArtifact(
          "'\(path)': 'vocab_size' must be a positive integer; rerun the tokenizer stage with --force")
      }
      self.init(bos: try entry("bos"), eos: try entry("eos"), pad: try entry("pad"), vocabularySize: Int(size))
    }
  }

  /// The tokenizer of a `tokenizer` artifact, for the trie stage and later ones.
  public static func loadTokenizer(artifact directory: String) throws -> Tokenizer {
    let path = FileSystem.join(directory, tokenizerFile)
    guard FileSystem.exists(path) else {
      throw PipelineError.invalidArtifact("'\(path)' is missing; rerun the tokenizer stage with --force")
    }
    return try Tokenizer.load(tokenizerJSON: path)
  }

  /// The BOS, EOS and PAD tokens of a `tokenizer` artifact.
  public static func loadSpecialTokens(artifact directory: String) throws -> SpecialTokens {
    let path = FileSystem.join(directory, specialTokensFile)
    guard FileSystem.exists(path) else {
      throw PipelineError.invalidArtifact("'\(path)' is missing; rerun the tokenizer stage with --force")
    }
    return try SpecialTokens(json: try readJSON(path), path: path)
  }

  // MARK: - Running

  public static func run(_ context: StageContext) throws -> JSONValue {
    let options = try Options(context.parameters)
    switch options.mode {
    case .train: return try runTraining(context, options: options)
    case .pretrained: return try runPretrained(context, options: options)
    }
  }

  /// The titles of a samples artifact's `items.jsonl`, in item id order; items whose title is null
  /// or missing are left out and counted.
  static func readTitles(samples directory: String) throws -> (titles: [String], untitled: Int) {
    let path = FileSystem.join(directory, PreparedSamples.itemsFile)
    guard FileSystem.exists(path) else {
      throw PipelineError.invalidArtifact("'\(path)' is missing; rerun the prepare stage with --force")
    }
    var titles: [String] = []
    var untitled = 0
    for (index, record) in try JSONLines.read(path).enumerated() {
      switch record["title"] {
      case .string(let title)?: titles.append(title)
      case nil, .null?: untitled += 1
      case let value?:
        throw PipelineError.invalidArtifact(
          "'\(path)' line \(index + 1): field 'title' must be a string or null, found \(value.typeName); rerun the prepare stage with --force"
        )
      }
    }
    return (titles, untitled)
  }

  static func runTraining(_ context: StageContext, options: Options) throws -> JSONValue {
    let stage = context.parameters.stage
    let specialTokens = options.trainingSpecialTokens
    let trainer = BPETrainer(
      vocabularySize: options.vocabularySize, minimumFrequency: options.minimumFrequency,
      specialTokens: specialTokens, preset: options.preset)
    guard options.vocabularySize >= trainer.baseVocabularySize else {
      throw PipelineError.usage(
        "stage '\(stage)': vocab_size \(options.vocabularySize) is smaller than the \(trainer.baseVocabularySize - 256) special tokens + 256 bytes every byte-level vocabulary holds; set it to at least \(trainer.baseVocabularySize)"
      )
    }
    let (titles, untitled) = try readTitles(samples: try context.input("samples"))

    let start = monotonicSeconds()
    let corpus = trainer.corpus(titles)
    let counted = monotonicSeconds()
    let result = trainer.train(corpus)
    let trained = monotonicSeconds()

    let eos: String? =
      switch options.eos {
      case .automatic:
        options.specialTokens.contains("<|endoftext|>") ? "<|endoftext|>" : options.specialTokens.first
      case .none: nil
      case .named(let token): token
      }
    let bos: String? = if case .named(let token) = options.bos { token } else { nil }
    let pad: String? =
      switch options.pad {
      case .automatic: eos
      case .none: nil
      case .named(let token): token
      }
    let tokenizer = result.makeTokenizer(bosToken: bos, eosToken: eos)
    func resolve(_ token: String?) -> SpecialTokens.Token? {
      token.map { SpecialTokens.Token(token: $0, id: tokenizer.id(of: $0)!) }
    }
    let special = SpecialTokens(
      bos: resolve(bos), eos: resolve(eos), pad: resolve(pad), vocabularySize: tokenizer.vocabularySize)
    try FileSystem.writeText(context.outputPath(tokenizerFile), tokenizer.tokenizerJSON().prettyText())
    try FileSystem.writeText(context.outputPath(specialTokensFile), special.json.prettyText())

    let report: JSONValue = [
      "mode": "train",
      "preset": .string(options.preset.rawValue),
      "vocab_size": JSONValue(tokenizer.vocabularySize),
      "merges": JSONValue(result.merges.count),
      "special_tokens": .array(result.specialTokens.map(JSONValue.string)),
      "corpus": [
        "items": JSONValue(titles.count + untitled),
        "titles": JSONValue(titles.count),
        "items_without_title": JSONValue(untitled),
        "bytes": JSONValue(titles.reduce(0) { $0 + $1.utf8.count }),
        "words": JSONValue(corpus.occurrenceCount),
        "distinct_words": JSONValue(corpus.wordCount),
      ],
      "training": [
        "requested_vocab_size": JSONValue(options.vocabularySize),
        "min_frequency": JSONValue(options.minimumFrequency),
        "stop_reason": .string(result.stopReason.rawValue),
        "last_merge_count": JSONValue(result.lastMergeCount),
        "vocabulary_order":
          "special tokens (ids 0..k-1, in the order given), then the 256 byte-level characters by code point, then one token per merge in merge order",
        "tie_rule":
          "the pair with the highest count merges first; ties go to the smaller left token id, then the smaller right token id (the rule of tokenizers' BpeTrainer)",
        "corpus_rule": "every item's title once, in item id order; items without a title are skipped",
      ],
    ]
    try FileSystem.writeText(context.outputPath(reportFile), report.prettyText())

    context.diagnostics.note(
      "tokenizer: trained \(result.merges.count) merges (vocabulary \(tokenizer.vocabularySize), stopped by \(result.stopReason.rawValue)) on \(titles.count) titles, \(corpus.occurrenceCount) words (\(corpus.wordCount) distinct)"
    )
    context.diagnostics.note(
      "tokenizer: training took \(formatFixed(trained - start, digits: 4)) s (pre-tokenize and count \(formatFixed(counted - start, digits: 4)) s, merges \(formatFixed(trained - counted, digits: 4)) s)"
    )
    return [
      "mode": "train", "vocab_size": JSONValue(tokenizer.vocabularySize), "merges": JSONValue(result.merges.count),
      "titles": JSONValue(titles.count),
    ]
  }

  static func runPretrained(_ context: StageContext, options: Options) throws -> JSONValue {
    let stage = context.parameters.stage
    guard let path = context.rawFiles["tokenizer"] else {
      throw PipelineError.usage("stage '\(stage)': raw file 'tokenizer' was not resolved")
    }
    let config: JSONValue? = try context.rawFiles["config"].map { try readJSON($0) }
    let start = monotonicSeconds()
    let tokenizer: Tokenizer
    var ignored: [String] = []
    switch options.format {
    case .tokenizerJSON:
      tokenizer = try Tokenizer.load(tokenizerJSON: path)
    case .vocabularyAndMerges, .tiktoken:
      let load: ([String: Int]) throws -> Tokenizer = { specials in
        if options.format == .tiktoken {
          return try Tokenizer.load(tiktokenRanks: path, preset: options.preset, specialTokens: specials)
        }
        guard let merges = context.rawFiles["merges"] else {
          throw PipelineError.usage("stage '\(stage)': raw file 'merges' was not resolved")
        }
        return try Tokenizer.load(vocabulary: path, merges: merges, preset: options.preset, specialTokens: specials)
      }
      var specials = try addedTokens(config: config, path: context.rawFiles["config"] ?? "")
      if specials.isEmpty && options.format == .tiktoken && options.preset == .llama3 {
        specials = Tokenizer.llama3SpecialTokens
      }
      // `special_tokens` marks tokens of the file as special (GPT-2's <|endoftext|> is in vocab.json),
      // which takes a second load only when it names a token not yet special.
      var loadedTokenizer = try load(specials)
      var marked = false
      for token in options.specialTokens where specials[token] == nil {
        if let id = loadedTokenizer.id(of: token) {
          specials[token] = Int(id)
          marked = true
        } else {
          ignored.append(token)
        }
      }
      if marked { loadedTokenizer = try load(specials) }
      tokenizer = loadedTokenizer
    }
    let loaded = monotonicSeconds()
    for token in ignored {
      context.diagnostics.warning(
        "tokenizer: special token '\(token)' is not a token of the pretrained tokenizer; ignored (remove it from special_tokens)"
      )
    }

    func configToken(_ role: String) -> TokenChoice? {
      guard let config, let value = config[role] else { return nil }
      if value == .null { return TokenChoice.none }
      if let text = value.stringValue ?? value["content"]?.stringValue { return .named(text) }
      return nil
    }
    func resolve(_ role: String, _ choice: TokenChoice, fallback: () -> UInt32?) throws -> SpecialTokens.Token? {
      var choice = choice
      if choice == .automatic, let fromConfig = configToken(role) { choice = fromConfig }
      switch choice {
      case .none: return nil
      case .named(let token):
        guard let id = tokenizer.id(of: token) else {
          throw PipelineError.usage(
            "stage '\(stage)': \(role) '\(token)' is not a token of the pretrained tokenizer; set \(role) to one of its tokens or \"\" for none"
          )
        }
        return SpecialTokens.Token(token: token, id: id)
      case .automatic:
        return fallback().flatMap { id in tokenizer.token(of: id).map { SpecialTokens.Token(token: $0, id: id) } }
      }
    }
    let bos = try resolve("bos_token", options.bos) { tokenizer.bosID }
    let eos = try resolve("eos_token", options.eos) { tokenizer.eosID }
    let pad = try resolve("pad_token", options.pad) {
      ["<|finetune_right_pad_id|>", "<|pad|>", "<pad>", "[PAD]"].lazy.compactMap { tokenizer.id(of: $0) }.first
        ?? eos?.id
    }
    let special = SpecialTokens(bos: bos, eos: eos, pad: pad, vocabularySize: tokenizer.vocabularySize)

    if options.format == .tokenizerJSON {
      // The file itself, so that `tokenizers` loads exactly what the model was released with.
      try FileSystem.writeFile(context.outputPath(tokenizerFile), try FileSystem.readFile(path))
    } else {
      try FileSystem.writeText(context.outputPath(tokenizerFile), tokenizer.tokenizerJSON().prettyText())
    }
    try FileSystem.writeText(context.outputPath(specialTokensFile), special.json.prettyText())
    let report: JSONValue = [
      "mode": "pretrained",
      "format": .string(options.format.rawValue),
      "preset": tokenizer.preset.map { .string($0.rawValue) } ?? .null,
      "vocab_size": JSONValue(tokenizer.vocabularySize),
      "added_tokens": JSONValue(tokenizer.addedTokens.count),
      "ignored_special_tokens": .array(ignored.map(JSONValue.string)),
    ]
    try FileSystem.writeText(context.outputPath(reportFile), report.prettyText())
    context.diagnostics.note(
      "tokenizer: loaded a pretrained \(options.format.rawValue) tokenizer (vocabulary \(tokenizer.vocabularySize), bos \(bos.map { "\($0.id)" } ?? "none"), eos \(eos.map { "\($0.id)" } ?? "none"), pad \(pad.map { "\($0.id)" } ?? "none")) in \(formatFixed(loaded - start, digits: 3)) s"
    )
    return ["mode": "pretrained", "vocab_size": JSONValue(tokenizer.vocabularySize)]
  }

  /// The added tokens of a `tokenizer_config.json` (`added_tokens_decoder`: id → {content, …}).
  static func addedTokens(config: JSONValue?, path: String) throws(PipelineError) -> [String: Int] {
    guard let decoder = config?["added_tokens_decoder"]?.objectValue else { return [:] }
    var tokens: [String: Int] = [:]
    for (key, entry) in decoder {
      guard let id = Int(key), id >= 0, let content = entry["content"]?.stringValue else {
        throw .invalidInput(
          "'\(path)': added_tokens_decoder entry '\(key)' needs an integer id and a 'content' string; fix the file")
      }
      tokens[content] = id
    }
    return tokens
  }

  static func readJSON(_ path: String) throws(PipelineError) -> JSONValue {
    do {
      return try JSONParser.parse(try FileSystem.readFile(path))
    } catch let error as PipelineError {
      throw error
    } catch {
      throw .invalidInput("'\(path)' is not valid JSON: \(error)")
    }
  }

  // MARK: - Validation

  /// Texts every tokenizer must give back unchanged after encoding and decoding.
  static let roundTripTexts = [
    "LEGO Star Wars 75037 Battle on Saleucami", "Café crème brûlée — 日本語のおもちゃ ✓ 😀👍🏽",
    "  two  spaces,\ttabs\nand newlines\r\n", "it's 'quoted' & (parenthesised) 1234567 x2", "",
  ]

  /// Loads `tokenizer.json` with our loader and checks `special_tokens.json` against it (each named
  /// token exists and has the recorded id; the vocabulary size agrees), `report.json`'s vocabulary
  /// size, and that encoding then decoding gives back a few fixed texts.
  public static func validate(artifact directory: String, manifest: Manifest) throws {
    let tokenizer = try loadTokenizer(artifact: directory)
    let special = try loadSpecialTokens(artifact: directory)
    let specialPath = FileSystem.join(directory, specialTokensFile)
    if special.vocabularySize != tokenizer.vocabularySize {
      throw PipelineError.invalidArtifact(
        "'\(specialPath)' says vocab_size \(special.vocabularySize), but tokenizer.json has \(tokenizer.vocabularySize) ids; rerun the tokenizer stage with --force"
      )
    }
    for (role, token) in [("bos", special.bos), ("eos", special.eos), ("pad", special.pad)] {
      guard let token else { continue }
      let actual = tokenizer.id(of: token.token)
      guard actual == token.id else {
        throw PipelineError.invalidArtifact(
          "'\(specialPath)': \(role) '\(token.token)' has id \(token.id), but tokenizer.json gives it \(actual.map { "id \($0)" } ?? "no id"); rerun the tokenizer stage with --force"
        )
      }
    }
    let reportPath = FileSystem.join(directory, reportFile)
    guard FileSystem.exists(reportPath) else {
      throw PipelineError.invalidArtifact("'\(reportPath)' is missing; rerun the tokenizer stage with --force")
    }
    let report = try readJSON(reportPath)
    if report["vocab_size"]?.integerValue != Int64(tokenizer.vocabularySize) {
      throw PipelineError.invalidArtifact(
        "'\(reportPath)' says vocab_size \(report["vocab_size"]?.canonicalText() ?? "missing"), but tokenizer.json has \(tokenizer.vocabularySize) ids; rerun the tokenizer stage with --force"
      )
    }
    if report["mode"]?.stringValue == Mode.train.rawValue, let limit = manifest.params["vocab_size"]?.integerValue,
      tokenizer.vocabularySize > Int(limit)
    {
      throw PipelineError.invalidArtifact(
        "'\(FileSystem.join(directory, tokenizerFile))' has \(tokenizer.vocabularySize) ids, more than vocab_size \(limit); rerun the tokenizer stage with --force"
      )
    }
    for text in roundTripTexts {
      let decoded = tokenizer.decode(tokenizer.encode(text))
      guard decoded == text else {
        throw PipelineError.invalidArtifact(
          "'\(FileSystem.join(directory, tokenizerFile))' does not round-trip '\(text)' (decodes to '\(decoded)'); rerun the tokenizer stage with --force"
        )
      }
    }
  }
}
