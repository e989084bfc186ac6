import Foundation
import PipelineCore

/// The three training losses of the sequential models over the features of a batch and the item
/// embedding (scores are dot products with its rows). Features are the last `featureLength`
/// positions of each sample, sample-major (all L for `bce-all`, which reads every position; `bce` and
/// `ce` read only the last, the user vector).
///
/// `bce` needs only 2·B dot products (the official code computes all B × (N + 1) logits and
/// gathers two per row); `bce-all` at most 2·B·L; `ce` all B × N logits, three sgemm.
/// Negatives come from the generator of (step seed, negative site, sample row). Sums over the batch
/// are taken serially in Double, and the embedding gradient is scatter-added serially in batch
/// order, so nothing depends on the thread count.
public final class SequenceLoss {
  /// Items per sgemm block of the `ce` logits.
  static let itemBlock = 1024

  public let kind: NeuralLoss
  public let width: Int
  public let length: Int
  public let itemCount: Int
  public let itemEmbedding: Parameter
  let threads: Int
  let productThreads: Int
  /// dL/d features, `[samples · length, d]`, after `evaluate(…, computeGradient: true)`.
  let featureGradientBuffer: FloatBuffer
  let negatives: NeuralBuffer<Int32>
  let positiveCoefficients: FloatBuffer
  let negativeCoefficients: FloatBuffer
  let positiveLosses: NeuralBuffer<Double>
  let negativeLosses: NeuralBuffer<Double>
  let counts: NeuralBuffer<Int>
  let users: FloatBuffer
  let logits: FloatBuffer
  let userGradient: FloatBuffer

  public init(
    kind: NeuralLoss, width: Int, length: Int, maxSamples: Int, itemCount: Int, itemEmbedding: Parameter,
    threads: Int, productThreads: Int = 1
  ) {
    precondition(itemEmbedding.count == (itemCount + 1) * width, "item embedding shape")
    self.kind = kind
    self.width = width
    self.length = length
    self.itemCount = itemCount
    self.itemEmbedding = itemEmbedding
    self.threads = threads
    self.productThreads = productThreads
    let tokens = maxSamples * length
    featureGradientBuffer = FloatBuffer(count: tokens * width)
    negatives = NeuralBuffer(count: tokens)
    positiveCoefficients = FloatBuffer(count: tokens)
    negativeCoefficients = FloatBuffer(count: tokens)
    positiveLosses = NeuralBuffer(count: maxSamples)
    negativeLosses = NeuralBuffer(count: maxSamples)
    counts = NeuralBuffer(count: maxSamples)
    let full = kind == .ce
    users = FloatBuffer(count: full ? maxSamples * width : 0)
    logits = FloatBuffer(count: full ? maxSamples * itemCount : 0)
    userGradient = FloatBuffer(count: full ? maxSamples * width : 0)
  }

  /// The gradient of the last `evaluate(…, computeGradient: true)` with respect to its features.
  public var featureGradient: UnsafePointer<Float> { UnsafePointer(featureGradientBuffer.base) }

  /// The mean loss of the batch. With `computeGradient`, also sets `featureGradient` (same layout
  /// as `features`) and adds the loss's part of the item embedding gradient.
  /// - Parameters:
  ///   - items: the input item ids, `[samples · length]`, 0 = padding (left-padded).
  ///   - targets: the target item id of each sample.
  ///   - features: `[samples · featureLength, d]`, the last `featureLength` positions per sample
  ///     (`length` by default; `bce-all` needs all of them).
  public func evaluate(
    samples: Int, items: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, features: UnsafePointer<Float>,
    featureLength: Int? = nil, stepSeed: UInt64, computeGradient: Bool
  ) -> Double {
    let featureLength = featureLength ?? length
    precondition(
      featureLength >= 1 && featureLength <= length && (kind != .bceAll || featureLength == length),
      "loss: bce-all needs the features of every position")
    guard samples > 0 else { return 0 }
    if computeGradient { featureGradientBuffer.base.update(repeating: 0, count: samples * featureLength * width) }
    switch kind {
    case .bce, .bceAll:
      return binaryCrossEntropy(
        samples: samples, items: items, targets: targets, features: features, featureLength: featureLength,
        stepSeed: stepSeed, computeGradient: computeGradient)
    case .ce:
      return crossEntropy(
        samples: samples, targets: targets, features: features, featureLength: featureLength,
        computeGradient: computeGradient)
    }
  }

  /// The positions of a sample that carry a loss, and each one's positive item: `bce` only the last
  /// (the target); `bce-all` every position t whose next item ((items ++ [target])[t + 1]) is not 0.
  @inline(__always)
  static func positive(
    kind: NeuralLoss, position: Int, length: Int, items: UnsafePointer<Int32>, target: Int32
  ) -> Int32 {
    if position == length - 1 { return target }
    return kind == .bceAll ? items[position + 1] : 0
  }

  private func binaryCrossEntropy(
    samples: Int, items: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, features: UnsafePointer<Float>,
    featureLength: Int, stepSeed: UInt64, computeGradient: Bool
  ) -> Double {
    let (kind, width, length, itemCount) = (self.kind, self.width, self.length, self.itemCount)
    // The feature row of (sample, position) for the positions the features hold.
    let skipped = length - featureLength
    let ids = DisjointPointer(reading: items)
    let goals = DisjointPointer(reading: targets)
    let rows = DisjointPointer(reading: features)
    let table = DisjointPointer(itemEmbedding.value)
    let (drawn, positiveCoefficient, negativeCoefficient) = (
      negatives.shared, positiveCoefficients.shared, negativeCoefficients.shared
    )
    let (positiveLoss, negativeLoss, count) = (positiveLosses.shared, negativeLosses.shared, counts.shared)
    Parallel.forEach(samples, threads: threads, chunk: 16) { sample in
      var generator = RandomStreams.generator(stepSeed: stepSeed, site: RandomStreams.negativeSite, row: sample)
      let input = ids.base + sample * length
      let target = goals.base[sample]
      let excluded = UnsafeBufferPointer(start: input, count: length)
      var positiveSum = 0.0
      var negativeSum = 0.0
      var used = 0
      let first = kind == .bceAll ? 0 : length - 1
      for position in 0..<length {
        let token = sample * length + position
        let item =
          position >= first
          ? Self.positive(kind: kind, position: position, length: length, items: input, target: target) : 0
        guard item != 0 else {
          drawn.base[token] = 0
          positiveCoefficient.base[token] = 0
          negativeCoefficient.base[token] = 0
          continue
        }
        let negative = NegativeSampler.draw(
          itemCount: itemCount, excluding: excluded, target: target, generator: &generator)
        let user = rows.base + (sample * featureLength + position - skipped) * width
        let positiveLogit = VectorKernels.dot(user, table.base + Int(item) * width, width)
        let negativeLogit = VectorKernels.dot(user, table.base + Int(negative) * width, width)
        positiveSum += Activation.softplus(-Double(positiveLogit))
        negativeSum += Activation.softplus(Double(negativeLogit))
        drawn.base[token] = negative
        positiveCoefficient.base[token] = Activation.sigmoid(positiveLogit) - 1
        negativeCoefficient.base[token] = Activation.sigmoid(negativeLogit)
        used += 1
      }
      positiveLoss.base[sample] = positiveSum
      negativeLoss.base[sample] = negativeSum
      count.base[sample] = used
    }
    var positiveTotal = 0.0
    var negativeTotal = 0.0
    var terms = 0
    for sample in 0..<samples {
      positiveTotal += positiveLosses.base[sample]
      negativeTotal += negativeLosses.base[sample]
      terms += counts.base[sample]
    }
    guard terms > 0 else { return 0 }
    // bce: the mean over the 2·B logits; bce-all: mean over positives + mean over negatives.
    let scale = kind == .bce ? 1 / Double(2 * terms) : 1 / Double(terms)
    let loss = (positiveTotal + negativeTotal) * scale
    guard computeGradient else { return loss }
    let factor = Float(scale)
    let gradient = featureGradientBuffer.shared
    Parallel.forEach(samples, threads: samples * length * width >= 32_768 ? threads : 1, chunk: 16) { sample in
      let input = ids.base + sample * length
      let target = goals.base[sample]
      for position in 0..<length {
        let token = sample * length + position
        let negative = Int(drawn.base[token])
        guard negative != 0 else { continue }
        let item = Int(Self.positive(kind: kind, position: position, length: length, items: input, target: target))
        let row = gradient.base + (sample * featureLength + position - skipped) * width
        VectorKernels.add(factor * positiveCoefficient.base[token], table.base + item * width, to: row, width)
        VectorKernels.add(factor * negativeCoefficient.base[token], table.base + negative * width, to: row, width)
      }
    }
    for sample in 0..<samples {
      let input = items + sample * length
      for position in 0..<length {
        let token = sample * length + position
        let negative = Int(negatives.base[token])
        guard negative != 0 else { continue }
        let item = Int(
          Self.positive(kind: kind, position: position, length: length, items: input, target: targets[sample]))
        let user = features + (sample * featureLength + position - skipped) * width
        VectorKernels.add(
          factor * positiveCoefficients.base[token], user, to: itemEmbedding.gradient + item * width, width)
        VectorKernels.add(
          factor * negativeCoefficients.base[token], user, to: itemEmbedding.gradient + negative * width, width)
      }
    }
    return loss
  }

  private func crossEntropy(
    samples: Int, targets: UnsafePointer<Int32>, features: UnsafePointer<Float>, featureLength: Int,
    computeGradient: Bool
  ) -> Double {
    let (width, itemCount) = (self.width, self.itemCount)
    for sample in 0..<samples {
      (users.base + sample * width).update(
        from: features + (sample * featureLength + featureLength - 1) * width, count: width)
    }
    let items = itemEmbedding.value + width  // rows 1...N
    TiledProduct.columnBlocks(
      m: samples, n: itemCount, k: width, a: users.base, lda: width, b: items, ldb: width, transposeB: true,
      c: logits.base, ldc: itemCount, blockColumns: Self.itemBlock, threads: productThreads)
    let scores = logits.shared
    let goals = DisjointPointer(reading: targets)
    let losses = positiveLosses.shared
    let inverseCount = Float(1 / Double(samples))
    Parallel.forEach(samples, threads: threads) { sample in
      let row = scores.base + sample * itemCount
      var largest = -Float.infinity
      for index in 0..<itemCount { largest = max(largest, row[index]) }
      var total = 0.0
      for index in 0..<itemCount { total += Double(exp(row[index] - largest)) }
      let logNormalizer = Double(largest) + log(total)
      let target = Int(goals.base[sample]) - 1
      losses.base[sample] = logNormalizer - Double(row[target])
      guard computeGradient else { return }
      let shift = Float(logNormalizer)
      for index in 0..<itemCount { row[index] = exp(row[index] - shift) * inverseCount }
      row[target] -= inverseCount
    }
    var total = 0.0
    for sample in 0..<samples { total += positiveLosses.base[sample] }
    let loss = total / Double(samples)
    guard computeGradient else { return loss }
    TiledProduct.rowBlocks(
      m: samples, n: width, k: itemCount, a: logits.base, lda: itemCount, b: items, ldb: width,
      c: userGradient.base, ldc: width, blockRows: 32, threads: productThreads)
    for sample in 0..<samples {
      (featureGradientBuffer.base + (sample * featureLength + featureLength - 1) * width).update(
        from: userGradient.base + sample * width, count: width)
    }
    TiledProduct.rowBlocks(
      m: itemCount, n: width, k: samples, a: logits.base, lda: itemCount, transposeA: true, b: users.base,
      ldb: width, beta: 1, c: itemEmbedding.gradient + width, ldc: width, blockRows: Self.itemBlock,
      threads: productThreads)
    return loss
  }
}
