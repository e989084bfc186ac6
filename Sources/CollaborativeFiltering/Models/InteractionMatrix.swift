import Interactions

/// X, the user × item interaction matrix the classical models (`pop`, `bpr-mf`, `ease`) see: per
/// user, the set of items in any train sample of that user, its history items and its target.
///
/// With leave-one-out samples this is every interaction before the user's valid item (the train
/// targets plus the first history item); with pre-split samples (the official TCA4Rec files) it is
/// whatever the train samples mention. Valid and test samples never enter X. Binary: an item seen
/// twice is one entry. Rows are CSR, items ascending.
struct InteractionMatrix: Sendable {
  /// U: rows are user ids 0...U (row 0, padding, is empty).
  let userCount: Int
  /// N: items are 1...N.
  let itemCount: Int
  /// `offsets[u]..<offsets[u + 1]` is user u's range in `items`; `userCount + 2` values.
  let offsets: [Int]
  /// Item ids, ascending within each row.
  let items: [UInt32]

  /// X of the train samples.
  /// - Complexity: O(history values + samples), plus sorting each row.
  init(_ samples: SampleSet, userCount: Int, itemCount: Int) {
    self.userCount = userCount
    self.itemCount = itemCount
    // Sample indices grouped by user (a counting sort, stable).
    var sampleStarts = [Int](repeating: 0, count: userCount + 2)
    for user in samples.users {
      precondition(user >= 1 && Int(user) <= userCount, "user id \(user) outside 1...\(userCount)")
      sampleStarts[Int(user) + 1] += 1
    }
    for user in 0...userCount { sampleStarts[user + 1] += sampleStarts[user] }
    var byUser = [Int](repeating: 0, count: samples.count)
    var next = sampleStarts
    for (index, user) in samples.users.enumerated() {
      byUser[next[Int(user)]] = index
      next[Int(user)] += 1
    }
    // Each user's distinct items: `lastUser[item]` marks items already taken for the current user.
    var lastUser = [Int](repeating: 0, count: itemCount + 1)
    var offsets = [Int](repeating: 0, count: userCount + 2)
    var items: [UInt32] = []
    items.reserveCapacity(samples.count + samples.historyValues.count / 4)
    for user in stride(from: 1, through: userCount, by: 1) {
      let rowStart = items.count
      for position in sampleStarts[user]..<sampleStarts[user + 1] {
        let sample = byUser[position]
        let target = samples.targets[sample]
        precondition(target >= 1 && Int(target) <= itemCount, "item id \(target) outside 1...\(itemCount)")
        for item in samples.history(sample) {
          precondition(item >= 1 && Int(item) <= itemCount, "item id \(item) outside 1...\(itemCount)")
          if lastUser[Int(item)] != user {
            lastUser[Int(item)] = user
            items.append(item)
          }
        }
        if lastUser[Int(target)] != user {
          lastUser[Int(target)] = user
          items.append(target)
        }
      }
      items[rowStart...].sort()
      offsets[user + 1] = items.count
    }
    self.offsets = offsets
    self.items = items
  }

  /// Nonzeros of X: the (user, item) pairs.
  var pairCount: Int { items.count }

  /// User `user`'s items, ascending.
  func row(_ user: Int) -> ArraySlice<UInt32> { items[offsets[user]..<offsets[user + 1]] }

  /// Whether `item` is in user `user`'s row (binary search).
  func contains(user: Int, item: UInt32) -> Bool {
    var lower = offsets[user]
    var upper = offsets[user + 1]
    while lower < upper {
      let middle = (lower + upper) / 2
      if items[middle] < item { lower = middle + 1 } else { upper = middle }
    }
    return lower < offsets[user + 1] && items[lower] == item
  }

  /// The column sums of X: for each item id 1...N (index `item − 1`), how many users' rows hold it.
  func itemUserCounts() -> [Int] {
    var counts = [Int](repeating: 0, count: itemCount)
    for item in items { counts[Int(item) - 1] += 1 }
    return counts
  }

  /// Xᵀ as CSR: `offsets[i − 1]..<offsets[i]` is item i's range in `users` (ascending user ids).
  func transposed() -> (offsets: [Int], users: [UInt32]) {
    var offsets = [Int](repeating: 0, count: itemCount + 1)
    for item in items { offsets[Int(item)] += 1 }
    for item in 0..<itemCount { offsets[item + 1] += offsets[item] }
    var next = offsets
    var users = [UInt32](repeating: 0, count: items.count)
    for user in 0...userCount {
      for item in row(user) {
        users[next[Int(item) - 1]] = UInt32(user)
        next[Int(item) - 1] += 1
      }
    }
    return (offsets, users)
  }
}
