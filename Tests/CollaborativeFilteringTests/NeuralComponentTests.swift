import ArtifactFormats
import CollaborativeFiltering
import Foundation
import Interactions
import PipelineCore
import TestSupport
import Testing

/// The pieces around the layers: Adam against torch's formula, the negative sampler, the parameter
/// layout and initial weights, and the errors of bad configurations and bad tensors.
@Suite struct NeuralComponentTests {
  /// `torch.optim.Adam`'s single-tensor update, in Double: the oracle.
  static func torchAdam(
    _ parameter: Double, gradients: [Double], learningRate: Double, weightDecay: Double
  ) -> Double {
    var (p, m, v) = (parameter, 0.0, 0.0)
    for (index, raw) in gradients.enumerated() {
      let step = Double(index + 1)
      let g = raw + weightDecay * p
      m += (1 - 0.9) * (g - m)
      v = v * 0.999 + (1 - 0.999) * g * g
      let stepSize = learningRate / (1 - pow(0.9, step))
      let denominator = v.squareRoot() / (1 - pow(0.999, step)).squareRoot() + 1e-8
      p -= stepSize * m / denominator
    }
    return p
  }

  @Test(arguments: [0.0, 0.1])
  func adamFollowsTorchsUpdate(weightDecay: Double) {
    var layout = ParameterLayout()
    layout.add("w", shape: [3])
    let store = ParameterStore(layout: layout)
    let initial: [Float] = [1, -0.5, 0]
    store.setValues(initial)
    let gradients: [[Float]] = [[0.5, 0.2, 0], [-0.25, 0.2, 0], [0.125, -1, 0]]
    let adam = Adam(parameterCount: 3, learningRate: 0.1, weightDecay: weightDecay)
    for step in gradients {
      for index in 0..<3 { store.parameter(0).gradient[index] = step[index] }
      adam.update(store, threads: 2)
    }
    let values = store.copyValues()
    for index in 0..<3 {
      let expected = Self.torchAdam(
        Double(initial[index]), gradients: gradients.map { Double($0[index]) }, learningRate: 0.1,
        weightDecay: weightDecay)
      #expect(abs(Double(values[index]) - expected) < 1e-6, "element \(index): \(values[index]) vs \(expected)")
    }
    // A parameter that never gets a gradient (the padding row) stays put without weight decay.
    #expect(weightDecay != 0 || values[2] == 0)
    #expect(adam.step == 3)
  }

  @Test func negativesAvoidTheInputAndTheTargetAndCoverTheRest() {
    var generator = SeededGenerator(seed: 3)
    let excluded: [Int32] = [0, 0, 2, 5, 5, 7]
    var seen = Set<Int32>()
    excluded.withUnsafeBufferPointer { excluded in
      for _ in 0..<2_000 {
        let item = NegativeSampler.draw(itemCount: 10, excluding: excluded, target: 9, generator: &generator)
        seen.insert(item)
      }
      // Everything excluded: still an item id, no endless loop.
      let all: [Int32] = [1, 2]
      all.withUnsafeBufferPointer {
        let item = NegativeSampler.draw(itemCount: 3, excluding: $0, target: 3, generator: &generator)
        #expect((1...3).contains(item))
      }
    }
    #expect(seen == [1, 3, 4, 6, 8, 10])
  }

  @Test func sasrecInitialWeightsFollowTheOfficialScheme() {
    var configuration = SASRecConfiguration()
    configuration.hidden = 64
    let network = SASRecNetwork(itemCount: 500, configuration: configuration, maxSamples: 1, threads: 1)
    var generator = SeededGenerator(seed: 1)
    network.initializeParameters(generator: &generator)
    func values(_ name: String) -> [Float] {
      let parameter = network.parameters.parameter(named: name)
      return Array(UnsafeBufferPointer(start: parameter.value, count: parameter.count))
    }
    func deviation(_ values: [Float]) -> Double {
      (values.map { Double($0) * Double($0) }.reduce(0, +) / Double(values.count)).squareRoot()
    }
    #expect(abs(deviation(values("item_emb.weight")) - 0.02) < 0.001)
    #expect(values("item_emb.weight")[0] != 0, "the official _init_weights overwrites the padding row too")
    #expect(values("attention_layernorms.0.weight").allSatisfy { $0 == 1 })
    #expect(values("last_layernorm.bias").allSatisfy { $0 == 0 })
    #expect(values("attention_layers.1.in_proj_bias").allSatisfy { $0 == 0 })
    let xavier = Float((6.0 / 256).squareRoot())
    #expect(values("attention_layers.0.in_proj_weight").allSatisfy { abs($0) <= xavier })
    #expect(values("attention_layers.0.in_proj_weight").contains { abs($0) > 0.9 * xavier })
    #expect(abs(deviation(values("attention_layers.0.out_proj.weight")) - 0.02) < 0.002)
    #expect(values("forward_layers.1.conv2.bias").allSatisfy { abs($0) <= 0.125 })
  }

  @Test func badConfigurationsAreUsageErrors() {
    var configuration = SASRecConfiguration()
    configuration.heads = 3
    let data = TrainingData(itemCount: 3, userCount: 1, train: SampleSet(), valid: SampleSet())
    let environment = TrainingEnvironment(
      seed: 0, threads: 1, evaluateValid: { _ in RankingMetrics(ranks: []) }, log: { _ in })
    #expect(
      errorMessage { _ = try SASRec.train(data, configuration: configuration, environment: environment) }
        == "sasrec: heads 3 does not divide hidden 64; pass a number of heads that divides hidden")
    var gru = GRU4RecConfiguration()
    gru.dropout = 1
    #expect(
      errorMessage { _ = try GRU4Rec.train(data, configuration: gru, environment: environment) }
        == "gru4rec: dropout is 1.0, expected a probability in [0, 1); fix it in the pipeline file")
    #expect(
      errorMessage { _ = try GRU4Rec.train(data, configuration: GRU4RecConfiguration(), environment: environment) }
        == "gru4rec: there are no train samples; check the prepare stage's split")
  }

  @Test func scorerFromBadTensorsNamesTheFileAndTheTensor() throws {
    var configuration = SASRecConfiguration()
    configuration.hidden = 4
    configuration.blocks = 1
    let network = SASRecNetwork(itemCount: 5, configuration: configuration, maxSamples: 1, threads: 1)
    let tensors = network.parameters.tensors(shapes: SASRecNetwork.storedShapes(configuration: configuration))
    _ = try SASRec.scorer(tensors: tensors, itemCount: 5, configuration: configuration, file: "ok.safetensors")
    #expect(
      errorMessage {
        _ = try SASRec.scorer(
          tensors: tensors.filter { $0.name != "pos_emb.weight" }, itemCount: 5, configuration: configuration,
          file: "model.safetensors")
      } == "'model.safetensors' has no tensor 'pos_emb.weight'")
    #expect(
      errorMessage {
        _ = try SASRec.scorer(tensors: tensors, itemCount: 6, configuration: configuration, file: "model.safetensors")
      } == "'model.safetensors': tensor 'item_emb.weight' has shape [6, 4], expected [7, 4] (from the model card)")
    var flat = tensors
    let index = flat.firstIndex { $0.name == "forward_layers.0.conv1.weight" }!
    flat[index] = SafeTensors.Tensor(name: flat[index].name, shape: [4, 4], values: flat[index].values)
    #expect(
      errorMessage {
        _ = try SASRec.scorer(tensors: flat, itemCount: 5, configuration: configuration, file: "model.safetensors")
      }
        == "'model.safetensors': tensor 'forward_layers.0.conv1.weight' has shape [4, 4], expected [4, 4, 1] (from the model card)"
    )
  }
}
