import ArtifactFormats
import PipelineCore

#if canImport(Glibc)
  import Glibc
#endif

/// The content-addressed store under `$TCA_HOME` (default `.tca/`):
/// `store/ab/abcdef…/` (outputs + `manifest.json`), `tmp/` (work in progress), `locks/` (per-key
/// `flock` files), `ledger.sqlite`, and `runs/<pipeline>/<entry>` links to the latest outputs.
public final class ArtifactStore {
  public let home: String
  public let ledger: Ledger
  /// The directories and the install protocol this store shares with a remote one.
  public let layout: StoreLayout
  let diagnostics: Diagnostics

  public var storeDirectory: String { layout.storeDirectory }
  public var temporaryDirectory: String { layout.temporaryDirectory }
  public var locksDirectory: String { FileSystem.join(home, "locks") }
  public var runsDirectory: String { FileSystem.join(home, "runs") }

  /// `$TCA_HOME`, else `.tca` in the working directory.
  public static func defaultHome() -> String {
    FileSystem.absolute(FileSystem.environment("TCA_HOME") ?? ".tca")
  }

  public init(home: String, diagnostics: Diagnostics) throws(PipelineError) {
    self.home = FileSystem.absolute(home)
    self.diagnostics = diagnostics
    layout = StoreLayout(root: self.home)
    try layout.create()
    for directory in [FileSystem.join(self.home, "locks"), FileSystem.join(self.home, "runs")] {
      try FileSystem.createDirectory(directory)
    }
    // Switching a new database to WAL takes an exclusive lock that SQLite's busy handler does not
    // wait for, so two runs opening a fresh store at once would fail with "database is locked".
    // Opening (and migrating) the ledger under a file lock serialises exactly that moment.
    let openLock = try FileLock(path: FileSystem.join(self.home, "locks", "ledger.lock"))
    try openLock.lock()
    defer { openLock.unlock() }
    ledger = try Ledger(path: FileSystem.join(self.home, "ledger.sqlite"))
  }

  public func entryPath(_ key: String) -> String {
    Self.entryPath(key, storeDirectory: storeDirectory)
  }

  /// Where the entry of `key` lives under a store directory (a pure function, for other threads).
  public static func entryPath(_ key: String, storeDirectory: String) -> String {
    FileSystem.join(storeDirectory, String(key.prefix(2)), key)
  }

  /// Whether a complete entry exists: its manifest reads and names this key. An unreadable entry is
  /// a warning and a miss, never a crash (CONVENTIONS.md §10).
  public func hasEntry(_ key: String) -> Bool {
    layout.entryManifest(key, diagnostics: diagnostics) != nil
  }

  /// Takes the per-key lock, waiting (with a note) if another process holds it.
  public func lock(_ key: String, label: String) throws(PipelineError) -> FileLock {
    let lock = try FileLock(path: FileSystem.join(locksDirectory, key + ".lock"))
    if !lock.tryLock() {
      diagnostics.note("\(label): another run is computing \(key.prefix(12)); waiting for it")
      try lock.lock()
    }
    return lock
  }

  /// A fresh work directory for `key`, after removing leftovers of killed runs (safe: we hold the key's lock).
  public func makeWorkDirectory(_ key: String) throws(PipelineError) -> String {
    for name in try FileSystem.listDirectory(temporaryDirectory) where name.hasPrefix(key + ".") {
      diagnostics.detail("removing leftover work directory tmp/\(name) of an interrupted run")
      try FileSystem.removeTree(FileSystem.join(temporaryDirectory, name))
    }
    return try layout.makeWorkDirectory(key)
  }

  /// A work directory not tied to a key (a stage still hashing its raw files, a bundle being
  /// unpacked): named after a random 64-digit token whose lock this process holds, so `gc` leaves it.
  public func makeScratchDirectory(label: String) throws(PipelineError) -> ScratchDirectory {
    let token = (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }
      .map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
    let lock = try lock(token, label: label)
    do {
      return ScratchDirectory(
        path: try makeWorkDirectory(token), lock: lock, lockPath: FileSystem.join(locksDirectory, token + ".lock"))
    } catch {
      lock.unlock()
      throw error
    }
  }

  /// A locked work directory from `makeScratchDirectory`; `release()` removes it and its lock.
  public struct ScratchDirectory {
    public let path: String
    let lock: FileLock
    let lockPath: String

    public func release() {
      try? FileSystem.removeTree(path)
      lock.unlock()
      unlink(lockPath)
    }
  }

  /// Moves a finished work directory (manifest written last) into the store with one rename
  /// (`StoreLayout.install`). An existing entry (a forced rerun) is moved aside first and removed after.
  public func publish(workDirectory: String, key: String) throws(PipelineError) {
    let destination = entryPath(key)
    var trash: String?
    if FileSystem.exists(destination) {
      let aside = FileSystem.join(temporaryDirectory, "\(key).replaced.\(getpid())")
      try FileSystem.rename(destination, to: aside)
      trash = aside
    }
    // Under the key's lock nobody else installs this key, so the rename cannot lose.
    try layout.install(workDirectory: workDirectory, key: key)
    if let trash { try FileSystem.removeTree(trash) }
  }

  /// Points `runs/<pipeline>/<entry>` at the entry (a relative link, so the home can move).
  public func link(pipeline: String, entry: String, key: String) throws(PipelineError) {
    let directory = FileSystem.join(runsDirectory, pipeline)
    try FileSystem.createDirectory(directory)
    let target = "../../store/\(key.prefix(2))/\(key)"
    try FileSystem.replaceSymbolicLink(FileSystem.join(directory, entry), target: target)
  }

  /// The content hash of a raw file, from the ledger's memo when its identity is unchanged.
  /// - Returns: the digest, the size, and whether the file was read.
  /// A raw file's identity (size, times, inode) and its hash when the memo has it for exactly that
  /// identity (`nil`: the file must be read).
  public func memoisedRawFileHash(_ path: String) throws(PipelineError) -> (
    identity: FileSystem.Identity, sha256: String?
  ) {
    let identity = try FileSystem.identity(of: path)
    return (identity, try ledger.memoisedHash(path: path, identity: identity))
  }

  /// Records a raw file's hash for `identity`, unless the file changed while it was read.
  public func memoiseRawFileHash(_ path: String, identity: FileSystem.Identity, sha256: String) throws(PipelineError) {
    if try FileSystem.identity(of: path) == identity {
      try ledger.memoise(path: path, identity: identity, sha256: sha256)
    }
  }

  /// All keys in the store.
  public func allKeys() throws(PipelineError) -> [String] {
    try layout.allKeys().stored
  }
}
