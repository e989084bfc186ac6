import ArtifactFormats
import Foundation
import Interactions
import LogIngest
import PipelineCore

/// Computes a run of shards on worker threads and writes them, in order, from the calling thread.
///
/// The workers take units of `SoftLabelsStage.unitSize` samples in order from one counter, across
/// shard boundaries (no barrier between shards), and each encodes its units' MDS samples into a
/// builder of its own. The calling thread streams each shard (`MDS.ShardStream`): the header from
/// the samples' sizes, known before their scores (`sampleSizes`; with a prompt, whose tokens are
/// not, once the shard's units are in), then each unit's bytes as soon as it and the units before
/// it are done, hashed, compressed and written while the workers go on; so the writer keeps up
/// with the workers and only the last unit's compression is left when they finish. The workers
/// never start a unit more than one shard ahead of the shard being written, so at most about two
/// shards' units are in memory. A sample's bytes do not depend on the unit, worker or thread count.
final class ShardPipeline: @unchecked Sendable {
  /// One unit of work: samples `range` of the split of `plan[shard]`, the shard's unit number `slot`.
  struct Unit {
    var shard: Int
    var slot: Int
    var range: Range<Int>
  }

  /// One shard's results, filled by the workers (each unit writes its own slots, then sets `done`
  /// under the lock) and read by the writer unit by unit.
  final class ShardState {
    let shard: ShardPlan.Shard
    /// Guarded by the pipeline's condition: which units are done.
    let done: UnsafeMutableBufferPointer<Bool>
    /// Freed by the writer as it writes them.
    let builders: UnsafeMutableBufferPointer<MDS.ShardBuilder?>
    /// Per unit, its samples' statistics (added in sample order).
    let statistics: UnsafeMutableBufferPointer<LabelStatistics>
    /// Per unit, the first sample whose scores held NaN (a broken model), or -1.
    let invalid: UnsafeMutableBufferPointer<Int>

    init(shard: ShardPlan.Shard, units: Int) {
      self.shard = shard
      done = .allocate(capacity: units)
      done.initialize(repeating: false)
      builders = .allocate(capacity: units)
      builders.initialize(repeating: nil)
      statistics = .allocate(capacity: units)
      statistics.initialize(repeating: LabelStatistics())
      invalid = .allocate(capacity: units)
      invalid.initialize(repeating: -1)
    }

    deinit {
      done.deallocate()
      builders.deinitialize().deallocate()
      statistics.deinitialize().deallocate()
      invalid.deinitialize().deallocate()
    }
  }

  /// What the writer hands back per shard.
  struct Written {
    var shard: ShardPlan.Shard
    var entry: MDS.ShardEntry
    var statistics: LabelStatistics
  }

  /// Where the writer's wall time goes (`-v`).
  struct Timings {
    /// Waiting for units.
    var waiting = 0.0
    /// Hashing, compressing and writing (zstd's threads compress while the writer waits).
    var writing = 0.0
  }

  private let shards: [ShardState]
  private let units: [Unit]
  private let sources: [SplitName: ScoreSource]
  private let samples: (SplitName) -> SampleSet
  private let computer: SoftLabelComputer
  private let prompt: PromptEncoder?
  /// A shard's samples' sizes in bytes before they are computed (`nil`: taken from the units).
  private let sampleSizes: ((ShardPlan.Shard) -> [Int])?
  private let configuration: MDS.ShardConfiguration
  private let condition = NSCondition()
  /// Guarded by `condition`.
  private var nextUnit = 0
  private var writing = 0
  private var stopped = false

  init(
    shards plan: [ShardPlan.Shard], sources: [SplitName: ScoreSource], samples: @escaping (SplitName) -> SampleSet,
    computer: SoftLabelComputer, prompt: PromptEncoder?, sampleSizes: ((ShardPlan.Shard) -> [Int])?,
    configuration: MDS.ShardConfiguration
  ) {
    let unitSize = SoftLabelsStage.unitSize
    var units: [Unit] = []
    var shards: [ShardState] = []
    for (position, shard) in plan.enumerated() {
      let count = (shard.range.count + unitSize - 1) / unitSize
      shards.append(ShardState(shard: shard, units: count))
      for slot in 0..<count {
        let lower = shard.range.lowerBound + slot * unitSize
        units.append(Unit(shard: position, slot: slot, range: lower..<min(shard.range.upperBound, lower + unitSize)))
      }
    }
    self.shards = shards
    self.units = units
    self.sources = sources
    self.samples = samples
    self.computer = computer
    self.prompt = prompt
    self.sampleSizes = sampleSizes
    self.configuration = configuration
  }

  /// Runs `threads` workers and streams every shard, in order, into the stream `begin` opens for
  /// it with its samples' sizes, advancing `progress` by each unit written. On an error (a broken
  /// model's scores, a failed write) the workers stop before it is rethrown.
  func run(
    threads: Int, timings: inout Timings, progress: ProgressReporter,
    begin: (ShardPlan.Shard, [Int]) throws -> MDS.ShardStream
  ) throws -> [Written] {
    guard !units.isEmpty else { return [] }
    let dimension = sources.values.first?.dimension ?? 0
    let workers = (0..<max(1, min(threads, units.count))).map { _ in
      let lane = ScoreSource.Lane(computer: computer, dimension: dimension)
      return BackgroundTask<Void> { [self] in work(lane: lane) }
    }
    /// Waits (timed as waiting) until `ready` holds under the lock.
    func wait(until ready: () -> Bool) {
      let mark = monotonicSeconds()
      condition.lock()
      while !ready() { condition.wait() }
      condition.unlock()
      timings.waiting += monotonicSeconds() - mark
    }
    do {
      var written: [Written] = []
      for (position, state) in shards.enumerated() {
        let sizes: [Int]
        if let sampleSizes {
          sizes = sampleSizes(state.shard)
        } else {
          wait { state.done.allSatisfy { $0 } }
          sizes = state.builders.flatMap { $0?.sampleSizes ?? [] }
        }
        var mark = monotonicSeconds()
        let stream = try begin(state.shard, sizes)
        timings.writing += monotonicSeconds() - mark
        var next = 0
        for slot in state.builders.indices {
          wait { state.done[slot] }
          mark = monotonicSeconds()
          if state.invalid[slot] >= 0 {
            throw PipelineError.invalidArtifact(
              "the cf model's scores for sample \(state.invalid[slot]) of split '\(state.shard.split.rawValue)' contain NaN or infinity; the model is broken, retrain it (cf stage --force)"
            )
          }
          let builder = state.builders[slot]!
          let unitSizes = builder.sampleSizes
          let announced = sizes[next..<min(sizes.count, next + unitSizes.count)]
          guard unitSizes.elementsEqual(announced) else {
            throw PipelineError(
              .stageFailed,
              "soft-labels: the samples from \(state.shard.range.lowerBound + next) of split '\(state.shard.split.rawValue)' encode to \(unitSizes) bytes, not the \(Array(announced)) predicted; this is a bug, please report it"
            )
          }
          next += unitSizes.count
          try builder.withSampleBytes { (bytes) throws(PipelineError) in try stream.append(bytes) }
          state.builders[slot] = nil
          timings.writing += monotonicSeconds() - mark
          progress.advance(by: Int64(unitSizes.count))
        }
        mark = monotonicSeconds()
        let entry = try stream.finish()
        timings.writing += monotonicSeconds() - mark
        var statistics = LabelStatistics()
        for unit in state.statistics.indices { statistics.merge(state.statistics[unit]) }
        written.append(Written(shard: state.shard, entry: entry, statistics: statistics))
        condition.lock()
        writing = position + 1
        condition.broadcast()
        condition.unlock()
      }
      for worker in workers { try worker.wait() }
      return written
    } catch {
      condition.lock()
      stopped = true
      condition.broadcast()
      condition.unlock()
      for worker in workers { _ = try? worker.wait() }
      throw error
    }
  }

  /// One worker: units in order until none is left (or the writer stopped).
  private func work(lane: ScoreSource.Lane) {
    while true {
      condition.lock()
      while !stopped && nextUnit < units.count && units[nextUnit].shard > writing + 1 { condition.wait() }
      if stopped || nextUnit >= units.count {
        condition.unlock()
        return
      }
      let unit = units[nextUnit]
      nextUnit += 1
      condition.unlock()

      let state = shards[unit.shard]
      let split = state.shard.split
      let set = samples(split)
      var statistics = LabelStatistics()
      var builder = MDS.ShardBuilder(configuration: configuration, reserveBytes: unit.range.count * 1536)
      sources[split]!.labels(set, range: unit.range, computer: computer, lane: lane, statistics: &statistics) {
        index, labels in
        if labels.hasInvalidScores && state.invalid[unit.slot] < 0 { state.invalid[unit.slot] = index }
        SoftLabelsLayout.append(
          labels, sampleID: UInt64(index), user: set.users[index], item: set.targets[index],
          history: set.history(index), prompt: prompt?.encode(history: set.history(index)), to: &builder,
          type: computer.type)
      }
      state.statistics[unit.slot] = statistics
      state.builders[unit.slot] = builder

      condition.lock()
      state.done[unit.slot] = true
      condition.broadcast()
      condition.unlock()
    }
  }
}
