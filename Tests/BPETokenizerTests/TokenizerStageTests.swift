import ArtifactFormats
import BPETokenizer
import PipelineCore
import TestSupport
import Testing

/// A `samples` artifact with only `items.jsonl` (all the tokenizer stage reads): item `j + 1` has
/// `titles[j]` (`nil` writes a null title).
private func writeSamples(_ titles: [String?], to directory: String) throws {
  try JSONLines.write(
    titles.enumerated().map { index, title in
      ["id": JSONValue(index + 1), "raw_id": .string("I\(index + 1)"), "title": title.map(JSONValue.string) ?? .null]
    }, to: FileSystem.join(directory, "items.jsonl"))
}

private let toyTitles: [String?] = [
  "Wooden Toy Train Set", "Wooden Toy Car", "Remote Control Car", nil, "Toy Train Tracks (50 pieces)",
  "LEGO Star Wars Battle Pack", "LEGO City Fire Truck", "Wooden Puzzle Train", "Plush Teddy Bear", "Teddy Bear Puzzle",
]

/// One run of the tokenizer stage into a fresh temporary directory.
private struct TokenizerRun {
  let output: TemporaryDirectory
  let metrics: JSONValue
  let parameters: StageParameters

  init(_ given: [String: JSONValue], samples: String = "/nonexistent", rawFiles: [String: String] = [:]) throws {
    parameters = try TokenizerStage.resolveParameters(given, entry: "tokenizer", file: "test")
    output = try TemporaryDirectory()
    let context = StageContext(
      parameters: parameters, inputs: ["samples": samples], rawFiles: rawFiles, outputDirectory: output.path,
      diagnostics: Diagnostics(toolName: "tca-tokenize", verbosity: .quiet))
    metrics = try TokenizerStage.run(context)
  }

  var manifest: Manifest {
    Manifest(
      stage: TokenizerStage.name, stageVersion: TokenizerStage.version, key: String(repeating: "0", count: 64),
      params: TokenizerStage.keyParameters(parameters), inputs: [:], rawFiles: [:], files: [], metrics: metrics,
      toolVersion: "test")
  }

  func validate() throws { try TokenizerStage.validate(artifact: output.path, manifest: manifest) }

  func json(_ name: String) throws -> JSONValue { try JSONParser.parse(try FileSystem.readFile(output.file(name))) }

  func bytes(_ name: String) throws -> [UInt8] { try FileSystem.readFile(output.file(name)) }
}

@Suite("Tokenizer stage")
struct TokenizerStageTests {
  @Test func trainModeWritesATokenizerItsSpecialTokensAndAReport() throws {
    let samples = try TemporaryDirectory()
    try writeSamples(toyTitles, to: samples.path)
    let run = try TokenizerRun(["vocab_size": 300, "min_frequency": 2], samples: samples.path)
    try run.validate()

    let special = try TokenizerStage.loadSpecialTokens(artifact: run.output.path)
    let endOfText = TokenizerStage.SpecialTokens.Token(token: "<|endoftext|>", id: 0)
    #expect(special.bos == nil)
    #expect(special.eos == endOfText)
    #expect(special.pad == endOfText)
    #expect(try run.json(TokenizerStage.specialTokensFile)["bos"] == .null)

    let titles = toyTitles.compactMap { $0 }
    let expected = BPETrainer(vocabularySize: 300, minimumFrequency: 2).train(titles)
    #expect(special.vocabularySize == expected.vocabulary.count)
    let report = try run.json(TokenizerStage.reportFile)
    #expect(report["mode"] == "train")
    #expect(report["merges"] == JSONValue(expected.merges.count))
    #expect(report["corpus"]?["titles"] == 9)
    #expect(report["corpus"]?["items_without_title"] == 1)
    #expect(report["training"]?["stop_reason"] == .string(expected.stopReason.rawValue))
    #expect(run.metrics["vocab_size"] == JSONValue(expected.vocabulary.count))

    let tokenizer = try TokenizerStage.loadTokenizer(artifact: run.output.path)
    let direct = expected.makeTokenizer()
    for title in titles + ["unseen títle ✓"] {
      #expect(tokenizer.encode(title) == direct.encode(title))
      #expect(tokenizer.decode(tokenizer.encode(title)) == title)
    }
    #expect(tokenizer.id(of: "ĠTrain") != nil)
  }

  @Test func trainingTwiceGivesByteIdenticalFiles() throws {
    let samples = try TemporaryDirectory()
    try writeSamples(toyTitles, to: samples.path)
    let first = try TokenizerRun(["vocab_size": 280, "min_frequency": 1], samples: samples.path)
    let second = try TokenizerRun(["vocab_size": 280, "min_frequency": 1], samples: samples.path)
    for file in TokenizerStage.declaredOutputs {
      #expect(try first.bytes(file) == second.bytes(file), "\(file) differs between runs")
    }
    #expect(first.metrics == second.metrics)
  }

  @Test func namedTokensJoinTheSpecialTokensAndEmptyMeansNone() throws {
    let samples = try TemporaryDirectory()
    try writeSamples(toyTitles, to: samples.path)
    let run = try TokenizerRun(
      ["vocab_size": 300, "bos_token": "<s>", "eos_token": "</s>", "pad_token": ""], samples: samples.path)
    try run.validate()
    let special = try TokenizerStage.loadSpecialTokens(artifact: run.output.path)
    #expect(special.bos == .init(token: "<s>", id: 1))
    #expect(special.eos == .init(token: "</s>", id: 2))
    #expect(special.pad == nil)
    #expect(try run.json(TokenizerStage.reportFile)["special_tokens"] == ["<|endoftext|>", "<s>", "</s>"])
    let tokenizer = try TokenizerStage.loadTokenizer(artifact: run.output.path)
    #expect(tokenizer.encode("</s>") == [2])
  }

  @Test func aVocabularySmallerThanSpecialTokensAndBytesIsAUsageError() throws {
    let samples = try TemporaryDirectory()
    try writeSamples(toyTitles, to: samples.path)
    let error = #expect(throws: PipelineError.self) { try TokenizerRun(["vocab_size": 256], samples: samples.path) }
    #expect(error?.code == .usage)
    #expect(error?.message.contains("at least 257") == true)
    // Exactly the special tokens and the bytes: a valid tokenizer without merges.
    let bytesOnly = try TokenizerRun(["vocab_size": 256, "special_tokens": []], samples: samples.path)
    try bytesOnly.validate()
    #expect(try bytesOnly.json(TokenizerStage.reportFile)["merges"] == 0)
    #expect(try TokenizerStage.loadSpecialTokens(artifact: bytesOnly.output.path).eos == nil)
  }

  @Test func rawFilesNameThePretrainedFilesAndPathsStayOutOfTheKey() throws {
    func resolve(_ given: [String: JSONValue]) throws -> StageParameters {
      try TokenizerStage.resolveParameters(given, entry: "tokenizer", file: "test")
    }
    #expect(try TokenizerStage.rawFiles(resolve([:])) == [:])
    #expect(
      try TokenizerStage.rawFiles(resolve(["mode": "pretrained", "file": "tokenizers/llama3.2/tokenizer.json"]))
        == ["tokenizer": "tokenizers/llama3.2/tokenizer.json"])
    #expect(
      try TokenizerStage.rawFiles(
        resolve([
          "mode": "pretrained", "format": "vocab-merges", "file": "gpt2/vocab.json", "merges_file": "gpt2/merges.txt",
          "config_file": "gpt2/tokenizer_config.json",
        ])) == ["tokenizer": "gpt2/vocab.json", "merges": "gpt2/merges.txt", "config": "gpt2/tokenizer_config.json"])
    #expect(throws: PipelineError.self) { try TokenizerStage.rawFiles(resolve(["mode": "pretrained"])) }
    #expect(throws: PipelineError.self) {
      try TokenizerStage.rawFiles(resolve(["mode": "pretrained", "format": "vocab-merges", "file": "vocab.json"]))
    }
    let keyed = TokenizerStage.keyParameters(try resolve(["mode": "pretrained", "file": "a/tokenizer.json"]))
    #expect(keyed["file"] == nil && keyed["merges_file"] == nil && keyed["config_file"] == nil)
    #expect(keyed["mode"] == "pretrained")
    #expect(keyed["bos_token"] == .null)
  }

  @Test func validationRejectsASpecialTokenWithTheWrongID() throws {
    let samples = try TemporaryDirectory()
    try writeSamples(toyTitles, to: samples.path)
    let run = try TokenizerRun(["vocab_size": 270], samples: samples.path)
    try run.validate()
    var special = try run.json(TokenizerStage.specialTokensFile)
    special = .object(special.objectValue!.merging(["eos": ["token": "<|endoftext|>", "id": 5]]) { $1 })
    try FileSystem.writeText(run.output.file(TokenizerStage.specialTokensFile), special.prettyText())
    #expect(throws: PipelineError.self) { try run.validate() }
  }

  @Test(.enabled(if: SharedData.shouldRun("tokenizers/llama3.2/tokenizer.json")))
  func pretrainedLlamaTokenizerKeepsItsFileAndNamesItsSpecialTokens() throws {
    let file = SharedData.path("tokenizers/llama3.2/tokenizer.json")
    let config = SharedData.path("tokenizers/llama3.2/tokenizer_config.json")
    let given: [String: JSONValue] = ["mode": "pretrained", "file": "tokenizers/llama3.2/tokenizer.json"]

    // From tokenizer.json alone: the post-processor's BOS, and EOS and PAD by their known names.
    let bare = try TokenizerRun(given, rawFiles: ["tokenizer": file])
    try bare.validate()
    let special = try TokenizerStage.loadSpecialTokens(artifact: bare.output.path)
    #expect(special.bos == .init(token: "<|begin_of_text|>", id: 128_000))
    #expect(special.eos == .init(token: "<|end_of_text|>", id: 128_001))
    #expect(special.pad == .init(token: "<|finetune_right_pad_id|>", id: 128_004))
    // 128,000 model tokens and 257 added ones, as `tokenizers`' get_vocab_size() counts them.
    #expect(special.vocabularySize == 128_257)
    #expect(try bare.bytes(TokenizerStage.tokenizerFile) == FileSystem.readFile(file))

    // tokenizer_config.json names the same three; parameters override it.
    let configured = try TokenizerRun(
      given.merging(["config_file": "tokenizers/llama3.2/tokenizer_config.json", "eos_token": "<|eot_id|>"]) { $1 },
      rawFiles: ["tokenizer": file, "config": config])
    try configured.validate()
    let overridden = try TokenizerStage.loadSpecialTokens(artifact: configured.output.path)
    #expect(overridden.bos?.id == 128_000)
    #expect(overridden.eos == .init(token: "<|eot_id|>", id: 128_009))
    #expect(overridden.pad?.id == 128_004)

    #expect(throws: PipelineError.self) {
      try TokenizerRun(given.merging(["bos_token": "<nope>"]) { $1 }, rawFiles: ["tokenizer": file])
    }
  }

  @Test(.enabled(if: SharedData.shouldRun("tokenizers/gpt2/vocab.json")))
  func pretrainedGPT2VocabularyAndMergesMarkEndOfTextSpecial() throws {
    let run = try TokenizerRun(
      [
        "mode": "pretrained", "format": "vocab-merges", "file": "tokenizers/gpt2/vocab.json",
        "merges_file": "tokenizers/gpt2/merges.txt",
      ],
      rawFiles: [
        "tokenizer": SharedData.path("tokenizers/gpt2/vocab.json"),
        "merges": SharedData.path("tokenizers/gpt2/merges.txt"),
      ])
    try run.validate()
    let special = try TokenizerStage.loadSpecialTokens(artifact: run.output.path)
    #expect(special.bos == nil)
    #expect(special.eos == .init(token: "<|endoftext|>", id: 50_256))
    #expect(special.pad == special.eos)
    #expect(special.vocabularySize == 50_257)
    let tokenizer = try TokenizerStage.loadTokenizer(artifact: run.output.path)
    #expect(tokenizer.encode("Hello world<|endoftext|>") == [15_496, 995, 50_256])
  }
}
