internal import CSQLite

/// Why an SQLite call failed: the result code, the operation, and SQLite's own message.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
  public var code: Int32
  public var operation: String
  public var message: String
  public var description: String { "sqlite \(operation) failed (\(code)): \(message)" }
  /// The database is locked by another writer for longer than the busy timeout.
  public init(code: Int32, operation: String, message: String) {
    self.code = code
    self.operation = operation
    self.message = message
  }
  public var isBusy: Bool { code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED }
}

/// A value bound to or read from an SQL statement.
public enum SQLiteValue: Sendable, Hashable {
  case null
  case integer(Int64)
  case real(Double)
  case text(String)

  public var integer: Int64? { if case .integer(let v) = self { return v } else { return nil } }
  public var text: String? { if case .text(let v) = self { return v } else { return nil } }
  public var real: Double? {
    switch self {
    case .real(let v): return v
    case .integer(let v): return Double(v)
    default: return nil
    }
  }
}

/// One connection to an SQLite database file (the C type is `sqlite3`).
public final class SQLiteDatabase {
  private var handle: OpaquePointer?
  public let path: String

  /// Opens or creates a database with WAL journaling and a busy timeout, so that several processes
  /// can share the ledger.
  public init(path: String, busyTimeoutMilliseconds: Int32 = 30_000) throws(SQLiteError) {
    self.path = path
    var connection: OpaquePointer?
    let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
    let code = sqlite3_open_v2(path, &connection, flags, nil)
    handle = connection
    try checked(code, "open")
    sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
    try execute("PRAGMA journal_mode=WAL")
    try execute("PRAGMA synchronous=NORMAL")
    try execute("PRAGMA foreign_keys=ON")
  }

  deinit { sqlite3_close_v2(handle) }

  /// Checks a result code (the helper every call goes through).
  @discardableResult
  func checked(_ code: Int32, _ operation: String) throws(SQLiteError) -> Int32 {
    if code == SQLITE_OK || code == SQLITE_ROW || code == SQLITE_DONE { return code }
    let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
    throw SQLiteError(code: code, operation: operation, message: message)
  }

  /// Runs SQL that returns no rows (several statements allowed).
  public func execute(_ sql: String) throws(SQLiteError) {
    var errorMessage: UnsafeMutablePointer<CChar>?
    let code = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
    if code != SQLITE_OK {
      let message = errorMessage.map { String(cString: $0) } ?? ""
      sqlite3_free(errorMessage)
      throw SQLiteError(code: code, operation: "exec", message: message)
    }
  }

  /// Runs one statement with bound values and returns every row.
  @discardableResult
  public func query(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> [[SQLiteValue]] {
    var statement: OpaquePointer?
    try checked(sqlite3_prepare_v2(handle, sql, -1, &statement, nil), "prepare")
    defer { sqlite3_finalize(statement) }
    for (index, value) in values.enumerated() {
      let position = Int32(index + 1)
      switch value {
      case .null: try checked(sqlite3_bind_null(statement, position), "bind")
      case .integer(let v): try checked(sqlite3_bind_int64(statement, position, v), "bind")
      case .real(let v): try checked(sqlite3_bind_double(statement, position, v), "bind")
      case .text(let v):
        // SQLITE_TRANSIENT (-1) is a macro cast Swift cannot import; it makes SQLite copy the text.
        let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
        try checked(sqlite3_bind_text(statement, position, v, -1, transient), "bind")
      }
    }
    var rows: [[SQLiteValue]] = []
    while true {
      let code = try checked(sqlite3_step(statement), "step")
      if code == SQLITE_DONE { break }
      let columns = sqlite3_column_count(statement)
      var row: [SQLiteValue] = []
      row.reserveCapacity(Int(columns))
      for column in 0..<columns {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(statement, column)))
        case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(statement, column)))
        case SQLITE_NULL: row.append(.null)
        default:
          if let text = sqlite3_column_text(statement, column) {
            row.append(.text(String(cString: text)))
          } else {
            row.append(.null)
          }
        }
      }
      rows.append(row)
    }
    return rows
  }

  /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on error.
  public func transaction<T>(_ body: () throws -> T) throws -> T {
    try execute("BEGIN IMMEDIATE")
    do {
      let result = try body()
      try execute("COMMIT")
      return result
    } catch {
      try? execute("ROLLBACK")
      throw error
    }
  }

  public var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

  /// `PRAGMA user_version`: the ledger's schema version.
  public var userVersion: Int64 {
    get throws(SQLiteError) { try query("PRAGMA user_version").first?.first?.integer ?? 0 }
  }
}
