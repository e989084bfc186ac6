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

  /// The newest runs of any pipeline, newest first.
  public func runs(limit: Int) throws(PipelineError) -> [RunSummary] {
    try runs(where: "", [], limit: limit)
  }

  /// The newest run of `pipeline`, if it ever ran in this store.
  public func latestRun(pipeline: String) throws(PipelineError) -> RunSummary? {
    try runs(where: "WHERE pipeline = ?", [.text(pipeline)], limit: 1).first
  }

  private func runs(where condition: String, _ arguments: [SQLiteValue], limit: Int) throws(PipelineError)
    -> [RunSummary]
  {
    try run("read runs") {
      let rows = try database.query(
        "SELECT id, pipeline, command, started_at, finished_at, status FROM runs \(condition) ORDER BY id DESC LIMIT ?",
        arguments + [.integer(Int64(limit))])
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

  /// An entry's stage in one recorded run: what happened to it and how long it took.
  public struct StageRecord: Sendable, Equatable {
    public var runID: Int64
    /// When the run started (UTC, ISO 8601).
    public var runStartedAt: String
    public var entry: String
    public var stage: String
    public var key: String
    /// `computed`, `cached`, `pulled`, `lineage` (`PipelineRunner.Outcome`).
    public var outcome: String
    public var seconds: Double
  }

  /// The entry's stage in the newest run of `pipeline` that reached it.
  public func latestStageRecord(pipeline: String, entry: String) throws(PipelineError) -> StageRecord? {
    try run("read run stages") {
      try database.query(
        """
        SELECT s.run_id, r.started_at, s.stage, s.key, s.outcome, s.seconds FROM run_stages s
        JOIN runs r ON r.id = s.run_id WHERE r.pipeline = ? AND s.entry = ? ORDER BY s.run_id DESC LIMIT 1
        """, [.text(pipeline), .text(entry)]
      ).first.map { row in
        StageRecord(
          runID: row[0].integer ?? 0, runStartedAt: row[1].text ?? "", entry: entry, stage: row[2].text ?? "",
          key: row[3].text ?? "", outcome: row[4].text ?? "", seconds: row[5].real ?? 0)
      }
    }
  }

  /// What the ledger knows of a store entry: when it was made here and what it cost.
  public struct ArtifactRecord: Sendable, Equatable {
    public var key: String
    public var stage: String
    /// When it was published (UTC, ISO 8601).
    public var createdAt: String
    /// Compute seconds (copy seconds for an entry pulled from a remote store).
    public var seconds: Double
    public var bytes: Int64
  }

  /// The ledger's record of the entry of `key`, if this store computed, pulled or merged it.
  public func artifact(key: String) throws(PipelineError) -> ArtifactRecord? {
    try run("read artifact") {
      try database.query("SELECT stage, created_at, seconds, bytes FROM artifacts WHERE key = ?", [.text(key)])
        .first.map { row in
          ArtifactRecord(
            key: key, stage: row[0].text ?? "", createdAt: row[1].text ?? "", seconds: row[2].real ?? 0,
            bytes: row[3].integer ?? 0)
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
