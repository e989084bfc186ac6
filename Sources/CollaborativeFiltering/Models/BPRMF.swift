import ArtifactFormats
import Foundation
import Interactions
import PipelineCore

/// The hyperparameters of `bpr-mf`.
public struct BPRMFConfiguration: Equatable, Sendable {
  /// d, the length of the user and item factors.
  public var factors = 64
  public var learningRate = 1e-3
  /// L2 penalty on the factors a batch uses (see `BPRMF`).
  public var regularization = 1e-4
  public var batchSize = 4096
  public var maxEpochs = 100
  /// Epochs without a strictly greater valid NDCG@10 before training stops.
  public var patience = 10

  public init() {}
}

/// `bpr-mf`: matrix factorisation trained with the BPR loss (Rendle et al., UAI 2009), as RecBole's
/// `BPR` model with an explicit L2 term and PyTorch's Adam. Seeded and single-order, so the factors are
/// byte-identical for one seed whatever `environment.threads`.
///
/// Data: the (user, item) pairs of the interaction matrix X (see `InteractionMatrix`), in CSR order
/// (user, then item ascending); users whose row holds all N items have no negative and are left out.
///
/// Random draws, all from one `SeededGenerator(seed: environment.seed)`, in this order:
/// 1. user factors, rows 1...U, then item factors, rows 1...N, row-major, N(0, 0.01²) by Box–Muller
///    (per pair of `nextUnit()` draws u₁, u₂: r = √(−2 ln(1 − u₁)), then 0.01·r·cos 2πu₂ and
///    0.01·r·sin 2πu₂, each rounded to Float). Row 0 (padding) and the rows of users with no train
///    interactions are then set to 0; they never get a gradient, so they stay 0.
/// 2. per epoch, a Fisher–Yates shuffle of the pair indices (for i from P − 1 down to 1, swap i with
///    `nextInt(below: i + 1)`), then one negative per pair in shuffled order: `1 + nextInt(below: N)`
///    until the item is not in the user's row of X.
///
/// Per mini-batch of B ≤ `batchSize` consecutive shuffled pairs (u, i, j), with x = u·(i − j):
///
///     loss = (1/B) Σ −ln σ(x) + regularization · (1/B) Σ (‖u‖² + ‖i‖² + ‖j‖²)
///
/// (a row used by two pairs is counted twice; no weight decay elsewhere). In Float, pair by pair in
/// batch order: x = Σ_k u_k·(i_k − j_k) in k order; c = −σ(−x)/B computed in Double and rounded;
/// r = 2·regularization/B; the gradient rows get ∂u += c·(i − j) + r·u, ∂i += c·u + r·i, then
/// ∂j += (−c)·u + r·j. Then one Adam step as `torch.optim.Adam` takes it (β 0.9/0.999, ε 1e-8, single-
/// tensor path): dense, every row of both tables, as PyTorch updates `nn.Embedding` weights with dense
/// gradients — rows outside the batch keep moving on their momentum. Per element:
/// m ← m + 0.1·(g − m); v ← 0.999·v + 0.001·(g·g); p ← p + s·(m / (√v / c₂ + 1e-8)) with
/// s = −lr/(1 − 0.9ᵗ) and c₂ = √(1 − 0.999ᵗ) computed in Double and rounded to Float.
///
/// After every epoch the valid NDCG@10 is computed; the weights of the first epoch with the highest
/// value are kept, and training stops after `patience` epochs without a strictly greater one (the
/// loop of `NeuralTraining.runEpochs`; the step is `Adam`'s).
///
/// Scoring a sample: u·i over the items, u the sample user's factor row; a user whose row is all
/// zeros (no train interactions: the official splits have valid and test users never seen in train)
/// is folded in as the mean of the item factors of the sample's distinct history items (summed in
/// ascending item order), or zeros when the history is empty.
///
/// Tensors: `user_factors` [U + 1, d] and `item_factors` [N + 1, d], row 0 padding (zeros).
/// Memory: at most 7·(U + N + 2)·d Floats (factors, gradients, two Adam moments, the best epoch's copy,
/// the copy being evaluated) plus X. Checked in Tests/python/test_cf_reference.py: a NumPy
/// re-implementation of these draws and this arithmetic reproduces an epoch bit for bit, and
/// `torch.nn.Embedding` + `torch.optim.Adam` on the same draws agree within 1e-7.
public enum BPRMF {
  static let initialDeviation = 0.01

  public static func train(
    _ data: TrainingData, configuration: BPRMFConfiguration, environment: TrainingEnvironment
  ) throws -> TrainedModel {
    try validate(configuration)
    let matrix = InteractionMatrix(data.train, userCount: data.userCount, itemCount: data.itemCount)
    var trainer = Trainer(matrix: matrix, configuration: configuration, environment: environment)
    return trainer.run()
  }

  /// The scorer of a `bpr-mf` model read back from `file`.
  public static func scorer(
    tensors: [SafeTensors.Tensor], itemCount: Int, userCount: Int, configuration: BPRMFConfiguration, file: String
  ) throws -> any EmbeddingScorer {
    let dimension = configuration.factors
    let users = try TrainedModel.tensor("user_factors", in: tensors, shape: [userCount + 1, dimension], file: file)
    let items = try TrainedModel.tensor("item_factors", in: tensors, shape: [itemCount + 1, dimension], file: file)
    return BPRMFScorer(dimension: dimension, userFactors: users.values, itemFactors: items.values)
  }

  static func validate(_ configuration: BPRMFConfiguration) throws(PipelineError) {
    let checks: [(Bool, String)] = [
      (configuration.factors >= 1, "factors must be at least 1, got \(configuration.factors)"),
      (configuration.batchSize >= 1, "batch size must be at least 1, got \(configuration.batchSize)"),
      (configuration.maxEpochs >= 1, "max epochs must be at least 1, got \(configuration.maxEpochs)"),
      (configuration.patience >= 1, "patience must be at least 1, got \(configuration.patience)"),
      (configuration.learningRate > 0, "learning rate must be positive, got \(configuration.learningRate)"),
      (configuration.regularization >= 0, "regularization must not be negative, got \(configuration.regularization)"),
    ]
    if let failed = checks.first(where: { !$0.0 }) { throw .usage("bpr-mf: \(failed.1)") }
  }

  /// Fills `count` values with N(0, deviation²) draws by Box–Muller, as the type's discussion says.
  static func fillNormal(
    _ values: UnsafeMutablePointer<Float>, count: Int, deviation: Double, generator: inout SeededGenerator
  ) {
    var index = 0
    while index < count {
      let radius = (-2 * log(1 - generator.nextUnit())).squareRoot()
      let angle = 2 * Double.pi * generator.nextUnit()
      values[index] = Float(deviation * radius * cos(angle))
      if index + 1 < count { values[index + 1] = Float(deviation * radius * sin(angle)) }
      index += 2
    }
  }

  /// The training loop's state: the factors (with their gradients), the optimizer, the generator.
  struct Trainer {
    let matrix: InteractionMatrix
    let configuration: BPRMFConfiguration
    let environment: TrainingEnvironment
    let dimension: Int
    var generator: SeededGenerator
    /// `user_factors` [U + 1, d], then `item_factors` [N + 1, d].
    let parameters: ParameterStore
    let optimizer: Adam
    /// X's pairs (CSR order) that take part.
    var pairUsers: [UInt32] = []
    var pairItems: [UInt32] = []

    init(matrix: InteractionMatrix, configuration: BPRMFConfiguration, environment: TrainingEnvironment) {
      self.matrix = matrix
      self.configuration = configuration
      self.environment = environment
      let d = configuration.factors
      dimension = d
      var layout = ParameterLayout()
      layout.add("user_factors", shape: [matrix.userCount + 1, d])
      layout.add("item_factors", shape: [matrix.itemCount + 1, d])
      parameters = ParameterStore(layout: layout)
      let users = parameters.parameter(0).value
      var generator = SeededGenerator(seed: environment.seed)
      BPRMF.fillNormal(
        users + d, count: matrix.userCount * d, deviation: BPRMF.initialDeviation, generator: &generator)
      BPRMF.fillNormal(
        parameters.parameter(1).value + d, count: matrix.itemCount * d, deviation: BPRMF.initialDeviation,
        generator: &generator)
      self.generator = generator
      for user in stride(from: 1, through: matrix.userCount, by: 1) where matrix.row(user).isEmpty {
        (users + user * d).update(repeating: 0, count: d)
      }
      optimizer = Adam(parameterCount: layout.count, learningRate: configuration.learningRate)
      for user in stride(from: 1, through: matrix.userCount, by: 1) {
        let row = matrix.row(user)
        guard row.count < matrix.itemCount else { continue }
        pairUsers.append(contentsOf: repeatElement(UInt32(user), count: row.count))
        pairItems.append(contentsOf: row)
      }
    }

    mutating func run() -> TrainedModel {
      let pairCount = pairUsers.count
      var order = Array(0..<pairCount)
      var negatives = [UInt32](repeating: 0, count: pairCount)
      let (d, split) = (dimension, parameters.layout.entries[1].offset)
      let outcome = NeuralTraining.runEpochs(
        model: "bpr-mf", maxEpochs: configuration.maxEpochs, patience: configuration.patience,
        parameters: parameters, environment: environment,
        makeScorer: { BPRMFScorer(dimension: d, values: $0, split: split) }
      ) {
        NeuralTraining.shuffle(&order, generator: &generator)
        for position in 0..<pairCount {
          let user = Int(pairUsers[order[position]])
          var negative: UInt32
          repeat {
            negative = UInt32(1 + generator.nextInt(below: matrix.itemCount))
          } while matrix.contains(user: user, item: negative)
          negatives[position] = negative
        }
        var lossSum = 0.0
        var batches = 0
        for batchStart in stride(from: 0, to: pairCount, by: configuration.batchSize) {
          let batch = batchStart..<min(pairCount, batchStart + configuration.batchSize)
          lossSum += accumulateGradients(batch, order: order, negatives: negatives)
          optimizer.update(parameters, threads: max(1, environment.threads))
          batches += 1
        }
        return batches > 0 ? lossSum / Double(batches) : 0
      }
      parameters.setValues(outcome.bestValues)
      let kept = BPRMFScorer(dimension: d, values: outcome.bestValues, split: split)
      return TrainedModel(
        tensors: parameters.tensors(), scorer: kept, curve: outcome.curve, bestEpoch: outcome.bestEpoch,
        details: [
          "epochs_run": JSONValue(outcome.epochs), "stop_reason": .string(outcome.stopped),
          "interactions": JSONValue(matrix.pairCount), "training_pairs": JSONValue(pairCount),
          "parameters": JSONValue(parameters.count),
          "users_without_train_interactions": JSONValue(kept.untrainedUserCount),
        ])
    }

    /// Fills the gradients of `batch` (positions in the shuffled order); returns the batch loss.
    func accumulateGradients(_ batch: Range<Int>, order: [Int], negatives: [UInt32]) -> Double {
      let d = dimension
      let size = Double(batch.count)
      let decay = Float(2 * configuration.regularization / size)
      var logLoss = 0.0
      var squaredNorms = 0.0
      parameters.zeroGradients()
      let (users, items) = (parameters.parameter(0), parameters.parameter(1))
      for position in batch {
        let pair = order[position]
        let (userRow, itemRow, negativeRow) = (
          Int(pairUsers[pair]) * d, Int(pairItems[pair]) * d, Int(negatives[position]) * d
        )
        let (u, i, j) = (users.value + userRow, items.value + itemRow, items.value + negativeRow)
        var x: Float = 0
        for k in 0..<d { x += u[k] * (i[k] - j[k]) }
        let c = Float(-1 / (1 + exp(Double(x))) / size)
        // −ln σ(x) = ln(1 + e^(−x)), written to stay finite for large |x|.
        logLoss += x > 0 ? log1p(exp(-Double(x))) : -Double(x) + log1p(exp(Double(x)))
        let (gu, gi, gj) = (users.gradient + userRow, items.gradient + itemRow, items.gradient + negativeRow)
        var norms: Float = 0
        for k in 0..<d {
          gu[k] += c * (i[k] - j[k]) + decay * u[k]
          norms += u[k] * u[k] + i[k] * i[k] + j[k] * j[k]
        }
        for k in 0..<d { gi[k] += c * u[k] + decay * i[k] }
        for k in 0..<d { gj[k] += (-c) * u[k] + decay * j[k] }
        squaredNorms += Double(norms)
      }
      return logLoss / size + configuration.regularization * squaredNorms / size
    }
  }
}

/// u·i with the user's factor row, or the fold-in mean of the history's item factors.
struct BPRMFScorer: EmbeddingScorer {
  let itemCount: Int
  let dimension: Int
  /// (U + 1) × d, row 0 padding.
  let userFactors: [Float]
  /// N × d: rows 1...N of the item factors.
  let itemVectors: [Float]
  /// By user id: whether the row has a nonzero value (zero rows are folded in).
  let trainedUsers: [Bool]

  /// The scorer of `values` laid out as `BPRMF.Trainer`'s parameters: user factors up to `split`,
  /// item factors after.
  init(dimension: Int, values: [Float], split: Int) {
    self.init(dimension: dimension, userFactors: Array(values[..<split]), itemFactors: Array(values[split...]))
  }

  init(dimension: Int, userFactors: [Float], itemFactors: [Float]) {
    self.dimension = dimension
    self.userFactors = userFactors
    itemCount = itemFactors.count / dimension - 1
    itemVectors = Array(itemFactors[dimension...])
    trainedUsers = (0..<(userFactors.count / dimension)).map { user in
      userFactors[(user * dimension)..<((user + 1) * dimension)].contains { $0 != 0 }
    }
  }

  var untrainedUserCount: Int { trainedUsers.dropFirst().filter { !$0 }.count }

  func userVectors(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
    let d = dimension
    for (row, sample) in range.enumerated() {
      let vector = output + row * d
      let user = Int(samples.users[sample])
      if user < trainedUsers.count && trainedUsers[user] {
        userFactors.withUnsafeBufferPointer { vector.update(from: $0.baseAddress! + user * d, count: d) }
        continue
      }
      vector.initialize(repeating: 0, count: d)
      let items = Set(samples.history(sample)).sorted()
      guard !items.isEmpty else { continue }
      for item in items {
        for k in 0..<d { vector[k] += itemVectors[(Int(item) - 1) * d + k] }
      }
      let count = Float(items.count)
      for k in 0..<d { vector[k] /= count }
    }
  }
}
