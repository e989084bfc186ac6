import ArtifactFormats
import LogIngest
import PipelineCore

/// The resolved parameters of the `soft-labels` stage.
struct SoftLabelsOptions: Sendable {
  /// The official TCA4Rec prompt (critical88/TCA4Rec utils/LLM4Rec_data.py), `{domain}` and
  /// `{history}` filled in; the rendered text is `.strip()`ed as there.
  static let officialTemplate =
    "###Instruction:\nGiven the user interaction history, please recommendate the {domain} that user is most likely to view.\n\n###Input:\nUser Interaction Histories: {history}.\n\nThen the movie that user is most likely to watch is:\n###Response:"

  enum Prompt: String, CaseIterable, Sendable {
    case none, official, custom
  }

  var splits: [SplitName]
  /// nil keeps every child.
  var k: Int?
  var beta: Double
  var type: ProbabilityType
  var excludeHistory: Bool
  var shardSamples: Int
  var zstdLevel: Int32
  /// The template with `{history}` (and `{domain}` already filled), or nil for no `input_ids` column.
  var template: String?
  var promptBOS: Bool

  static let parameters: [ParameterSpecification] = [
    ParameterSpecification(
      "splits", .stringList, default: ["train"],
      "the splits to compute soft labels for, in this order (train, valid, test); each gets its own folder of shards"),
    ParameterSpecification(
      "k", .countOrAll(minimum: 1), default: 64,
      "children kept per position, the most probable first (ties by token id); 'all' keeps every child"),
    ParameterSpecification(
      "beta", .number(minimum: 1e-6, maximum: nil), default: 1.0,
      "softmax temperature over the CF scores: pi = softmax(z / beta)"),
    ParameterSpecification(
      "dtype", .choice(ProbabilityType.allCases.map(\.rawValue)), default: "float32",
      "how soft_probs are stored: float32, or float16 (half the bytes, about 3 significant digits)"),
    ParameterSpecification(
      "exclude_history", .boolean, default: false,
      "give the sample's history items no mass (the target keeps its own even when it was seen before)"),
    ParameterSpecification(
      "shard_samples", .integer(minimum: 1, maximum: 1 << 24), default: 8192,
      "samples per shard (shards are cut by sample count, so partitions and merges line up)"),
    ParameterSpecification(
      "zstd_level", .integer(minimum: 1, maximum: 22), default: 1,
      "zstd level of the shards (1 fastest … 22 smallest; 3, zstd's own default, makes them about 9 % smaller)"),
    ParameterSpecification(
      "prompt", .choice(Prompt.allCases.map(\.rawValue)), default: "none",
      "an input_ids column with each sample's prompt: none, official (the TCA4Rec template), or custom (prompt_template)"
    ),
    ParameterSpecification(
      "prompt_template", .string, default: .null,
      "custom prompt: a template with {history} (the history titles, oldest first, each in double quotes, joined by ', ') and optionally {domain}"
    ),
    ParameterSpecification(
      "domain", .string, default: .null,
      "the {domain} of the prompt (official values: games, sports, office products)"),
    ParameterSpecification(
      "prompt_bos", .boolean, default: true,
      "start input_ids with the tokenizer's BOS token, when it has one (as a Hugging Face Llama tokenizer does)"),
  ]

  /// Rejects inconsistent prompt settings and drops the prompt parameters that do not apply, so
  /// they neither enter the key nor the manifest.
  static func normalize(_ parameters: StageParameters, file: String) throws(PipelineError) -> StageParameters {
    var values = parameters.values
    let stage = parameters.stage
    let splits = try parameters.stringList("splits")
    guard !splits.isEmpty else { throw .usage("\(file): stage '\(stage)': 'splits' must name at least one split") }
    for split in splits where SplitName(rawValue: split) == nil {
      throw .usage("\(file): stage '\(stage)': unknown split '\(split)' in 'splits' (train, valid, test)")
    }
    if Set(splits).count != splits.count {
      throw .usage("\(file): stage '\(stage)': 'splits' lists a split twice")
    }
    let prompt = Prompt(rawValue: try parameters.string("prompt")) ?? .none
    let template = try parameters.optionalString("prompt_template")
    let domain = try parameters.optionalString("domain")
    switch prompt {
    case .none:
      if template != nil || domain != nil {
        throw .usage(
          "\(file): stage '\(stage)': 'prompt_template' and 'domain' apply only with prompt: official or custom; remove them or set prompt"
        )
      }
      values["prompt_bos"] = nil
      values["prompt_template"] = nil
      values["domain"] = nil
    case .official:
      guard domain != nil else {
        throw .usage(
          "\(file): stage '\(stage)': prompt: official needs 'domain' (games, sports, office products, …)")
      }
      if template != nil {
        throw .usage("\(file): stage '\(stage)': 'prompt_template' applies to prompt: custom only")
      }
      values["prompt_template"] = nil
    case .custom:
      guard let template, template.contains("{history}") else {
        throw .usage("\(file): stage '\(stage)': prompt: custom needs 'prompt_template' containing {history}")
      }
      if template.contains("{domain}") && domain == nil {
        throw .usage("\(file): stage '\(stage)': the prompt template uses {domain}; set 'domain'")
      }
      if !template.contains("{domain}") { values["domain"] = nil }
    }
    return StageParameters(stage: stage, values: values.filter { $0.value != .null })
  }

  init(_ parameters: StageParameters) throws(PipelineError) {
    splits = try parameters.stringList("splits").compactMap(SplitName.init(rawValue:))
    if parameters.values["k"]?.stringValue == "all" { k = nil } else { k = try parameters.integer("k") }
    beta = try parameters.number("beta")
    type = ProbabilityType(rawValue: try parameters.string("dtype")) ?? .float32
    excludeHistory = try parameters.boolean("exclude_history")
    shardSamples = try parameters.integer("shard_samples")
    zstdLevel = Int32(try parameters.integer("zstd_level"))
    let domain = try parameters.optionalString("domain")
    switch Prompt(rawValue: try parameters.string("prompt")) ?? .none {
    case .none: template = nil
    case .official: template = Self.officialTemplate.replacing("{domain}", with: domain ?? "")
    case .custom:
      let custom = try parameters.string("prompt_template")
      template = domain.map { custom.replacing("{domain}", with: $0) } ?? custom
    }
    promptBOS = template != nil ? try parameters.boolean("prompt_bos") : false
  }

  /// The prompt of a sample: the template with `{history}` replaced by the history titles (oldest
  /// first), each in double quotes, joined by ", ", and leading and trailing whitespace stripped.
  static func render(template: String, titles: [String]) -> String {
    let history = titles.map { "\"\($0)\"" }.joined(separator: ", ")
    return template.replacing("{history}", with: history).trimmingWhitespace()
  }
}

extension String {
  /// Without leading and trailing whitespace and newlines (Python's `str.strip()`).
  func trimmingWhitespace() -> String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
    let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
    return String(scalars[first...last])
  }
}
