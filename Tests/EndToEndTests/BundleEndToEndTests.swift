import Foundation
import PipelineCore
import TestSupport
import Testing

/// MovieLens 100K from ../shared/data through every stage, small: raw files with hashes, a CF
/// model and soft labels, so a bundle carries a full lineage.
func writeMovieLensPipeline(_ directory: String) throws -> String {
  let path = directory + "/ml.yaml"
  try FileSystem.writeText(
    path,
    """
    stages:
      ingest:
        params: {source: movielens-100k, path: movielens/ml-100k}
      prepare:
        params: {protocol: leave-one-out, user_k_core: 5, item_k_core: 5}
      tokenizer:
        params: {mode: train, preset: gpt2, vocab_size: 400, min_frequency: 2}
      trie:
        params: {add_eos: true}
      cf:
        params: {model: sasrec, hidden: 16, max_epochs: 2, patience: 2, batch_size: 256}
      soft-labels:
        params: {splits: [test], k: 16, shard_samples: 400}

    """)
  return path
}

/// Byte offset of a member's data in a tar file, from Python's `tarfile` (an independent reader).
func tarMemberOffset(_ archive: String, _ member: String) throws -> Int {
  let result = try runPython(
    "import sys, tarfile\nprint(tarfile.open(sys.argv[1]).getmember(sys.argv[2]).offset_data)", [archive, member])
  return Int(result.trimmingCharacters(in: .whitespacesAndNewlines))!
}

@discardableResult
func runPython(_ code: String, _ arguments: [String]) throws -> String {
  try runCommand(["/usr/bin/env", "python3", "-c", code] + arguments)
}

/// The store entry a `runs/<pipeline>/<stage>` link points at: its key.
func linkedKey(_ home: String, _ pipeline: String, _ stage: String) -> String {
  FileSystem.baseName(FileSystem.readSymbolicLink("\(home)/runs/\(pipeline)/\(stage)") ?? "")
}

@Suite("Bundles and the shared store, end to end", .serialized)
struct BundleEndToEndTests {
  @Test(.enabled(if: SharedData.shouldRun("movielens/ml-100k/u.data")))
  func exportImportRerunIsAllHitsWithByteIdenticalArtifacts() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeMovieLensPipeline(work.path)
    let source = ["TCA_HOME": work.path + "/a", "TCA_DATA": SharedData.root]
    let first = try Executables.run("tca", ["run", "-q", pipeline], environment: source)
    #expect(first.status == 0, "\(first.stderr)")
    let key = linkedKey(work.path + "/a", "ml", "soft-labels")
    #expect(key.count == 64)

    let bundle = work.file("labels.tar")
    let export = try Executables.run(
      "tca", ["export", pipeline, "--stage", "soft-labels", "-o", bundle], environment: source)
    #expect(export.status == 0, "\(export.stderr)")
    #expect(export.stdout == key + "\n")
    // The same entries give the same bytes.
    let again = try Executables.run(
      "tca", ["export", pipeline, "--stage", "soft-labels", "-o", work.file("again.tar")], environment: source)
    #expect(again.status == 0)
    #expect(try FileSystem.readFile(bundle) == (try FileSystem.readFile(work.file("again.tar"))))
    // Python's tarfile reads it: bundle.json first, then the entry and five ancestors' manifests.
    let names = try runPython(
      "import sys, tarfile\nprint('\\n'.join(tarfile.open(sys.argv[1]).getnames()))", [bundle]
    ).split(separator: "\n").map(String.init)
    #expect(names.first == "bundle.json")
    #expect(names.contains("entries/\(key)/manifest.json"))
    #expect(names.contains("entries/\(key)/index.json"))
    #expect(names.filter { $0.hasPrefix("lineage/") }.count == 5)

    let target = ["TCA_HOME": work.path + "/b", "TCA_DATA": SharedData.root]
    let imported = try Executables.run("tca", ["import", bundle], environment: target)
    #expect(imported.status == 0, "\(imported.stderr)")
    #expect(imported.stdout.contains("installed soft-labels  \(key)"))
    #expect(imported.stdout.split(separator: "\n").filter { $0.hasPrefix("lineage") }.count == 5)
    let afterFirstImport = try storeContents(work.path + "/b")
    let twice = try Executables.run("tca", ["import", bundle], environment: target)
    #expect(twice.status == 0, "\(twice.stderr)")
    #expect(twice.stdout.contains("present   soft-labels  \(key)"))
    #expect(try storeContents(work.path + "/b") == afterFirstImport)

    // The rerun over the same raw data computes nothing: soft-labels hits, its ancestors are
    // lineage only (their keys come from params and raw-file hashes, not from their outputs).
    let rerun = try Executables.run("tca", ["run", pipeline], environment: target)
    #expect(rerun.status == 0, "\(rerun.stderr)")
    #expect(!rerun.stdout.contains("computed"), "\(rerun.stdout)")
    let lines = rerun.stdout.split(separator: "\n").map(String.init)
    #expect(lines.contains { $0.hasPrefix("soft-labels") && $0.contains("cached") })
    for stage in ["ingest", "prepare", "tokenizer", "trie", "cf"] {
      #expect(lines.contains { $0.hasPrefix(stage + " ") && $0.contains("lineage") }, "\(stage): \(rerun.stdout)")
    }
    #expect(rerun.stderr.contains("every stage was a cache hit"))
    let original = try storeContents(work.path + "/a")[key]
    #expect(original != nil)
    #expect(try storeContents(work.path + "/b")[key] == original)
    #expect(linkedKey(work.path + "/b", "ml", "soft-labels") == key)

    // Asking for an ancestor computes it (and only what it needs).
    let only = try Executables.run("tca", ["run", pipeline, "--only", "prepare"], environment: target)
    #expect(only.status == 0, "\(only.stderr)")
    #expect(
      only.stdout.split(separator: "\n").contains { $0.hasPrefix("prepare") && $0.contains("computed") })
    #expect(
      try storeContents(work.path + "/b")[linkedKey(work.path + "/b", "ml", "prepare")]
        == (try storeContents(work.path + "/a")[linkedKey(work.path + "/a", "ml", "prepare")]))

    // The lineage, by a key prefix, as text and as JSON.
    let show = try Executables.run("tca", ["show", String(key.prefix(10))], environment: target)
    #expect(show.status == 0, "\(show.stderr)")
    let rawHash = try ContentHash.sha256(fileAt: SharedData.path("movielens/ml-100k/u.data")).digest
    #expect(show.stdout.hasPrefix("soft-labels \(key) (version"))
    #expect(show.stdout.contains("cf ← cf "))
    #expect(show.stdout.contains(rawHash))
    #expect(show.stdout.contains("lineage only"))
    let json = try Executables.run("tca", ["show", "--json", key], environment: target)
    #expect(json.status == 0)
    let tree = try JSONParser.parse(Array(json.stdout.utf8))
    #expect(tree["stage"]?.stringValue == "soft-labels")
    #expect(tree["availability"]?.stringValue == "stored")
    #expect(tree["inputs"]?["cf"]?["stage"]?.stringValue == "cf")
    #expect(tree["inputs"]?["cf"]?["availability"]?.stringValue == "lineage")
    let ingest = tree["inputs"]?["samples"]?["inputs"]?["interactions"]
    #expect(ingest?["stage"]?.stringValue == "ingest")
    #expect(ingest?["raw_files"]?.objectValue?.values.contains { $0["sha256"]?.stringValue == rawHash } == true)

    // The same entries through a shared store: a home whose raw-file memo is empty hashes the raw
    // files while ingest starts, finds the key in the remote, stops ingest and pulls every stage.
    let remote = work.path + "/remote"
    let push = try Executables.run(
      "tca", ["run", "-q", "--push", pipeline], environment: source.merging(["TCA_REMOTE": remote]) { $1 })
    #expect(push.status == 0, "\(push.stderr)")
    let pulled = try Executables.run(
      "tca", ["run", pipeline],
      environment: ["TCA_HOME": work.path + "/c", "TCA_DATA": SharedData.root, "TCA_REMOTE": remote])
    #expect(pulled.status == 0, "\(pulled.stderr)")
    #expect(pulled.stdout.split(separator: "\n").filter { $0.contains(" pulled ") }.count == 6, "\(pulled.stdout)")
    #expect(try storeContents(work.path + "/c") == (try storeContents(work.path + "/a")))
  }

  @Test func aCorruptOrIncompleteBundleIsRefusedNamingTheMember() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writePipeline(work.path)
    let source = ["TCA_HOME": work.path + "/a"]
    #expect(try Executables.run("tca", ["run", "-q", pipeline], environment: source).status == 0)
    let key = linkedKey(work.path + "/a", "tiny", "prepare")
    let bundle = work.file("prepare.tar")
    let export = try Executables.run(
      "tca", ["export", pipeline, "--stage", "prepare", "-o", bundle], environment: source)
    #expect(export.status == 0, "\(export.stderr)")
    let original = try FileSystem.readFile(bundle)
    let member = "entries/\(key)/train.target.npy"

    // A flipped byte inside one member.
    var flipped = original
    flipped[try tarMemberOffset(bundle, member) + 130] ^= 0x01
    try FileSystem.writeFile(work.file("flipped.tar"), flipped)
    let home = ["TCA_HOME": work.path + "/b"]
    let corrupt = try Executables.run("tca", ["import", work.file("flipped.tar")], environment: home)
    #expect(corrupt.status == 1)
    #expect(corrupt.stderr.contains("member '\(member)'"), "\(corrupt.stderr)")
    #expect(corrupt.stderr.contains("the bundle is corrupt"))
    #expect(try storeContents(work.path + "/b").isEmpty)
    #expect(try FileSystem.listDirectory(work.path + "/b/tmp").isEmpty)

    // A member left out (rewritten by Python's tarfile without it).
    let missing = "entries/\(key)/train.user.npy"
    try runPython(
      """
      import sys, tarfile
      source = tarfile.open(sys.argv[1])
      with tarfile.open(sys.argv[2], 'w', format=tarfile.USTAR_FORMAT) as out:
          for info in source.getmembers():
              if info.name != sys.argv[3]:
                  out.addfile(info, source.extractfile(info))
      """, [bundle, work.file("missing.tar"), missing])
    let incomplete = try Executables.run("tca", ["import", work.file("missing.tar")], environment: home)
    #expect(incomplete.status == 1)
    #expect(incomplete.stderr.contains("is incomplete: '\(missing)'"), "\(incomplete.stderr)")
    #expect(try storeContents(work.path + "/b").isEmpty)

    // A copy cut short.
    try FileSystem.writeFile(work.file("cut.tar"), original.prefix(original.count / 2))
    let cut = try Executables.run("tca", ["import", work.file("cut.tar")], environment: home)
    #expect(cut.status == 1)
    #expect(cut.stderr.contains("truncated"), "\(cut.stderr)")
    #expect(try storeContents(work.path + "/b").isEmpty)

    // The intact bundle installs, and the rerun computes nothing.
    let good = try Executables.run("tca", ["import", bundle], environment: home)
    #expect(good.status == 0, "\(good.stderr)")
    let rerun = try Executables.run("tca", ["run", pipeline], environment: home)
    #expect(rerun.status == 0, "\(rerun.stderr)")
    #expect(!rerun.stdout.contains("computed"))
    #expect(try storeContents(work.path + "/b")[key] == (try storeContents(work.path + "/a")[key]))
  }

  @Test func twoConcurrentPushersLeaveOneConsistentRemoteAndAThirdHomePullsAndHits() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writePipeline(work.path, name: "shared", users: 20_000)
    let remote = work.path + "/remote"
    let processes = try ["a", "b"].map { home in
      try Executables.start(
        "tca", ["run", "--push", pipeline], environment: ["TCA_HOME": work.path + "/" + home, "TCA_REMOTE": remote])
    }
    for process in processes {
      let errors = (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
      _ = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      #expect(process.terminationStatus == 0, "\(String(decoding: errors, as: UTF8.self))")
    }
    let reference = try storeContents(work.path + "/a")
    #expect(reference.count == 2)
    #expect(try storeContents(work.path + "/b") == reference)
    #expect(try storeContents(remote) == reference)
    #expect(try FileSystem.listDirectory(remote + "/tmp").isEmpty)
    for key in reference.keys {
      let check = try Executables.run("tca", ["validate", "\(remote)/store/\(key.prefix(2))/\(key)"])
      #expect(check.status == 0, "\(check.stderr)")
    }

    // A third machine: another home, the same remote.
    let third = ["TCA_HOME": work.path + "/c", "TCA_REMOTE": remote]
    let status = try Executables.run("tca", ["status", pipeline], environment: third)
    #expect(status.stdout.contains("in the remote store '\(remote)'; `tca run` pulls it"), "\(status.stdout)")
    let pulled = try Executables.run("tca", ["run", pipeline], environment: third)
    #expect(pulled.status == 0, "\(pulled.stderr)")
    #expect(!pulled.stdout.contains("computed"))
    #expect(pulled.stdout.split(separator: "\n").filter { $0.contains(" pulled ") }.count == 2, "\(pulled.stdout)")
    #expect(try storeContents(work.path + "/c") == reference)
    let hit = try Executables.run("tca", ["run", pipeline], environment: third)
    #expect(hit.stderr.contains("every stage was a cache hit"))

    // A corrupt remote entry is a warning and a miss: the stage is computed locally.
    let prepareKey = linkedKey(work.path + "/a", "shared", "prepare")
    let damaged = "\(remote)/store/\(prepareKey.prefix(2))/\(prepareKey)/train.target.npy"
    var bytes = try FileSystem.readFile(damaged)
    bytes[bytes.count - 1] ^= 0x01
    try FileSystem.writeFile(damaged, bytes)
    let fourth = try Executables.run(
      "tca", ["run", pipeline], environment: ["TCA_HOME": work.path + "/d", "TCA_REMOTE": remote])
    #expect(fourth.status == 0, "\(fourth.stderr)")
    #expect(fourth.stderr.contains("train.target.npy"), "\(fourth.stderr)")
    #expect(fourth.stdout.split(separator: "\n").contains { $0.hasPrefix("prepare") && $0.contains("computed") })
    #expect(try storeContents(work.path + "/d") == reference)
  }

  @Test func partitionsFromSeveralHomesMergeThroughTheRemote() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeCFPipeline(work.path, extra: softLabelEntries)
    let remote = work.path + "/remote"
    let whole = try Executables.run(
      "tca", ["run", "-q", pipeline, "--only", "soft-labels"], environment: ["TCA_HOME": work.path + "/whole"])
    #expect(whole.status == 0, "\(whole.stderr)")
    // Two array tasks, each with its own home; the second pulls the upstream stages the first pushed.
    for index in 0..<2 {
      let task = try Executables.run(
        "tca",
        ["run", "-q", pipeline, "--only", "soft-labels", "soft-labels-ease", "--partition", "\(index)/2", "--push"],
        environment: ["TCA_HOME": work.path + "/task\(index)", "TCA_REMOTE": remote])
      #expect(task.status == 0, "\(task.stderr)")
    }
    let merger = ["TCA_HOME": work.path + "/merger", "TCA_REMOTE": remote]
    let merge = try Executables.run("tca", ["merge", pipeline, "--push"], environment: merger)
    #expect(merge.status == 0, "\(merge.stderr)")
    let key = linkedKey(work.path + "/whole", "cf", "soft-labels")
    #expect(linkedKey(work.path + "/merger", "cf", "soft-labels") == key)
    // The merged entry has the whole run's files (its manifest's metrics say it was merged).
    var published = try storeContents(remote)[key]
    var reference = try storeContents(work.path + "/whole")[key]
    #expect(published?.removeValue(forKey: "manifest.json") != nil)
    #expect(reference?.removeValue(forKey: "manifest.json") != nil)
    #expect(published == reference)
    // Anyone with the remote now hits every stage.
    let reader = try Executables.run(
      "tca", ["run", pipeline, "--only", "soft-labels"],
      environment: ["TCA_HOME": work.path + "/reader", "TCA_REMOTE": remote])
    #expect(reader.status == 0, "\(reader.stderr)")
    #expect(!reader.stdout.contains("computed"), "\(reader.stdout)")
  }

  @Test func pushWithoutARemoteIsAUsageError() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writePipeline(work.path)
    let result = try Executables.run(
      "tca", ["run", "--push", pipeline], environment: ["TCA_HOME": work.path + "/h", "TCA_REMOTE": ""])
    #expect(result.status == 64)
    #expect(result.stderr.contains("TCA_REMOTE"))
  }
}
