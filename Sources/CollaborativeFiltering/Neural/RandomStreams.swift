import Foundation
import PipelineCore

/// Where the random draws of the neural trainers come from.
///
/// Initial weights and the epoch shuffles come from one `SeededGenerator(seed:)`, in a fixed order.
/// Every draw of a training step (dropout masks, negatives) comes from a generator of its own per
/// (step seed, site, sample row): the step seed is one draw of the main generator, a site is a
/// fixed number per dropout layer or sampler. So a parallel loop over the rows of a batch draws
/// the same numbers on any thread count.
enum RandomStreams {
  /// Site of the negative sampler.
  static let negativeSite: UInt64 = 1
  /// Site of the input embedding dropout.
  static let embeddingSite: UInt64 = 2
  /// Sites of block `block`'s attention-weight dropout and its two feed-forward dropouts.
  static func blockSites(_ block: Int) -> (attention: UInt64, first: UInt64, second: UInt64) {
    let base = UInt64(16 + 4 * block)
    return (base, base + 1, base + 2)
  }

  /// The generator of `row` at `site` in the step seeded `stepSeed`.
  @inline(__always)
  static func generator(stepSeed: UInt64, site: UInt64, row: Int) -> SeededGenerator {
    var mixed = stepSeed ^ mix(site &* 0xD1B5_4A32_D192_ED03 &+ UInt64(truncatingIfNeeded: row))
    mixed = mix(mixed)
    return SeededGenerator(seed: mixed)
  }

  /// The SplitMix64 finalizer: a bijection that spreads nearby inputs over all 64 bits.
  @inline(__always)
  static func mix(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

extension SeededGenerator {
  /// Fills `values` with draws from N(mean, deviation²) by Box–Muller: each pair of `nextUnit()`
  /// draws (u₁, u₂) gives √(−2 ln(1 − u₁))·cos(2πu₂) then ·sin(2πu₂), in that order.
  mutating func fillNormal(_ values: UnsafeMutablePointer<Float>, count: Int, mean: Double, deviation: Double) {
    var index = 0
    while index < count {
      let radius = (-2 * log(1 - nextUnit())).squareRoot()
      let angle = 2 * Double.pi * nextUnit()
      values[index] = Float(mean + deviation * radius * cos(angle))
      if index + 1 < count { values[index + 1] = Float(mean + deviation * radius * sin(angle)) }
      index += 2
    }
  }

  /// Fills `values` with draws from U(−bound, bound): (2u − 1)·bound for u = `nextUnit()`.
  mutating func fillUniform(_ values: UnsafeMutablePointer<Float>, count: Int, bound: Double) {
    for index in 0..<count { values[index] = Float((2 * nextUnit() - 1) * bound) }
  }
}
