import ArtifactFormats
import BPETokenizer
import Interactions
import LogIngest
import PipelineCore

/// The `trie` stage: encodes every item title of the `samples` artifact standalone with the
/// `tokenizer` artifact's tokenizer (no BOS), appends EOS, and builds the `TitleTrie`; writes its
/// arrays, `report.json`, and copies of `tokenizer.json` and `special_tokens.json` so the artifact is
/// self-contained.
public enum TrieStage: PipelineStage {
  public static let name = "trie"
  public static let version = 1
  public static let summary =
    "Encodes every item title with EOS appended and builds the title trie with contiguous item ranges."

  public static let reportFile = "report.json"
  /// The tokenizer's files, copied unchanged from the `tokenizer` artifact (so
  /// `TokenizerStage.loadTokenizer(artifact:)` and `loadSpecialTokens(artifact:)` also read a trie).
  public static let tokenizerFile = TokenizerStage.tokenizerFile
  public static let specialTokensFile = TokenizerStage.specialTokensFile

  public static let parameters: [ParameterSpecification] = [
    ParameterSpecification(
      "add_eos", .boolean, default: true,
      "append the tokenizer's EOS id to every title's tokens, so every item ends in its own EOS leaf (the TCA4Rec target)"
    ),
    ParameterSpecification(
      "strip_titles", .boolean, default: true,
      "trim leading and trailing whitespace (line breaks included) from each title before encoding; inner whitespace is kept"
    ),
    ParameterSpecification(
      "missing_title", .choice(TrieOptions.MissingTitle.allCases.map(\.rawValue)), default: "error",
      "an item with a null or empty title: stop with an error naming it (error), or encode its raw id instead (raw-id)"),
  ]

  public static let inputs = [
    InputSpecification(name: "samples", producer: "prepare", summary: "the items whose titles are encoded"),
    InputSpecification(name: "tokenizer", producer: "tokenizer", summary: "the tokenizer that encodes the titles"),
  ]

  public static var declaredOutputs: [String] {
    TitleTrie.fileNames + [reportFile, tokenizerFile, specialTokensFile]
  }

  public static func rawFiles(_ parameters: StageParameters) throws(PipelineError) -> [String: String] { [:] }

  /// What `build(items:options:eos:encode:)` computes: the trie, the encoded titles, and the
  /// report.
  public struct Output: Equatable, Sendable {
    public var trie: TitleTrie
    public var sequences: TitleSequences
    /// `report.json`: the `TitleTrieReport` (duplicate examples with their titles), the options,
    /// the EOS token, and how many titles were stripped or replaced by their raw id.
    public var report: JSONValue

    /// The manifest metrics: `items`, `tokens`, `nodes`, `leaves`, `branching_nodes`,
    /// `distinct_first_tokens`, `max_depth`, `duplicate_groups`.
    public var metrics: JSONValue {
      let keys = ["items", "tokens", "nodes", "leaves", "branching_nodes", "distinct_first_tokens", "max_depth"]
      var metrics: [String: JSONValue] = [:]
      for key in keys { metrics[key] = report[key] }
      metrics["duplicate_groups"] = report["duplicate_titles"]?["groups"]
      return .object(metrics)
    }
  }

  /// Encodes the titles and builds the trie in memory: the whole stage except reading and writing
  /// files.
  ///
  /// - Parameters:
  ///   - items: the items in id order (`items[j]` is item id `j + 1`).
  ///   - eos: the tokenizer's EOS token, appended when `options.addEOS`.
  ///   - encode: the tokenizer's encoding of a batch of texts without special tokens added; the
  ///     output depends only on what it returns, not on how many threads it uses.
  /// - Complexity: the encoding, then O(*T* log *N*) for the trie (see `TitleTrie`).
  public static func build(
    items: [ItemRecord], options: TrieOptions, eos: TokenizerStage.SpecialTokens.Token?,
    encode: ([String]) -> [[UInt32]]
  ) throws(PipelineError) -> Output {
    let sequences = try TitleSequences(items: items, options: options, eosID: eos?.id, encode: encode)
    let trie = try TitleTrie(itemTokenOffsets: sequences.itemTokenOffsets, itemTokens: sequences.itemTokens)
    let statistics = TitleTrieReport(trie) { sequences.texts[Int($0) - 1] }
    guard var report = statistics.json.objectValue else { preconditionFailure("a report is an object") }
    report["add_eos"] = .bool(options.addEOS)
    report["strip_titles"] = .bool(options.stripTitles)
    report["missing_title"] = .string(options.missingTitle.rawValue)
    report["eos"] = eos.map { ["id": JSONValue(Int($0.id)), "token": .string($0.token)] } ?? .null
    report["titles"] = ["stripped": JSONValue(sequences.strippedCount), "raw_id": JSONValue(sequences.rawIDCount)]
    return Output(trie: trie, sequences: sequences, report: .object(report))
  }

  public static func run(_ context: StageContext) throws -> JSONValue {
    let tokenizerDirectory = try context.input("tokenizer")
    let start = monotonicSeconds()
    let encode = try loadEncoder(tokenizer: tokenizerDirectory)
    context.diagnostics.detail(
      "trie: loaded the tokenizer from '\(tokenizerDirectory)' in \(formatDuration(monotonicSeconds() - start))")
    return try run(context, encode: encode)
  }

  /// Runs the stage with a given batch encoder instead of the `tokenizer` input's tokenizer (whose
  /// `tokenizer.json` and `special_tokens.json` are still copied, and whose EOS is still used).
  public static func run(_ context: StageContext, encode: ([String]) -> [[UInt32]]) throws -> JSONValue {
    let options = try TrieOptions(context.parameters)
    let samplesDirectory = try context.input("samples")
    let tokenizerDirectory = try context.input("tokenizer")
    let start = monotonicSeconds()
    let items = try readItems(samples: samplesDirectory)
    let eos = try TokenizerStage.loadSpecialTokens(artifact: tokenizerDirectory).eos
    let output = try build(items: items, options: options, eos: eos, encode: encode)
    try output.trie.write(to: context.outputDirectory)
    try FileSystem.writeText(context.outputPath(reportFile), output.report.prettyText())
    for name in [tokenizerFile, specialTokensFile] {
      let source = FileSystem.join(tokenizerDirectory, name)
      guard FileSystem.exists(source) else {
        throw PipelineError.invalidArtifact("'\(source)' is missing; rerun the tokenizer stage with --force")
      }
      try FileSystem.writeFile(context.outputPath(name), try FileSystem.readFile(source))
    }
    let report = output.report
    context.diagnostics.note(
      "trie: \(items.count) items, \(output.trie.tokenCount) tokens → \(output.trie.nodeCount) nodes, \(report["branching_nodes"]?.integerValue ?? 0) branching, \(report["duplicate_titles"]?["groups"]?.integerValue ?? 0) duplicate-title groups in \(formatDuration(monotonicSeconds() - start))"
    )
    return output.metrics
  }

  /// Reads `items.jsonl` of a `samples` artifact: raw id and title of item ids 1...N (the splits are
  /// not needed here, so `PreparedSamples.read` would read too much).
  public static func readItems(samples directory: String) throws(PipelineError) -> [ItemRecord] {
    let path = FileSystem.join(directory, PreparedSamples.itemsFile)
    guard FileSystem.exists(path) else {
      throw .invalidArtifact("'\(path)' is missing; rerun the prepare stage with --force")
    }
    var items: [ItemRecord] = []
    for (index, record) in try JSONLines.read(path).enumerated() {
      let line = index + 1
      guard case .integer(let id)? = record["id"], id == Int64(line) else {
        throw .invalidArtifact(
          "'\(path)' line \(line): field 'id' must be \(line) (ids follow line order); rerun the prepare stage with --force"
        )
      }
      guard let rawID = record["raw_id"]?.stringValue else {
        throw .invalidArtifact(
          "'\(path)' line \(line): field 'raw_id' must be a string; rerun the prepare stage with --force")
      }
      let title = record["title"]?.stringValue
      if let value = record["title"], value != .null, title == nil {
        throw .invalidArtifact(
          "'\(path)' line \(line): field 'title' must be a string or null, found \(value.typeName); rerun the prepare stage with --force"
        )
      }
      items.append(ItemRecord(rawID: rawID, title: title))
    }
    return items
  }

  /// Reads the trie back with every structural invariant (`TitleTrie.read(from:eosID:)`); with
  /// `add_eos` (the default), every item must end in a childless node whose token is the EOS id of
  /// the copied `special_tokens.json`; then `report.json`'s counts and histograms must equal the
  /// arrays' (means within 1e-9 relative).
  public static func validate(artifact directory: String, manifest: Manifest) throws {
    for name in [reportFile, tokenizerFile, specialTokensFile]
    where !FileSystem.exists(FileSystem.join(directory, name)) {
      throw PipelineError.invalidArtifact(
        "'\(FileSystem.join(directory, name))' is missing; rerun the trie stage with --force")
    }
    let addEOS = manifest.params["add_eos"]?.boolValue ?? true
    var eosID: UInt32? = nil
    if addEOS {
      guard let eos = try TokenizerStage.loadSpecialTokens(artifact: directory).eos else {
        throw PipelineError.invalidArtifact(
          "'\(FileSystem.join(directory, specialTokensFile))' names no EOS token, but add_eos is set; rerun the trie stage with --force"
        )
      }
      eosID = eos.id
    }
    let trie = try TitleTrie.read(from: directory, eosID: eosID)
    let reportPath = FileSystem.join(directory, reportFile)
    let report = try ArtifactJSON.read(reportPath, stage: "trie")
    let expected = TitleTrieReport(trie).countsJSON
    for key in expected.keys.sorted() {
      let actual = key == "duplicate_titles" ? report[key].map(Self.duplicateCounts) : report[key]
      guard let actual, Self.agree(actual, expected[key]!) else {
        throw PipelineError.invalidArtifact(
          "'\(reportPath)' says \(key) is \(report[key]?.canonicalText() ?? "missing"), but the arrays give \(expected[key]!.canonicalText()); rerun the trie stage with --force"
        )
      }
    }
  }

  private static func duplicateCounts(_ value: JSONValue) -> JSONValue {
    var object = value.objectValue ?? [:]
    object["examples"] = nil
    return .object(object)
  }

  /// Equal JSON, numbers within 1e-9 relative.
  private static func agree(_ left: JSONValue, _ right: JSONValue) -> Bool {
    switch (left, right) {
    case (.array(let first), .array(let second)):
      return first.count == second.count && zip(first, second).allSatisfy { agree($0, $1) }
    case (.object(let first), .object(let second)):
      return Set(first.keys) == Set(second.keys) && first.allSatisfy { agree($0.value, second[$0.key]!) }
    case (.number, _), (_, .number):
      guard let first = left.numberValue, let second = right.numberValue else { return false }
      return abs(first - second) <= 1e-9 * max(1, abs(first), abs(second))
    default:
      return left == right
    }
  }
}
