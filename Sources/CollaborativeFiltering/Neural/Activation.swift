import Foundation

/// Stable scalar functions of the losses and the GRU.
enum Activation {
  @inline(__always)
  static func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + exp(-x)) }
    let e = exp(x)
    return e / (1 + e)
  }

  /// log(1 + eˣ) in Double, without overflow.
  @inline(__always)
  static func softplus(_ x: Double) -> Double {
    max(x, 0) + log1p(exp(-abs(x)))
  }
}
