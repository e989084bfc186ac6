import LogIngest
import PipelineCore

/// The event log after the rating filter, de-duplication and k-core, renumbered: each kept user's
/// items in time order, as CSR by user id.
///
/// Ids are assigned in order of first appearance in the kept events sorted by (timestamp, source
/// position), so they depend only on the log and the options, never on hashing or thread count.
struct UserSequences {
  /// `itemIndices[id - 1]` is the log index of item `id`.
  var itemIndices: [Int] = []
  /// `userIndices[id - 1]` is the log index of user `id`.
  var userIndices: [Int] = []
  /// User `id`'s events are `offsets[id - 1]..<offsets[id]` of `items` and `timestamps`.
  var offsets: [Int] = [0]
  /// Item ids (1-based).
  var items: [UInt32] = []
  var timestamps: [Int64] = []
  /// The events' ratings (NaN when the source has none), for exports.
  var ratings: [Float] = []

  var userCount: Int { userIndices.count }
  var itemCount: Int { itemIndices.count }
  var eventCount: Int { items.count }

  /// Filters and renumbers `log`'s events, appending a step to `report` after each filter; `threads`
  /// threads sort the events (the result does not depend on it).
  ///
  /// - Complexity: O(*n* log *n*) for the time sort of *n* events, then O(*n* + users + items) per
  ///   filter step and k-core pass.
  static func build(
    from log: InteractionLog, options: PrepareOptions, threads: Int, report: inout PrepareReport
  ) throws(PipelineError) -> UserSequences {
    try checkConsistent(log)
    let userCount = log.users.count
    let itemCount = log.items.count

    // Every later step walks `kept` (event indices in time order), so "first" and "last" mean first
    // and last in time, and ids follow time order, without sorting again.
    var kept =
      options.tieBreak == .tca4rec ? rawIDOrder(log, threads: threads) : timeOrder(log.eventTime, threads: threads)
    var counter = StepCounter(users: userCount, items: itemCount)
    func record(_ name: String) {
      report.steps.append(counter.step(name, kept: kept, log: log))
    }
    record("input")
    guard !kept.isEmpty else {
      throw .invalidInput("the interactions log has no events, so there is nothing to prepare; check the ingest report")
    }

    if options.windowMonths > 0 {
      // The official window: `timestamp > max - months * 30 * 24 * 60 * 60`, max over every event.
      let latest = kept.lazy.map { log.eventTime[Int($0)] }.max()!
      let (span, tooLong) = Int64(options.windowMonths).multipliedReportingOverflow(by: 2_592_000)
      let (start, beforeTime) = latest.subtractingReportingOverflow(span)
      if !tooLong && !beforeTime { kept.removeAll { log.eventTime[Int($0)] <= start } }
      record("window")
    }

    let before = kept.count
    // A NaN rating (the source has none) compares false, so unrated events stay.
    kept.removeAll { Double(log.eventRating[Int($0)]) < options.minimumRating }
    record("min_rating")
    guard !kept.isEmpty else {
      throw .invalidInput(
        "min_rating \(options.minimumRating) drops all \(before) events (every rating is lower); lower min_rating")
    }

    deduplicate(&kept, log: log, policy: options.deduplication)
    record("deduplicate")

    let keptEvents = try kCore(kept, log: log, options: options, threads: threads, report: &report)
    var sequences = number(keptEvents, log: log)
    if options.tieBreak == .tca4rec { sequences.orderTiesByItemID() }
    report.steps.append(
      PrepareReport.Step(
        name: "final", users: sequences.userCount, items: sequences.itemCount, events: sequences.eventCount))
    return sequences
  }

  /// Checks that the event arrays have one length and every index names a user and an item.
  static func checkConsistent(_ log: InteractionLog) throws(PipelineError) {
    let count = log.eventUser.count
    guard log.eventItem.count == count, log.eventTime.count == count, log.eventRating.count == count else {
      throw .invalidInput(
        "the interactions log's event arrays have different lengths (user \(count), item \(log.eventItem.count), timestamp \(log.eventTime.count), rating \(log.eventRating.count)); rerun ingest with --force"
      )
    }
    if let index = log.eventUser.firstIndex(where: { Int($0) >= log.users.count }) {
      throw .invalidInput(
        "the interactions log's event \(index) names user index \(log.eventUser[index]), but there are \(log.users.count) users; rerun ingest with --force"
      )
    }
    if let index = log.eventItem.firstIndex(where: { Int($0) >= log.items.count }) {
      throw .invalidInput(
        "the interactions log's event \(index) names item index \(log.eventItem[index]), but there are \(log.items.count) items; rerun ingest with --force"
      )
    }
  }

  /// Event indices sorted by (timestamp, source position), with `TimeKeyOrder`.
  static func timeOrder(_ times: [Int64], threads: Int) -> [Int32] {
    TimeKeyOrder.order(times: times, keys: nil, threads: threads)
  }

  /// Event indices sorted by (timestamp, raw user id, raw item id, source position), the order in
  /// which the official TCA4Rec preprocessing numbers users and items (`sort_values(['timestamp',
  /// 'uid', 'iid'])` on the raw string ids, a stable sort). Python compares strings by code point,
  /// which is the order of their UTF-8 bytes.
  ///
  /// The raw ids are ranked first (users and items on two threads when there are two), so the events
  /// sort by (timestamp, user rank, item rank, position) with `TimeKeyOrder`.
  ///
  /// - Complexity: O(*u* log *u* + *i* log *i*) string comparisons for *u* users and *i* items, then
  ///   `TimeKeyOrder.order`'s cost for the events.
  static func rawIDOrder(_ log: InteractionLog, threads: Int) -> [Int32] {
    var ranks: [[Int32]] = [[], []]
    ranks.withUnsafeMutableBufferPointer { ranks in
      let ranks = DisjointPointer(ranks)
      Parallel.forEach(2, threads: threads) { which in
        ranks[which] = which == 0 ? byteOrderRanks(log.users) : byteOrderRanks(log.items.map(\.rawID))
      }
    }
    let (userRank, itemRank) = (ranks[0], ranks[1])
    // (user rank, item rank) as one small integer, so that it packs with the position.
    let itemCount = UInt64(log.items.count)
    let keys = [UInt64](unsafeUninitializedCapacity: log.eventCount) { buffer, initialized in
      for event in 0..<log.eventCount {
        buffer[event] =
          UInt64(userRank[Int(log.eventUser[event])]) * itemCount + UInt64(itemRank[Int(log.eventItem[event])])
      }
      initialized = log.eventCount
    }
    return TimeKeyOrder.order(times: log.eventTime, keys: keys, threads: threads)
  }

  /// Each id's position when the ids are sorted by their UTF-8 bytes (equal ids by index).
  ///
  /// The ids are sorted by (first 8 bytes big-endian in one integer, index), which needs no string
  /// comparison; only runs of ids that share their first 8 bytes are then sorted by all their bytes.
  ///
  /// - Complexity: O(*n* log *n*) integer comparisons, plus O(*r* log *r*) string comparisons per
  ///   run of *r* ids with the same first 8 bytes.
  static func byteOrderRanks(_ ids: [String]) -> [Int32] {
    precondition(ids.count <= Int(Int32.max), "more than 2^31 - 1 ids")
    struct Entry {
      var prefix: UInt64
      var index: Int32
    }
    var entries = ids.indices.map { index in
      var prefix: UInt64 = 0
      var taken = 0
      for byte in ids[index].utf8.prefix(8) {
        prefix = prefix << 8 | UInt64(byte)
        taken += 1
      }
      return Entry(prefix: prefix << (8 * UInt64(8 - taken)), index: Int32(index))
    }
    entries.sort { ($0.prefix, $0.index) < ($1.prefix, $1.index) }
    var start = 0
    while start < entries.count {
      var end = start + 1
      while end < entries.count && entries[end].prefix == entries[start].prefix { end += 1 }
      if end - start > 1 {
        // Ids with equal prefixes may differ later (or be shorter than 8 bytes with zero bytes).
        entries[start..<end].sort { left, right in
          let (leftID, rightID) = (ids[Int(left.index)].utf8, ids[Int(right.index)].utf8)
          if leftID.elementsEqual(rightID) { return left.index < right.index }
          return leftID.lexicographicallyPrecedes(rightID)
        }
      }
      start = end
    }
    var rank = [Int32](repeating: 0, count: ids.count)
    for (position, entry) in entries.enumerated() { rank[Int(entry.index)] = Int32(position) }
    return rank
  }

  static func deduplicate(_ kept: inout [Int32], log: InteractionLog, policy: PrepareOptions.Deduplication) {
    func pair(_ event: Int32) -> UInt64 {
      UInt64(log.eventUser[Int(event)]) << 32 | UInt64(log.eventItem[Int(event)])
    }
    switch policy {
    case .none:
      return
    case .first:
      var seen = Set<UInt64>(minimumCapacity: kept.count)
      kept.removeAll { !seen.insert(pair($0)).inserted }
    case .last:
      var last = [UInt64: Int32](minimumCapacity: kept.count)
      for event in kept { last[pair(event)] = event }
      kept.removeAll { last[pair($0)] != $0 }
    }
  }

  /// A kept event with its user and item, so that passes over kept events read memory in order.
  struct KeptEvent {
    var event: Int32
    var user: UInt32
    var item: UInt32
  }

  /// What one part of a k-core pass did: how many of its events it kept (moved to the start of its
  /// range, in order), and the events it removed.
  struct KCorePart {
    var retained = 0
    var removed: [KeptEvent] = []
  }

  /// Removes users with fewer than `userKCore` events and items with fewer than `itemKCore` events,
  /// both at once per pass, until a pass removes nothing. Each pass that removes events is a step.
  ///
  /// The result is the largest subset of events in which every user and item meets its threshold,
  /// whatever the order of removals, so the passes are only a report of how it was reached.
  ///
  /// The events are counted once; a pass decides with the counts as they were when it started (in
  /// parts on `threads` threads, each keeping its events in order), then subtracts the events it
  /// removed. A pass after which no user or item newly falls below its threshold is the last.
  ///
  /// - Returns: the kept events in `kept`'s order, with their users and items.
  /// - Complexity: O(*n*) per pass for *n* kept events, plus O(users + items) once.
  static func kCore(
    _ kept: [Int32], log: InteractionLog, options: PrepareOptions, threads: Int, report: inout PrepareReport
  ) throws(PipelineError) -> [KeptEvent] {
    var events = [KeptEvent](repeating: KeptEvent(event: 0, user: 0, item: 0), count: kept.count)
    events.withUnsafeMutableBufferPointer { events in
      let events = DisjointPointer(events)
      Parallel.forEach(kept.count, threads: threads, chunk: 65_536) { position in
        let event = Int(kept[position])
        events[position] = KeptEvent(event: Int32(event), user: log.eventUser[event], item: log.eventItem[event])
      }
    }
    // A present user or item has at least one event, so thresholds of 0 or 1 never remove anything.
    guard options.userKCore > 1 || options.itemKCore > 1 else { return events }
    let userThreshold = Int32(clamping: options.userKCore)
    let itemThreshold = Int32(clamping: options.itemKCore)
    var userEvents = [Int32](repeating: 0, count: log.users.count)
    var itemEvents = [Int32](repeating: 0, count: log.items.count)
    for event in events {
      userEvents[Int(event.user)] += 1
      itemEvents[Int(event.item)] += 1
    }
    var presentUsers = userEvents.count { $0 > 0 }
    var presentItems = itemEvents.count { $0 > 0 }
    var passes: [PrepareReport.Step] = []
    let start = report.steps.last!
    var failing =
      userEvents.contains { $0 > 0 && $0 < userThreshold } || itemEvents.contains { $0 > 0 && $0 < itemThreshold }
    while failing {
      let count = events.count
      let parts = max(1, min(threads, count / 65_536))
      var results = [KCorePart](repeating: KCorePart(), count: parts)
      let (userCounts, itemCounts) = (userEvents, itemEvents)
      events.withUnsafeMutableBufferPointer { buffer in
        results.withUnsafeMutableBufferPointer { results in
          let (events, results) = (DisjointPointer(buffer), DisjointPointer(results))
          Parallel.forEach(parts, threads: parts) { part in
            var result = KCorePart()
            let lower = part * count / parts
            for position in lower..<((part + 1) * count / parts) {
              let event = events[position]
              if userCounts[Int(event.user)] >= userThreshold && itemCounts[Int(event.item)] >= itemThreshold {
                events[lower + result.retained] = event
                result.retained += 1
              } else {
                result.removed.append(event)
              }
            }
            results[part] = result
          }
          // The parts' kept events one after the other.
          var end = results[0].retained
          for part in 1..<parts {
            (events.base + end).update(from: events.base + part * count / parts, count: results[part].retained)
            end += results[part].retained
          }
        }
      }
      let retained = results.reduce(0) { $0 + $1.retained }
      if retained == count { break }
      events.removeLast(count - retained)
      // Every user and item below its threshold lost all its events in this pass, so one that is
      // below it now (and still present) fell below in this pass: the next pass has work.
      failing = false
      for event in results.lazy.flatMap(\.removed) {
        userEvents[Int(event.user)] -= 1
        let userLeft = userEvents[Int(event.user)]
        if userLeft == 0 { presentUsers -= 1 } else if userLeft < userThreshold { failing = true }
        itemEvents[Int(event.item)] -= 1
        let itemLeft = itemEvents[Int(event.item)]
        if itemLeft == 0 { presentItems -= 1 } else if itemLeft < itemThreshold { failing = true }
      }
      let step = PrepareReport.Step(
        name: "k-core pass \(passes.count + 1)", users: presentUsers, items: presentItems, events: events.count)
      passes.append(step)
      report.steps.append(step)
      if events.isEmpty {
        throw emptyKCore(options: options, start: start, passes: passes)
      }
    }
    return events
  }

  static func emptyKCore(
    options: PrepareOptions, start: PrepareReport.Step, passes: [PrepareReport.Step]
  ) -> PipelineError {
    let history = passes.enumerated().map { "pass \($0.offset + 1): \($0.element.counts)" }.joined(separator: "; ")
    return .invalidInput(
      "k-core filtering with user_k_core \(options.userKCore) and item_k_core \(options.itemKCore) leaves no events "
        + "(before: \(start.counts); \(history)); lower user_k_core or item_k_core (0 disables either)")
  }

  /// Assigns ids in order of first appearance in `kept` (time order) and groups events by user.
  static func number(_ kept: [KeptEvent], log: InteractionLog) -> UserSequences {
    var userIDs = [UInt32](repeating: 0, count: log.users.count)
    var itemIDs = [UInt32](repeating: 0, count: log.items.count)
    // Events per user, by user id (1-based; slot 0 stays 0 for the prefix sums).
    var offsets: [Int] = [0]
    var sequences = UserSequences()
    for event in kept {
      let (user, item) = (Int(event.user), Int(event.item))
      if userIDs[user] == 0 {
        sequences.userIndices.append(user)
        userIDs[user] = UInt32(sequences.userIndices.count)
        offsets.append(0)
      }
      offsets[Int(userIDs[user])] += 1
      if itemIDs[item] == 0 {
        sequences.itemIndices.append(item)
        itemIDs[item] = UInt32(sequences.itemIndices.count)
      }
    }
    // Counting sort by user id; walking `kept` in time order keeps each user's events in time order.
    for index in 1..<offsets.count { offsets[index] += offsets[index - 1] }
    var cursor = offsets
    var items = [UInt32](repeating: 0, count: kept.count)
    var timestamps = [Int64](repeating: 0, count: kept.count)
    var ratings = [Float](repeating: 0, count: kept.count)
    for event in kept {
      let user = Int(userIDs[Int(event.user)]) - 1
      let position = cursor[user]
      cursor[user] += 1
      items[position] = itemIDs[Int(event.item)]
      timestamps[position] = log.eventTime[Int(event.event)]
      ratings[position] = log.eventRating[Int(event.event)]
    }
    sequences.offsets = offsets
    sequences.items = items
    sequences.timestamps = timestamps
    sequences.ratings = ratings
    return sequences
  }

  /// Reorders each user's events by (timestamp, item id, current position): the official TCA4Rec
  /// preprocessing sorts again by (timestamp, uid, iid) on the new integer ids (stably) before it
  /// builds histories, so a user's events at one timestamp follow their item ids.
  mutating func orderTiesByItemID() {
    for user in 0..<userCount {
      let range = offsets[user]..<offsets[user + 1]
      let order = range.sorted { (timestamps[$0], items[$0], $0) < (timestamps[$1], items[$1], $1) }
      guard !order.elementsEqual(range) else { continue }
      let (newItems, newTimes, newRatings) = (
        order.map { items[$0] }, order.map { timestamps[$0] }, order.map { ratings[$0] }
      )
      items.replaceSubrange(range, with: newItems)
      timestamps.replaceSubrange(range, with: newTimes)
      ratings.replaceSubrange(range, with: newRatings)
    }
  }
}

/// Counts distinct users and items among kept events, reusing its marker arrays across steps.
///
/// Filters only remove events, so a step that keeps as many events as the one before keeps the same
/// ones and reuses its counts, and one that keeps every event of the log reads the log in order.
struct StepCounter {
  private var userSeen: [Bool]
  private var itemSeen: [Bool]
  private var last: PrepareReport.Step?

  init(users: Int, items: Int) {
    userSeen = [Bool](repeating: false, count: users)
    itemSeen = [Bool](repeating: false, count: items)
  }

  mutating func step(_ name: String, kept: [Int32], log: InteractionLog) -> PrepareReport.Step {
    if let last, last.events == kept.count {
      return PrepareReport.Step(name: name, users: last.users, items: last.items, events: last.events)
    }
    for index in userSeen.indices { userSeen[index] = false }
    for index in itemSeen.indices { itemSeen[index] = false }
    var users = 0
    var items = 0
    func see(user: Int, item: Int) {
      if !userSeen[user] {
        userSeen[user] = true
        users += 1
      }
      if !itemSeen[item] {
        itemSeen[item] = true
        items += 1
      }
    }
    if kept.count == log.eventCount {
      for event in 0..<log.eventCount { see(user: Int(log.eventUser[event]), item: Int(log.eventItem[event])) }
    } else {
      for event in kept { see(user: Int(log.eventUser[Int(event)]), item: Int(log.eventItem[Int(event)])) }
    }
    let step = PrepareReport.Step(name: name, users: users, items: items, events: kept.count)
    last = step
    return step
  }
}
