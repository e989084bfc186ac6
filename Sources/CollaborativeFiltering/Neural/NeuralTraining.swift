import ArtifactFormats
import DenseLinearAlgebra
import Interactions
import PipelineCore

/// What the epoch loop hands back.
struct NeuralTrainingOutcome {
  var curve: [EpochRecord]
  var bestEpoch: Int
  /// The parameter values after the best epoch.
  var bestValues: [Float]
  var epochs: Int
  /// "patience" or "max_epochs".
  var stopped: String
}

/// The epoch loop shared by SASRec and GRU4Rec, as the official `sasrec/main.py` runs it: each epoch
/// shuffles the train samples, takes one Adam step per batch (the last batch may be smaller), then
/// scores the valid samples. The steps run with OpenBLAS held at one thread and the network's sgemm
/// blocks on our threads; the valid scoring runs with OpenBLAS as the stage set it. The early
/// stopping around it (`runEpochs`) serves `BPRMF` too.
///
/// Random draws, in order: the network's initial weights (drawn by the caller from `generator`),
/// then per epoch a Fisher–Yates shuffle (`nextInt(below: i + 1)` for i = n − 1 down to 1), then one
/// `next()` per step as the step's seed (see `RandomStreams`).
enum NeuralTraining {
  static func run(
    _ network: some SequenceNetwork, schedule: NeuralSchedule, data: TrainingData, environment: TrainingEnvironment,
    generator: inout SeededGenerator, makeScorer: ([Float]) -> any Scorer
  ) -> NeuralTrainingOutcome {
    let parameters = network.parameters
    let optimizer = Adam(
      parameterCount: parameters.count, learningRate: schedule.learningRate, weightDecay: schedule.weightDecay)
    var order = Array(0..<data.train.count)
    return runEpochs(
      model: schedule.model, maxEpochs: schedule.maxEpochs, patience: schedule.patience, parameters: parameters,
      environment: environment, makeScorer: makeScorer
    ) {
      shuffle(&order, generator: &generator)
      var lossTotal = 0.0
      var batches = 0
      // The network runs its sgemm in fixed blocks on our threads (see `TiledProduct`).
      DenseLinearAlgebra.withSingleThreadedBLAS {
        for lower in stride(from: 0, to: order.count, by: schedule.batchSize) {
          let batch = order[lower..<min(order.count, lower + schedule.batchSize)]
          let stepSeed = generator.next()
          lossTotal += network.trainingStep(
            samples: data.train, indices: batch, stepSeed: stepSeed, computeGradient: true)
          optimizer.update(parameters, threads: environment.threads)
          batches += 1
        }
      }
      return batches > 0 ? lossTotal / Double(batches) : 0
    }
  }

  /// Early stopping on the valid NDCG@10: runs `trainEpoch` (which returns the epoch's mean batch
  /// loss) up to `maxEpochs` times, scoring the valid samples with `makeScorer` of a copy of
  /// `parameters` after each. The values of the epoch with the best valid NDCG@10 (strictly greater
  /// than every earlier epoch's; the first epoch always counts as best so far, where the official
  /// code starts from 0 and would keep nothing) are kept, and training stops after `patience` epochs
  /// in a row without one.
  static func runEpochs(
    model: String, maxEpochs: Int, patience: Int, parameters: ParameterStore, environment: TrainingEnvironment,
    makeScorer: ([Float]) -> any Scorer, trainEpoch: () -> Double
  ) -> NeuralTrainingOutcome {
    var curve: [EpochRecord] = []
    var best = -Double.infinity
    var bestEpoch = 0
    var bestValues = parameters.copyValues()
    var epochsWithoutImprovement = 0
    var stopped = "max_epochs"
    for epoch in 1...maxEpochs {
      let start = monotonicSeconds()
      let loss = trainEpoch()
      let trainSeconds = monotonicSeconds() - start
      let values = parameters.copyValues()
      let metrics = environment.evaluateValid(makeScorer(values))
      let ndcg = metrics.ndcg(at: 10)
      let improved = ndcg > best
      if improved {
        best = ndcg
        bestEpoch = epoch
        bestValues = values
        epochsWithoutImprovement = 0
      } else {
        epochsWithoutImprovement += 1
      }
      curve.append(EpochRecord(epoch: epoch, loss: loss, valid: metrics, best: improved))
      environment.log(
        "\(model): epoch \(epoch)/\(maxEpochs): loss \(formatFixed(loss, digits: 4)), valid NDCG@10 \(formatFixed(ndcg, digits: 4)) HR@10 \(formatFixed(metrics.hitRate(at: 10), digits: 4))\(improved ? " (best)" : ""); train \(formatFixed(trainSeconds, digits: 1)) s, valid \(formatFixed(monotonicSeconds() - start - trainSeconds, digits: 1)) s"
      )
      if epochsWithoutImprovement >= patience {
        stopped = "patience"
        break
      }
    }
    return NeuralTrainingOutcome(
      curve: curve, bestEpoch: bestEpoch, bestValues: bestValues, epochs: curve.count, stopped: stopped)
  }

  /// Fisher–Yates with the seeded generator (not the standard library's shuffle, whose draws may
  /// change between Swift versions).
  static func shuffle(_ order: inout [Int], generator: inout SeededGenerator) {
    guard order.count > 1 else { return }
    for index in stride(from: order.count - 1, to: 0, by: -1) {
      order.swapAt(index, generator.nextInt(below: index + 1))
    }
  }

  /// The error for train samples that a model cannot read.
  static func checkIDs(_ data: TrainingData, model: String) throws(PipelineError) {
    guard !data.train.isEmpty else {
      throw .invalidArtifact("\(model): there are no train samples; check the prepare stage's split")
    }
    let bound = UInt32(clamping: data.itemCount)
    for set in [data.train, data.valid] {
      if let bad = set.targets.first(where: { $0 == 0 || $0 > bound })
        ?? set.historyValues.first(where: { $0 == 0 || $0 > bound })
      {
        throw .invalidArtifact(
          "\(model): item id \(bad) is outside 1...\(data.itemCount); rerun the prepare stage with --force")
      }
    }
  }
}
