import ArtifactFormats
import PipelineCore

/// A raw file a stage reads: where it is, its path as the pipeline names it, and its content hash.
public struct RawFileInput: Sendable {
  public var role: String
  public var absolutePath: String
  public var declaredPath: String
  public var sha256: String
  public var size: Int64

  public init(role: String, absolutePath: String, declaredPath: String, sha256: String, size: Int64) {
    self.role = role
    self.absolutePath = absolutePath
    self.declaredPath = declaredPath
    self.sha256 = sha256
    self.size = size
  }
}

/// Runs one stage into a work directory and writes its manifest last. The driver and the standalone
/// stage executables share this, so both produce identical artifacts.
public enum StageExecutor {
  public static let toolVersion = "0.1.0"

  /// - Returns: the manifest written.
  public static func execute(
    stage: any PipelineStage.Type, parameters: StageParameters, material: StageKeyMaterial,
    inputDirectories: [String: String], rawFiles: [RawFileInput], workDirectory: String, diagnostics: Diagnostics,
    partition: StagePartition? = nil
  ) throws -> Manifest {
    var metrics = try compute(
      stage: stage, parameters: parameters, inputDirectories: inputDirectories,
      rawFiles: Dictionary(uniqueKeysWithValues: rawFiles.map { ($0.role, $0.absolutePath) }),
      workDirectory: workDirectory, diagnostics: diagnostics, partition: partition)
    if let partition {
      guard stage.supportsPartitions else {
        throw PipelineError.usage("stage '\(stage.name)' does not run in partitions; drop --partition")
      }
      var object = metrics.objectValue ?? [:]
      object["partition"] = [
        "index": JSONValue(partition.index), "count": JSONValue(partition.count), "key": .string(material.key),
      ]
      metrics = .object(object)
    }
    return try finish(
      stage: stage, material: material, rawFiles: rawFiles, workDirectory: workDirectory, metrics: metrics,
      key: partition.map { material.partitionKey($0) } ?? material.key)
  }

  /// Runs the stage's work into `workDirectory` (no manifest yet): its metrics. Needs no key, so the
  /// driver can start it before the raw files are hashed (`cancellation` then stops it early).
  public static func compute(
    stage: any PipelineStage.Type, parameters: StageParameters, inputDirectories: [String: String],
    rawFiles: [String: String], workDirectory: String, diagnostics: Diagnostics, partition: StagePartition? = nil,
    cancellation: Cancellation? = nil
  ) throws -> JSONValue {
    let context = StageContext(
      parameters: parameters, inputs: inputDirectories, rawFiles: rawFiles, outputDirectory: workDirectory,
      diagnostics: diagnostics, partition: partition, cancellation: cancellation)
    return try stage.run(context)
  }

  /// Checks the declared outputs of a finished work directory, syncs its files and writes its
  /// manifest last (a stage run and a merge of partitions both end here).
  public static func finish(
    stage: any PipelineStage.Type, material: StageKeyMaterial, rawFiles: [RawFileInput], workDirectory: String,
    metrics: JSONValue, key: String
  ) throws -> Manifest {
    // A stage that exits cleanly with missing outputs must not poison the cache.
    for output in stage.declaredOutputs where !FileSystem.exists(FileSystem.join(workDirectory, output)) {
      throw PipelineError(
        .stageFailed, "stage '\(stage.name)' finished without writing '\(output)'; this is a bug in the stage")
    }
    let files = try Manifest.fileRecords(directory: workDirectory)
    for file in files { try FileSystem.syncFile(FileSystem.join(workDirectory, file.path)) }
    let manifest = Manifest(
      stage: stage.name, stageVersion: stage.version, key: key, params: material.params,
      inputs: material.inputs,
      rawFiles: Dictionary(
        uniqueKeysWithValues: rawFiles.map {
          ($0.role, Manifest.RawFileRecord(path: $0.declaredPath, size: $0.size, sha256: $0.sha256))
        }),
      files: files, metrics: metrics.objectValue == nil ? .object([:]) : metrics, toolVersion: toolVersion)
    try FileSystem.writeText(FileSystem.join(workDirectory, Manifest.fileName), manifest.json.prettyText())
    FileSystem.syncDirectory(workDirectory)
    return manifest
  }

  /// Validates any artifact directory: manifest schema, every file's size and hash, then the stage's
  /// own invariants.
  public static func validate(directory: String, registry: StageRegistry) throws -> Manifest {
    let manifest = try Manifest.read(directory: directory)
    try manifest.verifyFiles(directory: directory)
    guard let stage = registry.stage(named: manifest.stage) else {
      throw PipelineError.invalidArtifact("'\(directory)': manifest names unknown stage '\(manifest.stage)'")
    }
    for output in stage.declaredOutputs where !manifest.files.contains(where: { $0.path == output }) {
      throw PipelineError.invalidArtifact(
        "'\(FileSystem.join(directory, output))' is missing (a \(stage.name) artifact must have it)")
    }
    try stage.validate(artifact: directory, manifest: manifest)
    return manifest
  }
}
