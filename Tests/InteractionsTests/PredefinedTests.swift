import Interactions
import LogIngest
import PipelineCore
import Testing

@Suite struct PredefinedTests {
  /// A pre-split source: five items and three users in the source's order, samples with 0-based
  /// indices (official id − 1), and events that must not matter.
  func preSplitLog() -> InteractionLog {
    var builder = LogBuilder()
    for item in ["i1", "i2", "i3", "i4", "i5"] { builder.item(item) }
    for user in ["u1", "u2", "u3"] { builder.user(user) }
    builder.add("u1", "i5", 1)
    var log = builder.log
    log.predefined = [
      .train: [
        PredefinedSample(user: 2, target: 4, history: [0, 1, 2, 3], timestamp: 30, rating: 5),
        PredefinedSample(user: 0, target: 1, history: [0], timestamp: 10, rating: 4),
      ],
      .valid: [PredefinedSample(user: 1, target: 2, history: [3, 0], timestamp: 20, rating: 3)],
      .test: [PredefinedSample(user: 1, target: 0, history: [], timestamp: 40, rating: 1)],
    ]
    return log
  }

  @Test func predefinedKeepsOfficialIDsAndSourceOrder() throws {
    var options = makeOptions(.predefined, kCore: 5, minimumHistory: 10, maximumHistory: 3)
    options.deduplication = .first
    let output = try PrepareStage.prepare(preSplitLog(), options: options)
    let samples = output.samples
    #expect(samples.items.map(\.rawID) == ["i1", "i2", "i3", "i4", "i5"])
    #expect(samples.users == ["u1", "u2", "u3"])
    #expect(samples[.train].users == [3, 1])
    #expect(samples[.train].targets == [5, 2])
    #expect(samples[.train].timestamps == [30, 10])
    // History capped to the 3 most recent, ids + 1.
    #expect(Array(samples[.train].history(0)) == [2, 3, 4])
    #expect(Array(samples[.train].history(1)) == [1])
    #expect(Array(samples[.valid].history(0)) == [4, 1])
    #expect(samples[.test].targets == [1])
    #expect(samples[.test].historyLength(0) == 0)
    #expect(output.report.json["protocol"] == "predefined")
    #expect(output.report.steps.map(\.name) == ["input", "final"])
    #expect(output.metrics == ["users": 3, "items": 5, "events": 1, "train": 2, "valid": 1, "test": 1])
  }

  @Test func predefinedWithoutSplitsIsAClearError() throws {
    let error = #expect(throws: PipelineError.self) {
      try PrepareStage.prepare(makeLog([("u", "a", 1)]), options: makeOptions(.predefined))
    }
    #expect(error?.code == .invalidInput)
    #expect(
      error?.message
        == "protocol 'predefined' needs the source's own train, valid and test splits, but the interactions log has none (it was ingested from an event log); use protocol 'leave-one-out' or 'sliding-window', or ingest a pre-split source"
    )
  }

  @Test func predefinedWithAMissingSplitNamesIt() throws {
    var log = preSplitLog()
    log.predefined[.valid] = nil
    let error = #expect(throws: PipelineError.self) { try PrepareStage.prepare(log, options: makeOptions(.predefined)) }
    #expect(error?.message.contains("lacks 'valid'") == true)
  }

  @Test func predefinedIndexOutOfRangeIsAnError() throws {
    var log = preSplitLog()
    log.predefined[.test]![0].history = [9]
    let error = #expect(throws: PipelineError.self) { try PrepareStage.prepare(log, options: makeOptions(.predefined)) }
    #expect(error?.message.contains("predefined 'test' sample 0 names history item index 9") == true)
  }
}
