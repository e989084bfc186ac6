import ArtifactFormats
import Foundation
import Interactions
import LogIngest
import PipelineCore

/// Computes a run of shards on worker threads and writes them, in order, from the calling thread.
///
/// The workers take units of `SoftLabelsStage.unitSize` samples in order from one counter, across
/// shard boundaries (no barrier between shards), and each encodes its units' MDS samples into a
/// builder of its own. The calling thread waits for each shard's units, joins them into the raw
/// shard, then compresses, hashes and writes it while the workers go on with the next shard. The
/// workers never start a unit more than one shard ahead of the shard being written, so about two
/// shards are in memory. A sample's bytes do not depend on the unit, worker or thread count.
final class ShardPipeline: @unchecked Sendable {
  /// One unit of work: samples `range` of the split of `plan[shard]`, the shard's unit number `slot`.
  struct Unit {
    var shard: Int
    var slot: Int
    var range: Range<Int>
  }

  /// One shard's results, filled by the workers (each unit writes its own slots) and read by the
  /// writer once `remaining` is 0.
  final class ShardState {
    let shard: ShardPlan.Shard
    var remaining: Int
    let builders: UnsafeMutableBufferPointer<MDS.ShardBuilder?>
    /// Per unit, its samples' statistics (added in sample order).
    let statistics: UnsafeMutableBufferPointer<LabelStatistics>
    /// Per unit, the first sample whose scores held NaN (a broken model), or -1.
    let invalid: UnsafeMutableBufferPointer<Int>

    init(shard: ShardPlan.Shard, units: Int) {
      self.shard = shard
      remaining = units
      builders = .allocate(capacity: units)
      builders.initialize(repeating: nil)
      statistics = .allocate(capacity: units)
      statistics.initialize(repeating: LabelStatistics())
      invalid = .allocate(capacity: units)
      invalid.initialize(repeating: -1)
    }

    /// Frees the shard's builders once it is written.
    func release() {
      for index in builders.indices { builders[index] = nil }
    }

    deinit {
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
    /// Waiting for a shard's last units.
    var waiting = 0.0
    /// Joining the units' bytes and the statistics.
    var joining = 0.0
    /// Compressing, hashing and writing.
    var writing = 0.0
  }

  private let shards: [ShardState]
  private let units: [Unit]
  private let sources: [SplitName: ScoreSource]
  private let samples: (SplitName) -> SampleSet
  private let computer: SoftLabelComputer
  private let prompt: PromptEncoder?
  private let configuration: MDS.ShardConfiguration
  private let condition = NSCondition()
  /// Guarded by `condition`.
  private var nextUnit = 0
  private var writing = 0
  private var stopped = false

  init(
    shards plan: [ShardPlan.Shard], sources: [SplitName: ScoreSource], samples: @escaping (SplitName) -> SampleSet,
    computer: SoftLabelComputer, prompt: PromptEncoder?, configuration: MDS.ShardConfiguration
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
    self.configuration = configuration
  }

  /// Runs `threads` workers and writes every shard with `write`, in order; returns what `write`
  /// returned. On an error (a broken model's scores, a failed write) the workers stop before it is
  /// rethrown.
  func run(
    threads: Int, timings: inout Timings, write: (ShardPlan.Shard, [UInt8]) throws -> MDS.ShardEntry
  ) throws -> [Written] {
    guard !units.isEmpty else { return [] }
    let dimension = sources.values.first?.dimension ?? 0
    let workers = (0..<max(1, min(threads, units.count))).map { _ in
      let lane = ScoreSource.Lane(computer: computer, dimension: dimension)
      return BackgroundTask<Void> { [self] in work(lane: lane) }
    }
    do {
      var written: [Written] = []
      for (position, state) in shards.enumerated() {
        var mark = monotonicSeconds()
        condition.lock()
        while state.remaining > 0 { condition.wait() }
        condition.unlock()
        timings.waiting += monotonicSeconds() - mark
        mark = monotonicSeconds()
        if let index = state.invalid.first(where: { $0 >= 0 }) {
          throw PipelineError.invalidArtifact(
            "the cf model's scores for sample \(index) of split '\(state.shard.split.rawValue)' contain NaN or infinity; the model is broken, retrain it (cf stage --force)"
          )
        }
        var statistics = LabelStatistics()
        for unit in state.statistics.indices { statistics.merge(state.statistics[unit]) }
        let raw = try MDS.ShardBuilder.finish(joining: state.builders.map { $0! })
        timings.joining += monotonicSeconds() - mark
        mark = monotonicSeconds()
        let entry = try write(state.shard, raw)
        timings.writing += monotonicSeconds() - mark
        written.append(Written(shard: state.shard, entry: entry, statistics: statistics))
        condition.lock()
        writing = position + 1
        state.release()
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
      sources[split]!.labels(
        set, range: unit.range, computer: computer, lane: lane, results: lane.results, statistics: &statistics)
      state.statistics[unit.slot] = statistics
      var builder = MDS.ShardBuilder(configuration: configuration, reserveBytes: unit.range.count * 1536)
      for (row, index) in unit.range.enumerated() {
        if lane.results[row].hasInvalidScores && state.invalid[unit.slot] < 0 { state.invalid[unit.slot] = index }
        SoftLabelsLayout.append(
          lane.results[row], sampleID: UInt64(index), user: set.users[index], item: set.targets[index],
          history: set.history(index), prompt: prompt?.encode(history: set.history(index)), to: &builder,
          type: computer.type)
      }
      state.builders[unit.slot] = builder

      condition.lock()
      state.remaining -= 1
      if state.remaining == 0 { condition.broadcast() }
      condition.unlock()
    }
  }
}
