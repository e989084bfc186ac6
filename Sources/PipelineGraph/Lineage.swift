import ArtifactFormats
import PipelineCore

/// How an entry was made, recursively: its stage, key, version, parameters and raw files, and the
/// same for every input, from a store's entries and lineage records (`tca show`).
public struct Lineage: Sendable {
  public enum Availability: String, Sendable {
    /// The store holds the entry's outputs.
    case stored
    /// Only the manifest is here (an ancestor imported with a bundle).
    case lineage
    /// The store knows nothing of this key.
    case unknown
  }

  public var key: String
  public var availability: Availability
  public var manifest: Manifest?
  /// Input name → the input's lineage, sorted by name.
  public var inputs: [(name: String, lineage: Lineage)]

  /// The lineage of `key` in `layout` (an unknown input is a leaf marked `.unknown`).
  public init(key: String, layout: StoreLayout) {
    self.key = key
    guard let found = layout.anyManifest(key) else {
      availability = .unknown
      manifest = nil
      inputs = []
      return
    }
    let manifest = found.manifest
    availability = found.isStored ? .stored : .lineage
    self.manifest = manifest
    inputs = manifest.inputs.sorted { $0.key < $1.key }.map { ($0.key, Lineage(key: $0.value, layout: layout)) }
  }

  /// The full key of the entry or lineage record that `prefix` starts, when exactly one does.
  public static func resolve(prefix: String, in layout: StoreLayout) throws(PipelineError) -> String {
    let lowered = prefix.lowercased()
    guard !lowered.isEmpty, lowered.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    else {
      throw .usage("'\(prefix)' is not a key or key prefix (hexadecimal digits); `tca ls` lists keys")
    }
    let (stored, lineage) = try layout.allKeys()
    let matches = Set(stored + lineage).filter { $0.hasPrefix(lowered) }.sorted()
    guard let first = matches.first else {
      throw .usage("no entry or lineage record in '\(layout.root)' has a key starting '\(prefix)'; `tca ls` lists keys")
    }
    guard matches.count == 1 else {
      throw .usage(
        "key prefix '\(prefix)' is ambiguous: \(matches.prefix(5).map { String($0.prefix(16)) }.joined(separator: ", "))\(matches.count > 5 ? ", …" : ""); give more digits"
      )
    }
    return first
  }

  /// The lineage as JSON: `{key, availability, stage, stage_version, tool_version, params,
  /// raw_files, inputs: {name: {…}}}` (stage and the rest absent for an unknown key).
  public var json: JSONValue {
    var object: [String: JSONValue] = ["key": .string(key), "availability": .string(availability.rawValue)]
    if let manifest {
      object["stage"] = .string(manifest.stage)
      object["stage_version"] = .integer(Int64(manifest.stageVersion))
      object["tool_version"] = .string(manifest.toolVersion)
      object["params"] = .object(manifest.params)
      object["raw_files"] = .object(
        manifest.rawFiles.mapValues {
          .object(["path": .string($0.path), "size": .integer($0.size), "sha256": .string($0.sha256)])
        })
      object["inputs"] = .object(Dictionary(uniqueKeysWithValues: inputs.map { ($0.name, $0.lineage.json) }))
    }
    return .object(object)
  }
}
