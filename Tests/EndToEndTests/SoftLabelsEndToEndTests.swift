import Foundation
import PipelineCore
import TestSupport
import Testing

/// Soft-label entries over the small cf pipeline: SASRec's (embedding scorer, trie-ordered sgemm)
/// and EASE's (gathered scores), with small shards so partitions have several to share.
let softLabelEntries = """
    tokenizer:
      params: {mode: train, preset: gpt2, vocab_size: 400, min_frequency: 2}
    trie:
      params: {add_eos: true}
    soft-labels:
      params: {shard_samples: 300}
    soft-labels-ease:
      uses: soft-labels
      inputs: {cf: cf-ease}
      params: {k: all, splits: [train, valid], dtype: float16, beta: 0.5, shard_samples: 250}

  """

@Suite("The soft-labels stage through the driver", .serialized)
struct SoftLabelsEndToEndTests {
  /// Every file of an artifact but its manifest, by path → sha256.
  func fileHashes(_ directory: String) throws -> [String: String] {
    var hashes: [String: String] = [:]
    for path in try FileSystem.listFilesRecursively(directory) where path != "manifest.json" {
      hashes[path] = ContentHash.sha256(try FileSystem.readFile(directory + "/" + path))
    }
    return hashes
  }

  func manifestKey(_ directory: String) throws -> String? {
    try JSONParser.parse(try FileSystem.readFile(directory + "/manifest.json"))["key"]?.stringValue
  }

  @Test func partitionsMergedAreByteIdenticalToOneRun() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeCFPipeline(work.path, extra: softLabelEntries)
    let whole = ["TCA_HOME": work.path + "/whole"]
    let one = try Executables.run(
      "tca", ["run", "-q", pipeline, "--only", "soft-labels", "soft-labels-ease"], environment: whole)
    #expect(one.status == 0, "\(one.stderr)")
    let validation = try Executables.run(
      "tca", ["validate", work.path + "/whole/runs/cf/soft-labels", work.path + "/whole/runs/cf/soft-labels-ease"])
    #expect(validation.status == 0, "\(validation.stderr)")

    let parts = ["TCA_HOME": work.path + "/parts"]
    for index in 0..<3 {
      let run = try Executables.run(
        "tca", ["run", "-q", pipeline, "--only", "soft-labels", "soft-labels-ease", "--partition", "\(index)/3"],
        environment: parts)
      #expect(run.status == 0, "\(run.stderr)")
      if index == 0 {
        // Until every partition is there, merging names the missing ones.
        let early = try Executables.run("tca", ["merge", pipeline], environment: parts)
        #expect(early.status != 0)
        #expect(early.stderr.contains("missing: 1/3, 2/3"), "\(early.stderr)")
      }
    }
    let merge = try Executables.run("tca", ["merge", pipeline], environment: parts)
    #expect(merge.status == 0, "\(merge.stderr)")
    for entry in ["soft-labels", "soft-labels-ease"] {
      let single = "\(work.path)/whole/runs/cf/\(entry)"
      let merged = "\(work.path)/parts/runs/cf/\(entry)"
      #expect(try fileHashes(single) == fileHashes(merged), "\(entry)")
      #expect(try manifestKey(single) == manifestKey(merged))
      #expect(try Executables.run("tca", ["validate", merged]).status == 0)
    }
    // The merged entries are what a plain run looks for: every stage is a cache hit.
    let rerun = try Executables.run(
      "tca", ["run", pipeline, "--only", "soft-labels", "soft-labels-ease"], environment: parts)
    #expect(rerun.status == 0 && !rerun.stdout.contains(" computed "), "\(rerun.stdout)")
  }

  @Test func theThreadCountChangesNoByte() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeCFPipeline(work.path, extra: softLabelEntries)
    var hashes: [[String: String]] = []
    for threads in ["1", "3"] {
      let home = "\(work.path)/threads-\(threads)"
      let run = try Executables.run(
        "tca", ["run", "-q", pipeline, "--only", "soft-labels", "soft-labels-ease"],
        environment: ["TCA_HOME": home, "TCA_THREADS": threads])
      #expect(run.status == 0, "\(run.stderr)")
      var all: [String: String] = [:]
      for entry in ["cf", "cf-ease", "soft-labels", "soft-labels-ease"] {
        for (path, hash) in try fileHashes("\(home)/runs/cf/\(entry)") { all["\(entry)/\(path)"] = hash }
      }
      hashes.append(all)
    }
    #expect(hashes[0] == hashes[1])
    #expect(hashes[0].count > 20)
  }

  @Test func standalonePartitionsMergeIntoTheSameArtifact() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeCFPipeline(work.path, extra: softLabelEntries)
    let environment = ["TCA_HOME": work.path + "/home"]
    #expect(
      try Executables.run("tca", ["run", "-q", pipeline, "--only", "soft-labels"], environment: environment).status == 0
    )
    let runs = work.path + "/home/runs/cf"
    let params = try work.write("params.yaml", "shard_samples: 300\n")
    var directories: [String] = []
    for index in 0..<2 {
      let directory = "\(work.path)/part\(index)"
      let run = try Executables.run(
        "tca-soft-labels",
        [
          "-q", "--params", params, "--input", "samples=\(runs)/prepare", "--input", "trie=\(runs)/trie",
          "--input", "cf=\(runs)/cf", "--output", directory,
        ],
        environment: [
          "SLURM_ARRAY_TASK_ID": "\(index + 1)", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "2",
        ])
      #expect(run.status == 0, "\(run.stderr)")
      directories.append(directory)
    }
    let merged = work.path + "/merged"
    let merge = try Executables.run("tca", ["merge", "-q", "-o", merged] + directories.reversed())
    #expect(merge.status == 0, "\(merge.stderr)")
    #expect(try fileHashes(merged) == fileHashes(runs + "/soft-labels"))
    #expect(try manifestKey(merged) == manifestKey(runs + "/soft-labels"))
    let partial = try Executables.run("tca", ["merge", "-o", work.path + "/partial", directories[1]])
    #expect(partial.status != 0 && partial.stderr.contains("missing: 0/2"), "\(partial.stderr)")
  }

  @Test func validateCatchesAFlippedByteAndAnEditedIndex() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeCFPipeline(work.path, extra: softLabelEntries)
    #expect(
      try Executables.run(
        "tca", ["run", "-q", pipeline, "--only", "soft-labels"], environment: ["TCA_HOME": work.path + "/home"]
      )
      .status == 0)
    let source = work.path + "/home/runs/cf/soft-labels"
    func copy(_ name: String) throws -> String {
      let destination = work.path + "/" + name
      for path in try FileSystem.listFilesRecursively(source) {
        try FileSystem.createDirectory(FileSystem.parentPath(destination + "/" + path))
        try FileSystem.writeFile(destination + "/" + path, try FileSystem.readFile(source + "/" + path))
      }
      return destination
    }
    // A flipped byte in a shard: the manifest's hash and the index's sha256 both catch it.
    let flipped = try copy("flipped")
    var bytes = try FileSystem.readFile(flipped + "/train/shard.00001.mds.zstd")
    bytes[bytes.count / 2] ^= 0x10
    try FileSystem.writeFile(flipped + "/train/shard.00001.mds.zstd", bytes)
    let first = try Executables.run("tca", ["validate", flipped])
    #expect(first.status != 0 && first.stderr.contains("shard.00001.mds.zstd"), "\(first.stderr)")
    try FileSystem.removeTree(flipped + "/manifest.json")
    let bare = try Executables.run("tca", ["validate", flipped])
    #expect(bare.status != 0 && bare.stderr.contains("shard.00001.mds.zstd"), "\(bare.stderr)")

    // An index entry with an extra key (which would break mosaicml-streaming's reader).
    let edited = try copy("edited")
    try FileSystem.removeTree(edited + "/manifest.json")
    let index = try FileSystem.readText(edited + "/train/index.json")
    try FileSystem.writeText(
      edited + "/train/index.json", index.replacing("\"samples\":", with: "\"note\": 1, \"samples\":"))
    let second = try Executables.run("tca", ["validate", edited])
    #expect(second.status != 0 && second.stderr.contains("note"), "\(second.stderr)")
  }

  /// A `.npy` v1.0 file of little-endian float32 rows (what `np.save` writes for a 2-D array).
  func writeFloatMatrix(_ values: [Float], rows: Int, columns: Int, to path: String) throws {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    bytes += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
    values.withUnsafeBytes { bytes += $0 }
    try FileSystem.writeFile(path, bytes)
  }

  /// The tokenizer and trie entries the synthetic cf pipeline needs for soft labels.
  static let titleStages = """
      tokenizer:
        params: {mode: train, preset: gpt2, vocab_size: 400, min_frequency: 2}
      trie:
        params: {add_eos: true}
    """

  /// Prepares the synthetic cf pipeline's samples in `home`; returns the item count and each
  /// split's sample count (the rows an imported `.npy` needs).
  func prepareSynthetic(_ directory: String, home: String) throws -> (items: Int, rows: (String) throws -> Int) {
    let base = try writeCFPipeline(directory)
    #expect(
      try Executables.run("tca", ["run", "-q", base, "--only", "prepare"], environment: ["TCA_HOME": home]).status == 0)
    let prepare = home + "/runs/cf/prepare"
    let items = try FileSystem.readText(prepare + "/items.jsonl").split(separator: "\n").count
    return (
      items,
      { split in
        let bytes = try FileSystem.readFile("\(prepare)/\(split).target.npy")
        return (bytes.count - 10 - (Int(bytes[8]) | Int(bytes[9]) << 8)) / 4
      }
    )
  }

  @Test func importedScoresGiveTheShardsOfTheVectorsTheyAreTheProductsOf() throws {
    let work = try TemporaryDirectory()
    let home = work.path + "/home"
    let (items, rows) = try prepareSynthetic(work.path, home: home)
    var state: UInt64 = 5
    func uniform() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(state >> 40) / Float(1 << 24) * 4 - 2
    }
    let dimension = 8
    let itemVectors = (0..<(items * dimension)).map { _ in uniform() }
    try writeFloatMatrix(itemVectors, rows: items, columns: dimension, to: work.path + "/items.npy")
    for split in ["train", "valid", "test"] {
      let count = try rows(split)
      let users = (0..<(count * dimension)).map { _ in uniform() }
      try writeFloatMatrix(users, rows: count, columns: dimension, to: "\(work.path)/users-\(split).npy")
      // The soft-label kernel's product: one fused multiply-add chain per score, dimension by
      // dimension from 0 (a plain multiply and add gives other bits, and other shards). Train's file
      // has the optional padding column 0 (dropped on import).
      let padded = split == "train"
      var scores: [Float] = []
      for row in 0..<count {
        if padded { scores.append(-7) }
        for item in 0..<items {
          var score: Float = 0
          for k in 0..<dimension {
            score = score.addingProduct(users[row * dimension + k], itemVectors[item * dimension + k])
          }
          scores.append(score)
        }
      }
      try writeFloatMatrix(
        scores, rows: count, columns: items + (padded ? 1 : 0), to: "\(work.path)/scores-\(split).npy")
    }
    let vectors =
      "item_vectors: \(work.path)/items.npy, "
      + ["train", "valid", "test"].map {
        "user_vectors_\($0): \(work.path)/users-\($0).npy"
      }.joined(separator: ", ")
    let scores = ["train", "valid", "test"].map { "scores_\($0): \(work.path)/scores-\($0).npy" }
      .joined(separator: ", ")
    let pipeline = try writeCFPipeline(
      work.path,
      extra: """
        \(Self.titleStages)
          cf-vectors:
            uses: cf
            params: {model: external, \(vectors)}
          cf-scores:
            uses: cf
            params: {model: external, \(scores)}
          soft-labels-vectors:
            uses: soft-labels
            inputs: {cf: cf-vectors}
            params: {shard_samples: 200, k: 8, beta: 0.7, splits: [train, valid]}
          soft-labels-scores:
            uses: soft-labels
            inputs: {cf: cf-scores}
            params: {shard_samples: 200, k: 8, beta: 0.7, splits: [train, valid]}

        """)
    let run = try Executables.run(
      "tca", ["run", "-q", pipeline, "--only", "soft-labels-vectors", "soft-labels-scores"],
      environment: ["TCA_HOME": home])
    #expect(run.status == 0, "\(run.stderr)")
    let card = try FileSystem.readText(home + "/runs/cf/cf-scores/model.json")
    #expect(card.contains("\"external-scores\""), "\(card)")
    let validate = try Executables.run(
      "tca", ["validate", home + "/runs/cf/cf-scores", home + "/runs/cf/soft-labels-scores"],
      environment: ["TCA_HOME": home])
    #expect(validate.status == 0, "\(validate.stderr)")
    // Same scores, same labels: every shard and index byte for byte.
    let fromVectors = home + "/runs/cf/soft-labels-vectors"
    let fromScores = home + "/runs/cf/soft-labels-scores"
    let files = try FileSystem.listFilesRecursively(fromVectors).filter {
      $0.hasSuffix(".mds.zstd") || $0.hasSuffix("index.json")
    }
    #expect(files.count >= 5, "\(files)")
    for file in files {
      #expect(
        try FileSystem.readFile(fromVectors + "/" + file) == (try FileSystem.readFile(fromScores + "/" + file)),
        "\(file)")
    }

    // Bad imports: a wrong shape names the file and both shapes; scores with vectors, or a NaN, are refused.
    func importing(_ entry: String, _ params: String) throws -> Executables.Result {
      let file = try writeCFPipeline(
        work.path,
        extra: """
            \(entry):
              uses: cf
              params: {model: external, \(params)}

          """)
      return try Executables.run("tca", ["run", "-q", file, "--only", entry], environment: ["TCA_HOME": home])
    }
    try writeFloatMatrix([1, 2, 3], rows: 1, columns: 3, to: work.path + "/short.npy")
    let wrong = try importing(
      "cf-bad", "scores_valid: \(work.path)/short.npy, scores_test: \(work.path)/scores-test.npy")
    #expect(wrong.status != 0)
    #expect(wrong.stderr.contains("short.npy") && wrong.stderr.contains("has shape [1, 3]"), "\(wrong.stderr)")
    let mixed = try importing("cf-both", "\(vectors), scores_valid: \(work.path)/scores-valid.npy")
    #expect(mixed.status == 64, "\(mixed.stderr)")
    #expect(mixed.stderr.contains("exactly one of"), "\(mixed.stderr)")
    let validRows = try rows("valid")
    var nan = [Float](repeating: 0, count: validRows * items)
    nan[items + 2] = .nan
    try writeFloatMatrix(nan, rows: validRows, columns: items, to: work.path + "/nan.npy")
    let refused = try importing(
      "cf-nan", "scores_valid: \(work.path)/nan.npy, scores_test: \(work.path)/scores-test.npy")
    #expect(refused.status != 0)
    #expect(refused.stderr.contains("nan.npy': row 1, column 2 is nan"), "\(refused.stderr)")
  }

  @Test func aModelWhoseScoresOverflowStopsTheStageNamingTheSampleAndLeavesNothing() throws {
    let work = try TemporaryDirectory()
    let home = work.path + "/home"
    let (items, rows) = try prepareSynthetic(work.path, home: home)
    // Positive vectors everywhere; item 5's scores overflow to +infinity for every user.
    let dimension = 4
    var itemVectors = (0..<(items * dimension)).map { Float(1 + $0 % 5) / 5 }
    for k in 0..<dimension { itemVectors[4 * dimension + k] = .greatestFiniteMagnitude }
    try writeFloatMatrix(itemVectors, rows: items, columns: dimension, to: work.path + "/items.npy")
    for split in ["train", "valid", "test"] {
      let count = try rows(split)
      try writeFloatMatrix(
        (0..<(count * dimension)).map { Float(1 + $0 % 3) }, rows: count, columns: dimension,
        to: "\(work.path)/users-\(split).npy")
    }
    let pipeline = try writeCFPipeline(
      work.path,
      extra: """
        \(Self.titleStages)
          cf-overflow:
            uses: cf
            params: {model: external, item_vectors: \(work.path)/items.npy, user_vectors_train: \(work.path)/users-train.npy, user_vectors_valid: \(work.path)/users-valid.npy, user_vectors_test: \(work.path)/users-test.npy}
          soft-labels-overflow:
            uses: soft-labels
            inputs: {cf: cf-overflow}
            params: {shard_samples: 200}

        """)
    let run = try Executables.run(
      "tca", ["run", "-q", pipeline, "--only", "soft-labels-overflow"], environment: ["TCA_HOME": home])
    #expect(run.status == 1, "\(run.stderr)")
    #expect(run.stderr.contains("scores for sample 0 of split 'train' contain NaN or infinity"), "\(run.stderr)")
    #expect(!FileSystem.exists(home + "/runs/cf/soft-labels-overflow"))
    #expect(try FileSystem.listFilesRecursively(home + "/tmp").isEmpty)
  }
}
