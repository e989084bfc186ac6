import ArtifactFormats
import DenseLinearAlgebra
import Foundation
import Interactions
import PipelineCore

/// The hyperparameters of `ease`.
public struct EASEConfiguration: Equatable, Sendable {
  /// λ, the L2 penalty added to the diagonal of the Gram matrix (Steck's default range is 100–1000).
  public var lambda: Double = 500.0

  public init() {}
}

/// `ease` (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): an item × item
/// weight matrix B with a zero diagonal, in closed form.
///
/// From the binary interaction matrix X (see `InteractionMatrix`: per user, the distinct items of the
/// user's train samples):
///
///     G = XᵀX + λI        (exact integer counts, from the rows of X, in Double)
///     P = G⁻¹             (Cholesky, `DenseLinearAlgebra.invertSymmetricPositiveDefinite`, in Double)
///     B_ij = −P_ij / P_jj,  B_jj = 0
///
/// A sample's scores are xᵀB, x the indicator of its history items (each distinct item once): the
/// sum of the rows of B of those items, added in ascending item order in Float. The user's own X row
/// is not used, so valid and test samples (and users never seen in train) score from their history.
///
/// Tensor: `B` [N, N], float32, row i is item i + 1 (B[i][j] is the weight from item i + 1 to item j + 1).
///
/// Memory: training holds one N×N Double matrix (G, inverted in place) and then the N×N Float B, so
/// 12·N² bytes at the peak (Beauty, N = 12,101: 1.8 GB; Toys, N = 20,669: 5.1 GB); scoring holds B,
/// 4·N² bytes. Time: N³/2 multiply-adds for the inverse plus Σ_u |X_u|² for G.
public enum EASE {
  /// Trains B; one epoch record with the valid metrics. Byte-identical output whatever
  /// `environment.threads` and OpenBLAS's thread count (see `invertSymmetricPositiveDefinite`).
  /// - Throws: `PipelineError` when G + λI is not positive definite (λ ≤ 0 with a singular G).
  public static func train(
    _ data: TrainingData, configuration: EASEConfiguration, environment: TrainingEnvironment
  ) throws -> TrainedModel {
    let itemCount = data.itemCount
    let threads = max(1, environment.threads)
    let matrix = InteractionMatrix(data.train, userCount: data.userCount, itemCount: itemCount)
    var start = monotonicSeconds()
    var inverse = gramMatrix(matrix, lambda: configuration.lambda, threads: threads)
    environment.log(
      "ease: G = XᵀX + λI from \(matrix.pairCount) interactions of \(data.userCount) users, \(itemCount) items, in \(formatFixed(monotonicSeconds() - start, digits: 2)) s"
    )
    start = monotonicSeconds()
    do {
      try DenseLinearAlgebra.invertSymmetricPositiveDefinite(&inverse, n: itemCount, threads: threads)
    } catch {
      throw PipelineError(
        .stageFailed,
        "ease: G + λI (λ = \(configuration.lambda)) cannot be inverted: \(error); use a positive lambda",
        cause: error)
    }
    environment.log(
      "ease: Cholesky inverse of \(itemCount)×\(itemCount) in \(formatFixed(monotonicSeconds() - start, digits: 2)) s")
    let weights = weightMatrix(inverse: inverse, n: itemCount, threads: threads)
    inverse = []
    let scorer = EASEScorer(itemCount: itemCount, weights: weights, threads: threads)
    let valid = environment.evaluateValid(scorer)
    environment.log("ease: valid NDCG@10 \(formatFixed(valid.ndcg(at: 10), digits: 4))")
    return TrainedModel(
      tensors: [SafeTensors.Tensor(name: "B", shape: [itemCount, itemCount], values: weights)], scorer: scorer,
      curve: [EpochRecord(epoch: 1, loss: nil, valid: valid, best: true)], bestEpoch: nil,
      details: ["interactions": JSONValue(matrix.pairCount)])
  }

  /// The scorer of an `ease` model read back from `file` (`B` [N, N]); scoring runs on `threads`.
  public static func scorer(
    tensors: [SafeTensors.Tensor], itemCount: Int, file: String, threads: Int = defaultThreadCount
  ) throws -> any Scorer {
    let tensor = try TrainedModel.tensor("B", in: tensors, shape: [itemCount, itemCount], file: file)
    return EASEScorer(itemCount: itemCount, weights: tensor.values, threads: threads)
  }

  /// The number of active processors.
  public static var defaultThreadCount: Int { Parallel.defaultThreadCount }

  /// The lower triangle of G = XᵀX + λI, row-major N×N (the upper triangle is left 0; the inverse
  /// reads only the lower one). Row a of G is the sum of the rows of X of the users who hold item a,
  /// so rows are built independently (in parallel) and the counts are exact.
  /// - Complexity: Σ_u |X_u|² / 2 additions, N² Doubles.
  static func gramMatrix(_ matrix: InteractionMatrix, lambda: Double, threads: Int) -> [Double] {
    let n = matrix.itemCount
    let columns = matrix.transposed()
    var gram = [Double](repeating: 0, count: n * n)
    gram.withUnsafeMutableBufferPointer { buffer in
      let output = DisjointPointer(buffer)
      Parallel.forEach(n, threads: threads, chunk: 16) { index in
        let row = output.base + index * n
        let item = UInt32(index + 1)
        for position in columns.offsets[index]..<columns.offsets[index + 1] {
          for other in matrix.row(Int(columns.users[position])) {
            if other > item { break }
            row[Int(other) - 1] += 1
          }
        }
        row[index] += lambda
      }
    }
    return gram
  }

  /// B_ij = −P_ij / P_jj, B_jj = 0, in Float, from the full symmetric P.
  static func weightMatrix(inverse: [Double], n: Int, threads: Int) -> [Float] {
    var weights = [Float](repeating: 0, count: n * n)
    let diagonal = (0..<n).map { inverse[$0 * n + $0] }
    inverse.withUnsafeBufferPointer { inverse in
      let source = DisjointPointer(UnsafeMutablePointer(mutating: inverse.baseAddress!))  // read-only
      weights.withUnsafeMutableBufferPointer { buffer in
        let output = DisjointPointer(buffer)
        Parallel.forEach(n, threads: threads, chunk: 16) { i in
          let row = source.base + i * n
          for j in 0..<n where j != i {
            output[i * n + j] = Float(-row[j] / diagonal[j])
          }
        }
      }
    }
    return weights
  }
}

/// xᵀB for the history indicator x of each sample.
struct EASEScorer: Scorer {
  let itemCount: Int
  /// B, N×N row-major.
  let weights: [Float]
  let threads: Int

  func scores(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
    let n = itemCount
    let destination = DisjointPointer(output)
    weights.withUnsafeBufferPointer { weights in
      let base = weights.baseAddress!
      // Read-only here; DisjointPointer only carries it into the loop.
      let shared = DisjointPointer(UnsafeMutablePointer(mutating: base))
      Parallel.forEach(range.count, threads: threads, chunk: 4) { row in
        let scores = destination.base + row * n
        scores.initialize(repeating: 0, count: n)
        let items = Set(samples.history(range.lowerBound + row)).sorted()
        for item in items {
          let weightsRow = shared.base + (Int(item) - 1) * n
          for j in 0..<n { scores[j] += weightsRow[j] }
        }
      }
    }
  }
}
