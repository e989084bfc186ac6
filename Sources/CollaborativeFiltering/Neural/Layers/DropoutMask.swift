import PipelineCore

/// Inverted dropout masks (PyTorch `nn.Dropout` in training mode): each element is kept with
/// probability 1 − p and then scaled by 1/(1 − p), or zeroed.
///
/// Row `r` (one sample of the batch, `rowWidth` elements) draws from the generator of (step seed,
/// `site`, r): each `next()` gives four 16-bit uniforms (low bits first) for four elements in order,
/// an element kept when its uniform is at least p · 2¹⁶ (so p is rounded to a multiple of 2⁻¹⁶).
/// Rows are drawn in parallel with the same result on any thread count. The mask holds the factor
/// (0 or 1/(1 − p)) for the backward pass.
final class DropoutMask {
  let probability: Double
  let site: UInt64
  let rowWidth: Int
  let mask: FloatBuffer
  private let threshold: UInt64
  private let scale: Float

  init(probability: Double, site: UInt64, rowWidth: Int, maxRows: Int) {
    precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1)")
    self.probability = probability
    self.site = site
    self.rowWidth = rowWidth
    mask = FloatBuffer(count: probability > 0 ? rowWidth * maxRows : 0)
    threshold = UInt64((probability * 65_536).rounded())
    scale = Float(1 / (1 - probability))
  }

  /// Whether the mask does anything (p > 0).
  var isActive: Bool { probability > 0 }

  /// Draws the masks of rows `0..<rows` for the step seeded `stepSeed`.
  func generate(rows: Int, stepSeed: UInt64, threads: Int) {
    guard isActive else { return }
    let target = mask.shared
    let width = rowWidth
    let threshold = self.threshold
    let scale = self.scale
    let site = self.site
    Parallel.forEach(rows, threads: threads, chunk: 8) { row in
      var generator = RandomStreams.generator(stepSeed: stepSeed, site: site, row: row)
      let line = target.base + row * width
      // Four elements per draw, compared and selected as a vector: the draws are random, so a
      // branch per element would mispredict half the time.
      let limit = SIMD4<Int32>(repeating: Int32(threshold))
      let kept = SIMD4<Float>(repeating: scale)
      var index = 0
      while index < width {
        let bits = generator.next()
        let uniforms = SIMD4<Int32>(
          Int32(truncatingIfNeeded: bits & 0xFFFF), Int32(truncatingIfNeeded: (bits >> 16) & 0xFFFF),
          Int32(truncatingIfNeeded: (bits >> 32) & 0xFFFF), Int32(truncatingIfNeeded: bits >> 48))
        let factors = SIMD4<Float>(repeating: 0).replacing(with: kept, where: uniforms .>= limit)
        if index + 4 <= width {
          UnsafeMutableRawPointer(line + index).storeBytes(of: factors, as: SIMD4<Float>.self)
        } else {
          for lane in 0..<(width - index) { line[index + lane] = factors[lane] }
        }
        index += 4
      }
    }
  }
}
