import Foundation
import PipelineCore

/// One GRU layer with PyTorch `nn.GRU` semantics (gate order r, z, n):
///
///     r = σ(W_ir x + b_ir + W_hr h + b_hr)     z = σ(W_iz x + b_iz + W_hz h + b_hz)
///     n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))     h' = (1 − z) ⊙ n + z ⊙ h
///
/// run over `length` steps of each sample; a step whose item is padding (0) leaves h unchanged.
/// The output row of token (b, t) is the hidden state after step t. The input projection is one
/// sgemm over all tokens, the hidden projection one sgemm per step over the batch; gates are
/// elementwise per sample in parallel.
public final class GRULayer {
  public let width: Int
  public let length: Int
  let threads: Int
  /// `weight_ih_l0` `[3d, d]` and `bias_ih_l0`.
  public let inputProjection: Linear
  /// `weight_hh_l0` `[3d, d]` and `bias_hh_l0`.
  public let hiddenProjection: Linear
  /// Saved: the input projections `[T, 3d]`, the hidden states `[(L + 1), samples, d]` (step-major,
  /// state 0 is the initial one), and per step r, z, n and W_hn h + b_hn `[L, samples, d]`.
  let inputGates: FloatBuffer
  let hiddenStates: FloatBuffer
  let resetGates: FloatBuffer
  let updateGates: FloatBuffer
  let candidates: FloatBuffer
  let hiddenCandidates: FloatBuffer
  let hiddenGates: FloatBuffer
  let inputGatesGradient: FloatBuffer
  let hiddenGatesGradient: FloatBuffer
  let stateGradient: FloatBuffer
  let previousStateGradient: FloatBuffer

  public init(
    width: Int, length: Int, maxSamples: Int, inputWeight: Parameter, hiddenWeight: Parameter, inputBias: Parameter,
    hiddenBias: Parameter, threads: Int, productThreads: Int = 1
  ) {
    self.width = width
    self.length = length
    self.threads = threads
    inputProjection = Linear(
      inputWidth: width, outputWidth: 3 * width, weight: inputWeight, bias: inputBias, threads: threads,
      productThreads: productThreads)
    hiddenProjection = Linear(
      inputWidth: width, outputWidth: 3 * width, weight: hiddenWeight, bias: hiddenBias, threads: threads,
      productThreads: productThreads)
    let tokens = maxSamples * length
    inputGates = FloatBuffer(count: tokens * 3 * width)
    hiddenStates = FloatBuffer(count: (length + 1) * maxSamples * width)
    resetGates = FloatBuffer(count: tokens * width)
    updateGates = FloatBuffer(count: tokens * width)
    candidates = FloatBuffer(count: tokens * width)
    hiddenCandidates = FloatBuffer(count: tokens * width)
    hiddenGates = FloatBuffer(count: maxSamples * 3 * width)
    inputGatesGradient = FloatBuffer(count: tokens * 3 * width)
    hiddenGatesGradient = FloatBuffer(count: maxSamples * 3 * width)
    stateGradient = FloatBuffer(count: maxSamples * width)
    previousStateGradient = FloatBuffer(count: maxSamples * width)
  }

  /// Runs the GRU over `input` `[samples · length, d]` from `initialHidden` `[samples, d]` (zeros
  /// when nil) and writes every step's hidden state to `output` `[samples · length, d]`.
  /// - Complexity: O(T·d²) in sgemm, T = samples · length.
  public func forward(
    samples: Int, items: UnsafePointer<Int32>, input: UnsafePointer<Float>, initialHidden: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>
  ) {
    let (width, length) = (self.width, self.length)
    inputProjection.forward(rows: samples * length, input: input, output: inputGates.base)
    if let initialHidden {
      hiddenStates.base.update(from: initialHidden, count: samples * width)
    } else {
      hiddenStates.base.update(repeating: 0, count: samples * width)
    }
    let ids = DisjointPointer(reading: items)
    let gi = inputGates.shared
    let gh = hiddenGates.shared
    let states = hiddenStates.shared
    let (rSaved, zSaved, nSaved, hnSaved) = (
      resetGates.shared, updateGates.shared, candidates.shared, hiddenCandidates.shared
    )
    let target = DisjointPointer(output)
    for step in 0..<length {
      let previous = hiddenStates.base + step * samples * width
      hiddenProjection.forward(rows: samples, input: previous, output: hiddenGates.base)
      Parallel.forEach(samples, threads: samples * width >= 8_192 ? threads : 1, chunk: 16) { sample in
        let token = sample * length + step
        let h = states.base + (step * samples + sample) * width
        let next = states.base + ((step + 1) * samples + sample) * width
        let out = target.base + token * width
        guard ids.base[token] != 0 else {
          next.update(from: h, count: width)
          out.update(from: h, count: width)
          return
        }
        let inputRow = gi.base + token * 3 * width
        let hiddenRow = gh.base + sample * 3 * width
        let saved = (step * samples + sample) * width
        for index in 0..<width {
          let r = Activation.sigmoid(inputRow[index] + hiddenRow[index])
          let z = Activation.sigmoid(inputRow[width + index] + hiddenRow[width + index])
          let hn = hiddenRow[2 * width + index]
          let n = tanh(inputRow[2 * width + index] + r * hn)
          let value = (1 - z) * n + z * h[index]
          rSaved.base[saved + index] = r
          zSaved.base[saved + index] = z
          nSaved.base[saved + index] = n
          hnSaved.base[saved + index] = hn
          next[index] = value
          out[index] = value
        }
      }
    }
  }

  /// Adds the weight gradients and sets `inputGradient` `[samples · length, d]` (and
  /// `initialHiddenGradient` `[samples, d]` when given) from the gradient of every output row.
  public func backward(
    samples: Int, items: UnsafePointer<Int32>, input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>, initialHiddenGradient: UnsafeMutablePointer<Float>? = nil
  ) {
    let (width, length) = (self.width, self.length)
    let ids = DisjointPointer(reading: items)
    let upstream = DisjointPointer(reading: outputGradient)
    let states = hiddenStates.shared
    let (rSaved, zSaved, nSaved, hnSaved) = (
      resetGates.shared, updateGates.shared, candidates.shared, hiddenCandidates.shared
    )
    let dgi = inputGatesGradient.shared
    let dgh = hiddenGatesGradient.shared
    var current = stateGradient
    var previous = previousStateGradient
    current.base.update(repeating: 0, count: samples * width)
    for step in (0..<length).reversed() {
      let dh = current.shared
      let dPrevious = previous.shared
      Parallel.forEach(samples, threads: samples * width >= 8_192 ? threads : 1, chunk: 16) { sample in
        let token = sample * length + step
        let stateGradient = dh.base + sample * width
        let incoming = upstream.base + token * width
        for index in 0..<width { stateGradient[index] += incoming[index] }
        let inputRow = dgi.base + token * 3 * width
        let hiddenRow = dgh.base + sample * 3 * width
        let previousRow = dPrevious.base + sample * width
        guard ids.base[token] != 0 else {
          inputRow.update(repeating: 0, count: 3 * width)
          hiddenRow.update(repeating: 0, count: 3 * width)
          previousRow.update(from: stateGradient, count: width)
          return
        }
        let h = states.base + (step * samples + sample) * width
        let saved = (step * samples + sample) * width
        for index in 0..<width {
          let gradient = stateGradient[index]
          let r = rSaved.base[saved + index]
          let z = zSaved.base[saved + index]
          let n = nSaved.base[saved + index]
          let hn = hnSaved.base[saved + index]
          let candidateGradient = gradient * (1 - z) * (1 - n * n)
          let updateGradient = gradient * (h[index] - n) * z * (1 - z)
          let resetGradient = candidateGradient * hn * r * (1 - r)
          inputRow[index] = resetGradient
          inputRow[width + index] = updateGradient
          inputRow[2 * width + index] = candidateGradient
          hiddenRow[index] = resetGradient
          hiddenRow[width + index] = updateGradient
          hiddenRow[2 * width + index] = candidateGradient * r
          previousRow[index] = gradient * z
        }
      }
      hiddenProjection.backward(
        rows: samples, input: hiddenStates.base + step * samples * width, outputGradient: hiddenGatesGradient.base,
        inputGradient: previous.base, accumulate: true)
      swap(&current, &previous)
    }
    if let initialHiddenGradient { initialHiddenGradient.update(from: current.base, count: samples * width) }
    inputProjection.backward(
      rows: samples * length, input: input, outputGradient: inputGatesGradient.base, inputGradient: inputGradient)
  }
}
