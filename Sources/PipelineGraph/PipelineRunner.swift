import ArtifactFormats
import PipelineCore

/// Resolves a pipeline's keys against the store and runs the stages whose key is missing.
public final class PipelineRunner {
  /// A stage's place in a plan: its key material, and whether the store has it.
  public struct PlannedStage: Sendable {
    public var node: PipelineGraph.Node
    public var material: StageKeyMaterial
    public var rawFiles: [RawFileInput]
    public var isCached: Bool
    /// Raw files this plan had to read to hash (not memoised).
    public var rawFilesRead: Int
    /// Set when this run computes one partition of the stage: that partition's entry.
    public var partitionKey: String? = nil
    public var key: String { partitionKey ?? material.key }
  }

  public enum Outcome: String, Sendable {
    case cached, computed, planned, skipped
  }

  public struct StageReport: Sendable {
    public var entry: String
    public var key: String
    public var outcome: Outcome
    public var seconds: Double
    public var path: String
  }

  public let graph: PipelineGraph
  public let store: ArtifactStore
  public let dataRoot: String
  let diagnostics: Diagnostics

  /// `$TCA_DATA`, else `data` in the working directory.
  public static func defaultDataRoot() -> String {
    FileSystem.absolute(FileSystem.environment("TCA_DATA") ?? "data")
  }

  public init(graph: PipelineGraph, store: ArtifactStore, dataRoot: String, diagnostics: Diagnostics) {
    self.graph = graph
    self.store = store
    self.dataRoot = dataRoot
    self.diagnostics = diagnostics
  }

  /// Computes every entry's key (hashing raw files through the memo) in run order.
  public func plan(entries: [PipelineGraph.Node]? = nil) throws(PipelineError) -> [PlannedStage] {
    var keys: [String: String] = [:]
    var planned: [PlannedStage] = []
    for node in entries ?? graph.nodes {
      var rawFiles: [RawFileInput] = []
      var read = 0
      for (role, declared) in node.rawFiles.sorted(by: { $0.key < $1.key }) {
        let absolute = declared.hasPrefix("/") ? declared : FileSystem.join(dataRoot, declared)
        guard FileSystem.exists(absolute) else {
          throw .usage(
            "\(node.entry.file):\(node.entry.line): stage '\(node.entry.name)': raw file '\(declared)' (\(role)) not found under TCA_DATA='\(dataRoot)'; set TCA_DATA to the folder that holds it or fix params.path"
          )
        }
        let hash = try store.hashRawFile(absolute)
        if hash.read { read += 1 }
        rawFiles.append(
          RawFileInput(role: role, absolutePath: absolute, declaredPath: declared, sha256: hash.sha256, size: hash.size)
        )
      }
      var inputKeys: [String: String] = [:]
      for (input, producer) in node.inputs {
        guard let key = keys[producer] else {
          throw .usage("stage '\(node.entry.name)': input '\(input)' from '\(producer)' is not planned")
        }
        inputKeys[input] = key
      }
      let material = StageKeyMaterial(
        stage: node.stage.name, version: node.stage.version, params: node.stage.keyParameters(node.parameters),
        inputs: inputKeys, rawFiles: Dictionary(uniqueKeysWithValues: rawFiles.map { ($0.role, $0.sha256) }))
      keys[node.entry.name] = material.key
      planned.append(
        PlannedStage(
          node: node, material: material, rawFiles: rawFiles, isCached: store.hasEntry(material.key), rawFilesRead: read
        ))
    }
    return planned
  }

  /// Runs the pipeline: every stage whose key is not in the store, in order.
  /// - Parameters:
  ///   - only: run just these entries (their missing ancestors are computed first, with a note).
  ///   - force: recompute these entries even when cached.
  ///   - dryRun: plan and report, compute nothing.
  ///   - partition: compute only this share of every stage that runs in partitions (each into
  ///     its own entry, linked as `<stage>.part-<i>-of-<n>`); stages after it are skipped until
  ///     `tca merge` has combined the partitions.
  public func run(
    only: Set<String> = [], force: Set<String> = [], dryRun: Bool = false, partition: StagePartition? = nil,
    command: String
  ) throws -> [StageReport] {
    for name in only.union(force).sorted() where graph.node(name) == nil {
      throw PipelineError.usage(
        "pipeline '\(graph.name)' has no stage '\(name)' (stages: \(graph.nodes.map(\.entry.name).joined(separator: ", ")))"
      )
    }
    let selected = only.isEmpty ? graph.nodes : graph.closure(of: only)
    let plan = try plan(entries: selected)
    if dryRun {
      return plan.map { stage in
        let forced = force.contains(stage.node.entry.name)
        return StageReport(
          entry: stage.node.entry.name, key: stage.key,
          outcome: stage.isCached && !forced ? .cached : .planned, seconds: 0, path: store.entryPath(stage.key))
      }
    }
    let runID = try store.ledger.beginRun(pipeline: graph.name, command: command)
    var reports: [StageReport] = []
    var directories: [String: String] = [:]
    var partitioned: Set<String> = []
    do {
      for var stage in plan {
        var entry = stage.node.entry.name
        if let partition {
          if let upstream = stage.node.inputs.values.first(where: partitioned.contains) {
            partitioned.insert(entry)
            diagnostics.note(
              "\(entry): skipped; it needs all of '\(upstream)', which this run computes in part (run `tca merge` once every partition is done)"
            )
            continue
          }
          if stage.node.stage.supportsPartitions {
            partitioned.insert(entry)
            stage.partitionKey = stage.material.partitionKey(partition)
            stage.isCached = store.hasEntry(stage.key)
            entry = "\(entry).part-\(partition.index)-of-\(partition.count)"
          }
        }
        let label = "\(entry)"
        let started = monotonicSeconds()
        let forced = force.contains(entry)
        if !only.isEmpty && !only.contains(entry) && stage.isCached {
          directories[entry] = store.entryPath(stage.key)
          continue
        }
        if !only.isEmpty && !only.contains(entry) {
          let needing = only.sorted().filter { graph.closure(of: [$0]).contains { $0.entry.name == entry } }
          diagnostics.note(
            "\(label): not in the store; computing it first because '\(needing.joined(separator: ", "))' needs it"
          )
        }
        var outcome = Outcome.cached
        if stage.isCached && !forced {
          let unchanged = stage.rawFiles.count - stage.rawFilesRead
          diagnostics.note(
            "\(label): cache hit \(stage.key.prefix(12))"
              + (stage.rawFiles.isEmpty
                ? ""
                : " (\(unchanged) of \(stage.rawFiles.count) raw files unchanged by size/mtime/ctime/inode, not re-read)")
          )
        } else {
          let lock = try store.lock(stage.key, label: label)
          defer { lock.unlock() }
          if store.hasEntry(stage.key) && !forced {
            diagnostics.note("\(label): cache hit \(stage.key.prefix(12)) (computed by a concurrent run)")
          } else {
            diagnostics.note("\(label): computing \(stage.key.prefix(12))\(forced ? " (forced)" : "")")
            let work = try store.makeWorkDirectory(stage.key)
            do {
              var inputDirectories: [String: String] = [:]
              for (input, producer) in stage.node.inputs { inputDirectories[input] = directories[producer] }
              let manifest = try StageExecutor.execute(
                stage: stage.node.stage, parameters: stage.node.parameters, material: stage.material,
                inputDirectories: inputDirectories, rawFiles: stage.rawFiles, workDirectory: work,
                diagnostics: diagnostics, partition: stage.partitionKey == nil ? nil : partition)
              try store.publish(workDirectory: work, key: stage.key)
              let seconds = monotonicSeconds() - started
              try store.ledger.recordArtifact(
                material: stage.material, seconds: seconds, bytes: manifest.files.reduce(0) { $0 + $1.size },
                key: stage.key)
              diagnostics.note("\(label): done in \(formatDuration(seconds))")
            } catch {
              try? FileSystem.removeTree(work)
              throw error
            }
            outcome = .computed
          }
        }
        let seconds = monotonicSeconds() - started
        directories[stage.node.entry.name] = store.entryPath(stage.key)
        try store.link(pipeline: graph.name, entry: entry, key: stage.key)
        try store.ledger.recordStage(
          run: runID, pipeline: graph.name, entry: entry, material: stage.material, outcome: outcome.rawValue,
          seconds: seconds, key: stage.key)
        reports.append(
          StageReport(
            entry: entry, key: stage.key, outcome: outcome, seconds: seconds, path: store.entryPath(stage.key)))
      }
    } catch {
      try? store.ledger.finishRun(runID, status: "failed")
      throw error
    }
    try store.ledger.finishRun(runID, status: "ok")
    return reports
  }

  /// Merges the partition entries of every stage that runs in partitions (`run(partition:)`) into
  /// the entry of the whole run, publishes it under the whole run's key and links it; stages
  /// already whole in the store are reported as cached. Missing partitions are an error that names
  /// them.
  public func merge() throws -> [StageReport] {
    let plan = try plan()
    var reports: [StageReport] = []
    for stage in plan where stage.node.stage.supportsPartitions {
      let entry = stage.node.entry.name
      let started = monotonicSeconds()
      guard !stage.isCached else {
        diagnostics.note("\(entry): already whole in the store (\(stage.key.prefix(12))); nothing to merge")
        try store.link(pipeline: graph.name, entry: entry, key: stage.key)
        reports.append(
          StageReport(entry: entry, key: stage.key, outcome: .cached, seconds: 0, path: store.entryPath(stage.key)))
        continue
      }
      let found = try PartitionMerge.partitions(of: stage.key, in: store)
      guard let count = found.last?.partition.count else {
        throw PipelineError.usage(
          "\(entry): no partitions of \(stage.key.prefix(12)) in the store; run `tca run \(graph.name) --partition i/n` for i = 0..n-1 first (upstream stages unchanged)"
        )
      }
      let lock = try store.lock(stage.key, label: entry)
      defer { lock.unlock() }
      if store.hasEntry(stage.key) { continue }
      let work = try store.makeWorkDirectory(stage.key)
      do {
        let manifest = try PartitionMerge.merge(
          found.filter { $0.partition.count == count }.map(\.directory), registry: StageRegistry([stage.node.stage]),
          workDirectory: work, diagnostics: diagnostics)
        try store.publish(workDirectory: work, key: stage.key)
        let seconds = monotonicSeconds() - started
        try store.ledger.recordArtifact(
          material: stage.material, seconds: seconds, bytes: manifest.files.reduce(0) { $0 + $1.size })
      } catch {
        try? FileSystem.removeTree(work)
        throw error
      }
      try store.link(pipeline: graph.name, entry: entry, key: stage.key)
      diagnostics.note("\(entry): merged \(count) partitions into \(stage.key.prefix(12))")
      reports.append(
        StageReport(
          entry: entry, key: stage.key, outcome: .computed, seconds: monotonicSeconds() - started,
          path: store.entryPath(stage.key)))
    }
    return reports
  }

  /// One line of `tca status`.
  public struct StageStatus: Sendable {
    public var entry: String
    public var key: String
    public var isCached: Bool
    public var reasons: [String]
  }

  /// Each stage cached or stale, and why, from the ledger's record of its previous key material.
  public func status() throws(PipelineError) -> [StageStatus] {
    let plan = try plan()
    var staleEntries: Set<String> = []
    var result: [StageStatus] = []
    for stage in plan {
      let entry = stage.node.entry.name
      var reasons: [String] = []
      if !stage.isCached {
        staleEntries.insert(entry)
        if let previous = try store.ledger.latestMaterial(pipeline: graph.name, entry: entry) {
          reasons = stage.material.differences(from: previous, inputEntries: stage.node.inputs)
          reasons = reasons.map { reason in
            // Name the upstream stage that is itself stale.
            for (input, producer) in stage.node.inputs where reason == "input '\(input)' from '\(producer)' changed" {
              return staleEntries.contains(producer) ? "upstream stage '\(producer)' is stale" : reason
            }
            return reason
          }
          if reasons.isEmpty { reasons = ["its output was removed from the store (gc or manual deletion)"] }
        } else {
          reasons = ["never run in this store"]
        }
      }
      result.append(StageStatus(entry: entry, key: stage.key, isCached: stage.isCached, reasons: reasons))
    }
    return result
  }
}

/// Removes store entries that no pipeline's latest run references, and leftovers of killed runs.
public enum GarbageCollector {
  public struct Result: Sendable {
    public var removedKeys: [String]
    public var removedBytes: Int64
    public var removedTemporary: [String]
  }

  public static func collect(store: ArtifactStore, dryRun: Bool) throws -> Result {
    let keep = try store.ledger.referencedKeys()
    var removed: [String] = []
    var bytes: Int64 = 0
    for key in try store.allKeys().sorted() where !keep.contains(key) {
      let lock = try FileLock(path: FileSystem.join(store.locksDirectory, key + ".lock"))
      guard lock.tryLock() else { continue }  // in use by a running stage
      defer { lock.unlock() }
      let path = store.entryPath(key)
      for file in (try? FileSystem.listFilesRecursively(path)) ?? [] {
        bytes += (try? FileSystem.identity(of: FileSystem.join(path, file)).size) ?? 0
      }
      removed.append(key)
      if !dryRun {
        try FileSystem.removeTree(path)
        try store.ledger.forgetArtifact(key: key)
      }
    }
    var temporary: [String] = []
    for name in try FileSystem.listDirectory(store.temporaryDirectory) {
      let key = String(name.prefix(64))
      let lock = try FileLock(path: FileSystem.join(store.locksDirectory, key + ".lock"))
      guard lock.tryLock() else { continue }
      defer { lock.unlock() }
      temporary.append(name)
      if !dryRun { try FileSystem.removeTree(FileSystem.join(store.temporaryDirectory, name)) }
    }
    return Result(removedKeys: removed, removedBytes: bytes, removedTemporary: temporary)
  }
}
