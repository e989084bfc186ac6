import LogIngest
import PipelineCore

/// Seeded down-sampling of a split: choose `count` samples uniformly without replacement, then keep
/// them in their original order (`seeded`), or draw them as pandas does (`numpy`, in drawn order).
///
/// Split `k` (train 0, valid 1, test 2) draws from `SeededGenerator(seed: seed &+ k &* 0x9E3779B97F4A7C15)`,
/// so changing one split's count never changes another split's choice. The draw is a partial
/// Fisher–Yates shuffle of the indices `0..<n` with `SeededGenerator.nextInt(below:)`.
enum Downsampling {
  static func generator(seed: Int64, split: SplitName) -> SeededGenerator {
    let index = UInt64(SplitName.allCases.firstIndex(of: split)!)
    return SeededGenerator(seed: UInt64(bitPattern: seed) &+ index &* 0x9E37_79B9_7F4A_7C15)
  }

  /// The ascending indices of `count` samples chosen from `0..<total`; all of them when `count` is 0
  /// or at least `total`.
  ///
  /// - Complexity: O(`total` + `count` log `count`).
  static func chosenIndices(total: Int, count: Int, generator: inout SeededGenerator) -> [Int] {
    guard count > 0, count < total else { return Array(0..<total) }
    var indices = Array(0..<total)
    for position in 0..<count {
      let other = position + generator.nextInt(below: total - position)
      indices.swapAt(position, other)
    }
    return indices[0..<count].sorted()
  }

  /// The indices of `count` samples of `total` as pandas' `sample(count, random_state=seed)` draws
  /// them, in drawn order; all of them, in order, when `count` is at least `total` (pandas' own rule
  /// in the official script: it samples only when the split is larger).
  static func numpyIndices(total: Int, count: Int, seed: Int64) -> [Int] {
    guard count < total else { return Array(0..<total) }
    var state = NumPyRandomState(seed: UInt32(seed))
    return state.choice(total: total, count: count)
  }

  /// Applies `options.downsample` to every split.
  static func apply(_ splits: inout [SplitName: SampleSet], options: PrepareOptions) {
    for split in SplitName.allCases {
      let count = options.downsample[split] ?? 0
      guard let set = splits[split], count > 0, count < set.count else { continue }
      switch options.downsampleMethod {
      case .seeded:
        var generator = generator(seed: options.seed, split: split)
        splits[split] = set.selecting(chosenIndices(total: set.count, count: count, generator: &generator))
      case .numpy:
        splits[split] = set.selecting(numpyIndices(total: set.count, count: count, seed: options.seed))
      }
    }
  }
}
