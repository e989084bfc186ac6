import CollaborativeFiltering
import Interactions
import PipelineCore
import TestSupport
import Testing

/// `pop`, `ease` and `bpr-mf` on the real MovieLens 100K ratings (leave-one-out, full ranking over
/// the 1,682 items, every earlier item excluded): the personalised models beat popularity by a wide
/// margin. BPR-MF takes learning rate 0.01 here: with the default 1e-3 and batches of 4,096, the
/// 98,000 train pairs give 24 Adam steps an epoch, and patience 10 stops it on its early plateau.
@Suite struct ClassicModelRealDataTests {
  @Test(.enabled(if: SharedData.shouldRun(MovieLensSamples.relativePath)))
  func easeAndBPRMFBeatPopularityOnValidNDCG() throws {
    guard SharedData.available(MovieLensSamples.relativePath), let samples = MovieLensSamples.shared else { return }
    let environment = makeEnvironment(valid: samples.valid)
    var start = monotonicSeconds()
    let popularity = try Popularity.train(samples.data, environment: environment)
    let popularitySeconds = monotonicSeconds() - start
    start = monotonicSeconds()
    let ease = try EASE.train(samples.data, configuration: EASEConfiguration(), environment: environment)
    let easeSeconds = monotonicSeconds() - start
    start = monotonicSeconds()
    var configuration = BPRMFConfiguration()
    configuration.learningRate = 0.01
    configuration.maxEpochs = 40
    let bprMF = try BPRMF.train(samples.data, configuration: configuration, environment: environment)
    let bprSeconds = monotonicSeconds() - start

    func report(_ name: String, _ model: TrainedModel, _ seconds: Double) -> Double {
      let valid = model.curve.first(where: { $0.epoch == (model.bestEpoch ?? 1) })!.valid!
      let test = RankingEvaluator.evaluate(model.scorer, samples: samples.test, excludeHistory: true, threads: 2)
      print(
        "\(name): valid NDCG@10 \(formatFixed(valid.ndcg(at: 10), digits: 4)) HR@10 \(formatFixed(valid.hitRate(at: 10), digits: 4)); test NDCG@10 \(formatFixed(test.ndcg(at: 10), digits: 4)) HR@10 \(formatFixed(test.hitRate(at: 10), digits: 4)); \(model.curve.count) epoch(s), best \(model.bestEpoch ?? 1), \(formatFixed(seconds, digits: 2)) s"
      )
      return valid.ndcg(at: 10)
    }
    let popularityNDCG = report("pop", popularity, popularitySeconds)
    let easeNDCG = report("ease", ease, easeSeconds)
    let bprNDCG = report("bpr-mf", bprMF, bprSeconds)
    #expect(easeNDCG > 1.5 * popularityNDCG)
    #expect(bprNDCG > 1.5 * popularityNDCG)
  }
}
