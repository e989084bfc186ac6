import ArtifactFormats
import PipelineCore

/// A model family with its resolved hyperparameters: what the cf stage's `model` parameter and the
/// parameters that apply to it select.
public enum ModelConfiguration: Equatable, Sendable {
  case pop
  case bprMF(BPRMFConfiguration)
  case ease(EASEConfiguration)
  case sasrec(SASRecConfiguration)
  case gru4rec(GRU4RecConfiguration)
  /// A SASRec checkpoint trained elsewhere (official parameter names), with its architecture.
  case externalCheckpoint(SASRecConfiguration)
  /// Item vectors and per-sample user vectors computed elsewhere.
  case externalVectors
  /// Per-sample scores over every item computed elsewhere (any model, dot product or not).
  case externalScores

  public var kind: ModelKind {
    switch self {
    case .pop: .pop
    case .bprMF: .bprMF
    case .ease: .ease
    case .sasrec: .sasrec
    case .gru4rec: .gru4rec
    case .externalCheckpoint, .externalVectors, .externalScores: .external
    }
  }

  /// Whether the model was imported with per-sample vectors or scores, so that each split has its
  /// own scorer (`CFArtifact.loadScorer(_:split:)`); any other model scores every split alike.
  public var isImportedPerSample: Bool { self == .externalVectors || self == .externalScores }

  /// The name `model.json` records: the family, and for imported models what was imported.
  public var architecture: String {
    switch self {
    case .externalCheckpoint: "external-sasrec"
    case .externalVectors: "external-vectors"
    case .externalScores: "external-scores"
    default: kind.rawValue
    }
  }
}

/// One hyperparameter: its parameter name, type, and where it lives in a configuration struct.
struct Hyperparameter<Configuration>: Sendable {
  let name: String
  let kind: ParameterSpecification.Kind
  let summary: String
  let read: @Sendable (Configuration) -> JSONValue
  let write: @Sendable (inout Configuration, JSONValue) -> Void

  static func integer(
    _ name: String, _ keyPath: WritableKeyPath<Configuration, Int> & Sendable, minimum: Int64 = 1,
    _ summary: String
  ) -> Self {
    Self(
      name: name, kind: .integer(minimum: minimum, maximum: nil), summary: summary,
      read: { JSONValue($0[keyPath: keyPath]) },
      write: { $0[keyPath: keyPath] = Int($1.integerValue ?? 0) })
  }

  static func number(
    _ name: String, _ keyPath: WritableKeyPath<Configuration, Double> & Sendable, minimum: Double = 0,
    maximum: Double? = nil, _ summary: String
  ) -> Self {
    Self(
      name: name, kind: .number(minimum: minimum, maximum: maximum), summary: summary,
      read: { .number($0[keyPath: keyPath]) },
      write: { $0[keyPath: keyPath] = $1.numberValue ?? 0 })
  }

  static func loss(_ keyPath: WritableKeyPath<Configuration, NeuralLoss> & Sendable) -> Self {
    Self(
      name: "loss", kind: .choice(NeuralLoss.allCases.map(\.rawValue)),
      summary:
        "bce: the official loss (last position, target vs one uniform negative); bce-all: every position; ce: softmax cross-entropy over all items at the last position",
      read: { .string($0[keyPath: keyPath].rawValue) },
      write: { $0[keyPath: keyPath] = NeuralLoss(rawValue: $1.stringValue ?? "") ?? .bce })
  }

  /// The configuration with every value of `given` that names one of `table` written into `base`.
  static func apply(_ table: [Self], _ given: [String: JSONValue], to base: Configuration) -> Configuration {
    var configuration = base
    for entry in table {
      if let value = given[entry.name], value != .null { entry.write(&configuration, value) }
    }
    return configuration
  }

  /// Every value of `table` as read from `configuration`.
  static func values(_ table: [Self], of configuration: Configuration) -> [String: JSONValue] {
    Dictionary(uniqueKeysWithValues: table.map { ($0.name, $0.read(configuration)) })
  }
}

/// The hyperparameter tables of each family: parameter names, defaults (the configuration structs'),
/// and where they go.
enum HyperparameterTables {
  static let sasrecArchitecture: [Hyperparameter<SASRecConfiguration>] = [
    .integer("hidden", \.hidden, "embedding and hidden size d (official 64)"),
    .integer("blocks", \.blocks, "self-attention blocks (official 2)"),
    .integer("heads", \.heads, "attention heads; must divide hidden (official 1)"),
    .integer("max_length", \.maxLength, "history items fed to the model, most recent last (official maxlen 10)"),
  ]
  static let sasrec: [Hyperparameter<SASRecConfiguration>] =
    sasrecArchitecture + [
      .number(
        "dropout", \.dropout, maximum: 0.95, "dropout on embeddings, attention weights and the FFN (official 0.5)"),
      .number("lr", \.learningRate, "Adam learning rate (official 1e-3)"),
      .number("weight_decay", \.weightDecay, "Adam L2 weight decay as torch.optim.Adam applies it (official 0)"),
      .integer("batch_size", \.batchSize, "train samples per step (official 256)"),
      .integer("max_epochs", \.maxEpochs, "epochs at most (official 200)"),
      .integer("patience", \.patience, "stop after this many epochs without a better valid NDCG@10 (official 10)"),
      .loss(\.loss),
    ]
  static let gru4rec: [Hyperparameter<GRU4RecConfiguration>] = [
    .integer("hidden", \.hidden, "embedding and hidden size d"),
    .integer("max_length", \.maxLength, "history items fed to the GRU, most recent last"),
    .number("dropout", \.dropout, maximum: 0.95, "dropout on the item embeddings"),
    .number("lr", \.learningRate, "Adam learning rate"),
    .number("weight_decay", \.weightDecay, "Adam L2 weight decay"),
    .integer("batch_size", \.batchSize, "train samples per step"),
    .integer("max_epochs", \.maxEpochs, "epochs at most"),
    .integer("patience", \.patience, "stop after this many epochs without a better valid NDCG@10"),
    .loss(\.loss),
  ]
  static let bprMF: [Hyperparameter<BPRMFConfiguration>] = [
    .integer("factors", \.factors, "latent factors d"),
    .number("lr", \.learningRate, "Adam learning rate"),
    .number("regularization", \.regularization, "L2 weight on the factors of each batch"),
    .integer("batch_size", \.batchSize, "(user, positive, negative) triples per step"),
    .integer("max_epochs", \.maxEpochs, "epochs at most"),
    .integer("patience", \.patience, "stop after this many epochs without a better valid NDCG@10"),
  ]
  static let ease: [Hyperparameter<EASEConfiguration>] = [
    .number("lambda", \.lambda, "L2 regularisation λ added to the diagonal of XᵀX (500 in BENCHMARKS.md)")
  ]

  /// The names that apply to each family (external: `checkpoint` uses the SASRec architecture).
  static func names(for kind: ModelKind) -> [String] {
    switch kind {
    case .pop: []
    case .bprMF: bprMF.map(\.name)
    case .ease: ease.map(\.name)
    case .sasrec: sasrec.map(\.name)
    case .gru4rec: gru4rec.map(\.name)
    case .external: sasrecArchitecture.map(\.name)
    }
  }

  /// Every hyperparameter's specification once (names shared by families have one entry), default
  /// `null`: the chosen family's default fills it.
  static var specifications: [ParameterSpecification] {
    var seen = Set<String>()
    var result: [ParameterSpecification] = []
    func add(_ name: String, _ kind: ParameterSpecification.Kind, _ summary: String) {
      guard seen.insert(name).inserted else { return }
      let families = ModelKind.allCases.filter { names(for: $0).contains(name) }.map(\.rawValue)
      result.append(
        ParameterSpecification(
          name, kind, default: .null, "\(summary) [\(families.joined(separator: ", "))]"))
    }
    for entry in sasrec { add(entry.name, entry.kind, entry.summary) }
    for entry in gru4rec { add(entry.name, entry.kind, entry.summary) }
    for entry in bprMF { add(entry.name, entry.kind, entry.summary) }
    for entry in ease { add(entry.name, entry.kind, entry.summary) }
    return result
  }
}

extension ModelConfiguration {
  /// The configuration for `kind` from the hyperparameters in `values` (others ignored; missing ones
  /// take the family's defaults). `external` is a checkpoint when `checkpoint` is set, else imported
  /// scores when `scores` is, else imported vectors.
  static func make(kind: ModelKind, values: [String: JSONValue], checkpoint: Bool, scores: Bool = false)
    -> ModelConfiguration
  {
    switch kind {
    case .pop: .pop
    case .bprMF: .bprMF(Hyperparameter.apply(HyperparameterTables.bprMF, values, to: BPRMFConfiguration()))
    case .ease: .ease(Hyperparameter.apply(HyperparameterTables.ease, values, to: EASEConfiguration()))
    case .sasrec: .sasrec(Hyperparameter.apply(HyperparameterTables.sasrec, values, to: SASRecConfiguration()))
    case .gru4rec: .gru4rec(Hyperparameter.apply(HyperparameterTables.gru4rec, values, to: GRU4RecConfiguration()))
    case .external:
      checkpoint
        ? .externalCheckpoint(
          Hyperparameter.apply(HyperparameterTables.sasrecArchitecture, values, to: SASRecConfiguration()))
        : scores ? .externalScores : .externalVectors
    }
  }

  /// The resolved hyperparameters, as `model.json` records them and the stage key includes them.
  public var hyperparameters: [String: JSONValue] {
    switch self {
    case .pop, .externalVectors, .externalScores: [:]
    case .bprMF(let configuration): Hyperparameter.values(HyperparameterTables.bprMF, of: configuration)
    case .ease(let configuration): Hyperparameter.values(HyperparameterTables.ease, of: configuration)
    case .sasrec(let configuration): Hyperparameter.values(HyperparameterTables.sasrec, of: configuration)
    case .gru4rec(let configuration): Hyperparameter.values(HyperparameterTables.gru4rec, of: configuration)
    case .externalCheckpoint(let configuration):
      Hyperparameter.values(HyperparameterTables.sasrecArchitecture, of: configuration)
    }
  }
}
