import PipelineCore

/// `manifest.json`, schema `tca.manifest/v1`: what a store entry is, how it was made, and the hash of
/// every file in it. It is written last, so an entry with a manifest is complete.
///
/// The manifest holds nothing volatile (no timestamps, durations, host names or paths): two runs with
/// the same inputs write byte-identical entries. Timings live in the ledger.
public struct Manifest: Equatable, Sendable {
  public static let schemaIdentifier = "tca.manifest/v1"
  public static let fileName = "manifest.json"

  public struct FileRecord: Equatable, Sendable {
    public var path: String
    public var size: Int64
    public var sha256: String
    public init(path: String, size: Int64, sha256: String) {
      self.path = path
      self.size = size
      self.sha256 = sha256
    }
  }

  public struct RawFileRecord: Equatable, Sendable {
    public var path: String
    public var size: Int64
    public var sha256: String
    public init(path: String, size: Int64, sha256: String) {
      self.path = path
      self.size = size
      self.sha256 = sha256
    }
  }

  public var stage: String
  public var stageVersion: Int
  public var key: String
  public var params: [String: JSONValue]
  public var inputs: [String: String]
  /// Raw files by role ("ratings"), with their path relative to the data root (for people; the key
  /// uses only the content hash).
  public var rawFiles: [String: RawFileRecord]
  public var files: [FileRecord]
  public var metrics: JSONValue
  public var toolVersion: String

  public init(
    stage: String, stageVersion: Int, key: String, params: [String: JSONValue], inputs: [String: String],
    rawFiles: [String: RawFileRecord], files: [FileRecord], metrics: JSONValue, toolVersion: String
  ) {
    self.stage = stage
    self.stageVersion = stageVersion
    self.key = key
    self.params = params
    self.inputs = inputs
    self.rawFiles = rawFiles
    self.files = files
    self.metrics = metrics
    self.toolVersion = toolVersion
  }

  public var json: JSONValue {
    .object([
      "schema": .string(Self.schemaIdentifier),
      "stage": .string(stage),
      "stage_version": .integer(Int64(stageVersion)),
      "key": .string(key),
      "params": .object(params),
      "inputs": .object(inputs.mapValues { .string($0) }),
      "raw_files": .object(
        rawFiles.mapValues {
          .object(["path": .string($0.path), "size": .integer($0.size), "sha256": .string($0.sha256)])
        }),
      "files": .array(
        files.map { .object(["path": .string($0.path), "size": .integer($0.size), "sha256": .string($0.sha256)]) }),
      "metrics": metrics,
      "tool_version": .string(toolVersion),
    ])
  }

  /// Decodes and checks a manifest: every required key, every type, no unknown key.
  public init(json: JSONValue, path: String) throws(PipelineError) {
    func bad(_ reason: String) -> PipelineError {
      .invalidArtifact("'\(path)' is not a valid \(Self.schemaIdentifier) manifest: \(reason)")
    }
    guard let object = json.objectValue else { throw bad("expected a JSON object") }
    let allowed: Set<String> = [
      "schema", "stage", "stage_version", "key", "params", "inputs", "raw_files", "files", "metrics", "tool_version",
    ]
    if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
      throw bad("unknown key '\(unknown)'")
    }
    func string(_ name: String) throws(PipelineError) -> String {
      guard let value = object[name] else { throw bad("missing key '\(name)'") }
      guard let text = value.stringValue else { throw bad("'\(name)' must be a string, found \(value.typeName)") }
      return text
    }
    guard try string("schema") == Self.schemaIdentifier else {
      throw bad("'schema' must be '\(Self.schemaIdentifier)'")
    }
    stage = try string("stage")
    key = try string("key")
    guard Self.isHexDigest(key) else { throw bad("'key' must be 64 lowercase hex digits") }
    toolVersion = try string("tool_version")
    guard let version = object["stage_version"]?.integerValue, case .integer = object["stage_version"]! else {
      throw bad("'stage_version' must be an integer")
    }
    stageVersion = Int(version)
    guard let params = object["params"]?.objectValue else { throw bad("'params' must be an object") }
    self.params = params
    guard let inputs = object["inputs"]?.objectValue else { throw bad("'inputs' must be an object") }
    var inputKeys: [String: String] = [:]
    for (name, value) in inputs {
      guard let text = value.stringValue, Self.isHexDigest(text) else {
        throw bad("input '\(name)' must be a 64-digit hex key")
      }
      inputKeys[name] = text
    }
    self.inputs = inputKeys
    func record(_ value: JSONValue, _ label: String) throws(PipelineError) -> (String, Int64, String) {
      guard let object = value.objectValue, Set(object.keys) == ["path", "size", "sha256"],
        let path = object["path"]?.stringValue, let size = object["size"]?.integerValue,
        let digest = object["sha256"]?.stringValue, Self.isHexDigest(digest), size >= 0
      else { throw bad("\(label) must be {path, size, sha256} with a 64-digit hex sha256") }
      return (path, size, digest)
    }
    guard let raw = object["raw_files"]?.objectValue else { throw bad("'raw_files' must be an object") }
    var rawFiles: [String: RawFileRecord] = [:]
    for (role, value) in raw {
      let (path, size, digest) = try record(value, "raw file '\(role)'")
      rawFiles[role] = RawFileRecord(path: path, size: size, sha256: digest)
    }
    self.rawFiles = rawFiles
    guard let files = object["files"]?.arrayValue else { throw bad("'files' must be an array") }
    var records: [FileRecord] = []
    for (index, value) in files.enumerated() {
      let (path, size, digest) = try record(value, "files[\(index)]")
      guard !path.isEmpty, !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
        throw bad("files[\(index)] path '\(path)' must be relative and inside the artifact")
      }
      records.append(FileRecord(path: path, size: size, sha256: digest))
    }
    self.files = records
    guard let metrics = object["metrics"], metrics.objectValue != nil else { throw bad("'metrics' must be an object") }
    self.metrics = metrics
  }

  /// Reads `manifest.json` from an artifact directory.
  public static func read(directory: String) throws(PipelineError) -> Manifest {
    let path = FileSystem.join(directory, fileName)
    guard FileSystem.exists(path) else {
      throw .invalidArtifact("'\(directory)' has no \(fileName); it is not a finished artifact, rerun the stage")
    }
    let bytes = try FileSystem.readFile(path)
    let json: JSONValue
    do { json = try JSONParser.parse(bytes) } catch {
      throw .invalidArtifact("'\(path)' is not valid JSON: \(error); rerun the stage with --force")
    }
    return try Manifest(json: json, path: path)
  }

  static func isHexDigest(_ text: String) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
  }

  /// Hashes every file of an artifact directory (except the manifest), sorted by path.
  public static func fileRecords(directory: String) throws(PipelineError) -> [FileRecord] {
    var records: [FileRecord] = []
    for path in try FileSystem.listFilesRecursively(directory) where path != fileName {
      let (digest, size) = try ContentHash.sha256(fileAt: FileSystem.join(directory, path))
      records.append(FileRecord(path: path, size: size, sha256: digest))
    }
    return records
  }

  /// Checks that the directory holds exactly the manifest's files with their sizes and hashes.
  public func verifyFiles(directory: String) throws(PipelineError) {
    let present = Set(try FileSystem.listFilesRecursively(directory)).subtracting([Self.fileName])
    let declared = Set(files.map(\.path))
    if let missing = declared.subtracting(present).sorted().first {
      throw .invalidArtifact(
        "'\(FileSystem.join(directory, missing))' is missing (listed in the manifest); rerun the stage with --force")
    }
    if let extra = present.subtracting(declared).sorted().first {
      throw .invalidArtifact(
        "'\(FileSystem.join(directory, extra))' is not listed in the manifest; remove it or rerun the stage with --force"
      )
    }
    for file in files {
      let path = FileSystem.join(directory, file.path)
      let (digest, size) = try ContentHash.sha256(fileAt: path)
      if size != file.size {
        throw .invalidArtifact(
          "'\(path)' has \(size) bytes, the manifest says \(file.size) (truncated or edited); rerun the stage with --force"
        )
      }
      if digest != file.sha256 {
        throw .invalidArtifact(
          "'\(path)' has sha256 \(digest), the manifest says \(file.sha256) (the file was modified); rerun the stage with --force"
        )
      }
    }
  }
}
