import Foundation
import PipelineCore
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A small synthetic pipeline in a temporary folder, so tests can edit parameters.
func writePipeline(_ directory: String, name: String = "tiny", users: Int = 300, userKCore: Int = 5) throws -> String {
  let path = directory + "/\(name).yaml"
  try FileSystem.writeText(
    path,
    """
    stages:
      ingest:
        params: {source: synthetic, users: \(users), items: 120, seed: 5}
      prepare:
        params: {user_k_core: \(userKCore), item_k_core: 3}

    """)
  return path
}

@Suite("The tca driver, end to end", .serialized)
struct DriverEndToEndTests {
  @Test func secondRunIsAllCacheHitsAndSaysSo() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writePipeline(work.path)
    let environment = ["TCA_HOME": work.path + "/home"]
    let first = try Executables.run("tca", ["run", pipeline], environment: environment)
    #expect(first.status == 0, "\(first.stderr)")
    #expect(first.stdout.contains("ingest") && first.stdout.contains("computed"))
    let second = try Executables.run("tca", ["run", pipeline], environment: environment)
    #expect(second.status == 0)
    #expect(!second.stdout.contains("computed"))
    #expect(second.stderr.contains("every stage was a cache hit"))
    #expect(FileSystem.exists(work.path + "/home/runs/tiny/prepare/manifest.json"))
    let validation = try Executables.run("tca", ["validate", work.path + "/home/runs/tiny"], environment: environment)
    #expect(validation.status == 0, "\(validation.stderr)")
    #expect(validation.stdout.split(separator: "\n").count == 2)
  }

  @Test func changingOnePrepareParameterRerunsPrepareOnlyAndStatusSaysWhy() throws {
    let work = try TemporaryDirectory()
    let environment = ["TCA_HOME": work.path + "/home"]
    let pipeline = try writePipeline(work.path, userKCore: 5)
    #expect(try Executables.run("tca", ["run", pipeline], environment: environment).status == 0)
    _ = try writePipeline(work.path, userKCore: 6)
    let status = try Executables.run("tca", ["status", pipeline], environment: environment)
    #expect(status.stdout.contains("ingest          cached"))
    #expect(status.stdout.contains("prepare         stale"))
    #expect(status.stdout.contains("param prepare.user_k_core changed 5 → 6"))
    let rerun = try Executables.run("tca", ["run", pipeline], environment: environment)
    let lines = rerun.stdout.split(separator: "\n").map(String.init)
    #expect(lines.contains { $0.hasPrefix("ingest") && $0.contains("cached") })
    #expect(lines.contains { $0.hasPrefix("prepare") && $0.contains("computed") })
  }

  @Test func differentHomesGiveIdenticalKeysAndByteIdenticalArtifacts() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writePipeline(work.path)
    for home in ["a", "b"] {
      let result = try Executables.run(
        "tca", ["run", "-q", pipeline], environment: ["TCA_HOME": work.path + "/" + home])
      #expect(result.status == 0)
    }
    let first = try storeContents(work.path + "/a")
    #expect(first.count == 2)
    #expect(first == (try storeContents(work.path + "/b")))
  }

  @Test func dryRunComputesNothing() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writePipeline(work.path)
    let result = try Executables.run(
      "tca", ["run", "--dry-run", pipeline], environment: ["TCA_HOME": work.path + "/h"])
    #expect(result.status == 0)
    #expect(result.stdout.contains("planned"))
    #expect(try FileSystem.listDirectory(work.path + "/h/store").isEmpty)
  }

  @Test func killAtAnyMomentLeavesNoEntryAndTheNextRunIsByteIdentical() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writePipeline(work.path, name: "big", users: 150_000)
    let started = monotonicSeconds()
    let reference = try Executables.run("tca", ["run", "-q", pipeline], environment: ["TCA_HOME": work.path + "/ref"])
    let duration = monotonicSeconds() - started
    #expect(reference.status == 0)
    let home = work.path + "/killed"
    var generator = SeededGenerator(seed: UInt64(time(nil)))
    for attempt in 0..<6 {
      // Kill points spread over the whole run: startup, ingest, publish, prepare.
      let delay = duration * (0.02 + 0.93 * generator.nextUnit())
      let process = try Executables.start("tca", ["run", "-q", pipeline], environment: ["TCA_HOME": home])
      usleep(useconds_t(delay * 1_000_000))
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      // Whatever is in the store now must be complete and valid.
      for (key, files) in try storeContents(home) {
        #expect(files["manifest.json"] != nil, "attempt \(attempt): entry \(key) has no manifest")
        let check = try Executables.run("tca", ["validate", home + "/store/" + key.prefix(2) + "/" + key])
        #expect(check.status == 0, "attempt \(attempt): \(check.stderr)")
      }
    }
    let final = try Executables.run("tca", ["run", "-q", pipeline], environment: ["TCA_HOME": home])
    #expect(final.status == 0, "\(final.stderr)")
    #expect(try storeContents(home) == (try storeContents(work.path + "/ref")))
  }

  @Test func twoConcurrentRunsComputeOnceAndBothSucceed() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writePipeline(work.path, name: "shared", users: 20_000)
    let environment = ["TCA_HOME": work.path + "/home"]
    let processes = try (0..<2).map { _ in try Executables.start("tca", ["run", pipeline], environment: environment) }
    var outputs: [String] = []
    for process in processes {
      let data = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      #expect(process.terminationStatus == 0)
      outputs.append(String(decoding: data, as: UTF8.self))
    }
    let computed = outputs.joined().components(separatedBy: "computed").count - 1
    #expect(computed == 2, "each stage computed exactly once across both runs:\n\(outputs.joined())")
    #expect(try storeContents(work.path + "/home").count == 2)
    let validation = try Executables.run(
      "tca", ["validate", work.path + "/home/runs/shared"], environment: environment)
    #expect(validation.status == 0)
  }

  @Test func garbageCollectionKeepsWhatTheLatestRunsReference() throws {
    let work = try TemporaryDirectory()
    let environment = ["TCA_HOME": work.path + "/home"]
    let pipeline = try writePipeline(work.path, userKCore: 5)
    #expect(try Executables.run("tca", ["run", "-q", pipeline], environment: environment).status == 0)
    _ = try writePipeline(work.path, userKCore: 7)
    #expect(try Executables.run("tca", ["run", "-q", pipeline], environment: environment).status == 0)
    #expect(try storeContents(work.path + "/home").count == 3)
    let dry = try Executables.run("tca", ["gc", "--dry-run"], environment: environment)
    #expect(dry.stdout.contains("would remove store/"))
    #expect(try storeContents(work.path + "/home").count == 3)
    #expect(try Executables.run("tca", ["gc"], environment: environment).status == 0)
    #expect(try storeContents(work.path + "/home").count == 2)
    let again = try Executables.run("tca", ["run", pipeline], environment: environment)
    #expect(!again.stdout.contains("computed"))
    let history = try Executables.run("tca", ["ls"], environment: environment)
    #expect(history.stdout.contains("tca run ") && history.stdout.contains("cached"))
  }

  @Test func badFlagsExit64AndBadPipelinesNameTheFile() throws {
    let work = try TemporaryDirectory()
    let unknownFlag = try Executables.run("tca", ["run", "--frobnicate", "demo"])
    #expect(unknownFlag.status == 64)
    let missing = try Executables.run("tca", ["run", "no-such-pipeline"], environment: ["TCA_HOME": work.path])
    #expect(missing.status == 64)
    #expect(missing.stderr.hasPrefix("tca: error: no pipeline named 'no-such-pipeline'"))
    try FileSystem.writeText(
      work.path + "/bad.yaml", "stages:\n  ingest:\n    params: {source: synthetic, users: -1}\n")
    let bad = try Executables.run("tca", ["run", work.path + "/bad.yaml"], environment: ["TCA_HOME": work.path])
    #expect(bad.status == 64)
    #expect(bad.stderr.contains("bad.yaml:2: stage 'ingest': parameter 'users' must be at least"))
    let stageFlag = try Executables.run("tca-ingest", ["--output"])
    #expect(stageFlag.status == 64)
  }
}

@Suite("tca validate catches damaged artifacts", .serialized)
struct ValidateEndToEndTests {
  func freshArtifacts() throws -> (TemporaryDirectory, String) {
    let work = try TemporaryDirectory()
    let pipeline = try writePipeline(work.path)
    #expect(
      try Executables.run("tca", ["run", "-q", pipeline], environment: ["TCA_HOME": work.path + "/home"]).status == 0)
    // Copy the prepare entry out of the store so damaging it does not touch the store.
    let copy = work.path + "/copy"
    try FileSystem.createDirectory(copy)
    let source = work.path + "/home/runs/tiny/prepare"
    for file in try FileSystem.listFilesRecursively(source) {
      try FileSystem.writeFile(copy + "/" + file, try FileSystem.readFile(source + "/" + file))
    }
    return (work, copy)
  }

  func validateMessage(_ directory: String) throws -> String {
    let result = try Executables.run("tca", ["validate", directory])
    #expect(result.status == 1)
    return result.stderr
  }

  @Test func flippedByteIsNamed() throws {
    let (work, copy) = try freshArtifacts()
    _ = work
    var bytes = try FileSystem.readFile(copy + "/train.target.npy")
    bytes[bytes.count - 1] ^= 0x01
    try FileSystem.writeFile(copy + "/train.target.npy", bytes)
    #expect(try validateMessage(copy).contains("train.target.npy' has sha256"))
  }

  @Test func truncatedNpyIsNamed() throws {
    let (work, copy) = try freshArtifacts()
    _ = work
    var bytes = try FileSystem.readFile(copy + "/test.user.npy")
    bytes.removeLast(4)
    try FileSystem.writeFile(copy + "/test.user.npy", bytes)
    #expect(try validateMessage(copy).contains("test.user.npy' has \(bytes.count) bytes, the manifest says"))
  }

  @Test func editedManifestIsNamed() throws {
    let (work, copy) = try freshArtifacts()
    _ = work
    let text = try FileSystem.readText(copy + "/manifest.json")
    // Whatever the stage's version, written as a string.
    let edited = text.replacingOccurrences(
      of: #""stage_version": ([0-9]+)"#, with: #""stage_version": "$1""#, options: .regularExpression)
    #expect(edited != text)
    try FileSystem.writeText(copy + "/manifest.json", edited)
    #expect(try validateMessage(copy).contains("'stage_version' must be an integer"))
  }

  @Test func missingFileIsNamed() throws {
    let (work, copy) = try freshArtifacts()
    _ = work
    try FileSystem.removeTree(copy + "/valid.history.values.npy")
    #expect(try validateMessage(copy).contains("valid.history.values.npy' is missing"))
  }

  @Test func consistentButWrongContentFailsTheInvariants() throws {
    let (work, copy) = try freshArtifacts()
    _ = work
    // Rewrite a target as item 0 (padding) and re-hash the manifest: hashes pass, invariants do not.
    let path = copy + "/test.target.npy"
    var bytes = try FileSystem.readFile(path)
    for index in (bytes.count - 4)..<bytes.count { bytes[index] = 0 }
    try FileSystem.writeFile(path, bytes)
    let digest = try ContentHash.sha256(fileAt: path).digest
    var manifest = try JSONParser.parse(try FileSystem.readFile(copy + "/manifest.json")).objectValue!
    manifest["files"] = .array(
      manifest["files"]!.arrayValue!.map { file in
        guard file["path"]?.stringValue == "test.target.npy" else { return file }
        var object = file.objectValue!
        object["sha256"] = .string(digest)
        return .object(object)
      })
    try FileSystem.writeText(copy + "/manifest.json", JSONValue.object(manifest).prettyText())
    let message = try validateMessage(copy)
    #expect(message.contains("test.target.npy"), "\(message)")
  }
}
