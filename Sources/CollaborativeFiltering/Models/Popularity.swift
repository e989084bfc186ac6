import ArtifactFormats
import Interactions
import PipelineCore

/// `pop`: every sample gets the same scores, each item's popularity in the train split.
///
/// An item's score is the number of users whose interaction matrix X (see `InteractionMatrix`: the
/// distinct items of a user's train samples, history items and targets) holds it, i.e. the column
/// sums of X. Integer counts, stored exactly as Float (below 2²⁴ users), so the many ties are real ties
/// and full ranking counts them against the target.
public enum Popularity {
  /// Counts the items of X; one epoch record with the valid metrics.
  ///
  /// Tensors: `item_scores` [N] (element j is item j + 1).
  /// - Complexity: O(train history values + samples) time, O(N + nonzeros of X) memory.
  public static func train(_ data: TrainingData, environment: TrainingEnvironment) throws -> TrainedModel {
    let matrix = InteractionMatrix(data.train, userCount: data.userCount, itemCount: data.itemCount)
    let scores = matrix.itemUserCounts().map(Float.init)
    let scorer = PopularityScorer(itemScores: scores)
    let valid = environment.evaluateValid(scorer)
    environment.log(
      "pop: \(matrix.pairCount) interactions of \(data.userCount) users; valid NDCG@10 \(formatFixed(valid.ndcg(at: 10), digits: 4))"
    )
    return TrainedModel(
      tensors: [SafeTensors.Tensor(name: "item_scores", shape: [data.itemCount], values: scores)], scorer: scorer,
      curve: [EpochRecord(epoch: 1, loss: nil, valid: valid, best: true)], bestEpoch: nil,
      details: ["interactions": JSONValue(matrix.pairCount)])
  }

  /// The scorer of a `pop` model read back from `file` (`item_scores` [N]).
  public static func scorer(tensors: [SafeTensors.Tensor], itemCount: Int, file: String) throws -> any Scorer {
    let tensor = try TrainedModel.tensor("item_scores", in: tensors, shape: [itemCount], file: file)
    return PopularityScorer(itemScores: tensor.values)
  }
}

/// The same N scores for every sample.
struct PopularityScorer: Scorer {
  let itemScores: [Float]

  var itemCount: Int { itemScores.count }

  func scores(_ samples: SampleSet, range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
    itemScores.withUnsafeBufferPointer { scores in
      for row in 0..<range.count {
        (output + row * itemCount).update(from: scores.baseAddress!, count: itemCount)
      }
    }
  }
}
