import ArtifactFormats
import DenseLinearAlgebra
import Interactions
import LogIngest
import PipelineCore

/// Scores from vectors computed elsewhere: row `r` of a split's user vectors belongs to sample `r`
/// of that split (the `samples` artifact's order), row `j` of the item vectors to item `j + 1`.
public struct VectorScorer: EmbeddingScorer {
  public let itemCount: Int
  public let dimension: Int
  public let itemVectors: [Float]
  /// `rows × dimension`, row-major.
  public let sampleVectors: [Float]
  public let rows: Int

  public init(itemVectors: [Float], sampleVectors: [Float], itemCount: Int, dimension: Int) {
    precondition(itemVectors.count == itemCount * dimension && sampleVectors.count % max(dimension, 1) == 0)
    self.itemCount = itemCount
    self.dimension = dimension
    self.itemVectors = itemVectors
    self.sampleVectors = sampleVectors
    self.rows = dimension == 0 ? 0 : sampleVectors.count / dimension
  }

  /// Copies rows `range`; `samples` must be the split these vectors were computed for (same count).
  public func userVectors(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
    precondition(samples.count == rows, "user vectors cover \(rows) samples, but the split has \(samples.count)")
    sampleVectors.withUnsafeBufferPointer { vectors in
      output.update(from: vectors.baseAddress! + range.lowerBound * dimension, count: range.count * dimension)
    }
  }
}

/// Scores computed elsewhere: row `r` of a split's matrix holds sample `r`'s scores (the `samples`
/// artifact's order), column `j` item `j + 1`. Any model's scores: nothing is assumed about them
/// beyond being float32 (−∞ is allowed and means "never this item"; NaN and +∞ stop the soft-label
/// stage with an error, as for a broken model).
public struct ScoreMatrixScorer: Scorer {
  public let itemCount: Int
  /// `rows × itemCount`, row-major.
  public let values: [Float]
  public let rows: Int

  public init(values: [Float], itemCount: Int) {
    precondition(itemCount > 0 && values.count % itemCount == 0)
    self.itemCount = itemCount
    self.values = values
    self.rows = values.count / itemCount
  }

  /// Copies rows `range`; `samples` must be the split these scores were computed for (same count).
  public func scores(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
    precondition(samples.count == rows, "imported scores cover \(rows) samples, but the split has \(samples.count)")
    values.withUnsafeBufferPointer { values in
      output.update(from: values.baseAddress! + range.lowerBound * itemCount, count: range.count * itemCount)
    }
  }
}

/// The `external` model: a SASRec checkpoint with the official parameter names, item vectors plus
/// per-sample user vectors, or per-sample scores over every item, imported into a cf artifact.
public enum ExternalModel {
  public static let itemVectorsTensor = "item_vectors"
  public static func userVectorsTensor(_ split: SplitName) -> String { "user_vectors.\(split.rawValue)" }

  /// Reads `item_vectors` (`.npy` float32, N×d, or (N+1)×d whose row 0, padding, is dropped) and
  /// the user vectors of each split given (`.npy` float32, one row per sample of that split).
  /// Errors name the file, the shape found and the shape expected.
  public static func vectorTensors(
    itemVectors path: String, userVectors: [SplitName: String], itemCount: Int, splitCounts: [SplitName: Int]
  ) throws(PipelineError) -> [SafeTensors.Tensor] {
    let (items, itemShape) = try NumPyArray.read(Float.self, from: path)
    guard itemShape.count == 2, itemShape[0] == itemCount || itemShape[0] == itemCount + 1, itemShape[1] > 0 else {
      throw .invalidArtifact(
        "'\(path)' has shape \(itemShape), expected (\(itemCount), d) or (\(itemCount + 1), d) with row 0 for padding: one row per item id of the samples artifact"
      )
    }
    let dimension = itemShape[1]
    let rows = itemShape[0] == itemCount + 1 ? Array(items[dimension...]) : items
    var tensors = [SafeTensors.Tensor(name: itemVectorsTensor, shape: [itemCount, dimension], values: rows)]
    for split in SplitName.allCases {
      guard let userPath = userVectors[split] else { continue }
      let (values, shape) = try NumPyArray.read(Float.self, from: userPath)
      let expected = splitCounts[split] ?? 0
      guard shape == [expected, dimension] else {
        throw .invalidArtifact(
          "'\(userPath)' has shape \(shape), expected (\(expected), \(dimension)): one row per \(split.rawValue) sample, in the samples artifact's order, with the item vectors' dimension"
        )
      }
      tensors.append(SafeTensors.Tensor(name: userVectorsTensor(split), shape: shape, values: values))
    }
    return tensors
  }

  /// The scorer of `split` from the tensors `vectorTensors` wrote.
  public static func vectorScorer(
    tensors: [SafeTensors.Tensor], itemCount: Int, split: SplitName, file: String
  ) throws(PipelineError) -> VectorScorer {
    guard let items = tensors.first(where: { $0.name == itemVectorsTensor }), items.shape.count == 2,
      items.shape[0] == itemCount
    else {
      throw .invalidArtifact("'\(file)' has no tensor '\(itemVectorsTensor)' of shape [\(itemCount), d]")
    }
    let dimension = items.shape[1]
    guard let users = tensors.first(where: { $0.name == userVectorsTensor(split) }) else {
      throw .usage(
        "'\(file)' has no user vectors for the \(split.rawValue) split; import them with the cf parameter user_vectors_\(split.rawValue)"
      )
    }
    guard users.shape.count == 2, users.shape[1] == dimension else {
      throw .invalidArtifact(
        "'\(file)': tensor '\(users.name)' has shape \(users.shape), expected [rows, \(dimension)]")
    }
    return VectorScorer(
      itemVectors: items.values, sampleVectors: users.values, itemCount: itemCount, dimension: dimension)
  }

  public static func scoresTensor(_ split: SplitName) -> String { "scores.\(split.rawValue)" }

  /// Reads the scores of each split given (`.npy` float32, one row per sample of that split and one
  /// column per item, (samples, N), or (samples, N + 1) whose column 0, padding, is dropped). Errors
  /// name the file, the shape found and the shape expected.
  public static func scoreTensors(
    scores: [SplitName: String], itemCount: Int, splitCounts: [SplitName: Int]
  ) throws(PipelineError) -> [SafeTensors.Tensor] {
    var tensors: [SafeTensors.Tensor] = []
    for split in SplitName.allCases {
      guard let path = scores[split] else { continue }
      var (rows, shape) = try NumPyArray.read(Float.self, from: path)
      let expected = splitCounts[split] ?? 0
      guard shape.count == 2, shape[0] == expected, shape[1] == itemCount || shape[1] == itemCount + 1 else {
        throw .invalidArtifact(
          "'\(path)' has shape \(shape), expected (\(expected), \(itemCount)) or (\(expected), \(itemCount + 1)) with column 0 for padding: one row per \(split.rawValue) sample, in the samples artifact's order, and one column per item id"
        )
      }
      if shape[1] == itemCount + 1 {
        // Column 0 dropped in place (each row moves left by its row number; the array is the one
        // copy of a split's scores held, which for a train split is gigabytes).
        rows.withUnsafeMutableBufferPointer { buffer in
          for row in 0..<expected {
            (buffer.baseAddress! + row * itemCount).update(
              from: buffer.baseAddress! + row * (itemCount + 1) + 1, count: itemCount)
          }
        }
        rows.removeLast(expected)
      }
      if let bad = rows.firstIndex(where: { $0.isNaN || $0 == .infinity }) {
        throw .invalidArtifact(
          "'\(path)': row \(bad / itemCount), column \(bad % itemCount + shape[1] - itemCount) is \(rows[bad]); scores must be finite or −infinity (an item never to be recommended)"
        )
      }
      tensors.append(SafeTensors.Tensor(name: scoresTensor(split), shape: [expected, itemCount], values: rows))
    }
    return tensors
  }

  /// The scorer of `split` from the tensors `scoreTensors` wrote.
  public static func scoreScorer(
    tensors: [SafeTensors.Tensor], itemCount: Int, split: SplitName, file: String
  ) throws(PipelineError) -> ScoreMatrixScorer {
    guard let scores = tensors.first(where: { $0.name == scoresTensor(split) }) else {
      throw .usage(
        "'\(file)' has no scores for the \(split.rawValue) split; import them with the cf parameter scores_\(split.rawValue)"
      )
    }
    guard scores.shape.count == 2, scores.shape[1] == itemCount else {
      throw .invalidArtifact(
        "'\(file)': tensor '\(scores.name)' has shape \(scores.shape), expected [rows, \(itemCount)]")
    }
    return ScoreMatrixScorer(values: scores.values, itemCount: itemCount)
  }

  /// Reads a SASRec checkpoint (safetensors, official parameter names), checks it against the
  /// architecture by building its scorer, and returns its tensors in name order.
  public static func checkpointTensors(
    _ path: String, itemCount: Int, configuration: SASRecConfiguration
  ) throws -> [SafeTensors.Tensor] {
    let tensors = try SafeTensors.read(path).tensors.sorted { $0.name < $1.name }
    _ = try SASRec.scorer(tensors: tensors, itemCount: itemCount, configuration: configuration, file: path)
    return tensors
  }
}
