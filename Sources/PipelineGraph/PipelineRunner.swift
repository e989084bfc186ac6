import ArtifactFormats
import PipelineCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

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

  /// A raw file of a node: where it is, its identity, and its hash when the memo has it.
  struct RawFileLookup: Sendable {
    var role: String
    var absolutePath: String
    var declaredPath: String
    var identity: FileSystem.Identity
    var memoised: String?

    /// The file with its hash, read when the memo does not have it (safe on any thread).
    func hashed() throws(PipelineError) -> RawFileInput {
      var sha256: String
      if let memoised {
        sha256 = memoised
      } else {
        sha256 = try ContentHash.sha256(fileAt: absolutePath).digest
      }
      return RawFileInput(
        role: role, absolutePath: absolutePath, declaredPath: declaredPath, sha256: sha256, size: identity.size)
    }
  }

  /// The node's raw files, sorted by role, with their memoised hashes; a missing file is a usage error.
  func lookUpRawFiles(_ node: PipelineGraph.Node) throws(PipelineError) -> [RawFileLookup] {
    var lookups: [RawFileLookup] = []
    for (role, declared) in node.rawFiles.sorted(by: { $0.key < $1.key }) {
      let absolute = FileSystem.absolute(declared.hasPrefix("/") ? declared : FileSystem.join(dataRoot, declared))
      guard FileSystem.exists(absolute) else {
        throw .usage(
          "\(node.entry.file):\(node.entry.line): stage '\(node.entry.name)': raw file '\(declared)' (\(role)) not found under TCA_DATA='\(dataRoot)'; set TCA_DATA to the folder that holds it or fix params.path"
        )
      }
      let (identity, memoised) = try store.memoisedRawFileHash(absolute)
      lookups.append(
        RawFileLookup(
          role: role, absolutePath: absolute, declaredPath: declared, identity: identity, memoised: memoised))
    }
    return lookups
  }

  /// Hashes the raw files the memo lacks (here, on this thread) and memoises them.
  func hashRawFiles(_ lookups: [RawFileLookup]) throws(PipelineError) -> [RawFileInput] {
    var files: [RawFileInput] = []
    for lookup in lookups {
      let file = try lookup.hashed()
      if lookup.memoised == nil {
        try store.memoiseRawFileHash(lookup.absolutePath, identity: lookup.identity, sha256: file.sha256)
      }
      files.append(file)
    }
    return files
  }

  /// A node's key material from its producers' keys and its raw files' hashes.
  func keyMaterial(
    _ node: PipelineGraph.Node, keys: [String: String], rawFiles: [RawFileInput]
  ) throws(PipelineError) -> StageKeyMaterial {
    var inputKeys: [String: String] = [:]
    for (input, producer) in node.inputs {
      guard let key = keys[producer] else {
        throw .usage("stage '\(node.entry.name)': input '\(input)' from '\(producer)' is not planned")
      }
      inputKeys[input] = key
    }
    return StageKeyMaterial(
      stage: node.stage.name, version: node.stage.version, params: node.stage.keyParameters(node.parameters),
      inputs: inputKeys, rawFiles: Dictionary(uniqueKeysWithValues: rawFiles.map { ($0.role, $0.sha256) }))
  }

  /// Computes every entry's key (hashing raw files through the memo) in run order.
  public func plan(entries: [PipelineGraph.Node]? = nil) throws(PipelineError) -> [PlannedStage] {
    var keys: [String: String] = [:]
    var planned: [PlannedStage] = []
    for node in entries ?? graph.nodes {
      let lookups = try lookUpRawFiles(node)
      let rawFiles = try hashRawFiles(lookups)
      let material = try keyMaterial(node, keys: keys, rawFiles: rawFiles)
      keys[node.entry.name] = material.key
      planned.append(
        PlannedStage(
          node: node, material: material, rawFiles: rawFiles, isCached: store.hasEntry(material.key),
          rawFilesRead: lookups.count { $0.memoised == nil }))
    }
    return planned
  }

  /// Runs the pipeline: every stage whose key is not in the store, in order.
  ///
  /// A stage whose raw files are not in the hash memo (new, or touched since) starts computing
  /// while they are hashed on another thread (`runWhileHashing`): on a miss, the common case, the
  /// hash costs no time; on a hit the computation is stopped as soon as the key is known.
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
    if dryRun {
      return try plan(entries: selected).map { stage in
        let forced = force.contains(stage.node.entry.name)
        return StageReport(
          entry: stage.node.entry.name, key: stage.key,
          outcome: stage.isCached && !forced ? .cached : .planned, seconds: 0, path: store.entryPath(stage.key))
      }
    }
    let runID = try store.ledger.beginRun(pipeline: graph.name, command: command)
    var reports: [StageReport] = []
    var directories: [String: String] = [:]
    var keys: [String: String] = [:]
    var partitioned: Set<String> = []
    do {
      for node in selected {
        var entry = node.entry.name
        let started = monotonicSeconds()
        let lookups = try lookUpRawFiles(node)
        var inputDirectories: [String: String] = [:]
        for (input, producer) in node.inputs { inputDirectories[input] = directories[producer] }
        let needsNote = !only.isEmpty && !only.contains(entry)
        if partition == nil && lookups.contains(where: { $0.memoised == nil }) {
          let (material, outcome) = try runWhileHashing(
            node, lookups: lookups, keys: keys, inputDirectories: inputDirectories, forced: force.contains(entry),
            needsNote: needsNote ? neededBy(entry, only: only) : nil)
          keys[entry] = material.key
          directories[entry] = store.entryPath(material.key)
          if needsNote && outcome == .cached { continue }
          let seconds = monotonicSeconds() - started
          try store.link(pipeline: graph.name, entry: entry, key: material.key)
          try store.ledger.recordStage(
            run: runID, pipeline: graph.name, entry: entry, material: material, outcome: outcome.rawValue,
            seconds: seconds, key: material.key)
          reports.append(
            StageReport(
              entry: entry, key: material.key, outcome: outcome, seconds: seconds,
              path: store.entryPath(material.key)))
          continue
        }
        let rawFiles = try hashRawFiles(lookups)
        let material = try keyMaterial(node, keys: keys, rawFiles: rawFiles)
        keys[entry] = material.key
        var stage = PlannedStage(
          node: node, material: material, rawFiles: rawFiles, isCached: store.hasEntry(material.key),
          rawFilesRead: 0)
        if let partition {
          if let upstream = node.inputs.values.first(where: partitioned.contains) {
            partitioned.insert(entry)
            diagnostics.note(
              "\(entry): skipped; it needs all of '\(upstream)', which this run computes in part (run `tca merge` once every partition is done)"
            )
            continue
          }
          if node.stage.supportsPartitions {
            partitioned.insert(entry)
            stage.partitionKey = material.partitionKey(partition)
            stage.isCached = store.hasEntry(stage.key)
            entry = "\(entry).part-\(partition.index)-of-\(partition.count)"
          }
        }
        let label = "\(entry)"
        let forced = force.contains(entry)
        if needsNote && stage.isCached {
          directories[node.entry.name] = store.entryPath(stage.key)
          continue
        }
        if needsNote {
          diagnostics.note(
            "\(label): not in the store; computing it first because '\(neededBy(entry, only: only))' needs it")
        }
        var outcome = Outcome.cached
        if stage.isCached && !forced {
          diagnostics.note(
            "\(label): cache hit \(stage.key.prefix(12))"
              + (stage.rawFiles.isEmpty
                ? ""
                : " (\(stage.rawFiles.count) of \(stage.rawFiles.count) raw files unchanged by size/mtime/ctime/inode, not re-read)")
          )
        } else {
          outcome = try computeAndPublish(
            stage, label: label, forced: forced, inputDirectories: inputDirectories, partition: partition,
            started: started)
        }
        let seconds = monotonicSeconds() - started
        directories[node.entry.name] = store.entryPath(stage.key)
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

  /// The `only` entries that need `entry`, for the note that says why an ancestor is computed.
  private func neededBy(_ entry: String, only: Set<String>) -> String {
    only.sorted().filter { graph.closure(of: [$0]).contains { $0.entry.name == entry } }.joined(separator: ", ")
  }

  /// Computes a planned stage under its key's lock and publishes it: `.computed`, or `.cached` when a
  /// concurrent run published it first.
  private func computeAndPublish(
    _ stage: PlannedStage, label: String, forced: Bool, inputDirectories: [String: String],
    partition: StagePartition?, started: Double
  ) throws -> Outcome {
    let lock = try store.lock(stage.key, label: label)
    defer { lock.unlock() }
    if store.hasEntry(stage.key) && !forced {
      diagnostics.note("\(label): cache hit \(stage.key.prefix(12)) (computed by a concurrent run)")
      return .cached
    }
    diagnostics.note("\(label): computing \(stage.key.prefix(12))\(forced ? " (forced)" : "")")
    let work = try store.makeWorkDirectory(stage.key)
    do {
      let manifest = try StageExecutor.execute(
        stage: stage.node.stage, parameters: stage.node.parameters, material: stage.material,
        inputDirectories: inputDirectories, rawFiles: stage.rawFiles, workDirectory: work,
        diagnostics: diagnostics, partition: stage.partitionKey == nil ? nil : partition)
      try publish(
        work: work, manifest: manifest, material: stage.material, key: stage.key, label: label, started: started)
    } catch {
      try? FileSystem.removeTree(work)
      throw error
    }
    return .computed
  }

  /// Moves a finished work directory into the store and records it in the ledger.
  private func publish(
    work: String, manifest: Manifest, material: StageKeyMaterial, key: String, label: String, started: Double
  ) throws {
    try store.publish(workDirectory: work, key: key)
    let seconds = monotonicSeconds() - started
    try store.ledger.recordArtifact(
      material: material, seconds: seconds, bytes: manifest.files.reduce(0) { $0 + $1.size }, key: key)
    diagnostics.note("\(label): done in \(formatDuration(seconds))")
  }

  /// Runs a stage whose raw files the memo lacks: hashes them on another thread while the stage
  /// computes into a work directory of its own (locked under a random name, so `gc` leaves it).
  ///
  /// When the hashes are known and the key is in the store (the files were touched or copied, not
  /// changed), the computation is cancelled (readers stop at their next chunk) and the stage is a
  /// cache hit; otherwise the work is finished under the key, exactly as a sequential run would
  /// write it. A raw file that changes while the stage reads it is an error. Returns the stage's key
  /// material and outcome.
  private func runWhileHashing(
    _ node: PipelineGraph.Node, lookups: [RawFileLookup], keys: [String: String],
    inputDirectories: [String: String], forced: Bool, needsNote: String?
  ) throws -> (StageKeyMaterial, Outcome) {
    let label = node.entry.name
    let started = monotonicSeconds()
    let unhashed = lookups.filter { $0.memoised == nil }
    var material = try keyMaterial(node, keys: keys, rawFiles: [])
    let cancellation = Cancellation()
    let storeDirectory = store.storeDirectory
    let keyWithoutFiles = material
    let hashing = BackgroundTask { () throws(PipelineError) -> [RawFileInput] in
      var files: [RawFileInput] = []
      for lookup in lookups { files.append(try lookup.hashed()) }
      var complete = keyWithoutFiles
      complete.rawFiles = Dictionary(uniqueKeysWithValues: files.map { ($0.role, $0.sha256) })
      if !forced && FileSystem.isDirectory(ArtifactStore.entryPath(complete.key, storeDirectory: storeDirectory)) {
        cancellation.cancel()
      }
      return files
    }
    let bytes = unhashed.reduce(Int64(0)) { $0 + $1.identity.size }
    diagnostics.detail(
      "\(label): hashing \(unhashed.count) raw file(s) (\(bytes) bytes) on another thread while the stage starts")
    let token = (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }
      .map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
    let tokenLock = try store.lock(token, label: label)
    defer {
      tokenLock.unlock()
      unlink(FileSystem.join(store.locksDirectory, token + ".lock"))
    }
    let work = try store.makeWorkDirectory(token)
    var metrics: JSONValue?
    var failure: (any Error)?
    do {
      metrics = try StageExecutor.compute(
        stage: node.stage, parameters: node.parameters, inputDirectories: inputDirectories,
        rawFiles: Dictionary(uniqueKeysWithValues: lookups.map { ($0.role, $0.absolutePath) }), workDirectory: work,
        diagnostics: diagnostics, cancellation: cancellation)
    } catch {
      failure = error
    }
    let rawFiles: [RawFileInput]
    do {
      rawFiles = try hashing.wait()
      for lookup in unhashed {
        let file = rawFiles.first { $0.role == lookup.role }!
        try store.memoiseRawFileHash(lookup.absolutePath, identity: lookup.identity, sha256: file.sha256)
      }
    } catch {
      try? FileSystem.removeTree(work)
      throw error
    }
    material.rawFiles = Dictionary(uniqueKeysWithValues: rawFiles.map { ($0.role, $0.sha256) })
    let key = material.key
    if store.hasEntry(key) && !forced {
      try? FileSystem.removeTree(work)
      diagnostics.note(
        "\(label): cache hit \(key.prefix(12)) (\(unhashed.count) of \(lookups.count) raw files re-read: touched, not changed)"
      )
      return (material, .cached)
    }
    if let failure {
      try? FileSystem.removeTree(work)
      guard (failure as? PipelineError)?.isCancellation == true else { throw failure }
      // Cancelled for an entry that turned out unreadable: compute it the ordinary way.
      let stage = PlannedStage(node: node, material: material, rawFiles: rawFiles, isCached: false, rawFilesRead: 0)
      return (
        material,
        try computeAndPublish(
          stage, label: label, forced: forced, inputDirectories: inputDirectories, partition: nil, started: started)
      )
    }
    for lookup in lookups where (try? FileSystem.identity(of: lookup.absolutePath)) != lookup.identity {
      try? FileSystem.removeTree(work)
      throw PipelineError.invalidInput(
        "raw file '\(lookup.absolutePath)' (\(lookup.role)) changed while stage '\(label)' read it; run again once it is complete"
      )
    }
    if let needsNote {
      diagnostics.note("\(label): was not in the store; computed it first because '\(needsNote)' needs it")
    }
    let lock: FileLock
    do {
      lock = try store.lock(key, label: label)
    } catch {
      try? FileSystem.removeTree(work)
      throw error
    }
    defer { lock.unlock() }
    if store.hasEntry(key) && !forced {
      try? FileSystem.removeTree(work)
      diagnostics.note("\(label): cache hit \(key.prefix(12)) (computed by a concurrent run)")
      return (material, .cached)
    }
    diagnostics.note("\(label): computed \(key.prefix(12))\(forced ? " (forced)" : "")")
    do {
      let manifest = try StageExecutor.finish(
        stage: node.stage, material: material, rawFiles: rawFiles, workDirectory: work,
        metrics: metrics ?? .object([:]), key: key)
      try publish(work: work, manifest: manifest, material: material, key: key, label: label, started: started)
    } catch {
      try? FileSystem.removeTree(work)
      throw error
    }
    return (material, .computed)
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
