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
  public static let version = 1
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

  /// Samples per scoring batch; batches restart at every shard, so a sample's batch (and with it
  /// every float of its scores) is the same in a partitioned run as in one run.
  static let batchSize = 256

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
    diagnostics.detail("soft-labels: loaded inputs in \(formatDuration(monotonicSeconds() - loadStart))")
    if let partition = context.partition {
      diagnostics.note(
        "soft-labels: partition \(partition) computes shards \(share.lowerBound)..<\(share.upperBound) of \(plan.shards.count)"
      )
    }

    let start = monotonicSeconds()
    var entries: [SplitName: [MDS.ShardEntry]] = [:]
    var statisticsLines: [JSONValue] = []
    var totals = LabelStatistics()
    var scoring: (split: SplitName, source: ScoreSource)?
    let writer = BackgroundShardWriter(configuration: configuration)
    var timings = PhaseTimings()
    let progress = ProgressReporter(
      diagnostics: diagnostics, label: "soft-labels", unit: "samples",
      total: Int64(share.reduce(0) { $0 + plan.shards[$1].range.count }))
    do {
      for shardNumber in share {
        let shard = plan.shards[shardNumber]
        if scoring?.split != shard.split {
          let scorer = try CFArtifact.loadScorer(cfDirectory, split: shard.split)
          scoring = (shard.split, ScoreSource(scorer: scorer, trie: trie))
        }
        let split = samples[shard.split]
        // OpenBLAS stays at one thread throughout: the products are cut into blocks on our threads,
        // and its own pool would otherwise spin between calls on the cores the labels need.
        let output = try DenseLinearAlgebra.withSingleThreadedBLAS {
          try computeShard(
            shard, samples: split, source: scoring!.source, computer: computer, prompt: prompt, threads: threads,
            configuration: configuration, progress: progress, timings: &timings)
        }
        try writer.submit(
          output.raw, split: shard.split, samples: shard.range.count, index: shard.index,
          directory: FileSystem.join(context.outputDirectory, shard.split.rawValue))
        statisticsLines.append(
          SoftLabelsLayout.statisticsLine(split: shard.split, shard: shard.index, output.statistics))
        totals.merge(output.statistics)
      }
    } catch {
      // Let a shard still being written finish before the work directory is removed.
      _ = try? writer.finish()
      throw error
    }
    let mark = monotonicSeconds()
    for (split, entry) in try writer.finish() { entries[split, default: []].append(entry) }
    timings.waitingForWriter = monotonicSeconds() - mark
    diagnostics.detail(
      "soft-labels: wall time in scoring \(formatDuration(timings.scoring)), labels \(formatDuration(timings.labels)), encoding \(formatDuration(timings.encoding)), waiting for the last shard's write \(formatDuration(timings.waitingForWriter))"
    )

    progress.finish()
    let computeSeconds = monotonicSeconds() - start

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

  /// Where the wall time goes (`-v`).
  struct PhaseTimings {
    var scoring = 0.0
    var labels = 0.0
    var encoding = 0.0
    var waitingForWriter = 0.0
  }

  /// One shard's raw MDS bytes and statistics.
  struct ShardOutput {
    var raw: [UInt8]
    var statistics: LabelStatistics
  }

  /// Scores, labels and encodes the samples of `shard`, batch by batch.
  static func computeShard(
    _ shard: ShardPlan.Shard, samples: SampleSet, source: ScoreSource, computer: SoftLabelComputer,
    prompt: PromptEncoder?, threads: Int, configuration: MDS.ShardConfiguration, progress: ProgressReporter,
    timings: inout PhaseTimings
  ) throws -> ShardOutput {
    let itemCount = computer.trie.itemCount
    let rows = min(batchSize, shard.range.count)
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: rows * itemCount)
    defer { scores.deallocate() }
    let workspaces = (0..<threads).map { _ in computer.makeWorkspace() }
    var builder = MDS.ShardBuilder(configuration: configuration, reserveBytes: shard.range.count * 1024)
    var statistics = LabelStatistics()
    for lower in stride(from: shard.range.lowerBound, to: shard.range.upperBound, by: batchSize) {
      let batch = lower..<min(shard.range.upperBound, lower + batchSize)
      var mark = monotonicSeconds()
      source.scores(samples, range: batch, into: scores, threads: threads)
      timings.scoring += monotonicSeconds() - mark
      mark = monotonicSeconds()
      var results = [SampleLabels](repeating: SampleLabels(), count: batch.count)
      var batchStatistics = [LabelStatistics](repeating: LabelStatistics(), count: batch.count)
      var prompts = [[UInt32]](repeating: [], count: prompt == nil ? 0 : batch.count)
      let scoresPointer = DisjointPointer(scores)
      results.withUnsafeMutableBufferPointer { resultsBuffer in
        batchStatistics.withUnsafeMutableBufferPointer { statisticsBuffer in
          prompts.withUnsafeMutableBufferPointer { promptBuffer in
            let (resultsOut, statisticsOut) = (DisjointPointer(resultsBuffer), DisjointPointer(statisticsBuffer))
            let promptsOut = promptBuffer.baseAddress.map(DisjointPointer.init)
            let workers = min(threads, batch.count)
            Parallel.forEach(workers, threads: workers) { worker in
              for row in stride(from: worker, to: batch.count, by: workers) {
                let index = batch.lowerBound + row
                var rowStatistics = LabelStatistics()
                resultsOut[row] = computer.labels(
                  scores: scoresPointer.base + row * itemCount, target: samples.targets[index],
                  history: samples.history(index), workspace: workspaces[worker], statistics: &rowStatistics)
                statisticsOut[row] = rowStatistics
                if let prompt, let promptsOut { promptsOut[row] = prompt.encode(history: samples.history(index)) }
              }
            }
          }
        }
      }
      timings.labels += monotonicSeconds() - mark
      mark = monotonicSeconds()
      for row in 0..<batch.count {
        let index = batch.lowerBound + row
        if results[row].hasInvalidScores {
          throw PipelineError.invalidArtifact(
            "the cf model's scores for sample \(index) contain NaN; the model is broken, retrain it (cf stage --force)")
        }
        statistics.merge(batchStatistics[row])
        SoftLabelsLayout.append(
          results[row], sampleID: UInt64(index), user: samples.users[index], item: samples.targets[index],
          history: samples.history(index), prompt: prompt == nil ? nil : prompts[row], to: &builder,
          type: computer.type)
      }
      timings.encoding += monotonicSeconds() - mark
      progress.advance(by: Int64(batch.count))
    }
    return ShardOutput(raw: try builder.finish(), statistics: statistics)
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

/// Compresses, hashes and writes finished shards on a background thread, in order, while the next
/// shard is computed; at most one shard waits, so memory stays at two shards' raw bytes.
final class BackgroundShardWriter: @unchecked Sendable {
  private let configuration: MDS.ShardConfiguration
  private let queue = DispatchQueue(label: "soft-labels.shard-writer")
  private let slot = DispatchSemaphore(value: 1)
  private let lock = NSLock()
  private var written: [(SplitName, MDS.ShardEntry)] = []
  private var failure: (any Error)?

  init(configuration: MDS.ShardConfiguration) { self.configuration = configuration }

  /// Queues one shard (waiting while the previous one is still being written); rethrows an
  /// earlier shard's failure.
  func submit(_ raw: [UInt8], split: SplitName, samples: Int, index: Int, directory: String) throws {
    slot.wait()
    if let failure = lock.withLock({ self.failure }) {
      slot.signal()
      throw failure
    }
    let configuration = configuration
    queue.async {
      defer { self.slot.signal() }
      do {
        let entry = try MDS.writeShard(
          raw, samples: samples, index: index, configuration: configuration, directory: directory)
        self.lock.withLock { self.written.append((split, entry)) }
      } catch {
        self.lock.withLock { self.failure = error }
      }
    }
  }

  /// Waits for every queued shard and returns the entries in submission order.
  func finish() throws -> [(SplitName, MDS.ShardEntry)] {
    queue.sync {}
    return try lock.withLock {
      if let failure { throw failure }
      return written
    }
  }
}

/// Where a batch's scores come from, always written in trie order.
enum ScoreSource {
  /// An embedding model with its item vectors reordered into trie order once: one sgemm per batch
  /// gives trie-ordered scores directly.
  case embedding(any EmbeddingScorer, trieOrderedItems: [Float])
  /// Any other scorer (EASE, popularity): scores in id order, gathered into trie order.
  case general(any Scorer, itemOrder: [UInt32])

  init(scorer: any Scorer, trie: TitleTrie) {
    if let embedding = scorer as? any EmbeddingScorer {
      let dimension = embedding.dimension
      var reordered = [Float](repeating: 0, count: trie.itemCount * dimension)
      embedding.itemVectors.withUnsafeBufferPointer { vectors in
        for (position, item) in trie.itemOrder.enumerated() {
          let source = (Int(item) - 1) * dimension
          for column in 0..<dimension { reordered[position * dimension + column] = vectors[source + column] }
        }
      }
      self = .embedding(embedding, trieOrderedItems: reordered)
    } else {
      self = .general(scorer, itemOrder: trie.itemOrder)
    }
  }

  /// Samples per user-vector sub-batch.
  static let userChunk = 64

  /// Writes `range.count` rows of N scores in trie order.
  func scores(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>, threads: Int) {
    switch self {
    case .embedding(let scorer, let items):
      // User vectors in fixed sub-batches of 64 on every thread (a sequence model's forward pass
      // would otherwise leave the other cores idle); the sub-batches start at the batch's start,
      // so a sample's vector does not depend on the thread count.
      let dimension = scorer.dimension
      let users = UnsafeMutablePointer<Float>.allocate(capacity: range.count * dimension)
      defer { users.deallocate() }
      let usersOut = DisjointPointer(users)
      let chunks = (range.count + Self.userChunk - 1) / Self.userChunk
      Parallel.forEach(chunks, threads: threads) { chunk in
        let lower = range.lowerBound + chunk * Self.userChunk
        let sub = lower..<min(range.upperBound, lower + Self.userChunk)
        scorer.userVectors(samples, range: sub, into: usersOut.base + (lower - range.lowerBound) * dimension)
      }
      items.withUnsafeBufferPointer { items in
        scorer.product(
          users: users, rows: range.count, against: items.baseAddress!, count: scorer.itemCount, into: output)
      }
    case .general(let scorer, let itemOrder):
      let n = scorer.itemCount
      let byID = UnsafeMutablePointer<Float>.allocate(capacity: range.count * n)
      defer { byID.deallocate() }
      scorer.scores(samples, range: range, into: byID)
      let (source, destination) = (DisjointPointer(byID), DisjointPointer(output))
      itemOrder.withUnsafeBufferPointer { order in
        let order = DisjointPointer(UnsafeMutablePointer(mutating: order.baseAddress!))
        Parallel.forEach(range.count, threads: threads) { row in
          let from = source.base + row * n
          let to = destination.base + row * n
          for position in 0..<n { to[position] = from[Int(order[position]) - 1] }
        }
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
