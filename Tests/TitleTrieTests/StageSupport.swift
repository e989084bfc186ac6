import ArtifactFormats
import BPETokenizer
import Interactions
import LogIngest
import PipelineCore
import TestSupport
import TitleTrie

/// A stand-in tokenizer: whitespace-separated words, each with an id fixed in advance from a list
/// of texts (ids in order of first appearance, from 0), so encoding is a pure function.
struct WordTokenizer: Sendable {
  let ids: [String: UInt32]
  /// One past the last word id.
  var eosID: UInt32 { UInt32(ids.count) }

  init(texts: some Sequence<String>) {
    var ids: [String: UInt32] = [:]
    for text in texts {
      for word in Self.words(text) where ids[word] == nil { ids[word] = UInt32(ids.count) }
    }
    self.ids = ids
  }

  static func words(_ text: String) -> [String] {
    text.split(whereSeparator: \.isWhitespace).map(String.init)
  }

  /// Words without an id encode to nothing, which the stage must reject.
  func encode(_ text: String) -> [UInt32] {
    Self.words(text).compactMap { ids[$0] }
  }

  /// A batch encoder, as the stage takes one.
  var encoder: ([String]) -> [[UInt32]] { { texts in texts.map { self.encode($0) } } }
}

/// A fake `tokenizer` artifact: a placeholder `tokenizer.json` and a `special_tokens.json` naming EOS.
func writeTokenizerArtifact(eosID: UInt32?, to directory: String) throws {
  try FileSystem.writeText(FileSystem.join(directory, "tokenizer.json"), "{\"model\": {\"type\": \"WordLevel\"}}\n")
  let special = TokenizerStage.SpecialTokens(
    bos: nil, eos: eosID.map { .init(token: "</s>", id: $0) }, pad: nil, vocabularySize: Int(eosID ?? 0) + 1)
  try FileSystem.writeText(FileSystem.join(directory, "special_tokens.json"), special.json.prettyText())
}

/// A `samples` artifact holding only items (the trie stage reads nothing else).
func writeSamplesArtifact(items: [ItemRecord], to directory: String) throws {
  try PreparedSamples(items: items, users: [], splits: [:]).write(to: directory)
}

/// A manifest good enough for `TrieStage.validate` (it reads only `params`).
func trieManifest(params: [String: JSONValue] = ["add_eos": true]) -> Manifest {
  Manifest(
    stage: TrieStage.name, stageVersion: TrieStage.version, key: String(repeating: "0", count: 64), params: params,
    inputs: [:], rawFiles: [:], files: [], metrics: [:], toolVersion: "test")
}

/// One run of the trie stage (with a stand-in encoder) into a fresh temporary directory.
struct TrieRun {
  let output: TemporaryDirectory
  let metrics: JSONValue
  let parameters: StageParameters

  /// - Parameter encode: a stand-in batch encoder; `nil` runs the stage as the driver does, with the
  ///   tokenizer artifact's own tokenizer.
  init(
    _ given: [String: JSONValue] = [:], samples: String, tokenizer: String, encode: (([String]) -> [[UInt32]])?
  ) throws {
    parameters = try TrieStage.resolveParameters(given, entry: "trie", file: "test")
    output = try TemporaryDirectory()
    let context = StageContext(
      parameters: parameters, inputs: ["samples": samples, "tokenizer": tokenizer], rawFiles: [:],
      outputDirectory: output.path, diagnostics: Diagnostics(toolName: "tca-trie", verbosity: .quiet))
    if let encode {
      metrics = try TrieStage.run(context, encode: encode)
    } else {
      metrics = try TrieStage.run(context)
    }
  }

  func validate() throws {
    try TrieStage.validate(artifact: output.path, manifest: trieManifest(params: TrieStage.keyParameters(parameters)))
  }

  func report() throws -> JSONValue {
    try JSONParser.parse(try FileSystem.readFile(output.file(TrieStage.reportFile)))
  }

  /// Every file's bytes, by name.
  func outputBytes() throws -> [String: [UInt8]] {
    var files: [String: [UInt8]] = [:]
    for name in try FileSystem.listFilesRecursively(output.path) {
      files[name] = try FileSystem.readFile(output.file(name))
    }
    return files
  }
}
