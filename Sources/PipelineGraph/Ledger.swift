import PipelineCore
import SQLiteStore

#if canImport(Glibc)
  import Glibc
#endif

/// The store's SQLite ledger (`ledger.sqlite`, WAL mode, busy timeout): runs, artifacts, the memo of
/// raw-file hashes, and each pipeline entry's latest key with the material it was made from (so
/// `tca status` can say why a stage is stale).
public final class Ledger {
  /// Bump with a migration when the schema changes.
  public static let schemaVersion: Int64 = 1
  let database: SQLiteDatabase
  public let path: String

  public init(path: String) throws(PipelineError) {
    self.path = path
    do {
      database = try SQLiteDatabase(path: path)
      try migrate()
    } catch {
      throw PipelineError(.store, "cannot open the ledger '\(path)'; check TCA_HOME is writable", cause: error)
    }
  }

  private func migrate() throws(SQLiteError) {
    let version = try database.userVersion
    if version == Self.schemaVersion { return }
    if version > Self.schemaVersion {
      throw SQLiteError(
        code: 1, operation: "migrate",
        message: "ledger schema \(version) is newer than this tool's \(Self.schemaVersion); upgrade tca")
    }
    try database.execute(
      """
      BEGIN IMMEDIATE;
      CREATE TABLE IF NOT EXISTS file_hashes(
        path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL, sha256 TEXT NOT NULL, hashed_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS artifacts(
        key TEXT PRIMARY KEY, stage TEXT NOT NULL, key_json TEXT NOT NULL, created_at TEXT NOT NULL,
        seconds REAL NOT NULL, bytes INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS runs(
        id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline TEXT NOT NULL, command TEXT NOT NULL,
        started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS run_stages(
        run_id INTEGER NOT NULL REFERENCES runs(id), entry TEXT NOT NULL, stage TEXT NOT NULL, key TEXT NOT NULL,
        outcome TEXT NOT NULL, seconds REAL NOT NULL, PRIMARY KEY(run_id, entry));
      CREATE TABLE IF NOT EXISTS latest(
        pipeline TEXT NOT NULL, entry TEXT NOT NULL, key TEXT NOT NULL, key_json TEXT NOT NULL,
        updated_at TEXT NOT NULL, PRIMARY KEY(pipeline, entry));
      PRAGMA user_version = \(Self.schemaVersion);
      COMMIT;
      """)
  }

  @discardableResult
  private func run<T>(_ operation: String, _ body: () throws -> T) throws(PipelineError) -> T {
    do { return try body() } catch {
      throw PipelineError(.store, "ledger '\(path)': \(operation) failed", cause: error as? SQLiteError)
    }
  }

  // MARK: File-hash memo

  /// The memoised content hash of a raw file, valid while its size, mtime, ctime and inode are unchanged.
  public func memoisedHash(path: String, identity: FileSystem.Identity) throws(PipelineError) -> String? {
    try run("read file hash") {
      try database.query(
        "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ? AND ctime_ns = ? AND inode = ?",
        [
          .text(path), .integer(identity.size), .integer(identity.modificationTimeNanoseconds),
          .integer(identity.changeTimeNanoseconds), .integer(Int64(bitPattern: identity.inode)),
        ]
      ).first?.first?.text
    }
  }

  public func memoise(path: String, identity: FileSystem.Identity, sha256: String) throws(PipelineError) {
    try run("record file hash") {
      try database.query(
        "INSERT OR REPLACE INTO file_hashes(path, size, mtime_ns, ctime_ns, inode, sha256, hashed_at) VALUES (?,?,?,?,?,?,?)",
        [
          .text(path), .integer(identity.size), .integer(identity.modificationTimeNanoseconds),
          .integer(identity.changeTimeNanoseconds), .integer(Int64(bitPattern: identity.inode)), .text(sha256),
          .text(Self.now()),
        ])
    }
  }

  // MARK: Runs

  public func beginRun(pipeline: String, command: String) throws(PipelineError) -> Int64 {
    try run("record run") {
      try database.query(
        "INSERT INTO runs(pipeline, command, started_at, status) VALUES (?,?,?,'running')",
        [.text(pipeline), .text(command), .text(Self.now())])
      return database.lastInsertedRowID
    }
  }

  public func finishRun(_ id: Int64, status: String) throws(PipelineError) {
    try run("finish run") {
      try database.query(
        "UPDATE runs SET finished_at = ?, status = ? WHERE id = ?", [.text(Self.now()), .text(status), .integer(id)])
    }
  }

  public func recordStage(
    run id: Int64, pipeline: String, entry: String, material: StageKeyMaterial, outcome: String, seconds: Double,
    key given: String? = nil
  ) throws(PipelineError) {
    let key = given ?? material.key
    try run("record stage") {
      try database.query(
        "INSERT OR REPLACE INTO run_stages(run_id, entry, stage, key, outcome, seconds) VALUES (?,?,?,?,?,?)",
        [.integer(id), .text(entry), .text(material.stage), .text(key), .text(outcome), .real(seconds)])
      try database.query(
        "INSERT OR REPLACE INTO latest(pipeline, entry, key, key_json, updated_at) VALUES (?,?,?,?,?)",
        [.text(pipeline), .text(entry), .text(key), .text(material.json.canonicalText()), .text(Self.now())])
    }
  }

  /// - Parameter given: the entry's key when it is not the material's (a partition's).
  public func recordArtifact(material: StageKeyMaterial, seconds: Double, bytes: Int64, key given: String? = nil)
    throws(PipelineError)
  {
    try run("record artifact") {
      try database.query(
        "INSERT OR REPLACE INTO artifacts(key, stage, key_json, created_at, seconds, bytes) VALUES (?,?,?,?,?,?)",
        [
          .text(given ?? material.key), .text(material.stage), .text(material.json.canonicalText()), .text(Self.now()),
          .real(seconds), .integer(bytes),
        ])
    }
  }

  /// The material of an entry's latest run, if any.
  public func latestMaterial(pipeline: String, entry: String) throws(PipelineError) -> StageKeyMaterial? {
    let text = try run("read latest") {
      try database.query(
        "SELECT key_json FROM latest WHERE pipeline = ? AND entry = ?", [.text(pipeline), .text(entry)]
      )
      .first?.first?.text
    }
    guard let text, let json = try? JSONParser.parse(text) else { return nil }
    return StageKeyMaterial(json: json)
  }

  /// Keys referenced by any pipeline's latest run (what `gc` keeps).
  public func referencedKeys() throws(PipelineError) -> Set<String> {
    try run("read latest keys") {
      Set(try database.query("SELECT key FROM latest").compactMap { $0.first?.text })
    }
  }

  public struct RunSummary: Sendable {
    public var id: Int64
    public var pipeline: String
    public var command: String
    public var startedAt: String
    public var finishedAt: String?
    public var status: String
    public var stages: [(entry: String, outcome: String, seconds: Double, key: String)]
  }

  public func runs(limit: Int) throws(PipelineError) -> [RunSummary] {
    try run("read runs") {
      let rows = try database.query(
        "SELECT id, pipeline, command, started_at, finished_at, status FROM runs ORDER BY id DESC LIMIT ?",
        [.integer(Int64(limit))])
      return try rows.map { row in
        let id = row[0].integer ?? 0
        let stages = try database.query(
          "SELECT entry, outcome, seconds, key FROM run_stages WHERE run_id = ? ORDER BY rowid", [.integer(id)]
        ).map { ($0[0].text ?? "", $0[1].text ?? "", $0[2].real ?? 0, $0[3].text ?? "") }
        return RunSummary(
          id: id, pipeline: row[1].text ?? "", command: row[2].text ?? "", startedAt: row[3].text ?? "",
          finishedAt: row[4].text, status: row[5].text ?? "", stages: stages)
      }
    }
  }

  public func forgetArtifact(key: String) throws(PipelineError) {
    try run("forget artifact") { try database.query("DELETE FROM artifacts WHERE key = ?", [.text(key)]) }
  }

  /// UTC time as ISO 8601, for people reading the ledger; never part of a key or an artifact.
  static func now() -> String {
    var seconds = time(nil)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return
      "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
  }
}
