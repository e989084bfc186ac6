import PipelineCore

/// A directory under /tmp removed when the value is released.
final class TemporaryDirectory {
  let path: String
  init() throws {
    path = "/tmp/tca-test-\(ProcessIdentity.current)-\(UInt64.random(in: 0...UInt64.max))"
    try FileSystem.createDirectory(path)
  }
  deinit { try? FileSystem.removeTree(path) }
}
