import ArtifactFormats
import PipelineCore

extension IngestStage {
  /// The reader's view of an Amazon source.
  static func amazonEdition(_ source: Source) -> AmazonReader.Edition? {
    switch source {
    case .amazon2014: return .amazon2014
    case .amazon2018: return .amazon2018
    case .amazon2023: return .amazon2023
    default: return nil
    }
  }

  /// The raw files of an Amazon source: `reviews` and, unless `metadata: false`, `meta`.
  static func amazonRawFiles(_ parameters: StageParameters, source: Source) throws(PipelineError) -> [String: String] {
    let parameters = withDefaults(parameters)
    let path = try parameters.string("path")
    let category = try parameters.string("category")
    func file(_ parameter: String, default defaultName: (String) -> String) throws(PipelineError) -> String {
      let given = try parameters.string(parameter)
      if !given.isEmpty { return joinPath(path, given) }
      guard !category.isEmpty else {
        throw .usage(
          "stage '\(parameters.stage)': source '\(source.rawValue)' needs 'category' (for the default file names) or '\(parameter)'"
        )
      }
      return joinPath(path, defaultName(category))
    }
    var files: [String: String] = [:]
    switch source {
    case .amazon2014:
      files[AmazonReader.reviewsRole] = try file("reviews_file") { "reviews_\($0)_5.json.gz" }
    case .amazon2018:
      files[AmazonReader.reviewsRole] = try file("reviews_file") { "\($0)_5.json.gz" }
    default:
      files[AmazonReader.reviewsRole] = try file("reviews_file") { "\($0).jsonl" }
    }
    if try parameters.boolean("metadata") {
      let extensionName = source == .amazon2023 ? "jsonl" : "json.gz"
      files[AmazonReader.metaRole] = try file("meta_file") { "meta_\($0).\(extensionName)" }
    }
    return files
  }

  /// Reads an Amazon source.
  static func readAmazon(_ inputs: IngestInputs, source: Source, parameters: StageParameters) throws -> InteractionLog {
    guard let edition = amazonEdition(source) else {
      throw PipelineError.usage("source '\(source.rawValue)' is not an Amazon source")
    }
    let reviews = try inputs.name(AmazonReader.reviewsRole)
    let isCSV = [".csv", ".csv.gz", ".csv.zst"].contains { reviews.hasSuffix($0) }
    let format: AmazonReader.ReviewFormat = source == .amazon2023 && isCSV ? .ratingCSV : .jsonLines
    let parameters = withDefaults(parameters)
    var rules: TCA4RecItemRules?
    switch try parameters.string("preset") {
    case "tca4rec":
      guard source == .amazon2018, format == .jsonLines, try parameters.boolean("metadata") else {
        throw PipelineError.usage(
          "stage '\(parameters.stage)': preset 'tca4rec' reproduces the official TCA4Rec preprocessing of Amazon 2018 review and meta JSON files; use it with source amazon-2018 and metadata: true (found source '\(source.rawValue)')"
        )
      }
      rules = try TCA4RecItemRules(columns: try parameters.stringList("tca4rec_columns"), file: parameters.stage)
    default:
      rules = nil
    }
    return try AmazonReader.read(
      inputs, edition: edition, format: format, metadata: try parameters.boolean("metadata"), tca4rec: rules)
  }
}
