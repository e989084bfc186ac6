import ArtifactFormats
import PipelineCore

#if canImport(Glibc)
  import Glibc
#endif

/// The directories of a store, local (`$TCA_HOME`) or shared (`$TCA_REMOTE`), and the one protocol
/// that installs an entry in either: `store/ab/abcdef…/` (outputs + `manifest.json`), `tmp/` (work in
/// progress, on the same file system so the final rename is atomic) and `lineage/ab/abcdef….json`
/// (manifests of entries whose outputs this store does not hold, imported with a bundle).
public struct StoreLayout: Sendable {
  public let root: String

  public var storeDirectory: String { FileSystem.join(root, "store") }
  public var temporaryDirectory: String { FileSystem.join(root, "tmp") }
  public var lineageDirectory: String { FileSystem.join(root, "lineage") }

  public init(root: String) {
    self.root = FileSystem.absolute(root)
  }

  /// Creates the store's directories when they are missing.
  public func create() throws(PipelineError) {
    for directory in [root, storeDirectory, temporaryDirectory, lineageDirectory] {
      try FileSystem.createDirectory(directory)
    }
  }

  public func entryPath(_ key: String) -> String {
    FileSystem.join(storeDirectory, String(key.prefix(2)), key)
  }

  public func lineagePath(_ key: String) -> String {
    FileSystem.join(lineageDirectory, String(key.prefix(2)), key + ".json")
  }

  /// The manifest of a complete entry, or `nil` (no entry, or one whose manifest is unreadable or
  /// names another key: a warning and a miss, never a crash, CONVENTIONS.md §10).
  public func entryManifest(_ key: String, diagnostics: Diagnostics?) -> Manifest? {
    let path = entryPath(key)
    guard FileSystem.isDirectory(path) else { return nil }
    do {
      let manifest = try Manifest.read(directory: path)
      if manifest.key != key {
        diagnostics?.warning(
          "store entry '\(path)' has a manifest for key \(manifest.key.prefix(12)); treating it as a miss")
        return nil
      }
      return manifest
    } catch {
      diagnostics?.warning("store entry '\(path)' is unreadable (\(error)); treating it as a miss")
      return nil
    }
  }

  /// The manifest recorded for `key` without its outputs (an imported ancestor), or `nil`.
  public func lineageManifest(_ key: String) -> Manifest? {
    let path = lineagePath(key)
    guard FileSystem.exists(path), let bytes = try? FileSystem.readFile(path),
      let json = try? JSONParser.parse(bytes), let manifest = try? Manifest(json: json, path: path),
      manifest.key == key
    else { return nil }
    return manifest
  }

  /// What this store knows of `key`: its entry's manifest, else its lineage record.
  public func anyManifest(_ key: String) -> (manifest: Manifest, isStored: Bool)? {
    if let manifest = entryManifest(key, diagnostics: nil) { return (manifest, true) }
    if let manifest = lineageManifest(key) { return (manifest, false) }
    return nil
  }

  /// Records a manifest as lineage only (atomically; an identical record already there is kept).
  public func recordLineage(_ manifest: Manifest) throws(PipelineError) {
    let path = lineagePath(manifest.key)
    if FileSystem.exists(path) { return }
    try FileSystem.createDirectory(FileSystem.parentPath(path))
    try FileSystem.writeFileAtomically(path, Array(manifest.json.prettyText().utf8))
  }

  /// Every key with an entry, and every key with only a lineage record.
  public func allKeys() throws(PipelineError) -> (stored: [String], lineage: [String]) {
    var stored: [String] = []
    var lineage: [String] = []
    for prefix in try FileSystem.listDirectory(storeDirectory)
    where FileSystem.isDirectory(FileSystem.join(storeDirectory, prefix)) {
      stored += try FileSystem.listDirectory(FileSystem.join(storeDirectory, prefix))
    }
    if FileSystem.isDirectory(lineageDirectory) {
      for prefix in try FileSystem.listDirectory(lineageDirectory)
      where FileSystem.isDirectory(FileSystem.join(lineageDirectory, prefix)) {
        lineage += try FileSystem.listDirectory(FileSystem.join(lineageDirectory, prefix))
          .filter { $0.hasSuffix(".json") && !$0.contains(".tmp.") }.map { String($0.dropLast(5)) }
      }
    }
    return (stored, lineage)
  }

  /// A new work directory under `tmp/` named after `key` (plus the process id and a random tag).
  public func makeWorkDirectory(_ key: String) throws(PipelineError) -> String {
    let path = FileSystem.join(temporaryDirectory, "\(key).\(getpid()).\(UInt32.random(in: 0...UInt32.max))")
    try FileSystem.createDirectory(path)
    return path
  }

  /// Copies the entry of `key` from `source` into a new work directory here, verifying every
  /// file's size and sha256 against the source's manifest as it copies (one read per file).
  /// - Returns: the work directory, to be installed with `install(workDirectory:key:)`.
  public func copyEntry(_ key: String, from source: StoreLayout, what: String) throws(PipelineError) -> String {
    let from = source.entryPath(key)
    let manifest = try Manifest.read(directory: from)
    guard manifest.key == key else {
      throw .invalidArtifact(
        "\(what) entry '\(from)' has a manifest for key \(manifest.key.prefix(12)); remove that entry")
    }
    let work = try makeWorkDirectory(key)
    do throws(PipelineError) {
      for file in manifest.files {
        let destination = FileSystem.join(work, file.path)
        try FileSystem.createDirectory(FileSystem.parentPath(destination))
        let (digest, size) = try FileSystem.copyFile(from: FileSystem.join(from, file.path), to: destination)
        guard size == file.size, digest == file.sha256 else {
          throw PipelineError.invalidArtifact(
            "\(what) entry file '\(FileSystem.join(from, file.path))' has \(size) bytes and sha256 \(digest.prefix(12)), its manifest says \(file.size) bytes and \(file.sha256.prefix(12)); the \(what) entry is corrupt: remove '\(from)' (it will be published again)"
          )
        }
      }
      _ = try FileSystem.copyFile(
        from: FileSystem.join(from, Manifest.fileName), to: FileSystem.join(work, Manifest.fileName))
    } catch {
      try? FileSystem.removeTree(work)
      throw error
    }
    return work
  }

  /// Makes a finished work directory (files fsynced, manifest last) the entry of `key` with one
  /// rename, unless an entry is already there: then the first writer has won and this copy, whose
  /// content is identical by construction, is discarded. Safe with several writers at once and
  /// across machines on a shared file system, because it needs no lock, only rename(2).
  /// - Returns: `true` when this call installed the entry.
  @discardableResult
  public func install(workDirectory: String, key: String) throws(PipelineError) -> Bool {
    let destination = entryPath(key)
    try FileSystem.createDirectory(FileSystem.parentPath(destination))
    for file in try FileSystem.listFilesRecursively(workDirectory) {
      try FileSystem.syncFile(FileSystem.join(workDirectory, file))
    }
    FileSystem.syncDirectory(workDirectory)
    guard try FileSystem.renameUnlessPresent(workDirectory, to: destination) else {
      try FileSystem.removeTree(workDirectory)
      return false
    }
    FileSystem.syncDirectory(FileSystem.parentPath(destination))
    return true
  }
}
