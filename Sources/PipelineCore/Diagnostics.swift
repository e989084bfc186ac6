#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where diagnostics go: stderr, each line prefixed by the tool's name; stdout stays for data.
public final class Diagnostics: @unchecked Sendable {
  public enum Verbosity: Int, Sendable, Comparable {
    case quiet = 0, normal = 1, verbose = 2
    public static func < (left: Verbosity, right: Verbosity) -> Bool { left.rawValue < right.rawValue }
  }

  public let toolName: String
  public var verbosity: Verbosity
  /// Whether stderr is a terminal (progress redraws one line) or a log (periodic lines).
  public let isTerminal: Bool
  private let lock = Mutex()

  public init(toolName: String, verbosity: Verbosity = .normal) {
    self.toolName = toolName
    self.verbosity = verbosity
    self.isTerminal = isatty(2) != 0
  }

  /// A one-line note at normal verbosity: "tca: ingest: cached".
  public func note(_ message: String) {
    guard verbosity >= .normal else { return }
    emit("\(toolName): \(message)\n")
  }

  /// Reasons and timings, shown with `-v`.
  public func detail(_ message: String) {
    guard verbosity >= .verbose else { return }
    emit("\(toolName): \(message)\n")
  }

  public func warning(_ message: String) {
    emit("\(toolName): warning: \(message)\n")
  }

  public func error(_ message: String) {
    emit("\(toolName): error: \(message)\n")
  }

  /// Writes raw text to stderr under the lock (progress lines use carriage returns).
  public func emit(_ text: String) {
    lock.withLock {
      var bytes = Array(text.utf8)
      bytes.withUnsafeMutableBytes { buffer in
        var offset = 0
        while offset < buffer.count {
          let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
          if written <= 0 { break }
          offset += written
        }
      }
    }
  }
}

/// A small mutual-exclusion lock (pthread), usable from Swift 6 strict concurrency.
public final class Mutex: @unchecked Sendable {
  private var mutex = pthread_mutex_t()
  public init() { pthread_mutex_init(&mutex, nil) }
  deinit { pthread_mutex_destroy(&mutex) }
  public func withLock<T>(_ body: () throws -> T) rethrows -> T {
    pthread_mutex_lock(&mutex)
    defer { pthread_mutex_unlock(&mutex) }
    return try body()
  }
}
