import ArtifactFormats
import BPETokenizer
import Interactions
import LogIngest
import PipelineCore
import TestSupport
import Testing
import TitleTrie

/// The official TCA4Rec item titles (../shared/data/tca4rec-official) through ingest, prepare
/// (predefined splits) and the trie stage, with a word-level stand-in tokenizer and with the Llama 3.2
/// tokenizer, checked against the naive trie and independent counts of distinct titles.
@Suite struct RealTitlesTests {
  static let toys = "tca4rec-official/Toys_and_Games"
  static let office = "tca4rec-official/Office_Products"

  /// Runs ingest and prepare on an official dataset; returns the `samples` artifact directory.
  static func prepareSamples(_ dataset: String, into root: TemporaryDirectory) throws -> String {
    let ingestParameters = try IngestStage.resolveParameters(
      ["source": "tca4rec-official", "path": .string(dataset)], entry: "ingest", file: "test")
    let interactions = root.file("interactions")
    let samples = root.file("samples")
    try FileSystem.createDirectory(interactions)
    try FileSystem.createDirectory(samples)
    let quiet = Diagnostics(toolName: "test", verbosity: .quiet)
    _ = try IngestStage.run(
      StageContext(
        parameters: ingestParameters, inputs: [:],
        rawFiles: try IngestStage.rawFiles(ingestParameters).mapValues { SharedData.path($0) },
        outputDirectory: interactions, diagnostics: quiet))
    let prepareParameters = try PrepareStage.resolveParameters(
      ["protocol": "predefined"], entry: "prepare", file: "test")
    _ = try PrepareStage.run(
      StageContext(
        parameters: prepareParameters, inputs: ["interactions": interactions], rawFiles: [:],
        outputDirectory: samples, diagnostics: quiet))
    return samples
  }

  @Test(
    .enabled(if: SharedData.shouldRun(toys + "/item.csv"), "needs ../shared/data/tca4rec-official"),
    arguments: [toys, office])
  func officialTitlesBuildTheNaiveTrie(dataset: String) throws {
    guard SharedData.available(dataset + "/item.csv") else { return }
    let root = try TemporaryDirectory()
    let samples = try Self.prepareSamples(dataset, into: root)
    let items = try TrieStage.readItems(samples: samples)
    let tokenizer = WordTokenizer(texts: items.compactMap(\.title))
    let tokenizerDirectory = root.file("tokenizer")
    try FileSystem.createDirectory(tokenizerDirectory)
    try writeTokenizerArtifact(eosID: tokenizer.eosID, to: tokenizerDirectory)

    let start = monotonicSeconds()
    let run = try TrieRun(samples: samples, tokenizer: tokenizerDirectory, encode: tokenizer.encoder)
    let seconds = monotonicSeconds() - start
    try run.validate()
    let trie = try TitleTrie.read(from: run.output.path, eosID: tokenizer.eosID)
    let report = try run.report()
    print(
      "trie: \(dataset): \(trie.itemCount) items, \(trie.tokenCount) tokens → \(trie.nodeCount) nodes, \(report["branching_nodes"]!.canonicalText()) branching, \(report["duplicate_titles"]!["groups"]!.canonicalText()) duplicate groups; stage in \(formatFixed(seconds, digits: 3)) s"
    )

    // The oracle: the same word sequences in a dictionary-of-dictionaries trie.
    let sequences = items.map { item in tokenizer.encode(TitleSequences.strip(item.title ?? "")) + [tokenizer.eosID] }
    let naive = NaiveTrie(sequences)
    #expect(trie.itemCount == items.count)
    #expect(trie.nodeCount == naive.nodeCount)
    #expect(report["nodes"] == JSONValue(naive.nodeCount))
    #expect(report["distinct_first_tokens"] == JSONValue(naive.distinctFirstTokens))
    for (index, sequence) in sequences.enumerated() {
      let path = trie.path(ofItem: UInt32(index + 1))
      if path.map({ trie.token[Int($0)] }) != sequence {
        Issue.record("item \(index + 1): path tokens differ from its title's words")
        break
      }
    }
    naive.compare(with: trie)

    // An independent count of duplicate titles: word sequences that occur more than once.
    var multiplicity: [[String]: Int] = [:]
    for item in items { multiplicity[WordTokenizer.words(item.title ?? ""), default: 0] += 1 }
    let groups = multiplicity.values.filter { $0 >= 2 }
    #expect(report["distinct_sequences"] == JSONValue(multiplicity.count))
    #expect(report["duplicate_titles"]?["groups"] == JSONValue(groups.count))
    #expect(report["duplicate_titles"]?["items"] == JSONValue(groups.reduce(0, +)))
    #expect(report["duplicate_titles"]?["largest"] == JSONValue(groups.max() ?? 1))
    #expect(report["leaves"] == JSONValue(multiplicity.count), "with EOS every distinct title is one leaf")
  }

  static let llama = "tokenizers/llama3.2/tokenizer.json"

  @Test(
    .enabled(
      if: SharedData.shouldRun(toys + "/item.csv") && SharedData.shouldRun(llama),
      "needs ../shared/data/tca4rec-official and tokenizers/llama3.2"))
  func llamaTokensOfTheToysTitlesFormTheTrie() throws {
    guard SharedData.available(Self.toys + "/item.csv"), SharedData.available(Self.llama) else { return }
    let root = try TemporaryDirectory()
    let samples = try Self.prepareSamples(Self.toys, into: root)
    let tokenizerDirectory = root.file("tokenizer")
    try FileSystem.createDirectory(tokenizerDirectory)
    _ = try TokenizerStage.run(
      StageContext(
        parameters: try TokenizerStage.resolveParameters(
          ["mode": "pretrained", "file": .string(Self.llama)], entry: "tokenizer", file: "test"),
        inputs: ["samples": samples], rawFiles: ["tokenizer": SharedData.path(Self.llama)],
        outputDirectory: tokenizerDirectory, diagnostics: Diagnostics(toolName: "test", verbosity: .quiet)))

    let start = monotonicSeconds()
    let run = try TrieRun(samples: samples, tokenizer: tokenizerDirectory, encode: nil)
    let seconds = monotonicSeconds() - start
    try run.validate()

    // The artifact is self-contained: its own tokenizer and EOS reproduce every sequence.
    let tokenizer = try TokenizerStage.loadTokenizer(artifact: run.output.path)
    let eos = try #require(try TokenizerStage.loadSpecialTokens(artifact: run.output.path).eos)
    #expect(eos == .init(token: "<|end_of_text|>", id: 128_001))
    let trie = try TitleTrie.read(from: run.output.path, eosID: eos.id)
    let items = try TrieStage.readItems(samples: samples)
    let titles = items.map { TitleSequences.strip($0.title ?? "") }
    var sequences: [[UInt32]] = []
    for (index, title) in titles.enumerated() {
      let expected = tokenizer.encode(title) + [eos.id]
      sequences.append(expected)
      let item = UInt32(index + 1)
      guard Array(trie.tokens(ofItem: item)) == expected,
        trie.path(ofItem: item).map({ trie.token[Int($0)] }) == expected
      else {
        Issue.record("item \(item) ('\(title)'): the trie's tokens differ from the tokenizer's")
        break
      }
      if index % 100 == 0 { #expect(tokenizer.decode(expected.dropLast().map { $0 }) == title) }
    }
    let naive = NaiveTrie(sequences)
    #expect(trie.nodeCount == naive.nodeCount)
    #expect(trie.childCount(of: TitleTrie.root) == naive.distinctFirstTokens)
    naive.compare(with: trie)

    // Distinct titles are distinct token sequences (decoding inverts encoding), so leaves count them.
    let report = try run.report()
    var multiplicity: [String: Int] = [:]
    for title in titles { multiplicity[title, default: 0] += 1 }
    let groups = multiplicity.values.filter { $0 >= 2 }
    #expect(report["leaves"] == JSONValue(multiplicity.count))
    #expect(report["duplicate_titles"]?["groups"] == JSONValue(groups.count))
    #expect(report["duplicate_titles"]?["largest"] == JSONValue(groups.max() ?? 1))
    #expect(report["eos"] == ["id": 128_001, "token": "<|end_of_text|>"])
    print(
      "trie: Toys_and_Games with Llama 3.2: \(trie.itemCount) items, \(trie.tokenCount) tokens → \(trie.nodeCount) nodes, \(report["branching_nodes"]!.canonicalText()) branching, \(report["distinct_first_tokens"]!.canonicalText()) first tokens, \(report["duplicate_titles"]!["groups"]!.canonicalText()) duplicate groups, max depth \(report["max_depth"]!.canonicalText()); stage in \(formatFixed(seconds, digits: 3)) s"
    )
  }
}
