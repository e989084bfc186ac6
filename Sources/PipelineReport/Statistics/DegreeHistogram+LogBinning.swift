import ArtifactFormats

#if canImport(Glibc)
  import Glibc
#endif

extension DegreeHistogram {
  /// A range of degrees `lower...upper` merged into one point of a log-log plot.
  public struct LogBin: Sendable, Equatable {
    public var lower: Int
    public var upper: Int
    /// Entities whose degree is in the range.
    public var count: Int
    /// Entities per degree: `count` over the number of integers in the range.
    public var density: Double { Double(count) / Double(upper - lower + 1) }
    /// Where the bin is drawn: the geometric mean of its ends.
    public var center: Double { (Double(lower) * Double(upper)).squareRoot() }
  }

  /// The degrees grouped into bins of equal width on a log scale, `perDecade` per power of ten:
  /// bin k holds degrees from ⌈10^(k/perDecade)⌉ up to the next bin's start − 1 (bins that would
  /// hold no integer are skipped, and bins with no entity are left out), so a heavy tail reads as a
  /// line instead of a cloud of ones.
  ///
  /// - Complexity: O(*b* + log(max degree)) for *b* bins.
  public func logBins(perDecade: Int = 5) -> [LogBin] {
    guard let largest = bins.last?.degree else { return [] }
    var starts: [Int] = []
    var step = 0
    while starts.last.map({ $0 <= largest }) ?? true {
      let exact = pow(10, Double(step) / Double(perDecade))
      // Rounded before the ceiling so that 10^(5/5) is 10, not 11.
      let start = max(Int(((exact * 1e9).rounded() / 1e9).rounded(.up)), 1)
      if starts.last.map({ start > $0 }) ?? true { starts.append(start) }
      step += 1
    }
    var result: [LogBin] = []
    var index = 0
    for (lower, next) in zip(starts, starts.dropFirst()) {
      var count = 0
      while index < bins.count && bins[index].degree < next {
        count += bins[index].count
        index += 1
      }
      if count > 0 { result.append(LogBin(lower: lower, upper: next - 1, count: count)) }
    }
    return result
  }
}
