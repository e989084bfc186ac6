import ArtifactFormats
import PipelineCore

/// Combines the partition entries of one stage run (`tca run --partition i/n`, one per array task)
/// into the entry one unpartitioned run would have made: same key, same files.
public enum PartitionMerge {
  /// What a partition's manifest says about itself.
  public struct Partition: Sendable {
    public var directory: String
    public var manifest: Manifest
    public var partition: StagePartition
    /// The key of the whole run it is part of.
    public var wholeKey: String
  }

  /// Reads a partition entry's manifest; `nil` when the directory holds no partition.
  public static func describe(_ directory: String) throws(PipelineError) -> Partition? {
    let manifest = try Manifest.read(directory: directory)
    guard let object = manifest.metrics["partition"], let index = object["index"]?.integerValue,
      let count = object["count"]?.integerValue, let whole = object["key"]?.stringValue, count >= 1, index >= 0,
      index < count
    else { return nil }
    return Partition(
      directory: directory, manifest: manifest, partition: StagePartition(index: Int(index), count: Int(count)),
      wholeKey: whole)
  }

  /// Checks that `directories` are every partition of one run, exactly once (any order), verifies
  /// their files, merges them into `workDirectory` with the stage's `mergePartitions` and writes the
  /// manifest of the whole run. Errors name what is missing or inconsistent.
  public static func merge(
    _ directories: [String], registry: StageRegistry, workDirectory: String, diagnostics: Diagnostics
  ) throws -> Manifest {
    var partitions: [Partition] = []
    for directory in directories {
      guard let partition = try describe(directory) else {
        throw PipelineError.usage("'\(directory)' is not a partition entry (its manifest has no metrics.partition)")
      }
      try partition.manifest.verifyFiles(directory: directory)
      partitions.append(partition)
    }
    guard let first = partitions.first else { throw PipelineError.usage("give the partition directories to merge") }
    guard let stage = registry.stage(named: first.manifest.stage), stage.supportsPartitions else {
      throw PipelineError.usage("stage '\(first.manifest.stage)' does not run in partitions")
    }
    let material = StageKeyMaterial(manifest: first.manifest)
    let count = first.partition.count
    for partition in partitions {
      let own = StageKeyMaterial(manifest: partition.manifest)
      guard own == material, partition.wholeKey == material.key, partition.partition.count == count,
        partition.manifest.key == own.partitionKey(partition.partition)
      else {
        throw PipelineError.usage(
          "'\(partition.directory)' is partition \(partition.partition) of another run (key \(partition.wholeKey.prefix(12)), expected \(material.key.prefix(12)) with \(count) partitions); merge the partitions of one run"
        )
      }
    }
    let indices = partitions.map(\.partition.index).sorted()
    guard indices == Array(0..<count) else {
      let missing = Set(0..<count).subtracting(indices).sorted()
      let repeated = Dictionary(grouping: indices, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
      throw PipelineError.usage(
        "the \(count) partitions of run \(material.key.prefix(12)) are not all here"
          + (missing.isEmpty ? "" : "; missing: \(missing.map { "\($0)/\(count)" }.joined(separator: ", "))")
          + (repeated.isEmpty ? "" : "; given twice: \(repeated.map { "\($0)/\(count)" }.joined(separator: ", "))")
          + "; compute each missing one first (`tca run PIPELINE --partition i/\(count)`, or `tca-soft-labels --partition i/\(count)` for directories)"
      )
    }
    let ordered = partitions.sorted { $0.partition.index < $1.partition.index }
    let metrics = try stage.mergePartitions(
      ordered.map(\.directory), into: workDirectory, diagnostics: diagnostics)
    let rawFiles = first.manifest.rawFiles.sorted { $0.key < $1.key }.map {
      RawFileInput(
        role: $0.key, absolutePath: $0.value.path, declaredPath: $0.value.path, sha256: $0.value.sha256,
        size: $0.value.size)
    }
    return try StageExecutor.finish(
      stage: stage, material: material, rawFiles: rawFiles, workDirectory: workDirectory, metrics: metrics,
      key: material.key)
  }

  /// The partition entries in a store (local or remote) that belong to the run with key `wholeKey`.
  public static func partitions(of wholeKey: String, in layout: StoreLayout) throws -> [Partition] {
    var found: [Partition] = []
    for key in try layout.allKeys().stored {
      let directory = layout.entryPath(key)
      guard let manifest = try? Manifest.read(directory: directory), manifest.metrics["partition"] != nil,
        let partition = try? describe(directory), partition.wholeKey == wholeKey
      else { continue }
      found.append(partition)
    }
    return found.sorted { ($0.partition.count, $0.partition.index) < ($1.partition.count, $1.partition.index) }
  }
}
