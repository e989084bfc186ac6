import Interactions
import LogIngest
import PipelineCore
import Testing

/// u4's lone event goes first, which starves item c, which starves u3, which leaves u1 and u2 × {a, b}.
private let cascadeLog = makeLog([
  ("u1", "a", 1), ("u1", "b", 2),
  ("u2", "a", 3), ("u2", "b", 4),
  ("u3", "b", 5), ("u3", "c", 6),
  ("u4", "c", 7),
])

@Suite struct KCoreTests {
  @Test func kCoreRepeatsUntilNothingChanges() throws {
    let output = try PrepareStage.prepare(cascadeLog, options: makeOptions(kCore: 2))
    let steps = output.report.steps.map { "\($0.name): \($0.counts)" }
    #expect(
      steps == [
        "input: 4 users, 3 items, 7 events",
        "min_rating: 4 users, 3 items, 7 events",
        "deduplicate: 4 users, 3 items, 7 events",
        "k-core pass 1: 3 users, 3 items, 6 events",
        "k-core pass 2: 3 users, 2 items, 5 events",
        "k-core pass 3: 2 users, 2 items, 4 events",
        "final: 2 users, 2 items, 4 events",
      ])
    #expect(output.samples.users == ["u1", "u2"])
    #expect(output.samples.items.map(\.rawID) == ["a", "b"])
  }

  @Test func separateUserAndItemThresholds() throws {
    var options = makeOptions()
    options.userKCore = 2
    options.itemKCore = 0
    let output = try PrepareStage.prepare(cascadeLog, options: options)
    // Only u4 (one event) goes; item c keeps u3's event because items have no threshold.
    #expect(output.samples.users == ["u1", "u2", "u3"])
    #expect(output.samples.items.map(\.rawID) == ["a", "b", "c"])
    #expect(output.report.steps.last?.events == 6)
  }

  @Test func zeroThresholdsKeepEverything() throws {
    let output = try PrepareStage.prepare(cascadeLog, options: makeOptions(kCore: 0))
    #expect(output.report.steps.map(\.name) == ["input", "min_rating", "deduplicate", "final"])
    #expect(output.report.steps.last?.events == 7)
  }

  @Test func emptyKCoreErrorNamesThresholdsPassesAndRemedy() throws {
    let error = #expect(throws: PipelineError.self) {
      var options = makeOptions()
      options.userKCore = 2
      options.itemKCore = 3
      return try PrepareStage.prepare(cascadeLog, options: options)
    }
    #expect(error?.code == .invalidInput)
    #expect(
      error?.message
        == "k-core filtering with user_k_core 2 and item_k_core 3 leaves no events (before: 4 users, 3 items, 7 events; pass 1: 3 users, 1 item, 3 events; pass 2: 0 users, 0 items, 0 events); lower user_k_core or item_k_core (0 disables either)"
    )
  }

  /// Oracle: remove one offending event at a time until none is left; the k-core is unique, so the
  /// kept events must match whatever the order of removals.
  @Test(arguments: [1, 2, 3, 4, 5])
  func kCoreMatchesOneAtATimeRemoval(seed: UInt64) throws {
    var generator = SeededGenerator(seed: seed)
    var events: [(String, String, Int64)] = []
    for _ in 0..<300 {
      events.append(
        ("u\(generator.nextInt(below: 40))", "i\(generator.nextInt(below: 60))", Int64(generator.nextInt(below: 100))))
    }
    let userThreshold = 1 + generator.nextInt(below: 6)
    let itemThreshold = 1 + generator.nextInt(below: 6)

    var alive = Array(repeating: true, count: events.count)
    while true {
      var userCounts: [String: Int] = [:]
      var itemCounts: [String: Int] = [:]
      for (index, event) in events.enumerated() where alive[index] {
        userCounts[event.0, default: 0] += 1
        itemCounts[event.1, default: 0] += 1
      }
      guard
        let victim = events.indices.first(where: {
          alive[$0] && (userCounts[events[$0].0]! < userThreshold || itemCounts[events[$0].1]! < itemThreshold)
        })
      else { break }
      alive[victim] = false
    }
    let keptEvents = events.indices.filter { alive[$0] }
    let expectedUsers = Set(keptEvents.map { events[$0].0 })
    let expectedItems = Set(keptEvents.map { events[$0].1 })

    var options = makeOptions(minimumHistory: 0)
    options.userKCore = userThreshold
    options.itemKCore = itemThreshold
    if keptEvents.isEmpty {
      #expect(throws: PipelineError.self) { try PrepareStage.prepare(makeLog(events), options: options) }
      return
    }
    let output = try PrepareStage.prepare(makeLog(events), options: options)
    #expect(Set(output.samples.users) == expectedUsers)
    #expect(Set(output.samples.items.map(\.rawID)) == expectedItems)
    #expect(output.report.steps.last?.events == keptEvents.count)
    let sampleCount = SplitName.allCases.map { output.samples[$0].count }.reduce(0, +)
    #expect(sampleCount == keptEvents.count)
  }
}
