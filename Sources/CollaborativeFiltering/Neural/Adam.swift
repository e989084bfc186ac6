import Foundation
import PipelineCore

/// Adam as `torch.optim.Adam` computes it (single-tensor path, `amsgrad` off), dense over every
/// parameter every step, as PyTorch updates an `nn.Embedding` with dense gradients.
///
/// Per element, in Float: g ← g + wd·p (when wd ≠ 0); m ← m + (1 − β₁)(g − m) (`lerp_`);
/// v ← β₂·v + (1 − β₂)·g²; p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε), the bias
/// corrections computed in Double as Python does.
///
/// Elementwise, so the result does not depend on the thread count.
public final class Adam {
  public let learningRate: Double
  public let beta1: Double
  public let beta2: Double
  public let epsilon: Double
  public let weightDecay: Double
  /// Steps taken so far.
  public private(set) var step = 0
  let firstMoment: FloatBuffer
  let secondMoment: FloatBuffer

  public init(
    parameterCount: Int, learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
    weightDecay: Double = 0
  ) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
    firstMoment = FloatBuffer(count: parameterCount)
    secondMoment = FloatBuffer(count: parameterCount)
  }

  /// One update of every value of `parameters` from its gradient.
  /// - Complexity: O(parameters), on `threads` threads.
  public func update(_ parameters: ParameterStore, threads: Int) {
    precondition(parameters.count <= firstMoment.count, "the optimizer was built for fewer parameters")
    step += 1
    let stepSize = Float(-(learningRate / (1 - pow(beta1, Double(step)))))
    let correction = Float((1 - pow(beta2, Double(step))).squareRoot())
    let oneMinusBeta1 = Float(1 - beta1)
    let beta2 = Float(self.beta2)
    let oneMinusBeta2 = Float(1 - self.beta2)
    let epsilon = Float(self.epsilon)
    let decay = Float(weightDecay)
    let hasDecay = weightDecay != 0
    let values = DisjointPointer(parameters.values)
    let gradients = DisjointPointer(parameters.gradients)
    let first = firstMoment.shared
    let second = secondMoment.shared
    VectorKernels.forEachRange(parameters.count, threads: threads, grain: 16_384) { lower, upper in
      let (p, g, m, v) = (values.base, gradients.base, first.base, second.base)
      // Eight elements at a time (the same arithmetic per element as the scalar tail).
      var index = lower
      while index + 8 <= upper {
        var gradient = load(g + index)
        if hasDecay { gradient += decay * load(p + index) }
        let previous = load(m + index)
        let mean = previous + oneMinusBeta1 * (gradient - previous)
        let square = load(v + index) * beta2 + oneMinusBeta2 * (gradient * gradient)
        store(mean, m + index)
        store(square, v + index)
        let denominator = square.squareRoot() / correction + epsilon
        store(load(p + index) + stepSize * (mean / denominator), p + index)
        index += 8
      }
      while index < upper {
        var gradient = g[index]
        if hasDecay { gradient += decay * p[index] }
        let mean = m[index] + oneMinusBeta1 * (gradient - m[index])
        let square = v[index] * beta2 + oneMinusBeta2 * (gradient * gradient)
        m[index] = mean
        v[index] = square
        let denominator = square.squareRoot() / correction + epsilon
        p[index] += stepSize * (mean / denominator)
        index += 1
      }
    }
  }
}

@inline(__always)
private func load(_ pointer: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
  UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func store(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
  UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
}
