import PipelineCore

#if canImport(Glibc)
  import Glibc
#endif

/// Maps data values to pixels along one axis, linearly or by powers of ten, over a domain widened
/// to round tick values.
struct ChartScale {
  /// The domain, in data units (positive when logarithmic).
  private(set) var lower: Double
  private(set) var upper: Double
  let isLogarithmic: Bool
  /// The pixels of `lower` and `upper`.
  let start: Double
  let end: Double
  /// The step between linear ticks.
  private(set) var step: Double = 1

  /// A scale over the finite values of `values` (positive ones when logarithmic).
  ///
  /// An empty or one-value domain is widened (linear: to include 0 and 1 around the value; log: a
  /// decade either side), so a position is never a division by zero.
  /// - Parameter includeZero: start a linear domain at 0 when every value is positive (bar heights,
  ///   counts).
  init(values: [Double], logarithmic: Bool, start: Double, end: Double, includeZero: Bool = false) {
    isLogarithmic = logarithmic
    self.start = start
    self.end = end
    let usable = values.filter { $0.isFinite && (!logarithmic || $0 > 0) }
    var low = usable.min() ?? (logarithmic ? 1 : 0)
    var high = usable.max() ?? (logarithmic ? 10 : 1)
    if logarithmic {
      low = pow(10, floor(log10(low)))
      high = pow(10, ceil(log10(high)))
      if high <= low { high = low * 10 }
      (lower, upper) = (low, high)
      return
    }
    if includeZero {
      low = min(low, 0)
      high = max(high, 0)
    }
    if high - low <= 0 {
      if low == 0 {
        high = 1
      } else {
        (low, high) = (low - abs(low) * 0.5, high + abs(high) * 0.5)
      }
    }
    let step = Self.niceStep((high - low) / 5)
    self.step = step
    lower = (low / step).rounded(.down) * step
    upper = (high / step).rounded(.up) * step
    if upper <= lower { upper = lower + step }
  }

  /// 1, 2 or 5 times a power of ten, the nearest at or above `rough`.
  static func niceStep(_ rough: Double) -> Double {
    guard rough > 0 && rough.isFinite else { return 1 }
    let power = pow(10, floor(log10(rough)))
    for factor in [1.0, 2, 5, 10] where factor * power >= rough * 0.999_999 { return factor * power }
    return 10 * power
  }

  /// The pixel of `value`; values outside the domain (or not positive on a log scale) are clamped.
  func position(_ value: Double) -> Double {
    let fraction: Double
    if isLogarithmic {
      let clamped = value.isFinite && value > 0 ? min(max(value, lower), upper) : lower
      fraction = (log10(clamped) - log10(lower)) / (log10(upper) - log10(lower))
    } else {
      let clamped = value.isFinite ? min(max(value, lower), upper) : lower
      fraction = (clamped - lower) / (upper - lower)
    }
    return start + fraction * (end - start)
  }

  /// Tick values: every step of a linear domain; powers of ten on a log one (with 2 and 5 between
  /// them when the domain spans at most two decades).
  func ticks() -> [(value: Double, label: String)] {
    if isLogarithmic {
      let first = Int(log10(lower).rounded())
      let last = Int(log10(upper).rounded())
      let factors: [Double] = last - first <= 2 ? [1, 2, 5] : [1]
      var ticks: [(Double, String)] = []
      for exponent in first...last {
        for factor in factors {
          let value = factor * pow(10, Double(exponent))
          if value <= upper * 1.000_001 {
            ticks.append((value, ReportText.tick(value, step: exponent < 0 ? value : 1)))
          }
        }
      }
      return ticks
    }
    let count = Int(((upper - lower) / step).rounded())
    return (0...count).map { index in
      let value = lower + Double(index) * step
      return (value, ReportText.tick(value, step: step))
    }
  }
}
