import PipelineCore

/// A directory under /tmp with a unique name, removed when the value is released.
public final class TemporaryDirectory {
  public let path: String

  public init() throws {
    path = "/tmp/tca-test-\(ProcessIdentity.current)-\(UInt64.random(in: 0...UInt64.max))"
    try FileSystem.createDirectory(path)
  }

  deinit { try? FileSystem.removeTree(path) }

  public func file(_ name: String) -> String { FileSystem.join(path, name) }

  /// Writes a text file into the directory and returns its path.
  @discardableResult
  public func write(_ name: String, _ text: String) throws -> String {
    let path = file(name)
    try FileSystem.writeText(path, text)
    return path
  }
}
