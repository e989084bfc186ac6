import CollaborativeFiltering
import Foundation
import Testing

@Suite struct RankingMetricsTests {
  @Test func tiesCountAgainstTheTarget() {
    let scores: [Float] = [0.5, 0.9, 0.5, 0.1, 0.5]
    scores.withUnsafeBufferPointer { buffer in
      // Item 1 ties with items 3 and 5 and is beaten by item 2.
      #expect(RankingEvaluator.rank(scores: buffer, target: 1) == 3)
      #expect(RankingEvaluator.rank(scores: buffer, target: 2) == 0)
      #expect(RankingEvaluator.rank(scores: buffer, target: 4) == 4)
      // Excluding items 2 and 3 (and the target itself, which is never excluded).
      #expect(RankingEvaluator.rank(scores: buffer, target: 1, excluded: [2, 3, 1, 3]) == 1)
    }
  }

  @Test func metricsOfRanks() {
    let metrics = RankingMetrics(ranks: [0, 4, 9, 30])
    #expect(metrics.hitRate == [0.25, 0.5, 0.75, 0.75])
    let expected10 = (1.0 + 1 / log2(6.0) + 1 / log2(11.0)) / 4
    #expect(abs(metrics.ndcg(at: 10) - expected10) < 1e-15)
  }
}
