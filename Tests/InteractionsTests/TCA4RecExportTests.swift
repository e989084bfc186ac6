import ArtifactFormats
import Interactions
import LogIngest
import PipelineCore
import Testing

/// Ratings of every shape the export writes: whole, fractional, missing, signed zero, huge.
private let exportRatings: [Float] = [5, 4, 4.5, 1, .nan, 0.1, -0.0, 3, 1e20, 2.25, 1e15, 5e15, 1e16]

/// The rating of user `user`'s events of item `item` (a function of the pair, so that an oracle can
/// find any history entry's rating).
private func exportRating(user: Int, item: Int) -> Float {
  exportRatings[(user &* 7 &+ item &* 3) % exportRatings.count]
}

/// A log as ingest with preset tca4rec writes it: items with `mapping_iid`, `brand` and
/// `category`, `eventCount` events of `users` users and `items` items at `times` distinct times
/// (spread over years, so the time sort needs several digits), raw ids that share long prefixes.
private func exportLog(seed: UInt64, eventCount: Int, users: Int, items: Int, times: Int) -> InteractionLog {
  var generator = SeededGenerator(seed: seed)
  var log = InteractionLog()
  for item in 0..<items {
    log.items.append(
      ItemRecord(
        rawID: "B000000\(item)", title: item % 11 == 0 ? "Pens, \"fine\"" : "Title \(item)",
        metadata: [
          "mapping_iid": .string("M\(item)"), "brand": .string("Brand \(item % 13)"),
          "category": ["Office", .string("Sub \(item % 5)")],
        ]))
  }
  log.users = (0..<users).map { "AAAAAAAA\($0 % 7)\($0)" }
  let instants = (0..<times).map { _ in Int64(1_000_000_000 + generator.nextInt(below: 400_000_000)) }
  for _ in 0..<eventCount {
    let user = generator.nextInt(below: users)
    let item = generator.nextInt(below: items)
    log.appendEvent(
      user: UInt32(user), item: UInt32(item), time: instants[generator.nextInt(below: times)],
      rating: exportRating(user: user, item: item))
  }
  return log
}

private func exportOptions(minimumHistory: Int, maximumHistory: Int, kCore: Int) -> PrepareOptions {
  var options = PrepareOptions()
  options.sampleProtocol = .slidingWindow
  options.tieBreak = .tca4rec
  options.userKCore = kCore
  options.itemKCore = kCore
  options.minimumHistory = minimumHistory
  options.maximumHistory = maximumHistory
  options.export = .tca4recCSV
  options.exportSamples = [700, 90, 5000]
  return options
}

/// Python's `repr` of a rating as the export writes it: `5.0`, `-0.0`, `nan`, else the shortest
/// round trip of the double.
private func pythonRepr(_ rating: Float) -> String {
  let value = Double(rating)
  if value.isNaN { return "nan" }
  if value.rounded() == value && abs(value) < 1e16 { return (value.sign == .minus ? "-" : "") + "\(Int(abs(value))).0" }
  return "\(value)"
}

/// A `train.csv`-style line built field by field from a prepared sample.
private func naiveLine(_ samples: PreparedSamples, _ split: SplitName, _ index: Int, log: InteractionLog) -> String {
  let set = samples[split]
  let userIndex = log.users.firstIndex(of: samples.users[Int(set.users[index]) - 1])!
  func logItem(_ id: UInt32) -> Int { log.items.firstIndex { $0.rawID == samples.items[Int(id) - 1].rawID }! }
  func list(_ entries: [String]) -> String {
    let text = "[" + entries.joined(separator: ", ") + "]"
    return entries.count >= 2 ? "\"" + text + "\"" : text
  }
  let history = Array(set.history(index))
  let ratings = history.map { exportRating(user: userIndex, item: logItem($0)) }
  let rating = exportRating(user: userIndex, item: logItem(set.targets[index]))
  return [
    "\(set.users[index])", "\(set.targets[index])", "\(history.count)", list(history.map { "\($0)" }),
    pythonRepr(rating), rating > 4 ? "1" : "0", list(ratings.map(pythonRepr)), list(ratings.map { $0 > 4 ? "1" : "0" }),
    "\(set.timestamps[index])",
  ].joined(separator: ",") + "\n"
}

@Suite struct TCA4RecExportTests {
  /// The naive formatter against Python's own `repr(float(np.float32(x)))`, printed by Python 3.
  @Test func naiveFormatterMatchesPythonRepr() {
    let python: [(Float, String)] = [
      (1e15, "999999986991104.0"), (5e15, "5000000136282112.0"), (1e16, "1.0000000272564224e+16"),
      (1e20, "1.0000000200408773e+20"), (0.1, "0.10000000149011612"), (-0.0, "-0.0"), (5, "5.0"),
    ]
    for (value, expected) in python { #expect(pythonRepr(value) == expected, "\(value)") }
  }

  @Test func exportAndSamplesDoNotDependOnTheThreadCount() throws {
    // Enough events for several k-core parts, time-sort parts and export tasks.
    let log = exportLog(seed: 7, eventCount: 160_000, users: 9_000, items: 2_500, times: 500)
    let options = exportOptions(minimumHistory: 2, maximumHistory: 6, kCore: 4)
    let one = try PrepareStage.prepare(log, options: options, threads: 1)
    #expect(one.samples[.train].count > 40_000, "several export tasks")
    for threads in [2, 3, 5] {
      let other = try PrepareStage.prepare(log, options: options, threads: threads)
      #expect(other.samples == one.samples, "\(threads) threads")
      #expect(other.report.json == one.report.json, "\(threads) threads")
      #expect(other.exports.map(\.path) == one.exports.map(\.path))
      for (mine, theirs) in zip(other.exports, one.exports) {
        #expect(mine.bytes == theirs.bytes, "\(mine.path) with \(threads) threads")
      }
    }
  }

  @Test(arguments: [(0, 1), (0, 3), (2, 5), (1, 40)])
  func linesMatchANaiveFormatter(minimumHistory: Int, maximumHistory: Int) throws {
    let log = exportLog(seed: 11, eventCount: 3_000, users: 150, items: 90, times: 40)
    let options = exportOptions(minimumHistory: minimumHistory, maximumHistory: maximumHistory, kCore: 2)
    let output = try PrepareStage.prepare(log, options: options, threads: 2)
    let files = Dictionary(uniqueKeysWithValues: output.exports.map { ($0.path, $0.bytes) })
    let header = "uid,iid,his_len,hist_id,rating,label,hist_rating,hist_label,timestamp\n"
    for (split, size) in zip(SplitName.allCases, options.exportSamples) {
      let lines = (0..<output.samples[split].count).map { naiveLine(output.samples, split, $0, log: log) }
      let whole = try #require(files["tca4rec/\(split.rawValue).csv"])
      #expect(String(decoding: whole, as: UTF8.self) == header + lines.joined(), "\(split.rawValue).csv")
      var drawn = Array(lines.indices)
      if size < lines.count {
        var state = NumPyRandomState(seed: UInt32(options.seed))
        drawn = state.choice(total: lines.count, count: size)
      }
      let sampled = try #require(files["tca4rec/\(split.rawValue)_\(size).csv"])
      #expect(String(decoding: sampled, as: UTF8.self) == header + drawn.map { lines[$0] }.joined())
    }
    let train = String(decoding: files["tca4rec/train.csv"]!, as: UTF8.self)
    if minimumHistory == 0 { #expect(train.contains(",0,[],")) }
    #expect(train.contains(",nan,0,"))
  }

  @Test(arguments: [1, 2, 3])
  func rawIDOrderMatchesANaiveSort(seed: UInt64) throws {
    // Ids that share their first 8 bytes, are shorter than 8 bytes, hold NUL bytes or non-ASCII.
    let names = ["AAAAAAAAb", "AAAAAAAAa", "AAAAAAAA", "A", "A\u{0}", "A\u{0}\u{0}B", "é", "e", "Z", "AAAAAAAAa\u{0}"]
    var generator = SeededGenerator(seed: seed)
    let events = (0..<600).map { _ in
      (
        names[generator.nextInt(below: names.count)], "i" + names[generator.nextInt(below: names.count)],
        Int64(generator.nextInt(below: 4))
      )
    }
    var options = makeOptions(.slidingWindow, minimumHistory: 2, maximumHistory: 3)
    options.tieBreak = .tca4rec
    let samples = try PrepareStage.prepare(makeLog(events), options: options).samples
    // Number by first appearance in (time, raw user bytes, raw item bytes, position) order...
    let first = events.indices.sorted { left, right in
      let (l, r) = (events[left], events[right])
      if l.2 != r.2 { return l.2 < r.2 }
      if l.0 != r.0 { return Array(l.0.utf8).lexicographicallyPrecedes(Array(r.0.utf8)) }
      if l.1 != r.1 { return Array(l.1.utf8).lexicographicallyPrecedes(Array(r.1.utf8)) }
      return left < right
    }
    var userIDs: [String: Int] = [:]
    var itemIDs: [String: Int] = [:]
    for index in first {
      if userIDs[events[index].0] == nil { userIDs[events[index].0] = userIDs.count + 1 }
      if itemIDs[events[index].1] == nil { itemIDs[events[index].1] = itemIDs.count + 1 }
    }
    // ...then replay in (time, user id, item id, that order) order.
    let rank = Dictionary(uniqueKeysWithValues: first.enumerated().map { ($0.element, $0.offset) })
    let second = events.indices.sorted { left, right in
      let (l, r) = (events[left], events[right])
      return (l.2, userIDs[l.0]!, itemIDs[l.1]!, rank[left]!) < (r.2, userIDs[r.0]!, itemIDs[r.1]!, rank[right]!)
    }
    var histories: [String: [String]] = [:]
    var all: [RawSample] = []
    for index in second {
      let (user, item, _) = events[index]
      let earlier = histories[user, default: []]
      if earlier.count >= 2 { all.append(RawSample(user: user, target: item, history: Array(earlier.suffix(3)))) }
      histories[user, default: []].append(item)
    }
    let train = Int(Double(all.count) * 0.8)
    let valid = Int(Double(all.count) * 0.1)
    #expect(samples.rawSamples(.train) == Array(all[0..<train]))
    #expect(samples.rawSamples(.valid) == Array(all[train..<(train + valid)]))
    #expect(samples.rawSamples(.test) == Array(all[(train + valid)...]))
  }
}

@Suite struct TimeKeyOrderTests {
  /// The positions sorted by (time, key, position), plainly.
  private func naiveOrder(_ times: [Int64], _ keys: [UInt64]?) -> [Int32] {
    times.indices.sorted { left, right in
      (times[left], keys?[left] ?? 0, left) < (times[right], keys?[right] ?? 0, right)
    }.map { Int32($0) }
  }

  @Test(arguments: [0, 1, 2, 3, 1_000, 140_000])
  func matchesANaiveSort(count: Int) {
    var generator = SeededGenerator(seed: UInt64(count))
    let timeShapes: [(Int) -> Int64] = [
      { _ in 42 },
      { _ in Int64(generator.nextInt(below: 5)) * 86_400 + 1_500_000_000 },
      { _ in Int64(bitPattern: generator.next()) },
      { index in [Int64.min, .max, -1, 0][index % 4] },
      { _ in Int64(generator.nextInt(below: 1_000_000)) - 500_000 },
    ]
    for shape in timeShapes {
      let times = (0..<count).map(shape)
      let small = (0..<count).map { _ in UInt64(generator.nextInt(below: 50)) }
      let large = (0..<count).map { _ in generator.next() | 1 << 63 }
      for keys in [nil, small, large] {
        let expected = naiveOrder(times, keys)
        for threads in [1, 2, 4] {
          #expect(TimeKeyOrder.order(times: times, keys: keys, threads: threads) == expected)
        }
        // Keys looked up rather than packed with the position.
        #expect(TimeKeyOrder.order(times: times, keys: keys, threads: 2, packedBits: 0) == expected)
      }
    }
  }
}
