import ArtifactFormats
import DenseLinearAlgebra
import Foundation
import Interactions
import LogIngest
import PipelineCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The `cf` stage: trains one CF model on the train samples of a `samples` artifact (or imports one
/// trained elsewhere), keeps the epoch with the best valid NDCG@10, and reports full-ranking HR@K and
/// NDCG@K on valid and test. A pipeline may list several entries that use this stage.
public enum CFStage: PipelineStage {
  public static let name = "cf"
  public static let version = 1
  public static let summary =
    "Trains a collaborative-filtering model (pop, bpr-mf, ease, sasrec, gru4rec) or imports one, and reports full-ranking metrics."

  static let pathParameters =
    ["checkpoint", "item_vectors"] + SplitName.allCases.map { "user_vectors_\($0.rawValue)" }
    + SplitName.allCases.map { "scores_\($0.rawValue)" }

  public static var parameters: [ParameterSpecification] {
    [
      ParameterSpecification(
        "model", .choice(ModelKind.allCases.map(\.rawValue)), default: "sasrec",
        "the model family: pop, bpr-mf, ease, sasrec (the official TCA4Rec CF model), gru4rec, or external (imported)"
      ),
      ParameterSpecification(
        "seed", .integer(minimum: 0, maximum: nil), default: 2024,
        "seeds initialisation, shuffling, negatives and dropout (official 2024); not used by pop, ease and external"),
      ParameterSpecification(
        "exclude_history", .boolean, default: false,
        "leave each sample's history items out of the ranking when evaluating (off, as in the official code)"),
    ] + HyperparameterTables.specifications + [
      ParameterSpecification(
        "checkpoint", .string, default: .null,
        "external: a SASRec checkpoint in safetensors with the official parameter names (scripts/convert_sasrec_checkpoint.py converts a .pt)",
        entersKey: false),
      ParameterSpecification(
        "item_vectors", .string, default: .null,
        "external: item vectors, .npy float32 of shape (N, d) or (N + 1, d) with row 0 for padding", entersKey: false),
    ]
      + SplitName.allCases.map { split in
        ParameterSpecification(
          "user_vectors_\(split.rawValue)", .string, default: .null,
          "external: one user vector per \(split.rawValue) sample (.npy float32, (samples, d)), in the samples artifact's order",
          entersKey: false)
      }
      + SplitName.allCases.map { split in
        ParameterSpecification(
          "scores_\(split.rawValue)", .string, default: .null,
          "external: every item's score for each \(split.rawValue) sample (.npy float32, (samples, N) or (samples, N + 1) with column 0 for padding), in the samples artifact's order",
          entersKey: false)
      }
  }

  public static let inputs = [
    InputSpecification(name: "samples", producer: "prepare", summary: "the train, valid and test samples")
  ]

  public static var declaredOutputs: [String] {
    [CFArtifact.modelFile, CFArtifact.cardFile, CFArtifact.metricsFile, CFArtifact.curveFile]
  }

  public static func rawFiles(_ parameters: StageParameters) throws(PipelineError) -> [String: String] {
    var files: [String: String] = [:]
    for name in pathParameters {
      if let path = try parameters.optionalString(name) { files[name] = path }
    }
    return files
  }

  /// Keeps the parameters that apply to the chosen model, filled with that model's defaults; a
  /// hyperparameter set for a model it does not apply to is an error naming both.
  public static func normalizeParameters(_ parameters: StageParameters, file: String) throws(PipelineError)
    -> StageParameters
  {
    let modelName = try parameters.string("model")
    guard let kind = ModelKind(rawValue: modelName) else {
      throw .usage("\(file): stage '\(parameters.stage)': unknown model '\(modelName)'")
    }
    let applicable = Set(HyperparameterTables.names(for: kind))
    let given = parameters.values.filter { $0.value != .null }
    for name in HyperparameterTables.specifications.map(\.name).sorted()
    where given[name] != nil && !applicable.contains(name) {
      let families = ModelKind.allCases.filter { HyperparameterTables.names(for: $0).contains(name) }
      throw .usage(
        "\(file): stage '\(parameters.stage)': parameter '\(name)' does not apply to model '\(modelName)' (it applies to \(families.map(\.rawValue).joined(separator: ", "))); remove it"
      )
    }
    let paths = pathParameters.filter { given[$0] != nil }
    let scores = paths.contains { $0.hasPrefix("scores_") }
    if kind == .external {
      let checkpoint = given["checkpoint"] != nil
      let vectors = given["item_vectors"] != nil
      guard [checkpoint, vectors, scores].filter({ $0 }).count == 1 else {
        throw .usage(
          "\(file): stage '\(parameters.stage)': model 'external' needs exactly one of 'checkpoint' (a SASRec safetensors file), 'item_vectors' (+ user_vectors_<split>) or scores_<split> (every item's score per sample)"
        )
      }
      if checkpoint, let extra = paths.first(where: { $0 != "checkpoint" }) {
        throw .usage("\(file): stage '\(parameters.stage)': '\(extra)' does not go with 'checkpoint'; remove it")
      }
      if vectors, let extra = paths.first(where: { $0.hasPrefix("scores_") }) {
        throw .usage("\(file): stage '\(parameters.stage)': '\(extra)' does not go with 'item_vectors'; remove it")
      }
      if scores, let extra = paths.first(where: { $0.hasPrefix("user_vectors_") }) {
        throw .usage(
          "\(file): stage '\(parameters.stage)': '\(extra)' does not go with imported scores; remove it")
      }
      if scores, given["scores_valid"] == nil || given["scores_test"] == nil {
        throw .usage(
          "\(file): stage '\(parameters.stage)': imported scores need 'scores_valid' and 'scores_test' (the metrics are computed on them); 'scores_train' is needed to compute soft labels for train"
        )
      }
      if scores, let extra = HyperparameterTables.names(for: .external).first(where: { given[$0] != nil }) {
        throw .usage(
          "\(file): stage '\(parameters.stage)': '\(extra)' describes a checkpoint's architecture and does not apply to imported scores; remove it"
        )
      }
      if vectors, given["user_vectors_valid"] == nil || given["user_vectors_test"] == nil {
        throw .usage(
          "\(file): stage '\(parameters.stage)': imported vectors need 'user_vectors_valid' and 'user_vectors_test' (the metrics are computed on them); 'user_vectors_train' is needed to compute soft labels for train"
        )
      }
      if vectors, let extra = HyperparameterTables.names(for: .external).first(where: { given[$0] != nil }) {
        throw .usage(
          "\(file): stage '\(parameters.stage)': '\(extra)' describes a checkpoint's architecture and does not apply to imported vectors; remove it"
        )
      }
    } else if let path = paths.first {
      throw .usage(
        "\(file): stage '\(parameters.stage)': parameter '\(path)' applies to model 'external' only; remove it or set model: external"
      )
    }
    let configuration = ModelConfiguration.make(
      kind: kind, values: given, checkpoint: given["checkpoint"] != nil, scores: scores)
    if case .sasrec(let sasrec) = configuration, sasrec.hidden % sasrec.heads != 0 {
      throw .usage(
        "\(file): stage '\(parameters.stage)': heads (\(sasrec.heads)) must divide hidden (\(sasrec.hidden))")
    }
    var values: [String: JSONValue] = [
      "model": .string(modelName), "exclude_history": given["exclude_history"] ?? false,
    ]
    if [.bprMF, .sasrec, .gru4rec].contains(kind) { values["seed"] = given["seed"] }
    for (name, value) in configuration.hyperparameters { values[name] = value }
    for name in paths { values[name] = given[name] }
    return StageParameters(stage: parameters.stage, values: values)
  }

  static func configuration(_ parameters: StageParameters) throws(PipelineError) -> ModelConfiguration {
    let kind = ModelKind(rawValue: try parameters.string("model")) ?? .sasrec
    var scores = false
    for split in SplitName.allCases where try parameters.optionalString("scores_\(split.rawValue)") != nil {
      scores = true
    }
    return ModelConfiguration.make(
      kind: kind, values: parameters.values, checkpoint: try parameters.optionalString("checkpoint") != nil,
      scores: scores)
  }

  public static func run(_ context: StageContext) throws -> JSONValue {
    let parameters = context.parameters
    let configuration = try configuration(parameters)
    let excludeHistory = try parameters.boolean("exclude_history")
    let seed = try parameters.optionalInteger("seed")
    let samplesDirectory = try context.input("samples")
    let samples = try PreparedSamples.read(from: samplesDirectory)
    let samplesKey = (try? Manifest.read(directory: samplesDirectory).key) ?? ""
    let threads = Parallel.defaultThreadCount
    DenseLinearAlgebra.setThreadCount(threads)
    let data = TrainingData(
      itemCount: samples.items.count, userCount: samples.users.count, train: samples[.train],
      valid: samples[.valid])
    guard data.itemCount > 0 else { throw PipelineError.invalidArtifact("'\(samplesDirectory)' has no items") }
    let diagnostics = context.diagnostics
    let start = monotonicSeconds()
    diagnostics.note(
      "cf: \(configuration.architecture) on \(data.train.count) train samples, \(data.itemCount) items, \(threads) threads"
    )

    let valid = data.valid
    let environment = TrainingEnvironment(
      seed: UInt64(seed ?? 0), threads: threads,
      evaluateValid: { scorer in
        RankingEvaluator.evaluate(scorer, samples: valid, excludeHistory: excludeHistory, threads: threads)
      },
      log: { diagnostics.detail("cf: \($0)") })

    let trained = try train(configuration, data: data, samples: samples, context: context, environment: environment)
    let file = context.outputPath(CFArtifact.modelFile)
    var evaluations: [String: JSONValue] = [:]
    var metricsBySplit: [SplitName: RankingMetrics] = [:]
    for split in [SplitName.valid, .test] {
      let scorer =
        configuration.isImportedPerSample
        ? try CFArtifact.scorer(
          configuration: configuration, tensors: trained.tensors, itemCount: data.itemCount,
          userCount: data.userCount, split: split, file: file)
        : trained.scorer
      let metrics = RankingEvaluator.evaluate(
        scorer, samples: samples[split], excludeHistory: excludeHistory, threads: threads)
      metricsBySplit[split] = metrics
      evaluations[split.rawValue] = metrics.json
    }

    try SafeTensors.write(
      trained.tensors, metadata: ["format": CFArtifact.cardFormat, "architecture": configuration.architecture],
      to: file)
    let card: JSONValue = .object([
      "format": .string(CFArtifact.cardFormat),
      "architecture": .string(configuration.architecture),
      "hyperparameters": .object(configuration.hyperparameters),
      "item_count": JSONValue(data.itemCount),
      "user_count": JSONValue(data.userCount),
      "seed": seed.map { JSONValue($0) } ?? .null,
      "exclude_history": .bool(excludeHistory),
      "data": ["samples_key": .string(samplesKey), "train_samples": JSONValue(data.train.count)],
      "best_epoch": trained.bestEpoch.map { JSONValue($0) } ?? .null,
      "epochs": JSONValue(trained.curve.count),
      "tensors": .array(
        trained.tensors.map { ["name": .string($0.name), "shape": JSONValue($0.shape)] }),
      "details": .object(trained.details),
    ])
    try FileSystem.writeText(context.outputPath(CFArtifact.cardFile), card.prettyText())
    let metrics: JSONValue = .object([
      "valid": evaluations["valid"]!, "test": evaluations["test"]!,
      "best_epoch": trained.bestEpoch.map { JSONValue($0) } ?? .null,
      "epochs": JSONValue(trained.curve.count),
      "exclude_history": .bool(excludeHistory),
      "cutoffs": JSONValue(RankingMetrics.cutoffs),
      "tie_rule": .string(CFArtifact.tieRule),
    ])
    try FileSystem.writeText(context.outputPath(CFArtifact.metricsFile), metrics.prettyText())
    try JSONLines.write(trained.curve.map(\.json), to: context.outputPath(CFArtifact.curveFile))

    let test = metricsBySplit[.test]!
    let validMetrics = metricsBySplit[.valid]!
    diagnostics.note(
      "cf: \(configuration.architecture): valid NDCG@10 \(format(validMetrics.ndcg(at: 10))), test NDCG@10 \(format(test.ndcg(at: 10))) HR@10 \(format(test.hitRate(at: 10)))\(trained.bestEpoch.map { ", best epoch \($0) of \(trained.curve.count)" } ?? "") in \(formatDuration(monotonicSeconds() - start))"
    )
    return .object([
      "model": .string(configuration.architecture),
      "valid_ndcg@10": .number(validMetrics.ndcg(at: 10)),
      "test_ndcg@10": .number(test.ndcg(at: 10)),
      "test_hr@10": .number(test.hitRate(at: 10)),
      "best_epoch": trained.bestEpoch.map { JSONValue($0) } ?? .null,
      "epochs": JSONValue(trained.curve.count),
    ])
  }

  static func format(_ value: Double) -> String { String(format: "%.4f", value) }

  static func train(
    _ configuration: ModelConfiguration, data: TrainingData, samples: PreparedSamples, context: StageContext,
    environment: TrainingEnvironment
  ) throws -> TrainedModel {
    switch configuration {
    case .pop: return try Popularity.train(data, environment: environment)
    case .bprMF(let configuration): return try BPRMF.train(data, configuration: configuration, environment: environment)
    case .ease(let configuration): return try EASE.train(data, configuration: configuration, environment: environment)
    case .sasrec(let configuration):
      return try SASRec.train(data, configuration: configuration, environment: environment)
    case .gru4rec(let configuration):
      return try GRU4Rec.train(data, configuration: configuration, environment: environment)
    case .externalCheckpoint(let configuration):
      let path = context.rawFiles["checkpoint"]!
      let tensors = try ExternalModel.checkpointTensors(path, itemCount: data.itemCount, configuration: configuration)
      let scorer = try SASRec.scorer(
        tensors: tensors, itemCount: data.itemCount, configuration: configuration, file: path)
      return TrainedModel(
        tensors: tensors, scorer: scorer,
        details: ["imported_from": .string(String(path.split(separator: "/").last ?? ""))])
    case .externalVectors:
      var userVectors: [SplitName: String] = [:]
      for split in SplitName.allCases {
        if let path = context.rawFiles["user_vectors_\(split.rawValue)"] { userVectors[split] = path }
      }
      let tensors = try ExternalModel.vectorTensors(
        itemVectors: context.rawFiles["item_vectors"]!, userVectors: userVectors, itemCount: data.itemCount,
        splitCounts: Dictionary(uniqueKeysWithValues: SplitName.allCases.map { ($0, samples[$0].count) }))
      let scorer = try ExternalModel.vectorScorer(
        tensors: tensors, itemCount: data.itemCount, split: .valid, file: context.rawFiles["item_vectors"]!)
      return TrainedModel(tensors: tensors, scorer: scorer)
    case .externalScores:
      var paths: [SplitName: String] = [:]
      for split in SplitName.allCases {
        if let path = context.rawFiles["scores_\(split.rawValue)"] { paths[split] = path }
      }
      let tensors = try ExternalModel.scoreTensors(
        scores: paths, itemCount: data.itemCount,
        splitCounts: Dictionary(uniqueKeysWithValues: SplitName.allCases.map { ($0, samples[$0].count) }))
      let scorer = try ExternalModel.scoreScorer(
        tensors: tensors, itemCount: data.itemCount, split: .valid, file: paths[.valid]!)
      return TrainedModel(tensors: tensors, scorer: scorer)
    }
  }

  /// Reads the artifact back: the model card, every tensor's shape against it (by building the
  /// scorer), `metrics.json`'s splits and cutoffs, and one curve line per epoch.
  public static func validate(artifact directory: String, manifest: Manifest) throws {
    let card = try CFArtifact.readCard(directory)
    _ = try CFArtifact.loadScorer(directory, split: card.configuration.isImportedPerSample ? .valid : .train)
    let metricsPath = FileSystem.join(directory, CFArtifact.metricsFile)
    let metrics = try ArtifactJSON.read(metricsPath, stage: "cf")
    for split in ["valid", "test"] {
      guard let object = metrics[split]?.objectValue else {
        throw PipelineError.invalidArtifact(
          "'\(metricsPath)': field '\(split)' is missing; rerun the cf stage with --force")
      }
      for cutoff in RankingMetrics.cutoffs {
        for metric in ["HR", "NDCG"] {
          guard let value = object["\(metric)@\(cutoff)"]?.numberValue, value >= 0, value <= 1 else {
            throw PipelineError.invalidArtifact(
              "'\(metricsPath)': field '\(split).\(metric)@\(cutoff)' must be a number in [0, 1]; rerun the cf stage with --force"
            )
          }
        }
      }
    }
    let curvePath = FileSystem.join(directory, CFArtifact.curveFile)
    let lines = try JSONLines.read(curvePath)
    let epochs = card.json["epochs"]?.integerValue ?? 0
    guard lines.count == Int(epochs) else {
      throw PipelineError.invalidArtifact(
        "'\(curvePath)' has \(lines.count) lines, but model.json says \(epochs) epochs; rerun the cf stage with --force"
      )
    }
  }
}
