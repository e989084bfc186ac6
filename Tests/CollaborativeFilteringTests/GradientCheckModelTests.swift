import CollaborativeFiltering
import Interactions
import PipelineCore
import Testing

/// SASRec and GRU4Rec end to end against central finite differences of the training loss, for
/// every parameter tensor: N 30, width 8, L 5, 3 samples (histories longer than, shorter than and
/// equal to L), SASRec with 2 blocks × 2 heads. With dropout the masks (and the negatives) are
/// fixed by the step seed.
@Suite struct GradientCheckModelTests {
  static let itemCount = 30

  static var samples: SampleSet {
    var set = SampleSet()
    set.append(user: 1, target: 6, timestamp: 0, history: [3, 8, 12, 4, 9, 17, 2, 30] as [UInt32])
    set.append(user: 2, target: 11, timestamp: 0, history: [5, 5, 11] as [UInt32])
    set.append(user: 3, target: 1, timestamp: 0, history: [23, 7, 14, 2, 19] as [UInt32])
    return set
  }

  @Test(arguments: [(NeuralLoss.bce, 0.0), (.bce, 0.3), (.bceAll, 0.0), (.bceAll, 0.3), (.ce, 0.0), (.ce, 0.3)])
  func sasrecMatchesFiniteDifferences(loss: NeuralLoss, dropout: Double) {
    var configuration = SASRecConfiguration()
    configuration.hidden = 8
    configuration.heads = 2
    configuration.blocks = 2
    configuration.maxLength = 5
    configuration.dropout = dropout
    configuration.loss = loss
    let network = SASRecNetwork(itemCount: Self.itemCount, configuration: configuration, maxSamples: 3, threads: 1)
    var generator = SeededGenerator(seed: 41)
    network.initializeParameters(generator: &generator)
    // The official initial weights are small (N(0, 0.02)); larger ones give gradients well above
    // Float noise.
    randomize(network.parameters, scale: 0.3, generator: &generator)
    let samples = Self.samples
    let indices = Array(0..<samples.count)[...]
    _ = network.trainingStep(samples: samples, indices: indices, stepSeed: 99, computeGradient: true)
    // padding_idx = 0: row 0 of the item embedding has no gradient.
    #expect((0..<8).allSatisfy { network.parameters.parameter(named: "item_emb.weight").gradient[$0] == 0 })
    checkAllParameters(network.parameters, step: 1e-3, tolerance: 2e-2) {
      network.trainingStep(samples: samples, indices: indices, stepSeed: 99, computeGradient: false)
    }
  }

  @Test(arguments: [(NeuralLoss.bce, 0.0), (.bce, 0.25), (.bceAll, 0.25), (.ce, 0.25)])
  func gru4recMatchesFiniteDifferences(loss: NeuralLoss, dropout: Double) {
    var configuration = GRU4RecConfiguration()
    configuration.hidden = 8
    configuration.maxLength = 5
    configuration.dropout = dropout
    configuration.loss = loss
    let network = GRU4RecNetwork(itemCount: Self.itemCount, configuration: configuration, maxSamples: 3, threads: 1)
    var generator = SeededGenerator(seed: 42)
    network.initializeParameters(generator: &generator)
    randomize(network.parameters, scale: 0.5, generator: &generator)
    let samples = Self.samples
    let indices = Array(0..<samples.count)[...]
    _ = network.trainingStep(samples: samples, indices: indices, stepSeed: 7, computeGradient: true)
    checkAllParameters(network.parameters, step: 3e-3, tolerance: 2e-2) {
      network.trainingStep(samples: samples, indices: indices, stepSeed: 7, computeGradient: false)
    }
  }
}
