import ArtifactFormats
import BPETokenizer
import LogIngest
import PipelineCore
import TestSupport
import Testing
import TitleTrie

/// The `trie` stage with a stand-in word tokenizer: title policies, errors, the artifact and its
/// validation.
@Suite struct TrieStageTests {
  static let items = [
    ItemRecord(rawID: "A1", title: " Lego Star Wars \n"),
    ItemRecord(rawID: "A2", title: "Lego Star Wars"),
    ItemRecord(rawID: "A3", title: "Lego City"),
    ItemRecord(rawID: "A4", title: "Barbie"),
  ]
  static let tokenizer = WordTokenizer(texts: items.compactMap(\.title) + items.map(\.rawID))
  static var eos: TokenizerStage.SpecialTokens.Token { .init(token: "</s>", id: tokenizer.eosID) }

  @Test func titlesAreStrippedEncodedAndEndInEOS() throws {
    let output = try TrieStage.build(
      items: Self.items, options: TrieOptions(), eos: Self.eos, encode: Self.tokenizer.encoder)
    let sequences = output.sequences
    #expect(sequences.texts == ["Lego Star Wars", "Lego Star Wars", "Lego City", "Barbie"])
    #expect(sequences.strippedCount == 1)
    let eos = Self.tokenizer.eosID
    #expect(Array(sequences.tokens(ofItem: 1)) == [0, 1, 2, eos])
    #expect(Array(sequences.tokens(ofItem: 3)) == [0, 3, eos])
    #expect(Array(output.trie.tokens(ofItem: 4)) == [4, eos])
    #expect(output.trie.itemLeaf[1] == output.trie.itemLeaf[2], "duplicate titles share a leaf")
    try output.trie.checkInvariants(eosID: eos)
    #expect(output.report["duplicate_titles"]?["examples"]?.arrayValue?.first?["title"] == "Lego Star Wars")
    #expect(output.report["eos"] == ["id": JSONValue(Int(eos)), "token": "</s>"])
    #expect(output.report["titles"] == ["stripped": 1, "raw_id": 0])
    #expect(output.metrics["nodes"] == JSONValue(output.trie.nodeCount))
    #expect(output.metrics["duplicate_groups"] == 1)
  }

  @Test func unstrippedTitlesKeepTheirWhitespace() throws {
    var options = TrieOptions()
    options.stripTitles = false
    let output = try TrieStage.build(items: Self.items, options: options, eos: Self.eos, encode: Self.tokenizer.encoder)
    #expect(output.sequences.texts[0] == " Lego Star Wars \n")
    #expect(output.sequences.strippedCount == 0)
    #expect(TitleSequences.strip(" \t Lego  City\u{00A0}\n") == "Lego  City")
    #expect(TitleSequences.strip(" \n ") == "")
  }

  @Test func anItemWithoutATitleIsAnErrorNamingIt() throws {
    var items = Self.items
    items[2].title = nil
    let missing = errorMessage {
      _ = try TrieStage.build(items: items, options: TrieOptions(), eos: Self.eos, encode: Self.tokenizer.encoder)
    }
    #expect(missing.contains("item 3 (raw id 'A3') has no title; set missing_title: raw-id"), "\(missing)")
    items[2].title = " \n"
    let empty = errorMessage {
      _ = try TrieStage.build(items: items, options: TrieOptions(), eos: Self.eos, encode: Self.tokenizer.encoder)
    }
    #expect(empty.contains("item 3 (raw id 'A3') has an empty title"), "\(empty)")
  }

  @Test func theRawIDPolicyEncodesTheRawID() throws {
    var items = Self.items
    items[2].title = nil
    var options = TrieOptions()
    options.missingTitle = .rawID
    let output = try TrieStage.build(items: items, options: options, eos: Self.eos, encode: Self.tokenizer.encoder)
    #expect(output.sequences.texts[2] == "A3")
    #expect(output.sequences.rawIDCount == 1)
    #expect(Array(output.trie.tokens(ofItem: 3)) == Self.tokenizer.encode("A3") + [Self.tokenizer.eosID])
  }

  @Test func aTitleThatEncodesToNothingIsAnErrorNamingIt() {
    let items = Self.items + [ItemRecord(rawID: "A5", title: "Unknown Words")]
    let message = errorMessage {
      _ = try TrieStage.build(items: items, options: TrieOptions(), eos: Self.eos, encode: Self.tokenizer.encoder)
    }
    #expect(message.contains("item 5 (raw id 'A5', title 'Unknown Words') encodes to no tokens"), "\(message)")
  }

  @Test func eosInsideATitleIsAnError() {
    let eosInside = TokenizerStage.SpecialTokens.Token(token: "Star", id: 1)
    let message = errorMessage {
      _ = try TrieStage.build(items: Self.items, options: TrieOptions(), eos: eosInside, encode: Self.tokenizer.encoder)
    }
    #expect(message.contains("item 1 (raw id 'A1', title 'Lego Star Wars') encodes to the EOS token 1 at position 1"))
  }

  @Test func withoutEOSTheSequencesAreTheTitleTokens() throws {
    var options = TrieOptions()
    options.addEOS = false
    let output = try TrieStage.build(items: Self.items, options: options, eos: nil, encode: Self.tokenizer.encoder)
    #expect(Array(output.trie.tokens(ofItem: 4)) == [4])
    #expect(output.report["add_eos"] == false)
    #expect(output.report["eos"] == .null)
    let message = errorMessage {
      _ = try TrieStage.build(items: Self.items, options: TrieOptions(), eos: nil, encode: Self.tokenizer.encoder)
    }
    #expect(message.contains("add_eos is set but the tokenizer has no EOS token"), "\(message)")
  }

  @Test func parametersHaveDefaultsAndChecks() throws {
    let resolved = try TrieStage.resolveParameters([:], entry: "trie", file: "test")
    #expect(resolved.values == ["add_eos": true, "strip_titles": true, "missing_title": "error"])
    let wrong = errorMessage {
      _ = try TrieStage.resolveParameters(["missing_title": "skip"], entry: "trie", file: "p.yaml")
    }
    #expect(wrong.contains("parameter 'missing_title' expected one of error, raw-id, found 'skip'"), "\(wrong)")
    #expect(TrieStage.inputs.map(\.name) == ["samples", "tokenizer"])
    #expect(TrieStage.inputs.map(\.producer) == ["prepare", "tokenizer"])
  }

  @Test func runWritesAValidSelfContainedArtifact() throws {
    let samples = try TemporaryDirectory()
    let tokenizer = try TemporaryDirectory()
    try writeSamplesArtifact(items: Self.items, to: samples.path)
    try writeTokenizerArtifact(eosID: Self.tokenizer.eosID, to: tokenizer.path)
    let run = try TrieRun(samples: samples.path, tokenizer: tokenizer.path, encode: Self.tokenizer.encoder)
    #expect(try FileSystem.listFilesRecursively(run.output.path) == TrieStage.declaredOutputs.sorted())
    for name in ["tokenizer.json", "special_tokens.json"] {
      #expect(try FileSystem.readFile(run.output.file(name)) == FileSystem.readFile(tokenizer.file(name)))
    }
    try run.validate()
    let trie = try TitleTrie.read(from: run.output.path, eosID: Self.tokenizer.eosID)
    #expect(trie.itemCount == 4)
    #expect(try run.report()["nodes"] == JSONValue(trie.nodeCount))
    #expect(run.metrics["items"] == 4)

    let again = try TrieRun(samples: samples.path, tokenizer: tokenizer.path, encode: Self.tokenizer.encoder)
    #expect(try again.outputBytes() == run.outputBytes(), "byte-identical outputs run after run")
  }

  @Test func validationComparesTheReportAndTheEOSLeaves() throws {
    let samples = try TemporaryDirectory()
    let tokenizer = try TemporaryDirectory()
    try writeSamplesArtifact(items: Self.items, to: samples.path)
    try writeTokenizerArtifact(eosID: Self.tokenizer.eosID, to: tokenizer.path)
    let run = try TrieRun(samples: samples.path, tokenizer: tokenizer.path, encode: Self.tokenizer.encoder)

    var report = try run.report().objectValue!
    report["branching_nodes"] = 7
    try FileSystem.writeText(run.output.file("report.json"), JSONValue.object(report).prettyText())
    let counts = errorMessage { try run.validate() }
    #expect(counts.contains("report.json' says branching_nodes is 7, but the arrays give 2"), "\(counts)")

    try writeTokenizerArtifact(eosID: 2, to: run.output.path)
    let leaf = errorMessage { try run.validate() }
    #expect(leaf.contains("items.leaf.npy") && leaf.contains("childless EOS node (token 2)"), "\(leaf)")

    try writeTokenizerArtifact(eosID: nil, to: run.output.path)
    let noEOS = errorMessage { try run.validate() }
    #expect(noEOS.contains("special_tokens.json' names no EOS token"), "\(noEOS)")

    try FileSystem.removeTree(run.output.file("tokenizer.json"))
    let missing = errorMessage { try run.validate() }
    #expect(missing.contains("tokenizer.json' is missing"), "\(missing)")
  }

  @Test func aSamplesArtifactWithoutItemsIsNamed() throws {
    let samples = try TemporaryDirectory()
    let tokenizer = try TemporaryDirectory()
    try writeTokenizerArtifact(eosID: 0, to: tokenizer.path)
    let message = errorMessage {
      _ = try TrieRun(samples: samples.path, tokenizer: tokenizer.path, encode: Self.tokenizer.encoder)
    }
    #expect(message.contains("items.jsonl' is missing; rerun the prepare stage"), "\(message)")
  }
}
