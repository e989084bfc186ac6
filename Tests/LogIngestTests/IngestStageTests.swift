import ArtifactFormats
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// The stage's declaration: parameters, defaults, raw files, and validation of what it wrote.
@Suite struct IngestStageTests {
  /// Defaults enter stage keys: a change here invalidates every cached ingest, so it must be deliberate.
  @Test func parameterDefaultsAreStable() {
    var defaults: [String: JSONValue] = [:]
    for parameter in IngestStage.parameters { defaults[parameter.name] = parameter.defaultValue ?? .null }
    #expect(
      JSONValue.object(defaults).canonicalText()
        == #"{"allow_truncated":false,"category":"","datamaps_file":"datamaps.json","empty_title":"raw-id","item_file":"item.csv","item_map_file":"item_id_to_int.json","items":800,"mean_length":12.0,"meta_file":"","metadata":true,"movies_encoding":"default","path":"","preset":"none","reviews_file":"","seed":17,"sequence_file":"sequential_data.txt","source":null,"strict":false,"tca4rec_columns":null,"test_file":"test_5000.csv","title_file":"products_lookup.csv","title_source":"p5-datamaps","train_file":"train_10000.csv","users":2000,"valid_file":"valid_5000.csv"}"#
    )
    #expect(IngestStage.name == "ingest")
    #expect(IngestStage.inputs.isEmpty)
  }

  @Test func pathsDoNotEnterTheKey() throws {
    let resolved = try IngestStage.resolveParameters(
      ["source": "tca4rec-official", "path": "a/b", "train_file": "train.csv"], entry: "ingest", file: "test")
    let key = IngestStage.keyParameters(resolved)
    for name in ["path", "train_file", "valid_file", "test_file", "item_file", "sequence_file", "datamaps_file"] {
      #expect(key[name] == nil, "\(name)")
    }
    #expect(key["source"] == "tca4rec-official")
    #expect(key["strict"] == false)
  }

  @Test func tca4recPresetKeysTheCategorysColumns() throws {
    func key(_ parameters: [String: JSONValue]) throws -> [String: JSONValue] {
      IngestStage.keyParameters(try IngestStage.resolveParameters(parameters, entry: "ingest", file: "test"))
    }
    let base: [String: JSONValue] = ["source": "amazon-2018", "path": "p", "category": "Toys_and_Games"]
    // Without the preset neither parameter enters the key, so earlier keys are unchanged.
    #expect(try key(base)["preset"] == nil)
    #expect(try key(base)["tca4rec_columns"] == nil)
    var preset = base
    preset["preset"] = "tca4rec"
    #expect(try key(preset)["tca4rec_columns"] == ["brand"])
    preset["category"] = "Sports_and_Outdoors"
    #expect(try key(preset)["tca4rec_columns"] == ["brand", "style", "category"])
    preset["category"] = "Office_Products"
    #expect(try key(preset)["tca4rec_columns"] == [])
    preset["tca4rec_columns"] = ["style"]
    #expect(try key(preset)["tca4rec_columns"] == ["style"])
    preset["tca4rec_columns"] = ["colour"]
    let error = #expect(throws: PipelineError.self) { try key(preset) }
    #expect(error?.description.contains("'colour'") == true)
  }

  @Test func rawFilesByRoleForEachSource() throws {
    func files(_ parameters: [String: JSONValue]) throws -> [String: String] {
      try IngestStage.rawFiles(IngestStage.resolveParameters(parameters, entry: "ingest", file: "test"))
    }
    #expect(try files(["source": "synthetic"]) == [:])
    #expect(
      try files(["source": "tca4rec-official", "path": "tca4rec-official/Toys_and_Games/"]) == [
        "train": "tca4rec-official/Toys_and_Games/train_10000.csv",
        "valid": "tca4rec-official/Toys_and_Games/valid_5000.csv",
        "test": "tca4rec-official/Toys_and_Games/test_5000.csv",
        "items": "tca4rec-official/Toys_and_Games/item.csv",
      ])
    #expect(try files(["source": "movielens-100k"]) == ["ratings": "u.data", "items": "u.item"])
  }

  @Test func anUnknownSourceIsAUsageErrorNamingTheChoices() {
    let message = errorMessage {
      _ = try IngestStage.resolveParameters(["source": "amazon-2030"], entry: "ingest", file: "demo.yaml")
    }
    #expect(
      message
        == "demo.yaml: stage 'ingest': parameter 'source' expected one of synthetic, movielens-100k, movielens-1m, movielens-10m, movielens-csv, tca4rec-official, sequence-file, amazon-2014, amazon-2018, amazon-2023, found 'amazon-2030'"
    )
  }

  @Test func aMissingRawFileRoleIsAUsageError() {
    let message = errorMessage { _ = try IngestRun(["source": "movielens-100k"], rawFiles: [:]) }
    #expect(message.hasPrefix("stage 'ingest' (source 'movielens-100k') needs the raw file 'items'"))
  }

  @Test func validationRejectsAReportThatMiscounts() throws {
    let run = try IngestRun(["source": "synthetic", "users": 50, "items": 40])
    try run.validate()
    let path = run.output.file("report.json")
    var report = try #require(run.report.objectValue)
    report["events"] = 1
    try FileSystem.writeText(path, JSONValue.object(report).prettyText())
    let message = errorMessage { try run.validate() }
    #expect(message.contains("report.json': 'events' is 1 but the artifact holds"), "\(message)")
  }

  @Test func reportHasTheDocumentedKeys() throws {
    let directory = try TemporaryDirectory()
    let items = try directory.write("u.item", MovieLens100KIngestTests.itemLines(2))
    let ratings = try directory.write("u.data", "1\t1\t5\t10\nx\t1\t5\t10\n")
    let run = try IngestRun(["source": "movielens-100k"], rawFiles: ["ratings": ratings, "items": items])
    #expect(
      run.report.objectValue?.keys.sorted() == [
        "events", "files", "items", "items_with_title", "lines_read", "skipped", "skipped_lines", "source", "users",
      ])
    #expect(run.report["lines_read"] == 4)
    #expect(run.report["files"]?["items"] == ["name": "u.item", "lines": 2, "blank_lines": 0])
    #expect(
      run.skipped("bad_user_id") == [
        "count": 1, "file": "u.data", "first_lines": [2],
        "example": "'u.data' line 2: field 'user id' is not an integer (\"x\")",
      ])
    #expect(run.metrics == ["events": 1, "users": 1, "items": 2, "items_with_title": 2, "skipped_lines": 1])
  }
}
