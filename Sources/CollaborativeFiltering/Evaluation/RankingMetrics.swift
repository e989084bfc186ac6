import Dispatch
import Foundation
import Interactions
import PipelineCore

/// HR@K and NDCG@K of full ranking over all N items, for K in `cutoffs`.
///
/// The rank of the target is the number of other items whose score is greater than **or equal to**
/// the target's (a tie counts against the target; a NaN target score ranks last). With history
/// exclusion, the sample's history items other than the target are left out of the ranking. Per
/// sample, HR@K is 1 when rank < K and NDCG@K is 1 / log2(rank + 2) when rank < K; both are averaged
/// over the samples (in sample order, in Double).
public struct RankingMetrics: Equatable, Sendable {
  public static let cutoffs = [1, 5, 10, 20]

  public var count: Int
  /// By `cutoffs`.
  public var hitRate: [Double]
  public var ndcg: [Double]

  public init(count: Int, hitRate: [Double], ndcg: [Double]) {
    self.count = count
    self.hitRate = hitRate
    self.ndcg = ndcg
  }

  /// The metrics of 0-based target ranks, one per sample.
  public init(ranks: [Int]) {
    var hits = [Double](repeating: 0, count: Self.cutoffs.count)
    var gains = [Double](repeating: 0, count: Self.cutoffs.count)
    for rank in ranks {
      let gain = 1 / log2(Double(rank) + 2)
      for (index, cutoff) in Self.cutoffs.enumerated() where rank < cutoff {
        hits[index] += 1
        gains[index] += gain
      }
    }
    let denominator = Double(max(ranks.count, 1))
    self.init(count: ranks.count, hitRate: hits.map { $0 / denominator }, ndcg: gains.map { $0 / denominator })
  }

  public func ndcg(at cutoff: Int) -> Double { ndcg[Self.cutoffs.firstIndex(of: cutoff)!] }
  public func hitRate(at cutoff: Int) -> Double { hitRate[Self.cutoffs.firstIndex(of: cutoff)!] }

  /// `{"count": n, "HR@1": …, …, "NDCG@20": …}`.
  public var json: JSONValue {
    var object: [String: JSONValue] = ["count": JSONValue(count)]
    for (index, cutoff) in Self.cutoffs.enumerated() {
      object["HR@\(cutoff)"] = .number(hitRate[index])
      object["NDCG@\(cutoff)"] = .number(ndcg[index])
    }
    return .object(object)
  }
}

/// Full-ranking evaluation of a `Scorer` on a split.
public enum RankingEvaluator {
  /// The 0-based rank of `target` (an item id) among `scores` (column j = item j + 1): how many other
  /// items score at least as high. Items in `excluded` (ids, the target never among them) are skipped.
  public static func rank(
    scores: UnsafeBufferPointer<Float>, target: Int, excluded: some Sequence<UInt32> = EmptyCollection()
  ) -> Int {
    let targetScore = scores[target - 1]
    guard !targetScore.isNaN else { return scores.count - 1 }
    var count = 0
    for score in scores where score >= targetScore { count += 1 }
    count -= 1  // the target itself
    var seen = Set<UInt32>()
    for item in excluded where Int(item) != target && seen.insert(item).inserted {
      if scores[Int(item) - 1] >= targetScore { count -= 1 }
    }
    return count
  }

  /// Per-sample 0-based target ranks of `samples` under `scorer`, in sample order. Batches of
  /// `batchSize` samples are scored one after another (the scorer's BLAS calls use OpenBLAS's
  /// threads); the ranks of a batch are counted on `threads` threads. The ranks depend on neither.
  public static func ranks(
    _ scorer: any Scorer, samples: SampleSet, excludeHistory: Bool, threads: Int = 1, batchSize: Int = 256
  ) -> [Int] {
    let itemCount = scorer.itemCount
    var result = [Int](repeating: 0, count: samples.count)
    let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: batchSize * itemCount)
    defer { buffer.deallocate() }
    result.withUnsafeMutableBufferPointer { resultBuffer in
      let output = DisjointPointer(resultBuffer)
      let scoreBuffer = DisjointPointer(buffer)
      for start in stride(from: 0, to: samples.count, by: batchSize) {
        let range = start..<min(samples.count, start + batchSize)
        scorer.scores(samples, range: range, into: buffer.baseAddress!)
        Parallel.forEach(range.count, threads: threads, chunk: 16) { row in
          let sample = range.lowerBound + row
          let scores = UnsafeBufferPointer(start: scoreBuffer.base + row * itemCount, count: itemCount)
          let target = Int(samples.targets[sample])
          output[sample] =
            excludeHistory
            ? rank(scores: scores, target: target, excluded: samples.history(sample))
            : rank(scores: scores, target: target)
        }
      }
    }
    return result
  }

  public static func evaluate(
    _ scorer: any Scorer, samples: SampleSet, excludeHistory: Bool, threads: Int = 1, batchSize: Int = 256
  ) -> RankingMetrics {
    RankingMetrics(
      ranks: ranks(scorer, samples: samples, excludeHistory: excludeHistory, threads: threads, batchSize: batchSize))
  }
}
