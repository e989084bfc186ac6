/// An error a user can act on: what went wrong, where (file, line or byte offset, field), and what to do.
///
/// Higher layers throw this struct; thin wrappers over C libraries throw their own typed errors, which
/// become the `cause` here. Messages start lowercase, quote user-supplied names and end with what to do.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
  /// Broad kinds of failure, each with the process exit code it maps to.
  public enum Code: String, Sendable {
    /// Bad command-line usage or a bad pipeline file (exit 64, as `EX_USAGE`).
    case usage
    /// Bad input data: a malformed or truncated raw file (exit 1).
    case invalidInput
    /// An artifact fails validation (exit 1).
    case invalidArtifact
    /// The store or ledger cannot be used (exit 1).
    case store
    /// Anything else that stopped a stage (exit 1).
    case stageFailed
    /// An operating-system call failed (exit 1).
    case system
    /// Work was cancelled by whoever started it (`Cancellation`; exit 1).
    case cancelled

    public var exitCode: Int32 { self == .usage ? 64 : 1 }
  }

  public var code: Code
  public var message: String
  public var cause: (any Error & Sendable)?

  public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  public var description: String {
    if let cause { return "\(message) (\(cause))" }
    return message
  }
}

extension PipelineError {
  public static func usage(_ message: String) -> PipelineError { PipelineError(.usage, message) }
  public static func invalidInput(_ message: String) -> PipelineError { PipelineError(.invalidInput, message) }
  public static func invalidArtifact(_ message: String) -> PipelineError { PipelineError(.invalidArtifact, message) }

  /// A failed system call on a path, with `errno` spelled out.
  public static func system(_ operation: String, path: String, errno code: Int32) -> PipelineError {
    PipelineError(.system, "cannot \(operation) '\(path)': \(errnoDescription(code))")
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

public func errnoDescription(_ code: Int32) -> String {
  String(cString: strerror(code))
}
