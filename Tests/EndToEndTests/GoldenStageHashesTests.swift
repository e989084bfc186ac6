import DenseLinearAlgebra
import Foundation
import PipelineCore
import TestSupport
import Testing

/// Every stage's output hashes on small fixtures, compared to recorded ones: a change of output
/// without a stage version bump fails here. Re-record (after bumping the version) with
/// `RECORD_SNAPSHOTS=1 swift test -c release --filter GoldenStageHashes`.
///
/// The neural cf models train with OpenBLAS's sgemm, whose kernels sum in a different order on each
/// CPU family: their bytes (and those of the soft labels computed from them) are the same on every
/// machine of one kernel family, not across families. `stage-hashes.json` holds the outputs with
/// the `SkylakeX` kernels (AVX-512 Xeons); `stage-hashes.<kernel>.json` holds, for another family,
/// only the entries whose outputs differ from those (recorded on such a machine, where
/// `RECORD_SNAPSHOTS=1` writes that file, and new entries or entries with a new key to the first).
/// A family with no file of its own is held to the first.
@Suite("Golden stage output hashes", .serialized)
struct GoldenStageHashesTests {
  static let goldenDirectory = FileSystem.absolute("Tests/EndToEndTests/Goldens")
  static let goldenPath = goldenDirectory + "/stage-hashes.json"
  /// The family the main file was recorded with.
  static let primaryKernel = "SkylakeX"
  /// The kernel family `tca` runs here: OpenBLAS's choice, or the one it restarts with when
  /// OpenBLAS fell back to its generic kernels (`NativeBLASKernel`). AMD's Zen runs the Haswell
  /// kernels (the same bytes: checked on an EPYC with `OPENBLAS_CORETYPE=Haswell`).
  static var kernel: String {
    let name = BLASKernel.suggestedCoreType() ?? BLASKernel.name
    return name == "Zen" ? "Haswell" : name
  }
  static var kernelPath: String { goldenDirectory + "/stage-hashes.\(kernel).json" }

  /// The soft-labels stages of the cf fixture, with `soft-labels` fed by BPR-MF rather than SASRec:
  /// its model trains without sgemm and its scores come from the stage's own kernel, so its soft
  /// labels have the same bytes with every kernel family and any one machine can re-record every
  /// soft-labels golden (those from SASRec differ in their last bits between families). Soft labels
  /// from a sequence model stay covered by SoftLabelsEndToEndTests (partitions, byte identity) and
  /// the exactness tests.
  static let softLabelEntries: String = {
    let sasrecFed = "  soft-labels:\n    params:"
    precondition(EndToEndTests.softLabelEntries.contains(sasrecFed), "the fixture's soft-labels entry moved")
    return EndToEndTests.softLabelEntries.replacingOccurrences(
      of: sasrecFed, with: "  soft-labels:\n    inputs: {cf: cf-bpr}\n    params:")
  }()

  /// Runs the fixtures and returns "fixture/entry" → {stage_version, files}.
  func currentHashes() throws -> [String: JSONValue] {
    let work = try TemporaryDirectory()
    var fixtures: [(name: String, pipeline: String, data: String?)] = [
      ("tiny", try writePipeline(work.path, name: "tiny"), nil),
      // Every cf model family, small and short (the shipped pipelines' cf entries train for minutes).
      ("cf", try writeCFPipeline(work.path, extra: Self.softLabelEntries), nil),
    ]
    if SharedData.available("movielens/ml-100k/u.data") {
      fixtures.append(("ml-100k", "ml-100k", SharedData.root))
    }
    if SharedData.available("tca4rec-official/Office_Products/item.csv") {
      fixtures.append(("office-official", "office-official", SharedData.root))
    }
    var result: [String: JSONValue] = [:]
    for fixture in fixtures {
      var environment = ["TCA_HOME": work.path + "/home"]
      if let data = fixture.data { environment["TCA_DATA"] = data }
      let only = fixture.data == nil ? [] : ["--only", "trie"]
      let run = try Executables.run("tca", ["run", "-q", fixture.pipeline] + only, environment: environment)
      #expect(run.status == 0, "\(run.stderr)")
      let runs = work.path + "/home/runs/" + fixture.name
      for entry in try FileSystem.listDirectory(runs) {
        let manifest = try JSONParser.parse(try FileSystem.readFile(runs + "/" + entry + "/manifest.json"))
        var files: [String: JSONValue] = [:]
        for file in manifest["files"]?.arrayValue ?? [] {
          files[file["path"]!.stringValue!] = file["sha256"]!
        }
        result["\(fixture.name)/\(entry)"] = [
          "stage_version": manifest["stage_version"]!, "files": .object(files), "key": manifest["key"]!,
        ]
      }
    }
    return result
  }

  @Test func stageOutputsMatchTheRecordedHashesUnlessTheVersionWasBumped() throws {
    let current = try currentHashes()
    func entries(_ path: String) throws -> [String: JSONValue] {
      guard FileSystem.exists(path) else { return [:] }
      return try JSONParser.parse(try FileSystem.readFile(path)).objectValue ?? [:]
    }
    var recorded = try entries(Self.goldenPath)
    if FileSystem.environment("RECORD_SNAPSHOTS") == "1" {
      if Self.kernel == Self.primaryKernel {
        try FileSystem.writeText(Self.goldenPath, JSONValue.object(current).prettyText())
        print("recorded \(current.count) golden stage outputs in \(Self.goldenPath)")
      } else {
        // An entry depends on the kernels when this family's file already has it, or when its bytes
        // differ from the main file's under the same key (the same inputs, parameters and stage
        // version); new entries and those whose key changed go to the main file (a neural cf
        // model's must then be recorded on a SkylakeX machine too).
        var own = try entries(Self.kernelPath)
        for (name, entry) in current where recorded[name] != entry {
          if own[name] != nil || recorded[name]?["key"] == entry["key"] {
            own[name] = entry
          } else {
            recorded[name] = entry
          }
        }
        try FileSystem.writeText(Self.goldenPath, JSONValue.object(recorded).prettyText())
        try FileSystem.writeText(Self.kernelPath, JSONValue.object(own).prettyText())
        print("recorded \(own.count) golden stage outputs of the \(Self.kernel) kernels in \(Self.kernelPath)")
      }
      return
    }
    recorded.merge(try entries(Self.kernelPath)) { $1 }
    for (name, entry) in current.sorted(by: { $0.key < $1.key }) {
      guard let golden = recorded[name] else {
        Issue.record("no golden for '\(name)'; record with RECORD_SNAPSHOTS=1")
        continue
      }
      if golden["stage_version"] != entry["stage_version"] {
        Issue.record("'\(name)': stage version changed; re-record the goldens with RECORD_SNAPSHOTS=1")
        continue
      }
      let goldenFiles = golden["files"]?.objectValue ?? [:]
      let files = entry["files"]?.objectValue ?? [:]
      for path in Set(goldenFiles.keys).union(files.keys).sorted() where goldenFiles[path] != files[path] {
        Issue.record(
          "'\(name)': output '\(path)' changed without a stage version bump (OpenBLAS kernels: \(Self.kernel)); bump the stage's version constant, then re-record with RECORD_SNAPSHOTS=1"
        )
      }
      #expect(golden["key"] == entry["key"], "'\(name)': the stage key changed (parameters, defaults or key material)")
    }
  }
}
