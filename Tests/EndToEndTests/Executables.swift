import Foundation
import PipelineCore
import Testing

/// Runs the built executables (the ones next to this test bundle: `.build/<config>/`).
enum Executables {
  static let directory: String = {
    if let explicit = FileSystem.environment("TCA_BIN") { return FileSystem.absolute(explicit) }
    let executable = FileSystem.readSymbolicLink("/proc/self/exe") ?? ""
    var directory = FileSystem.parentPath(executable)
    // The test runner may live inside an .xctest bundle folder.
    while !directory.isEmpty && directory != "/" && !FileSystem.exists(directory + "/tca") {
      directory = FileSystem.parentPath(directory)
    }
    return directory
  }()

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs `tool` with `arguments` in `workingDirectory` with extra environment variables.
  @discardableResult
  static func run(
    _ tool: String, _ arguments: [String], environment: [String: String] = [:], in workingDirectory: String? = nil
  ) throws -> Result {
    let process = try start(tool, arguments, environment: environment, in: workingDirectory)
    let out = process.standardOutput as! Pipe
    let err = process.standardError as! Pipe
    // Read both pipes to the end before waiting, so a chatty child never blocks on a full pipe.
    final class Box: @unchecked Sendable { var data = Data() }
    let stderrBox = Box()
    let group = DispatchGroup()
    group.enter()
    let errorHandle = err.fileHandleForReading
    DispatchQueue.global().async {
      stderrBox.data = errorHandle.readDataToEndOfFile()
      group.leave()
    }
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let stderrData = stderrBox.data
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
      stderr: String(decoding: stderrData, as: UTF8.self))
  }

  static func start(
    _ tool: String, _ arguments: [String], environment: [String: String] = [:], in workingDirectory: String? = nil
  ) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: directory + "/" + tool)
    process.arguments = arguments
    var merged = ProcessInfo.processInfo.environment
    merged["TCA_PIPELINES"] = FileSystem.absolute("Pipelines")
    for (name, value) in environment { merged[name] = value }
    process.environment = merged
    if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    process.standardOutput = Pipe()
    process.standardError = Pipe()
    try process.run()
    return process
  }
}

/// All files of a directory tree with their hashes (for byte-identity checks).
func treeHashes(_ directory: String) throws -> [String: String] {
  var result: [String: String] = [:]
  for path in try FileSystem.listFilesRecursively(directory) {
    result[path] = try ContentHash.sha256(fileAt: directory + "/" + path).digest
  }
  return result
}

/// The store entries of a home, by key, each with its files' hashes.
func storeContents(_ home: String) throws -> [String: [String: String]] {
  var result: [String: [String: String]] = [:]
  let store = home + "/store"
  for prefix in try FileSystem.listDirectory(store) {
    for key in try FileSystem.listDirectory(store + "/" + prefix) {
      result[key] = try treeHashes(store + "/" + prefix + "/" + key)
    }
  }
  return result
}
