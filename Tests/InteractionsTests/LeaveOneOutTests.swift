import Interactions
import LogIngest
import PipelineCore
import Testing

@Suite struct LeaveOneOutTests {
  /// Five events listed out of time order; times 1...5 give the sequence a b c d e.
  let fiveEvents = makeLog([("u", "c", 3), ("u", "a", 1), ("u", "e", 5), ("u", "b", 2), ("u", "d", 4)])

  @Test func fiveEventUserGivesTestValidAndTrain() throws {
    let output = try PrepareStage.prepare(fiveEvents, options: makeOptions(maximumHistory: 2))
    let samples = output.samples
    #expect(
      samples.rawSamples(.train) == [
        RawSample(user: "u", target: "b", history: ["a"]),
        RawSample(user: "u", target: "c", history: ["a", "b"]),
      ])
    #expect(samples.rawSamples(.valid) == [RawSample(user: "u", target: "d", history: ["b", "c"])])
    #expect(samples.rawSamples(.test) == [RawSample(user: "u", target: "e", history: ["c", "d"])])
    #expect(samples[.test].timestamps == [5])
    #expect(samples[.valid].timestamps == [4])
    #expect(samples[.train].timestamps == [2, 3])
    // Ids follow time order: a 1, b 2, … e 5.
    #expect(samples.items.map(\.rawID) == ["a", "b", "c", "d", "e"])
    #expect(samples[.test].targets == [5])
  }

  @Test func minimumHistoryZeroAddsTheFirstEventToTrain() throws {
    let output = try PrepareStage.prepare(fiveEvents, options: makeOptions(minimumHistory: 0))
    #expect(output.samples.rawSamples(.train).map(\.target) == ["a", "b", "c"])
    #expect(output.samples.rawSamples(.train).first?.history == [])
  }

  @Test func minimumHistoryAppliesToEveryPosition() throws {
    var output = try PrepareStage.prepare(fiveEvents, options: makeOptions(minimumHistory: 3))
    #expect(output.samples[.train].isEmpty)
    #expect(output.samples.rawSamples(.valid).map(\.target) == ["d"])
    #expect(output.samples.rawSamples(.test).map(\.target) == ["e"])
    output = try PrepareStage.prepare(fiveEvents, options: makeOptions(minimumHistory: 4))
    #expect(output.samples[.valid].isEmpty)
    #expect(output.samples.rawSamples(.test) == [RawSample(user: "u", target: "e", history: ["a", "b", "c", "d"])])
  }

  @Test func shortUsersContributeWhatTheyCan() throws {
    let log = makeLog([
      ("one", "x", 1), ("two", "x", 2), ("two", "y", 3), ("three", "x", 4), ("three", "y", 5), ("three", "z", 6),
    ])
    let samples = try PrepareStage.prepare(log, options: makeOptions()).samples
    #expect(samples.rawSamples(.test).map(\.user) == ["two", "three"])
    #expect(samples.rawSamples(.valid).map(\.user) == ["three"])
    #expect(samples[.train].isEmpty)
    // The one-event user still has an id: it survived filtering, it just has no sample.
    #expect(samples.users == ["one", "two", "three"])
  }

  @Test func splitsAreOrderedByUserIDThenPosition() throws {
    // u2 appears first in time, so it gets user id 1.
    let log = makeLog([
      ("u1", "a", 10), ("u1", "b", 11), ("u1", "c", 12), ("u1", "d", 13), ("u1", "e", 14),
      ("u2", "a", 1), ("u2", "b", 2), ("u2", "c", 3), ("u2", "d", 4), ("u2", "e", 5),
    ])
    let samples = try PrepareStage.prepare(log, options: makeOptions()).samples
    #expect(samples.users == ["u2", "u1"])
    #expect(samples[.train].users == [1, 1, 2, 2])
    #expect(samples.rawSamples(.train).map(\.target) == ["b", "c", "b", "c"])
    #expect(samples[.test].users == [1, 2])
  }
}

@Suite struct TimeOrderTests {
  /// u1 has x and z at time 10 (x first in the source) and y at time 5; u2's w at 10 sits between
  /// them in the source.
  @Test func equalTimestampsKeepSourceOrder() throws {
    let log = makeLog([("u1", "x", 10), ("u2", "w", 10), ("u1", "y", 5), ("u1", "z", 10)])
    let samples = try PrepareStage.prepare(log, options: makeOptions()).samples
    // Global order by (timestamp, source position): y, x, w, z.
    #expect(samples.items.map(\.rawID) == ["y", "x", "w", "z"])
    #expect(samples.users == ["u1", "u2"])
    #expect(samples.rawSamples(.test) == [RawSample(user: "u1", target: "z", history: ["y", "x"])])
    #expect(samples[.test].targets == [4])
    #expect(samples[.test].history(0) == [1, 2])
    #expect(samples.rawSamples(.valid) == [RawSample(user: "u1", target: "x", history: ["y"])])
  }

  @Test func swappingTiedEventsInTheSourceSwapsThemInTheSequence() throws {
    let log = makeLog([("u1", "z", 10), ("u2", "w", 10), ("u1", "y", 5), ("u1", "x", 10)])
    let samples = try PrepareStage.prepare(log, options: makeOptions()).samples
    #expect(samples.items.map(\.rawID) == ["y", "z", "w", "x"])
    #expect(samples.rawSamples(.test) == [RawSample(user: "u1", target: "x", history: ["y", "z"])])
  }

  @Test func reportRecordsTheRules() throws {
    let log = makeLog([("u1", "x", 10), ("u1", "y", 5)])
    let report = try PrepareStage.prepare(log, options: makeOptions()).report.json
    #expect(report["protocol"] == "leave-one-out")
    #expect(report["id_order"]?.stringValue?.contains("(timestamp, source position)") == true)
    #expect(report["tie_rule"]?.stringValue?.contains("keep their order in the source log") == true)
    #expect(report["samples"] == ["train": 0, "valid": 0, "test": 1])
    #expect(report["history_length"]?["test"] == ["min": 1, "mean": 1.0, "max": 1])
    #expect(report["history_length"]?["train"] == ["min": nil, "mean": nil, "max": nil])
  }
}

@Suite struct FilterTests {
  /// u: a at 1, b at 2, a at 3, listed with the later a first.
  let repeated = makeLog([("u", "a", 3), ("u", "b", 2), ("u", "a", 1)])

  @Test func deduplicateNoneKeepsEveryOccurrence() throws {
    let samples = try PrepareStage.prepare(repeated, options: makeOptions(deduplication: .none)).samples
    #expect(samples.rawSamples(.test) == [RawSample(user: "u", target: "a", history: ["a", "b"])])
  }

  @Test func deduplicateFirstKeepsTheEarliestOccurrence() throws {
    let output = try PrepareStage.prepare(repeated, options: makeOptions(deduplication: .first))
    #expect(output.samples.rawSamples(.test) == [RawSample(user: "u", target: "b", history: ["a"])])
    #expect(output.samples[.test].timestamps == [2])
    #expect(output.report.steps[2].events == 2)
  }

  @Test func deduplicateLastKeepsTheLatestOccurrence() throws {
    let output = try PrepareStage.prepare(repeated, options: makeOptions(deduplication: .last))
    #expect(output.samples.rawSamples(.test) == [RawSample(user: "u", target: "a", history: ["b"])])
    #expect(output.samples[.test].timestamps == [3])
    // b now comes first in time, so it takes id 1.
    #expect(output.samples.items.map(\.rawID) == ["b", "a"])
  }

  @Test func kCoreCountsEventsAfterDeduplication() throws {
    var options = makeOptions(deduplication: .first)
    options.userKCore = 3
    let error = #expect(throws: PipelineError.self) { try PrepareStage.prepare(repeated, options: options) }
    #expect(error?.message.contains("user_k_core 3") == true)
    options.deduplication = .none
    #expect(try PrepareStage.prepare(repeated, options: options).samples.users == ["u"])
  }

  @Test func minimumRatingDropsLowRatingsAndKeepsUnrated() throws {
    var builder = LogBuilder()
    builder.add("u", "a", 1, rating: 5)
    builder.add("u", "b", 2, rating: 2)
    builder.add("u", "c", 3, rating: .nan)
    builder.add("u", "d", 4, rating: 4)
    var options = makeOptions()
    options.minimumRating = 3
    let output = try PrepareStage.prepare(builder.log, options: options)
    #expect(output.samples.items.map(\.rawID) == ["a", "c", "d"])
    #expect(output.report.steps[1].counts == "1 user, 3 items, 3 events")
    // Above every rating, only the unrated event is left.
    options.minimumRating = 6
    #expect(try PrepareStage.prepare(builder.log, options: options).samples.items.map(\.rawID) == ["c"])
    let rated = makeLog([("u", "a", 1), ("u", "b", 2)]).withRatings([5, 2])
    let error = #expect(throws: PipelineError.self) { try PrepareStage.prepare(rated, options: options) }
    #expect(error?.message == "min_rating 6.0 drops all 2 events (every rating is lower); lower min_rating")
  }

  @Test func anEmptyLogIsAnError() throws {
    let error = #expect(throws: PipelineError.self) {
      try PrepareStage.prepare(InteractionLog(), options: makeOptions())
    }
    #expect(error?.code == .invalidInput)
    #expect(error?.message.contains("no events") == true)
  }

  @Test func outOfRangeIndicesAreAnError() throws {
    var log = makeLog([("u", "a", 1)])
    log.eventItem[0] = 7
    let error = #expect(throws: PipelineError.self) { try PrepareStage.prepare(log, options: makeOptions()) }
    #expect(error?.message.contains("item index 7, but there are 1 items") == true)
  }
}
