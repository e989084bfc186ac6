import ArtifactFormats
import PipelineCore

/// The `ingest` stage: raw logs (or a seeded synthetic log) → the `interactions` artifact
/// (`InteractionLog` files + `report.json`).
///
/// Sources and the raw files they read (roles → paths relative to the data root, `path/<file>`):
/// - `synthetic`: none; `users`, `items`, `mean_length`, `seed` shape the log;
/// - `movielens-100k`: `ratings` (u.data), `items` (u.item);
/// - `movielens-1m`, `movielens-10m`: `ratings` (ratings.dat), `items` (movies.dat, in `movies_encoding`);
/// - `movielens-csv` (ml-20m, ml-25m, ml-latest): `ratings` (ratings.csv), `items` (movies.csv);
/// - `tca4rec-official`: `train`, `valid`, `test` (`train_file`…), `items` (`item_file`);
/// - `sequence-file`: `sequences` (`sequence_file`) and, for `title_source: p5-datamaps`,
///   `datamaps` (`datamaps_file`), `item_map` (`item_map_file`), `titles` (`title_file`);
/// - `amazon-2014`, `amazon-2018`, `amazon-2023`: `reviews` (`reviews_file`) and, unless
///   `metadata: false`, `meta` (`meta_file`); default names from `category` (`AmazonReader`).
///
/// Parameters that do not apply to the chosen source are ignored; they keep their defaults, so they
/// do not change the key unless set.
public enum IngestStage: PipelineStage {
  public static let name = "ingest"
  public static let version = 1
  public static let summary =
    "Reads raw interaction logs into items, users and events, with a report of what was skipped."

  /// The values of the `source` parameter.
  public enum Source: String, CaseIterable, Sendable {
    case synthetic
    case movieLens100K = "movielens-100k"
    case movieLens1M = "movielens-1m"
    case movieLens10M = "movielens-10m"
    case movieLensCSV = "movielens-csv"
    case officialTCA4Rec = "tca4rec-official"
    case sequenceFile = "sequence-file"
    case amazon2014 = "amazon-2014"
    case amazon2018 = "amazon-2018"
    case amazon2023 = "amazon-2023"
  }

  /// The values of the `title_source` parameter (for `sequence-file`).
  public enum TitleSource: String, CaseIterable, Sendable {
    case p5Datamaps = "p5-datamaps"
  }

  public static let parameters: [ParameterSpecification] = [
    ParameterSpecification(
      "source", .choice(Source.allCases.map(\.rawValue)), default: nil,
      "which reader: \(Source.allCases.map(\.rawValue).joined(separator: ", "))"),
    ParameterSpecification(
      "path", .string, default: "", "directory of the raw files, relative to the data root", entersKey: false),
    ParameterSpecification(
      "allow_truncated", .boolean, default: false,
      "keep the complete lines of a truncated .gz/.zst file (the report says where it ends) instead of failing"),
    ParameterSpecification(
      "strict", .boolean, default: false, "fail on the first malformed line instead of skipping and counting it"),
    // movielens-1m, movielens-10m
    ParameterSpecification(
      "movies_encoding", .choice(["default"] + MovieLensReader.TextEncoding.allCases.map(\.rawValue)),
      default: "default",
      "movielens-1m, movielens-10m: the text encoding of movies.dat (default: latin-1 for movielens-1m, utf-8 for movielens-10m)"
    ),
    // tca4rec-official
    ParameterSpecification(
      "train_file", .string, default: "train_10000.csv", "tca4rec-official: the train split file", entersKey: false),
    ParameterSpecification(
      "valid_file", .string, default: "valid_5000.csv", "tca4rec-official: the validation split file", entersKey: false),
    ParameterSpecification(
      "test_file", .string, default: "test_5000.csv", "tca4rec-official: the test split file", entersKey: false),
    ParameterSpecification(
      "item_file", .string, default: "item.csv", "tca4rec-official: the item table", entersKey: false),
    // sequence-file
    ParameterSpecification(
      "sequence_file", .string, default: "sequential_data.txt",
      "sequence-file: lines 'user item item …', relative to path", entersKey: false),
    ParameterSpecification(
      "empty_title", .choice(["raw-id", "none", "error"]), default: "raw-id",
      "sequence-file: an item whose title-table row has an empty name gets its raw id as title (raw-id, marked title_fallback in items.jsonl), no title (none), or fails (error)"
    ),
    ParameterSpecification(
      "title_source", .choice(TitleSource.allCases.map(\.rawValue)), default: "p5-datamaps",
      "sequence-file: how item titles are found"),
    ParameterSpecification(
      "datamaps_file", .string, default: "datamaps.json",
      "sequence-file (p5-datamaps): P5 datamaps.json (id2item, id2user), relative to path", entersKey: false),
    ParameterSpecification(
      "item_map_file", .string, default: "item_id_to_int.json",
      "sequence-file (p5-datamaps): JSON map ASIN → product id, relative to path", entersKey: false),
    ParameterSpecification(
      "title_file", .string, default: "products_lookup.csv",
      "sequence-file (p5-datamaps): CSV ',global_product_id,name', relative to path", entersKey: false),
    // synthetic
    ParameterSpecification(
      "users", .integer(minimum: 1, maximum: 100_000_000), default: 2000, "synthetic: number of users"),
    ParameterSpecification(
      "items", .integer(minimum: 10, maximum: 100_000_000), default: 800, "synthetic: number of items"),
    ParameterSpecification(
      "mean_length", .number(minimum: 1, maximum: 1000), default: 12.0,
      "synthetic: mean history length per user (every user gets at least 5)"),
    ParameterSpecification("seed", .integer(minimum: nil, maximum: nil), default: 17, "synthetic: generator seed"),
    // amazon-2014, amazon-2018, amazon-2023 (none enters the key: they choose files, whose contents do)
    ParameterSpecification(
      "category", .string, default: "",
      "amazon-*: the category in the default file names (Digital_Music, All_Beauty…)", entersKey: false),
    ParameterSpecification(
      "reviews_file", .string, default: "",
      "amazon-*: the reviews, relative to path (default: 2014 reviews_<category>_5.json.gz, 2018 <category>_5.json.gz, 2023 <category>.jsonl); for amazon-2023 a name ending in .csv, .csv.gz or .csv.zst is the rating-only CSV",
      entersKey: false),
    ParameterSpecification(
      "meta_file", .string, default: "",
      "amazon-*: the item metadata, relative to path (default: meta_<category>.json.gz for 2014 and 2018, meta_<category>.jsonl for 2023)",
      entersKey: false),
    ParameterSpecification(
      "preset", .choice(["none", "tca4rec"]), default: "none",
      "amazon-2018: tca4rec applies the official TCA4Rec item rules to the meta file (titles cut to 50 characters and cleaned, extra columns, brand filter, first line per asin) and drops reviews of dropped items"
    ),
    ParameterSpecification(
      "tca4rec_columns", .stringList, default: .null,
      "preset tca4rec: the extra item columns, from brand, style, category (default: the official ones for category: Toys_and_Games brand; Sports_and_Outdoors brand, style, category; others none)"
    ),
    ParameterSpecification(
      "metadata", .boolean, default: true,
      "amazon-*: read the meta file (titles, brand, categories); false keeps every reviewed item, without a title",
      entersKey: false),
  ]

  public static let inputs: [InputSpecification] = []

  public static let declaredOutputs = [
    InteractionLog.itemsFile, InteractionLog.usersFile, "events.user.npy", "events.item.npy", "events.timestamp.npy",
    "events.rating.npy", InteractionLog.reportFile,
  ]

  public static func source(_ parameters: StageParameters) throws(PipelineError) -> Source {
    let text = try parameters.string("source")
    guard let source = Source(rawValue: text) else {
      throw .usage(
        "stage '\(parameters.stage)': parameter 'source' must be one of \(Source.allCases.map(\.rawValue).joined(separator: ", ")), found '\(text)'"
      )
    }
    return source
  }

  /// `path + "/" + file`, or `file` alone when `path` is empty or `file` is absolute.
  static func joinPath(_ path: String, _ file: String) -> String {
    if path.isEmpty || file.hasPrefix("/") { return file }
    return (path.hasSuffix("/") ? String(path.dropLast()) : path) + "/" + file
  }

  /// The parameters with every unset one at its default, so that a context built by hand (tests)
  /// reads the same values as one the driver resolved.
  static func withDefaults(_ parameters: StageParameters) -> StageParameters {
    var filled = parameters
    for specification in Self.parameters where filled.values[specification.name] == nil {
      if let value = specification.defaultValue { filled.values[specification.name] = value }
    }
    return filled
  }

  public static func rawFiles(_ parameters: StageParameters) throws(PipelineError) -> [String: String] {
    let parameters = withDefaults(parameters)
    let path = try parameters.string("path")
    func file(_ parameter: String) throws(PipelineError) -> String {
      joinPath(path, try parameters.string(parameter))
    }
    switch try source(parameters) {
    case .synthetic:
      return [:]
    case .movieLens100K:
      return [
        MovieLens100KReader.ratingsRole: joinPath(path, "u.data"),
        MovieLens100KReader.itemsRole: joinPath(path, "u.item"),
      ]
    case .movieLens1M, .movieLens10M:
      return [
        MovieLensReader.ratingsRole: joinPath(path, "ratings.dat"),
        MovieLensReader.itemsRole: joinPath(path, "movies.dat"),
      ]
    case .movieLensCSV:
      return [
        MovieLensReader.ratingsRole: joinPath(path, "ratings.csv"),
        MovieLensReader.itemsRole: joinPath(path, "movies.csv"),
      ]
    case .officialTCA4Rec:
      return [
        "train": try file("train_file"), "valid": try file("valid_file"), "test": try file("test_file"),
        OfficialTCA4RecReader.itemsRole: try file("item_file"),
      ]
    case .sequenceFile:
      var files = [SequenceFileReader.sequencesRole: try file("sequence_file")]
      switch try titleSource(parameters) {
      case .p5Datamaps:
        files[SequenceFileReader.datamapsRole] = try file("datamaps_file")
        files[SequenceFileReader.itemMapRole] = try file("item_map_file")
        files[SequenceFileReader.titlesRole] = try file("title_file")
      }
      return files
    case .amazon2014, .amazon2018, .amazon2023:
      return try amazonRawFiles(parameters, source: source(parameters))
    }
  }

  /// Drops `movies_encoding` for the sources it does not apply to, so that adding the parameter left
  /// their keys as they were, and turns its `default` into the release's encoding, so that spelling
  /// the default out does not change the key.
  public static func normalizeParameters(_ parameters: StageParameters, file: String) throws(PipelineError)
    -> StageParameters
  {
    var normalized = parameters
    let source = try source(parameters)
    if source == .movieLens1M || source == .movieLens10M {
      normalized.values["movies_encoding"] = .string(try moviesEncoding(parameters, source: source).rawValue)
    } else {
      normalized.values["movies_encoding"] = nil
    }
    // Added after the first release: the defaults leave earlier keys as they were; the preset's
    // columns are spelled out because `category` (which picks them) does not enter the key.
    if normalized.values["preset"] == "tca4rec" {
      if normalized.values["tca4rec_columns"] == nil || normalized.values["tca4rec_columns"] == .null {
        let category = normalized.values["category"]?.stringValue ?? ""
        let columns = TCA4RecItemRules.forCategory(category).extraKeys.map { JSONValue.string($0.column) }
        normalized.values["tca4rec_columns"] = .array(columns)
      }
      _ = try TCA4RecItemRules(columns: normalized.stringList("tca4rec_columns"), file: file)
    } else {
      normalized.values["preset"] = nil
      normalized.values["tca4rec_columns"] = nil
    }
    return normalized
  }

  /// The encoding of movies.dat: `movies_encoding`, or for `default` the release's own (latin-1 for
  /// movielens-1m, UTF-8 otherwise).
  static func moviesEncoding(_ parameters: StageParameters, source: Source) throws(PipelineError)
    -> MovieLensReader.TextEncoding
  {
    let text = try withDefaults(parameters).string("movies_encoding")
    if text == "default" { return source == .movieLens1M ? .latin1 : .utf8 }
    guard let encoding = MovieLensReader.TextEncoding(rawValue: text) else {
      throw .usage(
        "stage '\(parameters.stage)': parameter 'movies_encoding' must be one of default, \(MovieLensReader.TextEncoding.allCases.map(\.rawValue).joined(separator: ", ")), found '\(text)'"
      )
    }
    return encoding
  }

  static func titleSource(_ parameters: StageParameters) throws(PipelineError) -> TitleSource {
    let text = try withDefaults(parameters).string("title_source")
    guard let titleSource = TitleSource(rawValue: text) else {
      throw .usage(
        "stage '\(parameters.stage)': parameter 'title_source' must be one of \(TitleSource.allCases.map(\.rawValue).joined(separator: ", ")), found '\(text)'"
      )
    }
    return titleSource
  }

  /// Reads (or generates) the log, writes the artifact files and `report.json`.
  /// - Returns: metrics `events`, `users`, `items`, `items_with_title`, `skipped_lines`.
  public static func run(_ context: StageContext) throws -> JSONValue {
    let parameters = withDefaults(context.parameters)
    let source = try source(parameters)
    let strict = try parameters.boolean("strict")
    let allowTruncated = try parameters.boolean("allow_truncated")
    let report = IngestReport(source: source.rawValue, strict: strict, diagnostics: context.diagnostics)
    let inputs = IngestInputs(
      rawFiles: context.rawFiles, allowTruncated: allowTruncated, report: report, cancellation: context.cancellation)
    let start = monotonicSeconds()
    let log: InteractionLog
    switch source {
    case .synthetic:
      let generator = SyntheticReviewGenerator(
        users: try parameters.integer("users"), items: try parameters.integer("items"),
        meanLength: try parameters.number("mean_length"),
        seed: UInt64(bitPattern: Int64(try parameters.integer("seed"))))
      log = generator.generate()
      report.extra["time"] = "synthetic unix seconds (days in 2014–2018)"
    case .movieLens100K:
      log = try MovieLens100KReader.read(inputs)
    case .movieLens1M, .movieLens10M:
      let encoding = try moviesEncoding(parameters, source: source)
      log = try MovieLensReader.read(inputs, format: .doubleColon(moviesEncoding: encoding))
    case .movieLensCSV:
      log = try MovieLensReader.read(inputs, format: .csv)
    case .officialTCA4Rec:
      log = try OfficialTCA4RecReader.read(inputs)
    case .sequenceFile:
      _ = try titleSource(parameters)
      log = try SequenceFileReader.read(inputs, emptyTitle: try parameters.string("empty_title"))
    case .amazon2014, .amazon2018, .amazon2023:
      log = try readAmazon(inputs, source: source, parameters: parameters)
    }
    guard log.eventCount > 0 else {
      let files = context.rawFiles.values.sorted().map { "'\($0)'" }.joined(separator: ", ")
      let reasons = report.skippedLineCount > 0 ? ": \(report.skippedSummary)" : ""
      throw PipelineError.invalidInput(
        "source '\(source.rawValue)' gave no events from \(files) (\(report.skippedLineCount) lines skipped\(reasons)); check that the files are what source '\(source.rawValue)' reads"
      )
    }
    try log.write(to: context.outputDirectory)
    let reportJSON = report.json(for: log)
    try FileSystem.writeText(context.outputPath(InteractionLog.reportFile), reportJSON.prettyText())
    report.summarizeSkips()
    context.diagnostics.detail(
      "ingest: \(source.rawValue): \(log.eventCount) events, \(log.users.count) users, \(log.items.count) items in \(formatDuration(monotonicSeconds() - start))"
    )
    var metrics: [String: JSONValue] = [:]
    for key in ["events", "users", "items", "items_with_title", "skipped_lines"] { metrics[key] = reportJSON[key] }
    return .object(metrics)
  }

  /// Reads the artifact back (checking the log's invariants) and checks that `report.json` counts
  /// what the arrays hold.
  public static func validate(artifact directory: String, manifest: Manifest) throws {
    let log = try InteractionLog.read(from: directory)
    let reportPath = FileSystem.join(directory, InteractionLog.reportFile)
    let report = try ArtifactJSON.read(reportPath, stage: "ingest")
    let expected: [(String, Int)] = [
      ("events", log.eventCount), ("users", log.users.count), ("items", log.items.count),
      ("items_with_title", log.items.count(where: { $0.title != nil })),
    ]
    for (key, count) in expected {
      guard let value = report[key]?.integerValue else {
        throw PipelineError.invalidArtifact(
          "'\(reportPath)': key '\(key)' is missing or not an integer; rerun ingest with --force")
      }
      guard value == Int64(count) else {
        throw PipelineError.invalidArtifact(
          "'\(reportPath)': '\(key)' is \(value) but the artifact holds \(count); rerun ingest with --force")
      }
    }
    for split in SplitName.allCases {
      let count = log.predefined[split]?.count
      let reported = report["predefined"]?[split.rawValue]?.integerValue
      guard reported == count.map(Int64.init) else {
        throw PipelineError.invalidArtifact(
          "'\(reportPath)': predefined '\(split.rawValue)' is \(reported.map(String.init) ?? "absent") but the artifact holds \(count.map(String.init) ?? "none"); rerun ingest with --force"
        )
      }
    }
  }
}
