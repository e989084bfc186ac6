import ArtifactFormats
import PipelineCore

/// What a stage key is made of: stage name, implementation version, the parameters that enter the
/// key, the keys of its input artifacts and the content hashes of its raw files (by role).
/// `key = sha256(canonical JSON of this tuple)`: paths, timestamps, thread counts and host names never enter it.
public struct StageKeyMaterial: Equatable, Sendable {
  public var stage: String
  public var version: Int
  public var params: [String: JSONValue]
  public var inputs: [String: String]
  public var rawFiles: [String: String]

  public init(
    stage: String, version: Int, params: [String: JSONValue], inputs: [String: String], rawFiles: [String: String]
  ) {
    self.stage = stage
    self.version = version
    self.params = params
    self.inputs = inputs
    self.rawFiles = rawFiles
  }

  public var json: JSONValue {
    .object([
      "stage": .string(stage),
      "version": .integer(Int64(version)),
      "params": .object(params),
      "inputs": .object(inputs.mapValues(JSONValue.string)),
      "raw_files": .object(rawFiles.mapValues(JSONValue.string)),
    ])
  }

  public var key: String { ContentHash.sha256(json.canonicalText()) }

  /// The key of partition `partition` of this stage run: the same material plus the partition, so
  /// partitions of one run, and partitions of different counts, never share an entry.
  public func partitionKey(_ partition: StagePartition) -> String {
    guard case .object(var object) = json else { preconditionFailure("key material is an object") }
    object["partition"] = ["index": JSONValue(partition.index), "count": JSONValue(partition.count)]
    return ContentHash.sha256(JSONValue.object(object).canonicalText())
  }

  /// The material a manifest records (its stage, version, params, input keys, raw-file hashes).
  public init(manifest: Manifest) {
    self.init(
      stage: manifest.stage, version: manifest.stageVersion, params: manifest.params, inputs: manifest.inputs,
      rawFiles: manifest.rawFiles.mapValues(\.sha256))
  }

  public init?(json: JSONValue) {
    guard let stage = json["stage"]?.stringValue, let version = json["version"]?.integerValue,
      let params = json["params"]?.objectValue, let inputs = json["inputs"]?.objectValue,
      let raw = json["raw_files"]?.objectValue
    else { return nil }
    self.stage = stage
    self.version = Int(version)
    self.params = params
    self.inputs = inputs.compactMapValues(\.stringValue)
    self.rawFiles = raw.compactMapValues(\.stringValue)
  }

  /// Why `self` differs from an earlier `previous`, in words: "param k_core changed 5 → 10".
  public func differences(from previous: StageKeyMaterial, inputEntries: [String: String]) -> [String] {
    var reasons: [String] = []
    if previous.version != version {
      reasons.append("stage version changed \(previous.version) → \(version)")
    }
    for name in Set(params.keys).union(previous.params.keys).sorted() where params[name] != previous.params[name] {
      let before = previous.params[name].map { $0.canonicalText() } ?? "(unset)"
      let after = params[name].map { $0.canonicalText() } ?? "(unset)"
      reasons.append("param \(stage).\(name) changed \(before) → \(after)")
    }
    for role in Set(rawFiles.keys).union(previous.rawFiles.keys).sorted()
    where rawFiles[role] != previous.rawFiles[role] {
      reasons.append(
        "input file '\(role)' changed (sha256 \(previous.rawFiles[role]?.prefix(12) ?? "none") → \(rawFiles[role]?.prefix(12) ?? "none"))"
      )
    }
    for name in Set(inputs.keys).union(previous.inputs.keys).sorted() where inputs[name] != previous.inputs[name] {
      reasons.append("input '\(name)' from '\(inputEntries[name] ?? name)' changed")
    }
    return reasons
  }
}
