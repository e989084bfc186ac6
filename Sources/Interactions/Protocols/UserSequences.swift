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

  /// Filters and renumbers `log`'s events, appending a step to `report` after each filter.
  ///
  /// - Complexity: O(*n* log *n*) for the time sort of *n* events, then O(*n* + users + items) per
  ///   filter step and k-core pass.
  static func build(
    from log: InteractionLog, options: PrepareOptions, report: inout PrepareReport
  ) throws(PipelineError) -> UserSequences {
    try checkConsistent(log)
    let userCount = log.users.count
    let itemCount = log.items.count

    // Every later step walks `kept` (event indices in time order), so "first" and "last" mean first
    // and last in time, and ids follow time order, without sorting again.
    var kept = options.tieBreak == .tca4rec ? rawIDOrder(log) : timeOrder(log.eventTime)
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

    try kCore(&kept, log: log, options: options, report: &report)
    var sequences = number(kept, log: log)
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

  /// Event indices sorted by (timestamp, source position): a stable sort by timestamp, with the
  /// tie-break spelled out so it does not rest on the standard library's sort being stable.
  static func timeOrder(_ times: [Int64]) -> [Int32] {
    precondition(times.count <= Int(Int32.max), "more than 2^31 - 1 events")
    var order = (0..<Int32(times.count)).map { $0 }
    times.withUnsafeBufferPointer { time in
      order.sort { left, right in
        let leftTime = time[Int(left)]
        let rightTime = time[Int(right)]
        return leftTime < rightTime || (leftTime == rightTime && left < right)
      }
    }
    return order
  }

  /// Event indices sorted by (timestamp, raw user id, raw item id, source position), the order in
  /// which the official TCA4Rec preprocessing numbers users and items (`sort_values(['timestamp',
  /// 'uid', 'iid'])` on the raw string ids, a stable sort). Python compares strings by code point,
  /// which is the order of their UTF-8 bytes.
  static func rawIDOrder(_ log: InteractionLog) -> [Int32] {
    func ranks(_ ids: [String]) -> [Int32] {
      // The first 8 bytes big-endian decide most comparisons; ties compare the whole UTF-8.
      let prefixes = ids.map { id in
        var prefix: UInt64 = 0
        var taken = 0
        for byte in id.utf8.prefix(8) {
          prefix = prefix << 8 | UInt64(byte)
          taken += 1
        }
        return prefix << (8 * UInt64(8 - taken))
      }
      let order = ids.indices.sorted { left, right in
        if prefixes[left] != prefixes[right] { return prefixes[left] < prefixes[right] }
        return ids[left].utf8.lexicographicallyPrecedes(ids[right].utf8)
      }
      var rank = [Int32](repeating: 0, count: ids.count)
      for (position, index) in order.enumerated() { rank[index] = Int32(position) }
      return rank
    }
    let userRank = ranks(log.users)
    let itemRank = ranks(log.items.map(\.rawID))
    precondition(log.eventTime.count <= Int(Int32.max), "more than 2^31 - 1 events")
    struct Key {
      var time: Int64
      /// User rank in the high half, item rank in the low half.
      var ranks: UInt64
      var event: Int32
    }
    var keys = log.eventTime.indices.map { event in
      Key(
        time: log.eventTime[event],
        ranks: UInt64(userRank[Int(log.eventUser[event])]) << 32 | UInt64(itemRank[Int(log.eventItem[event])]),
        event: Int32(event))
    }
    keys.sort { ($0.time, $0.ranks, $0.event) < ($1.time, $1.ranks, $1.event) }
    return keys.map(\.event)
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

  /// Removes users with fewer than `userKCore` events and items with fewer than `itemKCore` events,
  /// both at once per pass, until a pass removes nothing. Each pass that removes events is a step.
  ///
  /// The result is the largest subset of events in which every user and item meets its threshold,
  /// whatever the order of removals, so the passes are only a report of how it was reached.
  static func kCore(
    _ kept: inout [Int32], log: InteractionLog, options: PrepareOptions, report: inout PrepareReport
  ) throws(PipelineError) {
    // A present user or item has at least one event, so thresholds of 0 or 1 never remove anything.
    guard options.userKCore > 1 || options.itemKCore > 1 else { return }
    let userThreshold = Int32(clamping: options.userKCore)
    let itemThreshold = Int32(clamping: options.itemKCore)
    // The kept events' users and items side by side with `kept`, so the passes read memory in order.
    var users = kept.map { log.eventUser[Int($0)] }
    var items = kept.map { log.eventItem[Int($0)] }
    var userEvents = [Int32](repeating: 0, count: log.users.count)
    var itemEvents = [Int32](repeating: 0, count: log.items.count)
    func count() {
      for index in userEvents.indices { userEvents[index] = 0 }
      for index in itemEvents.indices { itemEvents[index] = 0 }
      for position in users.indices {
        userEvents[Int(users[position])] += 1
        itemEvents[Int(items[position])] += 1
      }
    }
    var passes: [PrepareReport.Step] = []
    let start = report.steps.last!
    count()
    while true {
      var retained = 0
      for position in users.indices {
        let user = users[position]
        let item = items[position]
        guard userEvents[Int(user)] >= userThreshold && itemEvents[Int(item)] >= itemThreshold else { continue }
        kept[retained] = kept[position]
        users[retained] = user
        items[retained] = item
        retained += 1
      }
      if retained == kept.count { return }
      kept.removeLast(kept.count - retained)
      users.removeLast(users.count - retained)
      items.removeLast(items.count - retained)
      // The counts of the next pass give this pass's distinct users and items.
      count()
      let step = PrepareReport.Step(
        name: "k-core pass \(passes.count + 1)", users: userEvents.count { $0 > 0 }, items: itemEvents.count { $0 > 0 },
        events: kept.count)
      passes.append(step)
      report.steps.append(step)
      if kept.isEmpty {
        throw emptyKCore(options: options, start: start, passes: passes)
      }
    }
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
  static func number(_ kept: [Int32], log: InteractionLog) -> UserSequences {
    var userIDs = [UInt32](repeating: 0, count: log.users.count)
    var itemIDs = [UInt32](repeating: 0, count: log.items.count)
    var sequences = UserSequences()
    for event in kept {
      let user = Int(log.eventUser[Int(event)])
      let item = Int(log.eventItem[Int(event)])
      if userIDs[user] == 0 {
        sequences.userIndices.append(user)
        userIDs[user] = UInt32(sequences.userIndices.count)
      }
      if itemIDs[item] == 0 {
        sequences.itemIndices.append(item)
        itemIDs[item] = UInt32(sequences.itemIndices.count)
      }
    }
    // Counting sort by user id; walking `kept` in time order keeps each user's events in time order.
    var offsets = [Int](repeating: 0, count: sequences.userCount + 1)
    for event in kept { offsets[Int(userIDs[Int(log.eventUser[Int(event)])])] += 1 }
    for index in 1..<offsets.count { offsets[index] += offsets[index - 1] }
    var cursor = offsets
    var items = [UInt32](repeating: 0, count: kept.count)
    var timestamps = [Int64](repeating: 0, count: kept.count)
    var ratings = [Float](repeating: 0, count: kept.count)
    for event in kept {
      let user = Int(userIDs[Int(log.eventUser[Int(event)])]) - 1
      let position = cursor[user]
      cursor[user] += 1
      items[position] = itemIDs[Int(log.eventItem[Int(event)])]
      timestamps[position] = log.eventTime[Int(event)]
      ratings[position] = log.eventRating[Int(event)]
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
struct StepCounter {
  private var userSeen: [Bool]
  private var itemSeen: [Bool]

  init(users: Int, items: Int) {
    userSeen = [Bool](repeating: false, count: users)
    itemSeen = [Bool](repeating: false, count: items)
  }

  mutating func step(_ name: String, kept: [Int32], log: InteractionLog) -> PrepareReport.Step {
    for index in userSeen.indices { userSeen[index] = false }
    for index in itemSeen.indices { itemSeen[index] = false }
    var users = 0
    var items = 0
    for event in kept {
      let user = Int(log.eventUser[Int(event)])
      let item = Int(log.eventItem[Int(event)])
      if !userSeen[user] {
        userSeen[user] = true
        users += 1
      }
      if !itemSeen[item] {
        itemSeen[item] = true
        items += 1
      }
    }
    return PrepareReport.Step(name: name, users: users, items: items, events: kept.count)
  }
}
