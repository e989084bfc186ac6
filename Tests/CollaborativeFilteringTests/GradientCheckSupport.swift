import CollaborativeFiltering
import PipelineCore
import Testing

/// Float storage for the gradient checks, freed with the value.
final class TestArray {
  let pointer: UnsafeMutablePointer<Float>
  let count: Int

  init(count: Int) {
    self.count = count
    pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
  }

  /// Uniform values in [−scale, scale) from `generator`.
  convenience init(count: Int, scale: Float, generator: inout SeededGenerator) {
    self.init(count: count)
    fillUniform(pointer, count: count, scale: scale, generator: &generator)
  }

  deinit { pointer.deallocate() }

  var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

  /// Σ coefficients[i] · self[i] in Double: the scalar loss through which a layer is checked.
  func weightedSum(_ coefficients: TestArray) -> Double {
    var total = 0.0
    for index in 0..<count { total += Double(coefficients.pointer[index]) * Double(pointer[index]) }
    return total
  }
}

func fillUniform(_ values: UnsafeMutablePointer<Float>, count: Int, scale: Float, generator: inout SeededGenerator) {
  for index in 0..<count { values[index] = Float(2 * generator.nextUnit() - 1) * scale }
}

/// Every parameter of `store` set to uniform values in [−scale, scale); LayerNorm-like weights
/// (names ending in "norm.weight" or "layernorm(s).i.weight") around 1 so they stay well-scaled.
func randomize(_ store: ParameterStore, scale: Float, generator: inout SeededGenerator) {
  for (index, entry) in store.layout.entries.enumerated() {
    let parameter = store.parameter(index)
    fillUniform(parameter.value, count: parameter.count, scale: scale, generator: &generator)
    if entry.name.contains("norm") && entry.name.hasSuffix("weight") {
      for element in 0..<parameter.count { parameter.value[element] += 1 }
    }
  }
}

/// The result of comparing an analytic gradient with central finite differences.
struct GradientComparison: CustomStringConvertible {
  var name: String
  var analytic: [Float]
  var numeric: [Double]

  /// max |numeric − analytic| / max(max |analytic|, max |numeric|).
  var maxRelativeError: Double {
    let scale = max(
      analytic.map { Double(abs($0)) }.max() ?? 0, numeric.map { abs($0) }.max() ?? 0, 1e-12)
    return zip(analytic, numeric).map { abs(Double($0) - $1) }.max().map { $0 / scale } ?? 0
  }

  /// ‖numeric − analytic‖ / ‖numeric‖.
  var normRelativeError: Double {
    let difference = zip(analytic, numeric).map { (Double($0) - $1) * (Double($0) - $1) }.reduce(0, +)
    let reference = numeric.map { $0 * $0 }.reduce(0, +)
    return (difference / max(reference, 1e-24)).squareRoot()
  }

  var description: String {
    let worst = zip(analytic, numeric).enumerated().max { abs(Double($0.1.0) - $0.1.1) < abs(Double($1.1.0) - $1.1.1) }
    return
      "\(name): max error \(maxRelativeError) of the largest, norm error \(normRelativeError); worst element \(worst.map { "\($0.offset): analytic \($0.element.0) numeric \($0.element.1)" } ?? "-")"
  }
}

/// Central differences of `loss` at every element of `values` (step `step`, the actual Float
/// perturbation used as the denominator), compared with `analytic`. Records an issue when the
/// largest element error exceeds `tolerance` of the largest gradient or the norm error exceeds it.
@discardableResult
func checkGradient(
  _ name: String, values: UnsafeMutablePointer<Float>, count: Int, analytic: [Float], step: Float = 1e-2,
  tolerance: Double = 1e-2, sourceLocation: SourceLocation = #_sourceLocation, loss: () -> Double
) -> GradientComparison {
  precondition(analytic.count == count)
  var numeric = [Double](repeating: 0, count: count)
  for index in 0..<count {
    let original = values[index]
    let up = original + step
    let down = original - step
    values[index] = up
    let lossUp = loss()
    values[index] = down
    let lossDown = loss()
    values[index] = original
    numeric[index] = (lossUp - lossDown) / (Double(up) - Double(down))
  }
  let comparison = GradientComparison(name: name, analytic: analytic, numeric: numeric)
  if FileSystem.environment("GRADIENT_CHECK_VERBOSE") == "1" { print("gradient check: \(comparison)") }
  let scale = max(analytic.map { abs($0) }.max() ?? 0, 0)
  if scale > 0 || (numeric.map { abs($0) }.max() ?? 0) > 1e-6 {
    #expect(
      comparison.maxRelativeError <= tolerance && comparison.normRelativeError <= tolerance,
      "\(comparison)", sourceLocation: sourceLocation)
  }
  return comparison
}

/// Checks every tensor of `store` against its gradient (which the caller computed for `loss`).
func checkAllParameters(
  _ store: ParameterStore, step: Float = 1e-2, tolerance: Double = 1e-2, skip: Set<String> = [],
  sourceLocation: SourceLocation = #_sourceLocation, loss: () -> Double
) {
  let gradients = store.copyGradients()
  for (index, entry) in store.layout.entries.enumerated() where !skip.contains(entry.name) {
    let parameter = store.parameter(index)
    let analytic = Array(gradients[entry.offset..<entry.offset + entry.count])
    checkGradient(
      entry.name, values: parameter.value, count: parameter.count, analytic: analytic, step: step,
      tolerance: tolerance, sourceLocation: sourceLocation, loss: loss)
  }
}
