import PipelineCore

/// The official SASRec `PointWiseFeedForward`: y = dropout₂(conv2(ReLU(dropout₁(conv1(x))))) + x,
/// each Conv1d of kernel size 1 being a `Linear` d → d over the tokens (weight stored `[d, d, 1]`).
///
/// Two sgemm per pass plus elementwise loops over tokens; masks per sample (see `DropoutMask`).
public final class PointwiseFeedForward {
  public let width: Int
  public let length: Int
  let threads: Int
  public let first: Linear
  public let second: Linear
  let firstDropout: DropoutMask
  let secondDropout: DropoutMask
  /// Saved: conv1's output `[T, d]` (before dropout) and the ReLU output `[T, d]`.
  let hidden: FloatBuffer
  let activated: FloatBuffer
  let outputScratch: FloatBuffer
  let activatedGradient: FloatBuffer
  private var droppedOut = false

  public init(
    width: Int, length: Int, maxSamples: Int, dropout: Double, firstWeight: Parameter, firstBias: Parameter,
    secondWeight: Parameter, secondBias: Parameter, dropoutSites: (UInt64, UInt64) = (0, 1), threads: Int,
    productThreads: Int = 1
  ) {
    self.width = width
    self.length = length
    self.threads = threads
    first = Linear(
      inputWidth: width, outputWidth: width, weight: firstWeight, bias: firstBias, threads: threads,
      productThreads: productThreads)
    second = Linear(
      inputWidth: width, outputWidth: width, weight: secondWeight, bias: secondBias, threads: threads,
      productThreads: productThreads)
    firstDropout = DropoutMask(
      probability: dropout, site: dropoutSites.0, rowWidth: length * width, maxRows: maxSamples)
    secondDropout = DropoutMask(
      probability: dropout, site: dropoutSites.1, rowWidth: length * width, maxRows: maxSamples)
    let count = maxSamples * length * width
    hidden = FloatBuffer(count: count)
    activated = FloatBuffer(count: count)
    outputScratch = FloatBuffer(count: count)
    activatedGradient = FloatBuffer(count: count)
  }

  /// output = FFN(input) + input (output may not alias input); dropout only when `training`.
  /// - Complexity: O(T·d²), T = samples · length.
  public func forward(
    samples: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, training: Bool,
    stepSeed: UInt64 = 0
  ) {
    let count = samples * length * width
    let tokens = samples * length
    droppedOut = training && firstDropout.isActive
    if droppedOut {
      firstDropout.generate(rows: samples, stepSeed: stepSeed, threads: threads)
      secondDropout.generate(rows: samples, stepSeed: stepSeed, threads: threads)
    }
    first.forward(rows: tokens, input: input, output: hidden.base)
    let useDropout = droppedOut
    let h = hidden.shared
    let r = activated.shared
    let mask1 = firstDropout.mask.shared
    VectorKernels.forEachRange(count, threads: threads) { lower, upper in
      for index in lower..<upper {
        let value = useDropout ? h.base[index] * mask1.base[index] : h.base[index]
        r.base[index] = max(value, 0)
      }
    }
    second.forward(rows: tokens, input: activated.base, output: outputScratch.base)
    let y = DisjointPointer(output)
    let x = DisjointPointer(reading: input)
    let h2 = outputScratch.shared
    let mask2 = secondDropout.mask.shared
    VectorKernels.forEachRange(count, threads: threads) { lower, upper in
      for index in lower..<upper {
        let value = useDropout ? h2.base[index] * mask2.base[index] : h2.base[index]
        y.base[index] = value + x.base[index]
      }
    }
  }

  /// Adds the conv gradients and sets `inputGradient` from the output gradient.
  public func backward(
    samples: Int, input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>
  ) {
    let count = samples * length * width
    let tokens = samples * length
    let useDropout = droppedOut
    let upstream = DisjointPointer(reading: outputGradient)
    let scratch = outputScratch.shared
    let mask2 = secondDropout.mask.shared
    if useDropout {
      VectorKernels.forEachRange(count, threads: threads) { lower, upper in
        for index in lower..<upper { scratch.base[index] = upstream.base[index] * mask2.base[index] }
      }
    }
    second.backward(
      rows: tokens, input: activated.base,
      outputGradient: useDropout ? UnsafePointer(outputScratch.base) : outputGradient,
      inputGradient: activatedGradient.base)
    let r = activated.shared
    let dr = activatedGradient.shared
    let mask1 = firstDropout.mask.shared
    VectorKernels.forEachRange(count, threads: threads) { lower, upper in
      for index in lower..<upper {
        let open: Float = r.base[index] > 0 ? 1 : 0
        let factor = useDropout ? open * mask1.base[index] : open
        dr.base[index] *= factor
      }
    }
    first.backward(rows: tokens, input: input, outputGradient: activatedGradient.base, inputGradient: inputGradient)
    let dx = DisjointPointer(inputGradient)
    VectorKernels.forEachRange(count, threads: threads) { lower, upper in
      for index in lower..<upper { dx.base[index] += upstream.base[index] }
    }
  }
}
