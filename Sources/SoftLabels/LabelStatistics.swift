import PipelineCore

/// Additive counts and sums over the positions of a set of samples: what `report.json` summarises.
///
/// Shards keep their own (one line of `shard_stats.jsonl` each) and the report adds them in shard
/// order, so a partitioned run merged afterwards reports exactly what one run does: sums in double
/// precision are added in the same order either way.
struct LabelStatistics: Equatable, Sendable {
  /// Bins of the target-token probability histogram over [0, 1].
  static let histogramBins = 20

  var samples = 0
  var positions = 0
  var branchingPositions = 0
  /// Soft entries written (kept children over all positions).
  var keptChildren = 0
  /// Branching positions whose target token is among the kept children.
  var targetKept = 0
  /// Σ entropy (nats) of each position's full child distribution; single-child positions add 0.
  var entropySum: Double = 0
  /// Σ over branching positions of the probability mass the kept children carry.
  var keptMassSum: Double = 0
  /// Σ over branching positions of the target token's probability.
  var targetProbabilitySum: Double = 0
  /// Branching positions by the target token's probability, in `histogramBins` equal bins.
  var targetHistogram = [Int](repeating: 0, count: histogramBins)
  /// Per position index (0 = first title token): positions, branching positions, Σ entropy, and
  /// Σ over branching positions of the kept children's mass (where top-k loses mass: the root).
  var positionsByDepth: [Int] = []
  var branchingByDepth: [Int] = []
  var entropyByDepth: [Double] = []
  var keptMassByDepth: [Double] = []

  /// Counts a sample of `positions` positions that kept `keptChildren` soft entries in all (its
  /// branching positions are added one by one, `addBranching`): each depth's array is touched once
  /// per sample, not once per position.
  mutating func addSample(positions: Int, keptChildren: Int) {
    samples &+= 1
    self.positions &+= positions
    self.keptChildren &+= keptChildren
    while positionsByDepth.count < positions { appendDepth() }
    positionsByDepth.withUnsafeMutableBufferPointer { counts in
      for depth in 0..<positions { counts[depth] &+= 1 }
    }
  }

  /// Adds a branching position at `depth`: its entropy, the mass its kept children carry, the
  /// target token's probability and whether the target was kept.
  mutating func addBranching(depth: Int, entropy: Double, kept: Double, target: Double, targetKept: Bool) {
    while positionsByDepth.count <= depth { appendDepth() }
    branchingPositions += 1
    branchingByDepth[depth] += 1
    entropySum += entropy
    entropyByDepth[depth] += entropy
    keptMassSum += kept
    keptMassByDepth[depth] += kept
    targetProbabilitySum += target
    if targetKept { self.targetKept += 1 }
    // A broken model's NaN probability (the stage then stops with an error) counts in bin 0 rather
    // than trapping in the conversion.
    let scaled = target * Double(Self.histogramBins)
    targetHistogram[scaled.isNaN ? 0 : Int(min(Double(Self.histogramBins - 1), max(0, scaled)))] += 1
  }

  /// Adds `other`'s counts and sums to these (used in shard order).
  mutating func merge(_ other: LabelStatistics) {
    samples += other.samples
    positions += other.positions
    branchingPositions += other.branchingPositions
    keptChildren += other.keptChildren
    targetKept += other.targetKept
    entropySum += other.entropySum
    keptMassSum += other.keptMassSum
    targetProbabilitySum += other.targetProbabilitySum
    for bin in 0..<Self.histogramBins { targetHistogram[bin] += other.targetHistogram[bin] }
    for depth in 0..<other.positionsByDepth.count {
      while positionsByDepth.count <= depth { appendDepth() }
      positionsByDepth[depth] += other.positionsByDepth[depth]
      branchingByDepth[depth] += other.branchingByDepth[depth]
      entropyByDepth[depth] += other.entropyByDepth[depth]
      keptMassByDepth[depth] += other.keptMassByDepth[depth]
    }
  }

  /// One more position index, with nothing counted at it yet.
  private mutating func appendDepth() {
    positionsByDepth.append(0)
    branchingByDepth.append(0)
    entropyByDepth.append(0)
    keptMassByDepth.append(0)
  }

  /// The raw counts and sums (one `shard_stats.jsonl` line without its shard fields); doubles are
  /// written in shortest round-trip form, so `init(json:)` restores them exactly.
  var json: JSONValue {
    [
      "samples": JSONValue(samples), "positions": JSONValue(positions),
      "branching_positions": JSONValue(branchingPositions), "kept_children": JSONValue(keptChildren),
      "target_kept": JSONValue(targetKept), "entropy_sum": .number(entropySum), "kept_mass_sum": .number(keptMassSum),
      "target_probability_sum": .number(targetProbabilitySum), "target_histogram": JSONValue(targetHistogram),
      "positions_by_depth": JSONValue(positionsByDepth), "branching_by_depth": JSONValue(branchingByDepth),
      "entropy_by_depth": .array(entropyByDepth.map(JSONValue.number)),
      "kept_mass_by_depth": .array(keptMassByDepth.map(JSONValue.number)),
    ]
  }

  init() {}

  init(json: JSONValue, file: String) throws(PipelineError) {
    func integer(_ key: String) throws(PipelineError) -> Int {
      guard let value = json[key]?.integerValue, value >= 0 else {
        throw .invalidArtifact("'\(file)': field '\(key)' must be a non-negative integer; recompute the soft labels")
      }
      return Int(value)
    }
    func number(_ key: String) throws(PipelineError) -> Double {
      guard let value = json[key]?.numberValue else {
        throw .invalidArtifact("'\(file)': field '\(key)' must be a number; recompute the soft labels")
      }
      return value
    }
    func numbers(_ key: String) throws(PipelineError) -> [JSONValue] {
      guard let array = json[key]?.arrayValue, array.allSatisfy({ $0.numberValue != nil }) else {
        throw .invalidArtifact("'\(file)': field '\(key)' must be an array of numbers; recompute the soft labels")
      }
      return array
    }
    func integers(_ key: String) throws(PipelineError) -> [Int] {
      let array = try numbers(key)
      guard array.allSatisfy({ ($0.integerValue ?? -1) >= 0 }) else {
        throw .invalidArtifact(
          "'\(file)': field '\(key)' must be an array of non-negative integers; recompute the soft labels")
      }
      return array.map { Int($0.integerValue!) }
    }
    samples = try integer("samples")
    positions = try integer("positions")
    branchingPositions = try integer("branching_positions")
    keptChildren = try integer("kept_children")
    targetKept = try integer("target_kept")
    entropySum = try number("entropy_sum")
    keptMassSum = try number("kept_mass_sum")
    targetProbabilitySum = try number("target_probability_sum")
    targetHistogram = try integers("target_histogram")
    positionsByDepth = try integers("positions_by_depth")
    branchingByDepth = try integers("branching_by_depth")
    entropyByDepth = try numbers("entropy_by_depth").map { $0.numberValue! }
    keptMassByDepth = try numbers("kept_mass_by_depth").map { $0.numberValue! }
    guard targetHistogram.count == Self.histogramBins, branchingByDepth.count == positionsByDepth.count,
      entropyByDepth.count == positionsByDepth.count, keptMassByDepth.count == positionsByDepth.count
    else {
      throw .invalidArtifact("'\(file)': the per-depth and histogram arrays have the wrong lengths; recompute")
    }
  }

  /// The summary `report.json` shows for a split: totals, means, the histogram and per-depth means.
  var summary: JSONValue {
    func ratio(_ a: Double, _ b: Int) -> JSONValue { b == 0 ? .null : .number(a / Double(b)) }
    return [
      "samples": JSONValue(samples),
      "positions": JSONValue(positions),
      "positions_per_sample": ratio(Double(positions), samples),
      "branching_positions": JSONValue(branchingPositions),
      "branching_share": ratio(Double(branchingPositions), positions),
      "soft_entries": JSONValue(keptChildren),
      "soft_entries_per_position": ratio(Double(keptChildren), positions),
      "mean_entropy": ratio(entropySum, positions),
      "mean_entropy_branching": ratio(entropySum, branchingPositions),
      "mean_topk_coverage": ratio(keptMassSum, branchingPositions),
      "target_in_topk": ratio(Double(targetKept), branchingPositions),
      "mean_target_probability": ratio(targetProbabilitySum, branchingPositions),
      "target_probability_histogram": [
        "bins": JSONValue(Self.histogramBins), "counts": JSONValue(targetHistogram),
      ],
      "by_depth": .array(
        (0..<positionsByDepth.count).map { depth in
          [
            "depth": JSONValue(depth), "positions": JSONValue(positionsByDepth[depth]),
            "branching": JSONValue(branchingByDepth[depth]),
            "mean_entropy": ratio(entropyByDepth[depth], positionsByDepth[depth]),
            "mean_topk_coverage": ratio(keptMassByDepth[depth], branchingByDepth[depth]),
          ]
        }),
    ]
  }
}
