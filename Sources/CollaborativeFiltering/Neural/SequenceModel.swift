import ArtifactFormats
import Interactions
import PipelineCore

/// The hyperparameters every sequential model has.
protocol SequenceModelConfiguration: Sendable {
  var hidden: Int { get }
  var loss: NeuralLoss { get }
  var schedule: NeuralSchedule { get }
  func validate() throws(PipelineError)
}

/// A network `SequenceModel` trains and scores: SASRec and GRU4Rec.
protocol SequenceNetwork: AnyObject {
  associatedtype Configuration: SequenceModelConfiguration
  static func layout(itemCount: Int, configuration: Configuration) -> ParameterLayout
  /// Shapes written to and read from safetensors where they differ from the layout's.
  static func storedShapes(configuration: Configuration) -> [String: [Int]]
  init(
    itemCount: Int, configuration: Configuration, maxSamples: Int, threads: Int, parameters: ParameterStore?,
    forTraining: Bool)
  var parameters: ParameterStore { get }
  var maxSamples: Int { get }
  func initializeParameters(generator: inout SeededGenerator)
  /// Zeroes the gradients, runs forward, loss and backward on the samples `indices` with the
  /// random streams of `stepSeed`, and returns the batch's mean loss.
  func trainingStep(samples: SampleSet, indices: ArraySlice<Int>, stepSeed: UInt64, computeGradient: Bool) -> Double
  /// Eval-mode user vectors of at most `maxSamples` samples.
  func encode(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>)
}

extension SASRecConfiguration: SequenceModelConfiguration {
  var schedule: NeuralSchedule {
    NeuralSchedule(
      model: "sasrec", learningRate: learningRate, weightDecay: weightDecay, batchSize: batchSize,
      maxEpochs: maxEpochs, patience: patience)
  }
}

extension GRU4RecConfiguration: SequenceModelConfiguration {
  var schedule: NeuralSchedule {
    NeuralSchedule(
      model: "gru4rec", learningRate: learningRate, weightDecay: weightDecay, batchSize: batchSize,
      maxEpochs: maxEpochs, patience: patience)
  }
}

/// What `SASRec` and `GRU4Rec` share: training to a `TrainedModel` and scorers over tensors.
enum SequenceModel {
  static func train<Network: SequenceNetwork>(
    _: Network.Type, data: TrainingData, configuration: Network.Configuration, environment: TrainingEnvironment
  ) throws -> TrainedModel {
    try configuration.validate()
    let schedule = configuration.schedule
    try NeuralTraining.checkIDs(data, model: schedule.model)
    let network = Network(
      itemCount: data.itemCount, configuration: configuration,
      maxSamples: min(configuration.schedule.batchSize, data.train.count), threads: environment.threads,
      parameters: nil, forTraining: true)
    var generator = SeededGenerator(seed: environment.seed)
    network.initializeParameters(generator: &generator)
    let layout = network.parameters.layout
    func scorer(_ values: [Float]) -> NeuralScorer {
      let store = ParameterStore(layout: layout)
      store.setValues(values)
      return makeScorer(
        Network.self, store: store, itemCount: data.itemCount, configuration: configuration,
        threads: environment.threads)
    }
    let outcome = NeuralTraining.run(
      network, schedule: schedule, data: data, environment: environment, generator: &generator, makeScorer: scorer)
    let best = scorer(outcome.bestValues)
    let store = ParameterStore(layout: layout)
    store.setValues(outcome.bestValues)
    return TrainedModel(
      tensors: store.tensors(shapes: Network.storedShapes(configuration: configuration)), scorer: best,
      curve: outcome.curve, bestEpoch: outcome.bestEpoch,
      details: [
        "parameters": JSONValue(layout.count), "epochs": JSONValue(outcome.epochs),
        "stopped": .string(outcome.stopped), "loss": .string(configuration.loss.rawValue),
      ])
  }

  static func scorer<Network: SequenceNetwork>(
    _: Network.Type, tensors: [SafeTensors.Tensor], itemCount: Int, configuration: Network.Configuration,
    file: String, threads: Int
  ) throws -> NeuralScorer {
    try configuration.validate()
    let store = ParameterStore(layout: Network.layout(itemCount: itemCount, configuration: configuration))
    try store.load(tensors, shapes: Network.storedShapes(configuration: configuration), file: file)
    return makeScorer(Network.self, store: store, itemCount: itemCount, configuration: configuration, threads: threads)
  }

  static func makeScorer<Network: SequenceNetwork>(
    _: Network.Type, store: ParameterStore, itemCount: Int, configuration: Network.Configuration, threads: Int
  ) -> NeuralScorer {
    NeuralScorer(
      itemCount: itemCount, dimension: configuration.hidden,
      itemEmbedding: store.parameter(named: "item_emb.weight").value
    ) {
      Network(
        itemCount: itemCount, configuration: configuration, maxSamples: NeuralScorer.batchSize, threads: threads,
        parameters: store, forTraining: false)
    }
  }
}
