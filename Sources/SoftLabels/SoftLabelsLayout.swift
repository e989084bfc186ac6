import ArtifactFormats
import BPETokenizer
import Interactions
import LogIngest
import PipelineCore
import TitleTrie

/// How the samples of the chosen splits are cut into shards: by count, split after split, so shard
/// `s` holds the same samples however the work is partitioned.
struct ShardPlan: Sendable {
  struct Shard: Sendable, Equatable {
    var split: SplitName
    /// The shard's number within its split (its file is `<split>/shard.<index>.mds.zstd`).
    var index: Int
    /// Sample indices within the split.
    var range: Range<Int>
  }

  var shards: [Shard] = []

  init(splits: [(SplitName, Int)], shardSamples: Int) {
    for (split, count) in splits {
      for (index, lower) in stride(from: 0, to: count, by: shardSamples).enumerated() {
        shards.append(Shard(split: split, index: index, range: lower..<min(count, lower + shardSamples)))
      }
    }
  }

  /// The contiguous run of shards partition `partition` computes.
  func share(_ partition: StagePartition) -> Range<Int> { partition.share(of: shards.count) }
}

/// The files of a `soft-labels` artifact (Schemas/soft-labels.md):
///
/// - `index.json`: the root MDS index over every split's shards (basenames `<split>/shard.NNNNN.mds.zstd`),
///   so `StreamingDataset(local=DIR)` streams everything;
/// - `<split>/index.json` + `<split>/shard.NNNNN.mds.zstd`: each split on its own (`split=` in streaming);
/// - `report.json`: the configuration and per-split statistics; `shard_stats.jsonl`: the raw sums per shard;
/// - `items.jsonl` (the samples' items, for titles), the trie's arrays and `tokenizer.json`,
///   `special_tokens.json`: everything a trainer needs besides the shards.
enum SoftLabelsLayout {
  static let indexFile = "index.json"
  static let reportFile = "report.json"
  static let statisticsFile = "shard_stats.jsonl"
  static let itemsFile = PreparedSamples.itemsFile
  static let format = "tca.soft-labels/v1"

  static func columns(_ options: SoftLabelsOptions) -> [MDS.Column] {
    var columns: [MDS.Column] = [
      MDS.Column("sample_id", .uint64), MDS.Column("user", .uint32), MDS.Column("item", .uint32),
      MDS.Column("history", .ndarrayUInt32), MDS.Column("labels", .ndarrayUInt32),
      MDS.Column("nodes", .ndarrayUInt32), MDS.Column("soft_offsets", .ndarrayUInt32),
      MDS.Column("soft_ids", .ndarrayUInt32),
      MDS.Column("soft_probs", probabilityEncoding(options.type)),
    ]
    if options.template != nil { columns.append(MDS.Column("input_ids", .ndarrayUInt32)) }
    return columns
  }

  static func probabilityEncoding(_ type: ProbabilityType) -> MDS.Encoding {
    type == .float16 ? .ndarrayFloat16 : .ndarrayFloat32
  }

  /// `shard.NNNNN.mds.zstd`, as MDSWriter names shard `index`.
  static func zipBasename(index: Int) -> String {
    let digits = String(index)
    return "shard." + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".mds.zstd"
  }

  static func shardConfiguration(_ options: SoftLabelsOptions) -> MDS.ShardConfiguration {
    MDS.ShardConfiguration(columns: columns(options), compressionLevel: options.zstdLevel)
  }

  /// Appends one sample's columns in MDS column order (sorted by name).
  static func append(
    _ labels: SampleLabels, sampleID: UInt64, user: UInt32, item: UInt32, history: ArraySlice<UInt32>,
    prompt: [UInt32]?, to builder: inout MDS.ShardBuilder, type: ProbabilityType
  ) {
    builder.beginSample()
    history.withUnsafeBufferPointer { builder.append(uint32Array: $0) }
    if let prompt { prompt.withUnsafeBufferPointer { builder.append(uint32Array: $0) } }
    builder.append(uint32: item)
    labels.labels.withUnsafeBufferPointer { builder.append(uint32Array: $0) }
    labels.nodes.withUnsafeBufferPointer { builder.append(uint32Array: $0) }
    builder.append(uint64: sampleID)
    labels.softIDs.withUnsafeBufferPointer { builder.append(uint32Array: $0) }
    labels.softOffsets.withUnsafeBufferPointer { builder.append(uint32Array: $0) }
    switch type {
    case .float32:
      labels.softProbabilities.withUnsafeBufferPointer { builder.append(float32Array: $0) }
    case .float16:
      let bits = labels.softProbabilities.map { Float16($0).bitPattern }
      bits.withUnsafeBufferPointer { builder.append(float16Bits: $0) }
    }
    builder.append(uint32: user)
    builder.endSample()
  }

  /// The bytes `append` writes for the sample of `set` at `index` without a prompt, from its
  /// history and its target's path alone (its kept children are `min(children, k)` per branching
  /// position whatever the scores): so a shard's header is known before its samples are computed.
  static func sampleBytes(
    _ set: SampleSet, index: Int, computer: SoftLabelComputer, configuration: MDS.ShardConfiguration
  ) -> Int {
    let item = Int(set.targets[index])
    let positions = Int(computer.trie.itemTokenOffsets[item + 1] - computer.trie.itemTokenOffsets[item])
    let entries = Int(computer.itemSoftEntries[item])
    let (uint32s, probabilities) = (MDS.Encoding.ndarrayUInt32, probabilityEncoding(computer.type))
    return configuration.fixedSampleBytes + uint32s.encodedBytes(count: set.history(index).count)
      + 2 * uint32s.encodedBytes(count: positions) + uint32s.encodedBytes(count: positions + 1)
      + uint32s.encodedBytes(count: entries) + probabilities.encodedBytes(count: entries)
  }

  static func statisticsLine(split: SplitName, shard: Int, _ statistics: LabelStatistics) -> JSONValue {
    guard var object = statistics.json.objectValue else { preconditionFailure("statistics are an object") }
    object["split"] = .string(split.rawValue)
    object["shard"] = JSONValue(shard)
    return .object(object)
  }

  /// Writes every split's index, the root index, `shard_stats.jsonl` and `report.json` from the
  /// shards' entries and statistics (in shard order). One run and a merge of partitions both end
  /// here, which is why their files are identical. Returns the statistics over every split.
  @discardableResult
  static func writeIndexesAndReport(
    entries: [SplitName: [MDS.ShardEntry]], statisticsLines: [JSONValue], options: SoftLabelsOptions,
    special: TokenizerStage.SpecialTokens, directory: String
  ) throws -> LabelStatistics {
    var root: [MDS.ShardEntry] = []
    var splitReports: [String: JSONValue] = [:]
    var all = LabelStatistics()
    for split in options.splits {
      let splitEntries = entries[split] ?? []
      try FileSystem.createDirectory(FileSystem.join(directory, split.rawValue))
      try MDS.writeIndex(splitEntries, to: FileSystem.join(directory, split.rawValue, indexFile))
      root += splitEntries.map { $0.prefixed(split.rawValue) }
      var statistics = LabelStatistics()
      for line in statisticsLines where line["split"]?.stringValue == split.rawValue {
        statistics.merge(try LabelStatistics(json: line, file: FileSystem.join(directory, statisticsFile)))
      }
      all.merge(statistics)
      guard var report = statistics.summary.objectValue else { preconditionFailure("a summary is an object") }
      let rawBytes = splitEntries.reduce(0) { $0 + $1.rawBytes }
      let zipBytes = splitEntries.reduce(0) { $0 + $1.zipBytes }
      report["shards"] = JSONValue(splitEntries.count)
      report["raw_bytes"] = JSONValue(rawBytes)
      report["zip_bytes"] = JSONValue(zipBytes)
      report["zip_bytes_per_sample"] =
        statistics.samples == 0 ? .null : .number(Double(zipBytes) / Double(statistics.samples))
      report["compression_ratio"] = zipBytes == 0 ? .null : .number(Double(rawBytes) / Double(zipBytes))
      splitReports[split.rawValue] = .object(report)
    }
    try MDS.writeIndex(root, to: FileSystem.join(directory, indexFile))
    try JSONLines.write(statisticsLines, to: FileSystem.join(directory, statisticsFile))
    let configuration: JSONValue = [
      "k": options.k.map { JSONValue($0) } ?? "all",
      "beta": .number(options.beta),
      "dtype": .string(options.type.rawValue),
      "exclude_history": .bool(options.excludeHistory),
      "shard_samples": JSONValue(options.shardSamples),
      "zstd_level": JSONValue(Int(options.zstdLevel)),
      "splits": .array(options.splits.map { .string($0.rawValue) }),
      "columns": .array(
        columns(options).sorted { $0.name < $1.name }.map {
          ["name": .string($0.name), "encoding": .string($0.encoding.rawValue)]
        }),
      "prompt_template": options.template.map(JSONValue.string) ?? .null,
      "prompt_bos": .bool(options.promptBOS),
      "bos": special.bos.map { JSONValue(Int($0.id)) } ?? .null,
      "eos": special.eos.map { JSONValue(Int($0.id)) } ?? .null,
      "pad": special.pad.map { JSONValue(Int($0.id)) } ?? .null,
      "order": .string("per position: probability (as stored) descending, then token id ascending"),
    ]
    let report: JSONValue = [
      "format": .string(format),
      "configuration": configuration,
      "splits": .object(splitReports),
      "total": all.summary,
    ]
    try FileSystem.writeText(FileSystem.join(directory, reportFile), report.prettyText())
    return all
  }

  /// Copies the trie's arrays, its tokenizer files and the samples' `items.jsonl` next to the shards.
  static func copyCompanions(trie: String, samples: String, into directory: String) throws {
    for name in TitleTrie.fileNames + [TrieStage.tokenizerFile, TrieStage.specialTokensFile] {
      try copy(FileSystem.join(trie, name), to: FileSystem.join(directory, name))
    }
    try copy(FileSystem.join(samples, itemsFile), to: FileSystem.join(directory, itemsFile))
  }

  static func copy(_ source: String, to destination: String) throws {
    guard FileSystem.exists(source) else {
      throw PipelineError.invalidArtifact("'\(source)' is missing; rerun the stage that wrote it with --force")
    }
    try FileSystem.writeFile(destination, try FileSystem.readFile(source))
  }

  /// Combines partition outputs (in partition order) into `directory`: the shard files are copied,
  /// the indexes, statistics and report rewritten exactly as one run writes them.
  static func merge(_ directories: [String], into directory: String, diagnostics: Diagnostics) throws -> JSONValue {
    guard let first = directories.first else { throw PipelineError.usage("merge needs at least one partition") }
    let manifest = try Manifest.read(directory: first)
    let options = try SoftLabelsOptions(StageParameters(stage: SoftLabelsStage.name, values: manifest.params))
    let special = try TokenizerStage.loadSpecialTokens(artifact: first)
    var entries: [SplitName: [MDS.ShardEntry]] = [:]
    var statisticsLines: [JSONValue] = []
    var metrics: [String: Int] = [:]
    for partition in directories {
      for split in options.splits {
        let splitDirectory = FileSystem.join(partition, split.rawValue)
        let splitEntries = try MDS.readIndex(FileSystem.join(splitDirectory, indexFile))
        try FileSystem.createDirectory(FileSystem.join(directory, split.rawValue))
        for entry in splitEntries {
          try copy(
            FileSystem.join(splitDirectory, entry.zipBasename),
            to: FileSystem.join(directory, split.rawValue, entry.zipBasename))
          metrics["raw_bytes", default: 0] += entry.rawBytes
          metrics["zip_bytes", default: 0] += entry.zipBytes
          metrics["shards", default: 0] += 1
        }
        entries[split, default: []] += splitEntries
      }
      statisticsLines += try JSONLines.read(FileSystem.join(partition, statisticsFile))
    }
    for split in options.splits {
      let numbers = (entries[split] ?? []).map(\.zipBasename)
      let expected = (0..<numbers.count).map(zipBasename(index:))
      guard numbers == expected else {
        throw PipelineError.invalidArtifact(
          "the partitions' \(split.rawValue) shards are \(numbers.joined(separator: ", ")), not one contiguous run from shard 0; merge every partition of one run, in order"
        )
      }
    }
    let total = try writeIndexesAndReport(
      entries: entries, statisticsLines: statisticsLines, options: options, special: special, directory: directory)
    for name in TitleTrie.fileNames + [TrieStage.tokenizerFile, TrieStage.specialTokensFile, itemsFile] {
      try copy(FileSystem.join(first, name), to: FileSystem.join(directory, name))
    }
    diagnostics.note(
      "soft-labels: merged \(directories.count) partitions: \(metrics["shards", default: 0]) shards, \(total.samples) samples"
    )
    return [
      "samples": JSONValue(total.samples), "positions": JSONValue(total.positions),
      "branching_positions": JSONValue(total.branchingPositions), "shards": JSONValue(metrics["shards", default: 0]),
      "raw_bytes": JSONValue(metrics["raw_bytes", default: 0]),
      "zip_bytes": JSONValue(metrics["zip_bytes", default: 0]),
      "merged_partitions": JSONValue(directories.count),
    ]
  }
}
