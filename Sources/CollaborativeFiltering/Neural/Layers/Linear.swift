import DenseLinearAlgebra
import PipelineCore

/// A fully connected layer `y = x·Wᵀ + b` over a batch of rows (PyTorch `nn.Linear`, and `nn.Conv1d`
/// with kernel size 1), the weight stored `[outputWidth, inputWidth]`.
///
/// Each pass is sgemm in fixed blocks (see `TiledProduct`): 256 rows of the batch per block forward
/// and for the input gradient, 32 rows of the weight per block for its gradient (the sum over the
/// batch inside one call). The bias gradient is a column sum in a fixed order. Nothing is saved: the caller
/// keeps the input for the backward pass.
public final class Linear {
  /// Rows of the batch per sgemm call.
  static let blockRows = 256
  /// Rows of the weight gradient per sgemm call.
  static let weightBlockRows = 32

  public let inputWidth: Int
  public let outputWidth: Int
  public let weight: Parameter
  public let bias: Parameter
  let threads: Int
  let productThreads: Int

  /// - Parameters:
  ///   - threads: threads for the elementwise loops.
  ///   - productThreads: threads that run sgemm blocks at once (see `TiledProduct`); more than 1
  ///     only while OpenBLAS is held at one thread.
  public init(
    inputWidth: Int, outputWidth: Int, weight: Parameter, bias: Parameter, threads: Int, productThreads: Int = 1
  ) {
    precondition(weight.count == inputWidth * outputWidth && bias.count == outputWidth, "linear layer shapes")
    self.inputWidth = inputWidth
    self.outputWidth = outputWidth
    self.weight = weight
    self.bias = bias
    self.threads = threads
    self.productThreads = productThreads
  }

  /// output = input·Wᵀ + b, or output += input·Wᵀ + b when `accumulate`.
  /// - Complexity: O(rows · inputWidth · outputWidth).
  public func forward(
    rows: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, accumulate: Bool = false
  ) {
    guard rows > 0 else { return }
    let (inputWidth, outputWidth) = (self.inputWidth, self.outputWidth)
    let source = DisjointPointer(reading: input)
    let target = DisjointPointer(output)
    let (weight, bias) = (DisjointPointer(self.weight.value), DisjointPointer(self.bias.value))
    let blockRows = Self.blockRows
    let blocks = (rows + blockRows - 1) / blockRows
    Parallel.forEach(blocks, threads: productThreads) { block in
      let lower = block * blockRows
      let count = min(rows, lower + blockRows) - lower
      let start = target.base + lower * outputWidth
      for row in 0..<count {
        let line = start + row * outputWidth
        if accumulate {
          for column in 0..<outputWidth { line[column] += bias.base[column] }
        } else {
          line.update(from: bias.base, count: outputWidth)
        }
      }
      DenseLinearAlgebra.multiply(
        m: count, n: outputWidth, k: inputWidth, a: source.base + lower * inputWidth, lda: inputWidth,
        b: weight.base, ldb: inputWidth, transposeB: true, beta: 1, c: start, ldc: outputWidth)
    }
  }

  /// Adds dL/dW = dYᵀ·X and dL/db = Σ dY to the gradients; sets (or adds to, when `accumulate`)
  /// `inputGradient` = dY·W when it is given. The three are independent blocks of one parallel loop.
  public func backward(
    rows: Int, input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, accumulate: Bool = false
  ) {
    guard rows > 0 else { return }
    let (inputWidth, outputWidth) = (self.inputWidth, self.outputWidth)
    let upstream = DisjointPointer(reading: outputGradient)
    let source = DisjointPointer(reading: input)
    let weight = DisjointPointer(self.weight.value)
    let weightGradient = DisjointPointer(self.weight.gradient)
    let biasGradient = DisjointPointer(self.bias.gradient)
    let downstream = inputGradient.map { DisjointPointer($0) }
    let (weightBlockRows, blockRows) = (Self.weightBlockRows, Self.blockRows)
    let weightBlocks = (outputWidth + weightBlockRows - 1) / weightBlockRows
    let inputBlocks = inputGradient == nil ? 0 : (rows + blockRows - 1) / blockRows
    // Task 0: the bias; then the weight gradient's row blocks (the sum over the batch inside one
    // call each); then the input gradient's row blocks.
    Parallel.forEach(1 + weightBlocks + inputBlocks, threads: productThreads) { task in
      if task == 0 {
        VectorKernels.addColumnSums(
          rows: rows, width: outputWidth, upstream.base, stride: outputWidth, into: biasGradient.base, threads: 1)
      } else if task <= weightBlocks {
        let lower = (task - 1) * weightBlockRows
        let count = min(outputWidth, lower + weightBlockRows) - lower
        DenseLinearAlgebra.multiply(
          m: count, n: inputWidth, k: rows, a: upstream.base + lower, lda: outputWidth, transposeA: true,
          b: source.base, ldb: inputWidth, beta: 1, c: weightGradient.base + lower * inputWidth, ldc: inputWidth)
      } else if let downstream {
        let lower = (task - 1 - weightBlocks) * blockRows
        let count = min(rows, lower + blockRows) - lower
        DenseLinearAlgebra.multiply(
          m: count, n: inputWidth, k: outputWidth, a: upstream.base + lower * outputWidth, lda: outputWidth,
          b: weight.base, ldb: inputWidth, beta: accumulate ? 1 : 0, c: downstream.base + lower * inputWidth,
          ldc: inputWidth)
      }
    }
  }
}
