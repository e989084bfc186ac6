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
    /// `pulled`: copied from the remote store (`TCA_REMOTE`) on a local miss; `lineage`: not in the
    /// store, only its manifest (imported with a bundle), and no stage that runs needs its outputs.
    case cached, computed, planned, skipped, pulled, lineage
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
  /// A shared store (`$TCA_REMOTE`) looked in on a local miss.
  public var remote: StoreLayout?
  /// Whether `run` publishes its entries to `remote` (`tca run --push`).
  public var pushesToRemote = false
  let diagnostics: Diagnostics

  /// `$TCA_DATA`, else `data` in the working directory.
  public static func defaultDataRoot() -> String {
    FileSystem.absolute(FileSystem.environment("TCA_DATA") ?? "data")
  }

  public init(
    graph: PipelineGraph, store: ArtifactStore, dataRoot: String, remote: StoreLayout? = nil,
    diagnostics: Diagnostics
  ) {
    self.graph = graph
    self.store = store
    self.dataRoot = dataRoot
    self.remote = remote
    self.diagnostics = diagnostics
  }

  /// `$TCA_REMOTE` as a store layout, or `nil` when unset or empty.
  public static func defaultRemote() -> StoreLayout? {
    guard let root = FileSystem.environment("TCA_REMOTE"), !root.isEmpty else { return nil }
    return StoreLayout(root: root)
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
      let lineageOnly = try partition == nil ? lineageOnlyEntries(selected, only: only, force: force) : [:]
      for node in selected {
        var entry = node.entry.name
        let started = monotonicSeconds()
        if let key = lineageOnly[entry] {
          keys[entry] = key
          diagnostics.note(
            "\(entry): not in the store, only its lineage (\(key.prefix(12))); no stage that runs needs its outputs, so it is not computed (`--only \(entry)` computes it)"
          )
          if pushesToRemote, let remote, let manifest = store.layout.lineageManifest(key) {
            try remote.create()
            try remote.recordLineage(manifest)
          }
          reports.append(
            StageReport(entry: entry, key: key, outcome: .lineage, seconds: 0, path: store.layout.lineagePath(key)))
          continue
        }
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
          if outcome != .pulled { try pushToRemote(material.key, label: entry) }
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
        var pulled = false
        if !stage.isCached && !forced, try pullFromRemote(stage.key, material: stage.material, label: label) {
          stage.isCached = true
          pulled = true
        }
        if needsNote && stage.isCached {
          directories[node.entry.name] = store.entryPath(stage.key)
          continue
        }
        if needsNote {
          diagnostics.note(
            "\(label): not in the store; computing it first because '\(neededBy(entry, only: only))' needs it")
        }
        var outcome = Outcome.cached
        if pulled {
          outcome = .pulled
        } else if stage.isCached && !forced {
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
        if outcome != .pulled { try pushToRemote(stage.key, label: label) }
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
    let remoteStoreDirectory = remote?.storeDirectory
    let keyWithoutFiles = material
    let hashing = BackgroundTask { () throws(PipelineError) -> [RawFileInput] in
      var files: [RawFileInput] = []
      for lookup in lookups { files.append(try lookup.hashed()) }
      var complete = keyWithoutFiles
      complete.rawFiles = Dictionary(uniqueKeysWithValues: files.map { ($0.role, $0.sha256) })
      let key = complete.key
      if !forced
        && ([storeDirectory] + (remoteStoreDirectory.map { [$0] } ?? [])).contains(where: {
          FileSystem.isDirectory(ArtifactStore.entryPath(key, storeDirectory: $0))
        })
      {
        cancellation.cancel()
      }
      return files
    }
    let bytes = unhashed.reduce(Int64(0)) { $0 + $1.identity.size }
    diagnostics.detail(
      "\(label): hashing \(unhashed.count) raw file(s) (\(bytes) bytes) on another thread while the stage starts")
    let scratch = try store.makeScratchDirectory(label: label)
    defer { scratch.release() }
    let work = scratch.path
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
    if !forced, try pullFromRemote(key, material: material, label: label) {
      try? FileSystem.removeTree(work)
      return (material, .pulled)
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

  /// On a local miss, the entry of `key` from the remote store: copied under the key's lock into
  /// `tmp/`, every file checked against the remote manifest as it is copied, then renamed into the
  /// store (`StoreLayout.copyEntry` and `install`, the protocol of every entry). A remote entry that
  /// fails the check is a warning and a miss.
  /// - Returns: whether the entry is now in the local store.
  func pullFromRemote(_ key: String, material: StageKeyMaterial, label: String) throws -> Bool {
    guard let remote, remote.entryManifest(key, diagnostics: diagnostics) != nil else { return false }
    let started = monotonicSeconds()
    let lock = try store.lock(key, label: label)
    defer { lock.unlock() }
    if store.hasEntry(key) { return true }
    let work: String
    do {
      work = try store.layout.copyEntry(key, from: remote, what: "remote")
    } catch {
      // A damaged remote entry must not stop the run: warn and treat it as a miss (CONVENTIONS.md §10).
      diagnostics.warning("\(label): cannot pull \(key.prefix(12)): \(error); computing it here")
      return false
    }
    do {
      try store.layout.install(workDirectory: work, key: key)
    } catch {
      try? FileSystem.removeTree(work)
      throw error
    }
    let manifest = try Manifest.read(directory: store.entryPath(key))
    try store.ledger.recordArtifact(
      material: material, seconds: monotonicSeconds() - started, bytes: manifest.files.reduce(0) { $0 + $1.size },
      key: key)
    diagnostics.note(
      "\(label): pulled \(key.prefix(12)) from the remote store '\(remote.root)' (\(manifest.files.count) files verified)"
    )
    return true
  }

  /// With `--push`, publishes the local entry of `key` to the remote store unless it is there:
  /// copied into the remote's `tmp/` (verified as it is read), fsynced, renamed into place. Of
  /// several writers of one key the first rename wins and the others discard their copies.
  func pushToRemote(_ key: String, label: String) throws {
    guard pushesToRemote, let remote else { return }
    if remote.entryManifest(key, diagnostics: diagnostics) != nil {
      diagnostics.detail("\(label): \(key.prefix(12)) is already in the remote store")
      return
    }
    try remote.create()
    let work = try remote.copyEntry(key, from: store.layout, what: "local")
    let installed: Bool
    do {
      installed = try remote.install(workDirectory: work, key: key)
    } catch {
      try? FileSystem.removeTree(work)
      throw error
    }
    diagnostics.note(
      installed
        ? "\(label): pushed \(key.prefix(12)) to the remote store '\(remote.root)'"
        : "\(label): \(key.prefix(12)) was pushed by another writer at the same time; kept theirs")
  }

  /// The entries a run leaves out because only their lineage is here (imported with a bundle, or
  /// recorded in the remote store) and no stage that runs needs their outputs: an imported
  /// soft-labels entry makes `tca run` a hit without recomputing the CF model that produced it.
  /// Keys never depend on outputs (only on parameters, input keys and raw-file hashes), so they are
  /// computed as for any run. Without lineage records this plans nothing (no raw file is hashed
  /// before its stage starts).
  /// - Returns: entry name → key, for entries to leave out.
  func lineageOnlyEntries(
    _ selected: [PipelineGraph.Node], only: Set<String>, force: Set<String>
  ) throws -> [String: String] {
    func hasRecords(_ layout: StoreLayout?) -> Bool {
      guard let layout, FileSystem.isDirectory(layout.lineageDirectory) else { return false }
      return !((try? FileSystem.listDirectory(layout.lineageDirectory)) ?? []).isEmpty
    }
    guard hasRecords(store.layout) || hasRecords(remote) else { return [:] }
    let planned = try plan(entries: selected)
    var skipped: [String: String] = [:]
    var computing: Set<String> = []
    for stage in planned.reversed() {
      let name = stage.node.entry.name
      let forced = force.contains(name)
      let available = stage.isCached || remote?.entryManifest(stage.key, diagnostics: nil) != nil
      if available && !forced { continue }
      let neededByComputing = planned.contains {
        computing.contains($0.node.entry.name) && $0.node.inputs.values.contains(name)
      }
      let hasLineage =
        store.layout.lineageManifest(stage.key) != nil || remote?.lineageManifest(stage.key) != nil
      if !forced && !only.contains(name) && !neededByComputing && hasLineage {
        skipped[name] = stage.key
        if store.layout.lineageManifest(stage.key) == nil, let manifest = remote?.lineageManifest(stage.key) {
          try store.layout.recordLineage(manifest)
        }
        continue
      }
      computing.insert(name)
    }
    return skipped
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
      let pulled = try !stage.isCached && pullFromRemote(stage.key, material: stage.material, label: entry)
      guard !stage.isCached && !pulled else {
        diagnostics.note("\(entry): already whole in the store (\(stage.key.prefix(12))); nothing to merge")
        try pushToRemote(stage.key, label: entry)
        try store.link(pipeline: graph.name, entry: entry, key: stage.key)
        reports.append(
          StageReport(entry: entry, key: stage.key, outcome: .cached, seconds: 0, path: store.entryPath(stage.key)))
        continue
      }
      // Partitions computed on other machines (other homes, one TCA_REMOTE) are pulled first.
      if let remote {
        for partition in try PartitionMerge.partitions(of: stage.key, in: remote)
        where !store.hasEntry(partition.manifest.key) {
          _ = try pullFromRemote(partition.manifest.key, material: stage.material, label: entry)
        }
      }
      let found = try PartitionMerge.partitions(of: stage.key, in: store.layout)
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
      try pushToRemote(stage.key, label: entry)
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
        if let remote, remote.entryManifest(stage.key, diagnostics: nil) != nil {
          reasons = ["not in this store, but in the remote store '\(remote.root)'; `tca run` pulls it"]
        } else if store.layout.lineageManifest(stage.key) != nil {
          reasons = [
            "only its lineage is in the store (imported with a bundle); `tca run` leaves it out unless a stage that runs needs its outputs"
          ]
        } else if let previous = try store.ledger.latestMaterial(pipeline: graph.name, entry: entry) {
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
