import ArtifactFormats
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// One run of the ingest stage into a fresh temporary directory, with what it wrote read back.
struct IngestRun {
  let output: TemporaryDirectory
  let metrics: JSONValue
  let log: InteractionLog
  let report: JSONValue
  let seconds: Double

  /// Resolves `parameters` as the driver does, then runs the stage.
  /// - Parameter rawFiles: absolute paths by role; by default the stage's own `rawFiles` resolved
  ///   against the shared data root.
  init(_ parameters: [String: JSONValue], rawFiles: [String: String]? = nil) throws {
    let resolved = try IngestStage.resolveParameters(parameters, entry: "ingest", file: "test")
    let files = try rawFiles ?? IngestStage.rawFiles(resolved).mapValues { SharedData.path($0) }
    output = try TemporaryDirectory()
    let context = StageContext(
      parameters: resolved, inputs: [:], rawFiles: files, outputDirectory: output.path,
      diagnostics: Diagnostics(toolName: "tca-ingest", verbosity: .quiet))
    let start = monotonicSeconds()
    metrics = try IngestStage.run(context)
    seconds = monotonicSeconds() - start
    log = try InteractionLog.read(from: output.path)
    report = try JSONParser.parse(try FileSystem.readFile(output.file(InteractionLog.reportFile)))
  }

  /// The bytes of every declared output, by name.
  func outputBytes() throws -> [String: [UInt8]] {
    var files: [String: [UInt8]] = [:]
    for name in try FileSystem.listFilesRecursively(output.path) {
      files[name] = try FileSystem.readFile(output.file(name))
    }
    return files
  }

  /// Runs the stage's own validation on the output.
  func validate() throws {
    let manifest = Manifest(
      stage: IngestStage.name, stageVersion: IngestStage.version, key: String(repeating: "0", count: 64), params: [:],
      inputs: [:], rawFiles: [:], files: [], metrics: metrics, toolVersion: "test")
    try IngestStage.validate(artifact: output.path, manifest: manifest)
  }

  func skipped(_ reason: String) -> JSONValue? { report["skipped"]?[reason] }
}
