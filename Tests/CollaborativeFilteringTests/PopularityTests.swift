import ArtifactFormats
import CollaborativeFiltering
import Interactions
import TestSupport
import Testing

@Suite struct PopularityTests {
  /// Three users, five items. X (distinct history items and targets of each user's train samples):
  /// user 1 {1, 2, 3}, user 2 {2, 3}, user 3 {3, 5}; item 4 appears only in a valid sample.
  static let train = sampleSet([
    (1, 2, [1]), (1, 3, [1, 2]), (1, 2, [2, 2]),
    (2, 3, [2]),
    (3, 5, [3]), (3, 3, [3, 5]),
  ])
  static let valid = sampleSet([(1, 4, [1, 2, 3]), (2, 1, [2, 3])])

  @Test func scoresCountTheUsersWhoseTrainSamplesMentionTheItem() throws {
    let data = TrainingData(itemCount: 5, userCount: 3, train: Self.train, valid: Self.valid)
    let model = try Popularity.train(data, environment: makeEnvironment(valid: Self.valid, excludeHistory: false))
    #expect(model.tensors == [SafeTensors.Tensor(name: "item_scores", shape: [5], values: [1, 2, 3, 0, 1])])
    #expect(allScores(model.scorer, Self.valid) == [1, 2, 3, 0, 1, 1, 2, 3, 0, 1])
    // Item 4 scores 0 and ties with nothing but is beaten by four items: rank 4. Item 1 (score 1)
    // ties with item 5 and is beaten by items 2 and 3: rank 3 (ties count against the target).
    let ranks = RankingEvaluator.ranks(model.scorer, samples: Self.valid, excludeHistory: false)
    #expect(ranks == [4, 3])
    #expect(model.curve == [EpochRecord(epoch: 1, loss: nil, valid: RankingMetrics(ranks: [4, 3]), best: true)])
    #expect(model.bestEpoch == nil)
  }

  @Test func scorerReadBackFromTheTensorsScoresTheSame() throws {
    let data = TrainingData(itemCount: 5, userCount: 3, train: Self.train, valid: Self.valid)
    let model = try Popularity.train(data, environment: makeEnvironment(valid: Self.valid))
    let bytes = SafeTensors.encode(model.tensors)
    let decoded = try SafeTensors.decode(bytes, file: "model.safetensors").tensors
    let scorer = try Popularity.scorer(tensors: decoded, itemCount: 5, file: "model.safetensors")
    #expect(allScores(scorer, Self.valid) == allScores(model.scorer, Self.valid))
  }

  @Test func wrongShapeNamesTheFileAndTheTensor() {
    let tensors = [SafeTensors.Tensor(name: "item_scores", shape: [4], values: [1, 2, 3, 4])]
    let message = errorMessage { _ = try Popularity.scorer(tensors: tensors, itemCount: 5, file: "m.safetensors") }
    #expect(message == "'m.safetensors': tensor 'item_scores' has shape [4], expected [5] (from the model card)")
  }
}
