import Foundation
import PipelineCore
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

func metrics(_ home: String, _ pipeline: String, _ entry: String) throws -> JSONValue {
  let manifest = try JSONParser.parse(try FileSystem.readFile("\(home)/runs/\(pipeline)/\(entry)/manifest.json"))
  return manifest["metrics"] ?? .null
}

/// The data stages (`--only trie`) of the shipped pipelines; the cf stage has its own tests on small
/// configurations, and `make bench` trains the shipped ones.
@Suite("Shipped pipelines on the real data of ../shared/data", .serialized)
struct RealDataEndToEndTests {
  @Test func movieLens100KIngestsEveryRatingAndLeaveOneOutGivesOneTestAndValidPerUser() throws {
    guard SharedData.available("movielens/ml-100k/u.data") else { return }
    let work = try TemporaryDirectory()
    let home = work.path + "/home"
    let result = try Executables.run(
      "tca", ["run", "ml-100k", "--only", "trie"], environment: ["TCA_HOME": home, "TCA_DATA": SharedData.root])
    #expect(result.status == 0, "\(result.stderr)")
    let ingest = try metrics(home, "ml-100k", "ingest")
    #expect(ingest["users"] == 943)
    #expect(ingest["items"] == 1682)
    #expect(ingest["events"] == 100_000)
    let prepare = try metrics(home, "ml-100k", "prepare")
    #expect(prepare["test"] == 943)
    #expect(prepare["valid"] == 943)
    #expect(prepare["users"] == 943)
    // Every user's first event has no history (min_history 1): train = events − 3 per user.
    #expect(prepare["train"]?.integerValue == (prepare["events"]?.integerValue ?? 0) - 3 * 943)
    let validation = try Executables.run("tca", ["validate", home + "/runs/ml-100k"])
    #expect(validation.status == 0, "\(validation.stderr)")
  }

  @Test func beautyHasEveryItemTitled() throws {
    guard SharedData.available("amazon-beauty-processed/p5-Wenyueh-LLM-RecSys-ID/sequential_data.txt") else { return }
    let work = try TemporaryDirectory()
    let home = work.path + "/home"
    let result = try Executables.run(
      "tca", ["run", "beauty", "--only", "trie"], environment: ["TCA_HOME": home, "TCA_DATA": SharedData.root])
    #expect(result.status == 0, "\(result.stderr)")
    let ingest = try metrics(home, "beauty", "ingest")
    #expect(ingest["users"] == 22_363)
    #expect(ingest["items"] == 12_101)
    #expect(ingest["events"] == 198_502)
    #expect(ingest["items_with_title"] == 12_101)
    let prepare = try metrics(home, "beauty", "prepare")
    #expect(prepare["test"] == 22_363)
    #expect(prepare["valid"] == 22_363)
  }

  @Test(arguments: ["toys-official", "office-official"])
  func officialSplitsKeepTheirSampleCounts(pipeline: String) throws {
    guard SharedData.available("tca4rec-official/Toys_and_Games/item.csv") else { return }
    let work = try TemporaryDirectory()
    let home = work.path + "/home"
    let result = try Executables.run(
      "tca", ["run", pipeline, "--only", "trie"], environment: ["TCA_HOME": home, "TCA_DATA": SharedData.root])
    #expect(result.status == 0, "\(result.stderr)")
    let prepare = try metrics(home, pipeline, "prepare")
    #expect(prepare["train"] == 10_000)
    #expect(prepare["valid"] == 5_000)
    #expect(prepare["test"] == 5_000)
  }

  @Test func changedRawBytesWithRestoredSizeAndMtimeRerunIngestAndPrepare() throws {
    guard SharedData.available("movielens/ml-100k/u.data") else { return }
    let work = try TemporaryDirectory()
    let data = work.path + "/data/movielens/ml-100k"
    try FileSystem.createDirectory(data)
    for name in ["u.data", "u.item"] {
      try FileSystem.writeFile(
        data + "/" + name, try FileSystem.readFile(SharedData.root + "/movielens/ml-100k/" + name))
    }
    let environment = ["TCA_HOME": work.path + "/home", "TCA_DATA": work.path + "/data"]
    #expect(
      try Executables.run("tca", ["run", "-q", "ml-100k", "--only", "trie"], environment: environment).status == 0)
    let hit = try Executables.run("tca", ["run", "ml-100k", "--only", "ingest"], environment: environment)
    #expect(hit.stderr.contains("2 of 2 raw files unchanged"), "\(hit.stderr)")

    // Change one rating digit in place (same size), then restore the modification time.
    let path = data + "/u.data"
    let before = try FileSystem.identity(of: path)
    var bytes = try FileSystem.readFile(path)
    let tab = bytes.firstIndex(of: 0x09)!
    let ratingIndex = bytes[(tab + 1)...].firstIndex(of: 0x09)! + 1
    bytes[ratingIndex] = bytes[ratingIndex] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
    let descriptor = open(path, O_WRONLY)
    _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress!, $0.count, 0) }
    close(descriptor)
    var times = [
      timespec(
        tv_sec: Int(before.modificationTimeNanoseconds / 1_000_000_000),
        tv_nsec: Int(before.modificationTimeNanoseconds % 1_000_000_000)),
      timespec(
        tv_sec: Int(before.modificationTimeNanoseconds / 1_000_000_000),
        tv_nsec: Int(before.modificationTimeNanoseconds % 1_000_000_000)),
    ]
    utimensat(AT_FDCWD, path, &times, 0)
    let after = try FileSystem.identity(of: path)
    #expect(after.size == before.size && after.modificationTimeNanoseconds == before.modificationTimeNanoseconds)

    let status = try Executables.run("tca", ["status", "ml-100k"], environment: environment)
    #expect(status.stdout.contains("input file 'ratings' changed"), "\(status.stdout)")
    #expect(status.stdout.contains("upstream stage 'ingest' is stale"), "\(status.stdout)")
    let rerun = try Executables.run("tca", ["run", "ml-100k", "--only", "trie"], environment: environment)
    let lines = rerun.stdout.split(separator: "\n")
    #expect(lines.contains { $0.hasPrefix("ingest") && $0.contains("computed") })
    #expect(lines.contains { $0.hasPrefix("prepare") && $0.contains("computed") })
  }

  @Test func standaloneStageExecutablesProduceTheDriversArtifacts() throws {
    guard SharedData.available("movielens/ml-100k/u.data") else { return }
    let work = try TemporaryDirectory()
    let home = work.path + "/home"
    let environment = ["TCA_HOME": home, "TCA_DATA": SharedData.root]
    #expect(
      try Executables.run("tca", ["run", "-q", "ml-100k", "--only", "trie"], environment: environment).status == 0)
    try FileSystem.writeText(work.path + "/ingest.yaml", "source: movielens-100k\npath: movielens/ml-100k\n")
    try FileSystem.writeText(work.path + "/prepare.json", #"{"user_k_core": 5, "item_k_core": 5}"#)
    let ingest = try Executables.run(
      "tca-ingest", ["--params", work.path + "/ingest.yaml", "--output", work.path + "/interactions"],
      environment: environment)
    #expect(ingest.status == 0, "\(ingest.stderr)")
    let prepare = try Executables.run(
      "tca-prepare",
      [
        "--params", work.path + "/prepare.json", "--input", "interactions=\(work.path)/interactions", "--output",
        work.path + "/samples",
      ],
      environment: environment)
    #expect(prepare.status == 0, "\(prepare.stderr)")
    #expect(try treeHashes(work.path + "/interactions") == (try treeHashes(home + "/runs/ml-100k/ingest")))
    #expect(try treeHashes(work.path + "/samples") == (try treeHashes(home + "/runs/ml-100k/prepare")))
  }
}
