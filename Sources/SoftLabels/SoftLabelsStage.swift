import ArtifactFormats
import BPETokenizer
import CollaborativeFiltering
import DenseLinearAlgebra
import Foundation
import Interactions
import LogIngest
import PipelineCore
import TitleTrie

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The `soft-labels` stage: for every sample of the chosen splits, the CF model's token-level soft
/// labels along the target title's trie path (ARCHITECTURE.md §1, §4), written as MosaicML
/// Streaming MDS shards (§5) with the trie, tokenizer and item titles alongside, so a trainer needs
/// nothing else. Runs in partitions (`--partition i/n`) that `tca merge` combines into exactly the
/// files of one run.
public enum SoftLabelsStage: PipelineStage {
  public static let name = "soft-labels"
  /// 5: the statistics gained the kept mass per depth (`kept_mass_by_depth`, and `by_depth`'s
  /// `mean_topk_coverage` in report.json); the shards' bytes are those of version 4.
  /// 6: positions below the first token exponentiate relative to the first-token subtree's maximum
  /// and recompute a node below e⁻¹⁶ of it from its own (was 1e-20 of the sample's maximum): two
  /// items 41 nats below the best that were split 9.5e-7 off are within 3e-7 now; the last bits of
  /// most samples' deeper positions change. The exponential's polynomial is a term shorter
  /// (`FastMath.expNonPositive`): the last bits of most probabilities change.
  public static let version = 6
  public static let summary =
    "Computes exact token-level CF soft labels along each target's trie path and writes MDS shards (zstd)."

  public static var parameters: [ParameterSpecification] { SoftLabelsOptions.parameters }

  public static let inputs = [
    InputSpecification(name: "samples", producer: "prepare", summary: "the samples and item titles"),
    InputSpecification(name: "trie", producer: "trie", summary: "the title trie and its tokenizer"),
    InputSpecification(name: "cf", producer: "cf", summary: "the CF model whose scores become soft labels"),
  ]

  public static var declaredOutputs: [String] {
    [
      SoftLabelsLayout.indexFile, SoftLabelsLayout.reportFile, SoftLabelsLayout.statisticsFile,
      SoftLabelsLayout.itemsFile, TrieStage.tokenizerFile, TrieStage.specialTokensFile,
    ] + TitleTrie.fileNames
  }

  public static func rawFiles(_ parameters: StageParameters) throws(PipelineError) -> [String: String] { [:] }

  public static func normalizeParameters(_ parameters: StageParameters, file: String) throws(PipelineError)
    -> StageParameters
  { try SoftLabelsOptions.normalize(parameters, file: file) }

  public static var supportsPartitions: Bool { true }

  /// Samples per unit of work (a multiple of the user-vector sub-batch and of every tile width).
  /// A sample's labels do not depend on its unit: units only decide which thread computes what.
  static let unitSize = 128

  public static func run(_ context: StageContext) throws -> JSONValue {
    let options = try SoftLabelsOptions(context.parameters)
    let samplesDirectory = try context.input("samples")
    let trieDirectory = try context.input("trie")
    let cfDirectory = try context.input("cf")
    let diagnostics = context.diagnostics
    let loadStart = monotonicSeconds()
    let samples = try PreparedSamples.read(from: samplesDirectory)
    let special = try TokenizerStage.loadSpecialTokens(artifact: trieDirectory)
    let trie = try TitleTrie.read(from: trieDirectory)
    guard trie.itemCount == samples.items.count else {
      throw PipelineError.invalidArtifact(
        "the trie '\(trieDirectory)' has \(trie.itemCount) items but the samples '\(samplesDirectory)' have \(samples.items.count); build both from the same samples"
      )
    }
    let card = try CFArtifact.readCard(cfDirectory)
    guard card.itemCount == trie.itemCount else {
      throw PipelineError.invalidArtifact(
        "the cf model '\(cfDirectory)' scores \(card.itemCount) items but the samples have \(trie.itemCount); train it on the same samples"
      )
    }
    let tokenizer = options.template == nil ? nil : try TokenizerStage.loadTokenizer(artifact: trieDirectory)
    let plan = ShardPlan(
      splits: options.splits.map { ($0, samples[$0].count) }, shardSamples: options.shardSamples)
    let share = context.partition.map { plan.share($0) } ?? 0..<plan.shards.count
    let threads = Parallel.defaultThreadCount
    let computer = SoftLabelComputer(
      trie: trie, k: options.k, beta: options.beta, type: options.type, excludeHistory: options.excludeHistory)
    let configuration = SoftLabelsLayout.shardConfiguration(options)
    let prompt = tokenizer.map { tokenizer in
      PromptEncoder(
        template: options.template!, tokenizer: tokenizer, bos: options.promptBOS ? special.bos?.id : nil,
        titles: samples.items.map { $0.title ?? $0.rawID })
    }
    if let partition = context.partition {
      diagnostics.note(
        "soft-labels: partition \(partition) computes shards \(share.lowerBound)..<\(share.upperBound) of \(plan.shards.count)"
      )
    }

    let shards = share.map { plan.shards[$0] }
    // The cf model's files for every split of the share (an input, like the samples and the trie).
    var scorers: [(SplitName, any Scorer)] = []
    for split in shards.map(\.split) where !scorers.contains(where: { $0.0 == split }) {
      scorers.append((split, try CFArtifact.loadScorer(cfDirectory, split: split)))
    }
    diagnostics.detail(
      "soft-labels: loaded inputs and the cf model in \(formatDuration(monotonicSeconds() - loadStart))")

    let start = monotonicSeconds()
    var entries: [SplitName: [MDS.ShardEntry]] = [:]
    var statisticsLines: [JSONValue] = []
    var totals = LabelStatistics()
    let progress = ProgressReporter(
      diagnostics: diagnostics, label: "soft-labels", unit: "samples",
      total: Int64(share.reduce(0) { $0 + plan.shards[$1].range.count }))
    var packingSeconds = 0.0
    var timings = ShardPipeline.Timings()
    // OpenBLAS (a sequence model's forward pass, a general model's scores) stays at one thread:
    // the work is cut into blocks on our threads. Its idle pool, which spins for a tenth of a
    // second after the library loads (and after any change back to more threads), is ended, so
    // that it does not take the cores the labels need; no product runs on another thread here.
    let written = try DenseLinearAlgebra.withSingleThreadedBLAS {
      DenseLinearAlgebra.stopIdleThreads()
      var sources: [SplitName: ScoreSource] = [:]
      for (split, scorer) in scorers { sources[split] = ScoreSource(scorer: scorer, trie: trie) }
      packingSeconds = monotonicSeconds() - start
      // Without a prompt a sample's size follows from its history and target alone.
      let sampleSizes: ((ShardPlan.Shard) -> [Int])? =
        prompt != nil
        ? nil
        : { shard in
          let set = samples[shard.split]
          return shard.range.map {
            SoftLabelsLayout.sampleBytes(set, index: $0, computer: computer, configuration: configuration)
          }
        }
      let pipeline = ShardPipeline(
        shards: shards, sources: sources, samples: { samples[$0] }, computer: computer, prompt: prompt,
        sampleSizes: sampleSizes, configuration: configuration)
      // Multi-threaded zstd: jobs are compressed on zstd's threads while the writer waits for the
      // next unit, and the bytes do not depend on the thread count. One context for every shard.
      let compressor = try MDS.ShardCompressor(level: configuration.compressionLevel, threads: threads)
      return try pipeline.run(threads: threads, timings: &timings, progress: progress) { shard, sizes in
        try compressor.begin(
          sampleSizes: sizes, index: shard.index, configuration: configuration,
          directory: FileSystem.join(context.outputDirectory, shard.split.rawValue))
      }
    }
    for shard in written {
      entries[shard.shard.split, default: []].append(shard.entry)
      statisticsLines.append(
        SoftLabelsLayout.statisticsLine(split: shard.shard.split, shard: shard.shard.index, shard.statistics))
      totals.merge(shard.statistics)
    }
    diagnostics.detail(
      "soft-labels: wall time in seconds: packing the item vectors \(formatFixed(packingSeconds, digits: 3)); the writer waiting for units \(formatFixed(timings.waiting, digits: 3)), hashing, compressing and writing \(formatFixed(timings.writing, digits: 3))"
    )

    progress.finish()
    let computeSeconds = monotonicSeconds() - start
    // The inputs, loaded before the window, are freed after it, as the peers' are in the benchmark:
    // Swift releases each after its last use, which put the freeing of the samples' titles, the
    // trie, the model and the computer's tables inside it (6–12 ms of Toys' 0.35–0.45 s).
    withExtendedLifetime((samples, trie, card, tokenizer, computer, scorers, prompt)) {}

    try SoftLabelsLayout.writeIndexesAndReport(
      entries: entries, statisticsLines: statisticsLines, options: options, special: special,
      directory: context.outputDirectory)
    try SoftLabelsLayout.copyCompanions(
      trie: trieDirectory, samples: samplesDirectory, into: context.outputDirectory)

    let rawBytes = entries.values.joined().reduce(0) { $0 + $1.rawBytes }
    let zipBytes = entries.values.joined().reduce(0) { $0 + $1.zipBytes }
    let rate = computeSeconds > 0 ? Double(totals.samples) / computeSeconds : 0
    diagnostics.note(
      "soft-labels: \(totals.samples) samples, \(totals.positions) positions (\(totals.branchingPositions) branching), \(formatCount(Double(zipBytes)))B in \(share.count) shards, \(formatCount(rate)) samples/s on \(threads) threads"
    )
    var metrics: [String: JSONValue] = [
      "samples": JSONValue(totals.samples), "positions": JSONValue(totals.positions),
      "branching_positions": JSONValue(totals.branchingPositions), "shards": JSONValue(share.count),
      "raw_bytes": JSONValue(rawBytes), "zip_bytes": JSONValue(zipBytes),
      "compute_seconds": .number(computeSeconds), "samples_per_second": .number(rate),
      "threads": JSONValue(threads),
    ]
    if let partition = context.partition {
      metrics["partition"] = ["index": JSONValue(partition.index), "count": JSONValue(partition.count)]
    }
    return .object(metrics)
  }

  public static func validate(artifact directory: String, manifest: Manifest) throws {
    try SoftLabelsValidation.validate(directory: directory)
  }

  /// The same checks on a shard directory without a manifest (copied or downloaded): MDS structure,
  /// hashes, and the labels against the trie stored beside them.
  public static func validateShards(directory: String) throws {
    try SoftLabelsValidation.validate(directory: directory)
  }

  public static func mergePartitions(_ directories: [String], into directory: String, diagnostics: Diagnostics)
    throws -> JSONValue
  {
    try SoftLabelsLayout.merge(directories, into: directory, diagnostics: diagnostics)
  }
}

/// Where a batch's scores come from, always in trie order, and how they become labels.
enum ScoreSource {
  /// An embedding model with its item vectors packed once in trie order: the product runs chunk by
  /// chunk and each chunk of scores becomes exponentials and masses while it is in cache.
  case embedding(any EmbeddingScorer, items: PackedItems)
  /// Any other scorer (EASE, popularity): whole score rows in id order, gathered into trie order.
  case general(any Scorer, itemOrder: [UInt32])

  init(scorer: any Scorer, trie: TitleTrie) {
    if let embedding = scorer as? any EmbeddingScorer {
      let dimension = embedding.dimension
      let order = trie.itemOrder
      let packed = embedding.itemVectors.withUnsafeBufferPointer { vectors in
        // Read by the packing threads, while the array is held here.
        nonisolated(unsafe) let rows = vectors.baseAddress!
        return PackedItems(itemCount: trie.itemCount, dimension: dimension, threads: Parallel.defaultThreadCount) {
          position in rows + (Int(order[position]) - 1) * dimension
        }
      }
      self = .embedding(embedding, items: packed)
    } else {
      self = .general(scorer, itemOrder: trie.itemOrder)
    }
  }

  var dimension: Int {
    switch self {
    case .embedding(let scorer, _): return scorer.dimension
    case .general: return 0
    }
  }

  /// Samples per user-vector sub-batch.
  static let userChunk = 64

  /// One thread's scratch: its label workspace, the streaming state of the samples it has in
  /// flight, and one chunk of scores per user of a tile.
  final class Lane: @unchecked Sendable {
    let workspace: SoftLabelComputer.Workspace
    let computer: SoftLabelComputer
    var samples: [SoftLabelComputer.Sample] = []
    let scores = ScoreChunks()
    /// One unit's user vectors, in whole tiles.
    let users: UnsafeMutablePointer<Float>
    /// The sample being finished: encoded as soon as it is, so one set of arrays serves every
    /// sample while it is in cache (a unit's worth of them was about a megabyte, cold by the time
    /// the next unit reset it).
    var result = SampleLabels()

    init(computer: SoftLabelComputer, dimension: Int) {
      self.computer = computer
      let tiles = (SoftLabelsStage.unitSize + PackedItems.usersPerTile - 1) / PackedItems.usersPerTile
      let capacity = max(1, tiles * PackedItems.usersPerTile * dimension)
      users = .allocate(capacity: capacity)
      users.initialize(repeating: 0, count: capacity)
      workspace = computer.makeWorkspace()
    }

    deinit { users.deallocate() }

    func sample(_ index: Int) -> SoftLabelComputer.Sample {
      while samples.count <= index { samples.append(computer.makeSample()) }
      return samples[index]
    }
  }

  /// Consumes a tile's chunks for its `members` samples from `first` (the lane's chunk u for
  /// sample first + u): groups of `G` share one pass over the chunk's pieces, the rest go one by
  /// one (the same bits).
  @inline(__always)
  private static func consume<let G: Int>(
    _ group: InlineArray<G, Int>.Type, computer: SoftLabelComputer, lane: Lane, first: Int, members: Int, count: Int,
    maxima: UnsafeMutablePointer<Float>?
  ) {
    var user = 0
    while user + G <= members {
      let samples = InlineArray<G, SoftLabelComputer.Sample> { lane.sample(first + user + $0) }
      computer.consume(samples, chunks: lane.scores.chunks + user, count: count, maxima: maxima.map { $0 + user })
      user += G
    }
    while user < members {
      computer.consume(lane.sample(first + user), chunk: lane.scores.chunks[user], count: count, maximum: maxima?[user])
      user += 1
    }
  }

  /// Computes the labels of the samples `range` on the calling thread with `lane`, adds them to
  /// `statistics` and hands each to `emit` with its index, in order (the labels are the lane's
  /// reused arrays: valid during the call).
  func labels(
    _ samples: SampleSet, range: Range<Int>, computer: SoftLabelComputer, lane: Lane,
    statistics: inout LabelStatistics, emit: (Int, SampleLabels) -> Void
  ) {
    switch self {
    case .embedding(let scorer, let items):
      // User vectors in fixed sub-batches of 64 from the unit's start (units are multiples of 64
      // from the shard's start), so a sample's vector does not depend on the thread count.
      let dimension = scorer.dimension
      let tile = PackedItems.usersPerTile
      let tiles = (range.count + tile - 1) / tile
      let users = lane.users
      // The sub-batches below write every row of the range; the rows past it pad the last tile.
      (users + range.count * dimension).update(repeating: 0, count: (tiles * tile - range.count) * dimension)
      for lower in stride(from: range.lowerBound, to: range.upperBound, by: Self.userChunk) {
        let sub = lower..<min(range.upperBound, lower + Self.userChunk)
        scorer.userVectors(samples, range: sub, into: users + (lower - range.lowerBound) * dimension)
      }
      for row in 0..<range.count {
        let index = range.lowerBound + row
        computer.begin(lane.sample(row), target: samples.targets[index], history: samples.history(index))
      }
      // Every chunk of the packed items goes through all the unit's tiles while it is in cache.
      let panelsPerChunk = SoftLabelComputer.chunkItems / PackedItems.panelWidth
      for start in stride(from: 0, to: items.itemCount, by: SoftLabelComputer.chunkItems) {
        let count = min(SoftLabelComputer.chunkItems, items.itemCount - start)
        let firstPanel = start / PackedItems.panelWidth
        let panels = firstPanel..<min(items.panelCount, firstPanel + panelsPerChunk)
        // The last chunk's padding lanes (score 0) are in the kernel's maxima.
        let padded = panels.count * PackedItems.panelWidth != count
        for tileIndex in 0..<tiles {
          let members = min(tile, range.count - tileIndex * tile)
          items.scores(
            users: users + tileIndex * tile * dimension, count: members, panels: panels, into: lane.scores.chunks,
            maxima: lane.scores.maxima)
          // A tile's samples share passes over the chunk's pieces: AVX2's six at once (six arrays'
          // sums still fit its registers), AVX-512's eight as two groups of four.
          #if TCA_AVX512
            let group = InlineArray<4, Int>.self
          #else
            let group = InlineArray<6, Int>.self
          #endif
          Self.consume(
            group, computer: computer, lane: lane, first: tileIndex * tile, members: members, count: count,
            maxima: padded ? nil : lane.scores.maxima)
        }
      }
      for row in 0..<range.count {
        computer.finish(lane.sample(row), workspace: lane.workspace, statistics: &statistics, into: &lane.result)
        emit(range.lowerBound + row, lane.result)
      }
    case .general(let scorer, let itemOrder):
      let n = scorer.itemCount
      let byID = UnsafeMutablePointer<Float>.allocate(capacity: range.count * n)
      defer { byID.deallocate() }
      let inOrder = UnsafeMutablePointer<Float>.allocate(capacity: n)
      defer { inOrder.deallocate() }
      scorer.scores(samples, range: range, into: byID)
      for row in 0..<range.count {
        let index = range.lowerBound + row
        let from = byID + row * n
        for position in 0..<n { inOrder[position] = from[Int(itemOrder[position]) - 1] }
        computer.labels(
          scores: inOrder, target: samples.targets[index], history: samples.history(index),
          workspace: lane.workspace, statistics: &statistics, into: &lane.result)
        emit(index, lane.result)
      }
    }
  }
}

/// Renders and tokenizes the prompt of a sample.
struct PromptEncoder: Sendable {
  let template: String
  let tokenizer: Tokenizer
  let bos: UInt32?
  let titles: [String]

  func encode(history: ArraySlice<UInt32>) -> [UInt32] {
    let text = SoftLabelsOptions.render(
      template: template, titles: history.map { titles[Int($0) - 1] })
    let ids = tokenizer.encode(text, addSpecialTokens: false)
    guard let bos else { return ids }
    return [bos] + ids
  }
}
