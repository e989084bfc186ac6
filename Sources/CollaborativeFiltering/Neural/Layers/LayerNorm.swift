import PipelineCore

/// Layer normalisation over the last dimension (PyTorch `nn.LayerNorm`): per row,
/// y = (x − mean) / √(var + ε) · weight + bias, with the biased variance.
///
/// The forward pass keeps the normalised rows and 1/√(var + ε) for the backward pass. Rows are
/// independent (parallel over rows); the weight and bias gradients are column sums in row order.
public final class LayerNorm {
  public let width: Int
  public let epsilon: Float
  public let weight: Parameter
  public let bias: Parameter
  let threads: Int
  let normalized: FloatBuffer
  let inverseDeviation: FloatBuffer

  /// The official SASRec uses ε = 1e-8 for every LayerNorm.
  public init(width: Int, maxRows: Int, epsilon: Float = 1e-8, weight: Parameter, bias: Parameter, threads: Int) {
    precondition(weight.count == width && bias.count == width, "layer norm shapes")
    self.width = width
    self.epsilon = epsilon
    self.weight = weight
    self.bias = bias
    self.threads = threads
    normalized = FloatBuffer(count: maxRows * width)
    inverseDeviation = FloatBuffer(count: maxRows)
  }

  /// output = LayerNorm(input) for `rows` rows (output may not alias input).
  /// - Complexity: O(rows · width).
  public func forward(rows: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
    precondition(rows * width <= normalized.count, "layer norm: more rows than it was built for")
    let width = self.width
    let epsilon = self.epsilon
    let source = DisjointPointer(reading: input)
    let target = DisjointPointer(output)
    let saved = normalized.shared
    let inverse = inverseDeviation.shared
    let weight = DisjointPointer(self.weight.value)
    let bias = DisjointPointer(self.bias.value)
    Parallel.forEach(rows, threads: rows * width >= 16_384 ? threads : 1, chunk: 32) { row in
      let x = source.base + row * width
      let xHat = saved.base + row * width
      let y = target.base + row * width
      let mean = VectorKernels.sum(x, width) / Float(width)
      let squares = VectorKernels.squaredDeviations(x, mean: mean, width)
      let rstd = 1 / (squares / Float(width) + epsilon).squareRoot()
      inverse.base[row] = rstd
      for index in 0..<width {
        let value = (x[index] - mean) * rstd
        xHat[index] = value
        y[index] = value * weight.base[index] + bias.base[index]
      }
    }
  }

  /// Adds the weight and bias gradients; sets (or adds to, when `accumulate`) `inputGradient`:
  /// dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)) with g = dy ⊙ weight.
  public func backward(
    rows: Int, outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
    accumulate: Bool = false
  ) {
    let width = self.width
    VectorKernels.addColumnDotProducts(
      rows: rows, width: width, outputGradient, normalized.base, into: weight.gradient, threads: threads)
    VectorKernels.addColumnSums(
      rows: rows, width: width, outputGradient, stride: width, into: bias.gradient, threads: threads)
    let upstream = DisjointPointer(reading: outputGradient)
    let target = DisjointPointer(inputGradient)
    let saved = normalized.shared
    let inverse = inverseDeviation.shared
    let weight = DisjointPointer(self.weight.value)
    Parallel.forEach(rows, threads: rows * width >= 16_384 ? threads : 1, chunk: 32) { row in
      let dy = upstream.base + row * width
      let xHat = saved.base + row * width
      let dx = target.base + row * width
      // mean(g) and mean(g ⊙ x̂) with g = dy ⊙ weight, in 8 lanes.
      var gradientLanes = SIMD8<Float>()
      var projectionLanes = SIMD8<Float>()
      var index = 0
      while index + 8 <= width {
        let g = load(dy + index) * load(weight.base + index)
        gradientLanes += g
        projectionLanes += g * load(xHat + index)
        index += 8
      }
      var meanGradient = gradientLanes.sum()
      var meanProjection = projectionLanes.sum()
      while index < width {
        let g = dy[index] * weight.base[index]
        meanGradient += g
        meanProjection += g * xHat[index]
        index += 1
      }
      meanGradient /= Float(width)
      meanProjection /= Float(width)
      let rstd = inverse.base[row]
      for index in 0..<width {
        let g = dy[index] * weight.base[index]
        let value = rstd * (g - meanGradient - xHat[index] * meanProjection)
        if accumulate { dx[index] += value } else { dx[index] = value }
      }
    }
  }
}

@inline(__always)
private func load(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
  UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func load(_ pointer: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
  UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}
