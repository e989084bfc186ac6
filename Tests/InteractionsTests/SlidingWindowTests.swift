import Interactions
import LogIngest
import PipelineCore
import Testing

/// An independent, deliberately plain sliding-window implementation over raw ids, following the
/// official preprocessing: sort all events by (time, source position), number users and items by
/// first appearance, replay them to collect histories, keep samples with enough history, order
/// them by (time, user id, item id), and partition with `int(n * 0.8)` train and `n // 10` valid.
private func naiveSlidingWindow(
  _ events: [(String, String, Int64)], minimumHistory: Int, maximumHistory: Int
) -> [SplitName: [RawSample]] {
  let ordered = events.enumerated().sorted { ($0.element.2, $0.offset) < ($1.element.2, $1.offset) }.map(\.element)
  var userIDs: [String: Int] = [:]
  var itemIDs: [String: Int] = [:]
  for (user, item, _) in ordered {
    if userIDs[user] == nil { userIDs[user] = userIDs.count + 1 }
    if itemIDs[item] == nil { itemIDs[item] = itemIDs.count + 1 }
  }
  var histories: [String: [String]] = [:]
  var samples: [(time: Int64, user: Int, item: Int, sequence: Int, sample: RawSample)] = []
  for (sequence, (user, item, time)) in ordered.enumerated() {
    let earlier = histories[user, default: []]
    if earlier.count >= minimumHistory {
      samples.append(
        (
          time, userIDs[user]!, itemIDs[item]!, sequence,
          RawSample(user: user, target: item, history: Array(earlier.suffix(maximumHistory)))
        ))
    }
    histories[user, default: []].append(item)
  }
  samples.sort { ($0.time, $0.user, $0.item, $0.sequence) < ($1.time, $1.user, $1.item, $1.sequence) }
  let count = samples.count
  let trainCount = Int(Double(count) * 0.8)
  let validCount = count / 10
  let all = samples.map(\.sample)
  return [
    .train: Array(all[0..<trainCount]),
    .valid: Array(all[trainCount..<(trainCount + validCount)]),
    .test: Array(all[(trainCount + validCount)...]),
  ]
}

private func randomEvents(seed: UInt64, count: Int, users: Int, items: Int, times: Int) -> [(String, String, Int64)] {
  var generator = SeededGenerator(seed: seed)
  return (0..<count).map { _ in
    (
      "u\(generator.nextInt(below: users))", "i\(generator.nextInt(below: items))",
      Int64(generator.nextInt(below: times))
    )
  }
}

@Suite struct SlidingWindowTests {
  @Test(arguments: [(1, 0, 1, 50), (2, 1, 10, 5), (3, 3, 2, 3), (4, 10, 10, 10), (5, 0, 25, 50)])
  func matchesANaiveImplementation(seed: UInt64, minimumHistory: Int, maximumHistory: Int, eventCount: Int) throws {
    // Few distinct times, so ties within and across users are common.
    let events = randomEvents(seed: seed, count: eventCount * 20 + 7, users: 15, items: 40, times: 30)
    let expected = naiveSlidingWindow(events, minimumHistory: minimumHistory, maximumHistory: maximumHistory)
    let options = makeOptions(.slidingWindow, minimumHistory: minimumHistory, maximumHistory: maximumHistory)
    let samples = try PrepareStage.prepare(makeLog(events), options: options).samples
    for split in SplitName.allCases {
      #expect(samples.rawSamples(split) == expected[split]!, "split \(split.rawValue)")
    }
  }

  @Test func splitSizesFollowTheOfficialPartition() throws {
    // One user with 20 events and min_history 1: 19 samples → 15 train, 1 valid (19 // 10), 3 test.
    let events = (0..<20).map { ("u", "i\($0)", Int64($0)) }
    let samples = try PrepareStage.prepare(makeLog(events), options: makeOptions(.slidingWindow)).samples
    #expect(samples[.train].count == 15)
    #expect(samples[.valid].count == 1)
    #expect(samples[.test].count == 3)
    #expect(samples.rawSamples(.valid).map(\.target) == ["i16"])
    #expect(samples[.test].timestamps == [17, 18, 19])
  }

  @Test func samplesAreOrderedByTimeThenUserThenItem() throws {
    let log = makeLog([
      ("b", "y", 1), ("a", "x", 1),  // b first in time order, so user b is 1, item y is 1
      ("a", "x2", 5), ("b", "y3", 5), ("b", "y2", 5), ("a", "x3", 3),
    ])
    let options = makeOptions(.slidingWindow)
    let samples = try PrepareStage.prepare(log, options: options).samples
    let all = SplitName.allCases.flatMap { samples.rawSamples($0) }
    // Time 3: a's x3. Time 5: user b (id 1) before a (id 2); within b, y3 (id 5) before y2 (id 6).
    #expect(all.map(\.target) == ["x3", "y3", "y2", "x2"])
    #expect(samples.rawSamples(.test).last == RawSample(user: "a", target: "x2", history: ["x", "x3"]))
    // b's y3 and y2 tie in time; y3 comes first in the source, so y2's history includes y3.
    #expect(all[2].history == ["y", "y3"])
  }

  @Test func customRatiosSplitByPosition() throws {
    let events = (0..<11).map { ("u", "i\($0)", Int64($0)) }
    var options = makeOptions(.slidingWindow)
    options.trainRatio = 0.5
    options.validRatio = 0.3
    let samples = try PrepareStage.prepare(makeLog(events), options: options).samples
    #expect([samples[.train].count, samples[.valid].count, samples[.test].count] == [5, 3, 2])
  }
}

@Suite struct DownsamplingTests {
  let events = randomEvents(seed: 9, count: 600, users: 20, items: 50, times: 1000)

  func prepare(train: Int, valid: Int = 0, seed: Int64 = 42) throws -> PreparedSamples {
    var options = makeOptions(.slidingWindow)
    options.downsample = [.train: train, .valid: valid]
    options.seed = seed
    return try PrepareStage.prepare(makeLog(events), options: options).samples
  }

  @Test func downsamplingIsDeterministicAndKeepsOriginalOrder() throws {
    let full = try prepare(train: 0).rawSamples(.train)
    let first = try prepare(train: 25)
    let second = try prepare(train: 25)
    #expect(first == second)
    let chosen = first.rawSamples(.train)
    #expect(chosen.count == 25)
    // An ordered subsequence of the full split.
    var cursor = full.startIndex
    for sample in chosen {
      guard let found = full[cursor...].firstIndex(of: sample) else {
        Issue.record("\(sample) is not in the full train split after position \(cursor)")
        return
      }
      cursor = found + 1
    }
    #expect(first[.train].timestamps == first[.train].timestamps.sorted())
  }

  @Test func downsamplingDependsOnTheSeedOnly() throws {
    let base = try prepare(train: 25)
    #expect(try prepare(train: 25, seed: 43)[.train] != base[.train])
    // Another split's count leaves this split's choice alone.
    let withValid = try prepare(train: 25, valid: 5)
    #expect(withValid[.train] == base[.train])
    #expect(withValid[.valid].count == 5)
    #expect(withValid[.test] == base[.test])
  }

  @Test func aCountAtLeastTheSplitSizeKeepsAll() throws {
    let full = try prepare(train: 0)
    #expect(try prepare(train: 1_000_000)[.train] == full[.train])
  }
}

/// The official TCA4Rec order, written out plainly: number users and items by first appearance in
/// (time, raw user id, raw item id, source position) order (raw ids compared as UTF-8 bytes, Python's
/// code-point order), then replay the events in (time, user id, item id, that order) order.
private func naiveOfficialSlidingWindow(
  _ events: [(String, String, Int64)], maximumHistory: Int
) -> [SplitName: [RawSample]] {
  let first = events.enumerated().sorted { left, right in
    let (l, r) = (left.element, right.element)
    if l.2 != r.2 { return l.2 < r.2 }
    if l.0 != r.0 { return Array(l.0.utf8).lexicographicallyPrecedes(Array(r.0.utf8)) }
    if l.1 != r.1 { return Array(l.1.utf8).lexicographicallyPrecedes(Array(r.1.utf8)) }
    return left.offset < right.offset
  }.map(\.element)
  var userIDs: [String: Int] = [:]
  var itemIDs: [String: Int] = [:]
  for (user, item, _) in first {
    if userIDs[user] == nil { userIDs[user] = userIDs.count + 1 }
    if itemIDs[item] == nil { itemIDs[item] = itemIDs.count + 1 }
  }
  let second = first.enumerated().sorted { left, right in
    let (l, r) = (left.element, right.element)
    return (l.2, userIDs[l.0]!, itemIDs[l.1]!, left.offset) < (r.2, userIDs[r.0]!, itemIDs[r.1]!, right.offset)
  }.map(\.element)
  var histories: [String: [String]] = [:]
  var all: [RawSample] = []
  for (user, item, _) in second {
    let earlier = histories[user, default: []]
    if earlier.count >= maximumHistory {
      all.append(RawSample(user: user, target: item, history: Array(earlier.suffix(maximumHistory))))
    }
    histories[user, default: []].append(item)
  }
  let trainCount = Int(Double(all.count) * 0.8)
  let validCount = all.count / 10
  return [
    .train: Array(all[0..<trainCount]), .valid: Array(all[trainCount..<(trainCount + validCount)]),
    .test: Array(all[(trainCount + validCount)...]),
  ]
}

@Suite struct OfficialTieOrderTests {
  @Test(arguments: [11, 12, 13, 14])
  func tca4recTieBreakMatchesANaiveImplementation(seed: UInt64) throws {
    // Three distinct times for hundreds of events: almost every event ties, within and across users,
    // and raw ids sort differently as strings ("u10" < "u2") than by first appearance.
    let events = randomEvents(seed: seed, count: 400, users: 12, items: 30, times: 3)
    let expected = naiveOfficialSlidingWindow(events, maximumHistory: 3)
    var options = makeOptions(.slidingWindow, minimumHistory: 3, maximumHistory: 3)
    options.tieBreak = .tca4rec
    let samples = try PrepareStage.prepare(makeLog(events), options: options).samples
    for split in SplitName.allCases {
      #expect(samples.rawSamples(split) == expected[split]!, "split \(split.rawValue)")
    }
    // The source order gives other samples on the same events (else this test would prove nothing).
    let plain = try PrepareStage.prepare(
      makeLog(events), options: makeOptions(.slidingWindow, minimumHistory: 3, maximumHistory: 3)
    ).samples
    #expect(plain.rawSamples(.train) != samples.rawSamples(.train))
  }

  @Test func numpyDownsamplingDrawsAsPandasDoes() throws {
    // One user with 40 events: 39 samples, 31 of them train.
    let events = (0..<40).map { ("u", "i\($0)", Int64($0)) }
    let full = try PrepareStage.prepare(makeLog(events), options: makeOptions(.slidingWindow)).samples
    var options = makeOptions(.slidingWindow)
    options.downsampleMethod = .numpy
    options.downsample = [.train: 5, .valid: 0, .test: 0]
    let sampled = try PrepareStage.prepare(makeLog(events), options: options).samples
    var state = NumPyRandomState(seed: 42)
    let chosen = state.choice(total: full[.train].count, count: 5)
    #expect(chosen != chosen.sorted(), "drawn order, not sorted")
    #expect(sampled[.train].targets == chosen.map { full[.train].targets[$0] })
    // NumPy takes seeds 0...2^32 - 1 only; so do the NumPy sampler and the export that uses it.
    options.seed = -1
    #expect(throws: PipelineError.self) { try options.check() }
    options.downsampleMethod = .seeded
    #expect(throws: Never.self) { try options.check() }
    options.export = .tca4recCSV
    #expect(throws: PipelineError.self) { try options.check() }
  }

  @Test func windowKeepsEventsLaterThanTheLastMinusThirtyDayMonths() throws {
    let month: Int64 = 30 * 24 * 3600
    let last: Int64 = 1_600_000_000
    // For each user: one event exactly at the cut (dropped: the official test is `>`), one a second
    // later (kept), and later ones.
    var events: [(String, String, Int64)] = []
    for user in 0..<3 {
      events.append(("u\(user)", "at-cut", last - 2 * month))
      events.append(("u\(user)", "after-cut", last - 2 * month + 1))
      for step in 0..<3 { events.append(("u\(user)", "i\(step)", last - Int64(step))) }
    }
    var options = makeOptions(.slidingWindow, minimumHistory: 1, maximumHistory: 5)
    options.userKCore = 0
    options.itemKCore = 0
    options.windowMonths = 2
    let output = try PrepareStage.prepare(makeLog(events), options: options)
    let titles = Set(output.samples.items.map(\.rawID))
    #expect(!titles.contains("at-cut"))
    #expect(titles.contains("after-cut"))
    #expect(output.report.steps.map(\.name).contains("window"))
    #expect(output.report.steps.first { $0.name == "window" }?.events == 12)
  }
}
