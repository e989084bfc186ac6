import Foundation
import SoftLabels
import Testing
import TitleTrie

/// The brute-force float64 definition (ARCHITECTURE.md §1), written independently of the stage:
/// enumerate the items whose token sequence starts with the prefix, softmax over them, group by the
/// next token.
func referenceDistribution(
  sequences: [[UInt32]], scores: [Double], beta: Double, prefix: ArraySlice<UInt32>, excluded: Set<Int> = []
) -> [UInt32: Double] {
  var under: [Int] = []
  for (index, sequence) in sequences.enumerated()
  where sequence.count >= prefix.count && sequence.prefix(prefix.count).elementsEqual(prefix)
    && !excluded.contains(index)
  {
    under.append(index)
  }
  let best = under.map { scores[$0] / beta }.max() ?? 0
  var total = 0.0
  var byToken: [UInt32: Double] = [:]
  for index in under {
    let mass = exp(scores[index] / beta - best)
    total += mass
    if sequences[index].count > prefix.count { byToken[sequences[index][prefix.count], default: 0] += mass }
  }
  return byToken.mapValues { $0 / total }
}

/// A random title trie: short sequences over a small vocabulary (shared prefixes, duplicate titles),
/// EOS 99 appended.
func randomSequences(items: Int, seed: UInt64) -> [[UInt32]] {
  var generator = SplitMix(seed: seed)
  return (0..<items).map { _ in
    let length = 1 + Int(generator.next() % 4)
    return (0..<length).map { _ in UInt32(1 + generator.next() % 5) } + [99]
  }
}

struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func normal() -> Double {
    let u = Double(next() >> 11) / Double(1 << 53) + 1e-12
    let v = Double(next() >> 11) / Double(1 << 53)
    return sqrt(-2 * Foundation.log(u)) * cos(2 * .pi * v)
  }
}

/// The computer's labels for `target` from id-ordered `scores`.
func computeLabels(
  _ computer: SoftLabelComputer, scores: [Float], target: UInt32, history: [UInt32] = []
) -> SampleLabels {
  let trie = computer.trie
  var row = trie.itemOrder.map { scores[Int($0) - 1] }
  return row.withUnsafeMutableBufferPointer { buffer in
    computer.labels(
      scores: buffer.baseAddress!, target: target, history: history[...], workspace: computer.makeWorkspace())
  }
}

@Suite("Soft labels against a brute-force float64 reference")
struct SoftLabelComputerTests {
  /// Checks every position of `labels` against the reference: each stored probability within
  /// `tolerance`, the kept set the top k up to ties, the order, the nodes and labels.
  func check(
    _ labels: SampleLabels, sequences: [[UInt32]], scores: [Float], beta: Double, target: UInt32, k: Int?,
    trie: TitleTrie, excluded: Set<Int> = [], tolerance: Double = 1e-6
  ) {
    let sequence = sequences[Int(target) - 1]
    #expect(labels.labels == sequence)
    #expect(labels.nodes == trie.prefixNodes(ofItem: target))
    #expect(labels.softOffsets.count == sequence.count + 1)
    for position in 0..<sequence.count {
      let reference = referenceDistribution(
        sequences: sequences, scores: scores.map(Double.init), beta: beta, prefix: sequence[..<position],
        excluded: excluded)
      let lower = Int(labels.softOffsets[position])
      let upper = Int(labels.softOffsets[position + 1])
      let ids = Array(labels.softIDs[lower..<upper])
      let probabilities = Array(labels.softProbabilities[lower..<upper])
      #expect(ids.count == min(k ?? reference.count, reference.count), "position \(position)")
      for (id, probability) in zip(ids, probabilities) {
        let expected = reference[id] ?? -1
        #expect(abs(Double(probability) - expected) <= tolerance, "position \(position) token \(id)")
      }
      let smallestKept = probabilities.map(Double.init).min() ?? 0
      for (token, probability) in reference where !ids.contains(token) {
        #expect(probability <= smallestKept + tolerance, "position \(position): token \(token) should be kept")
      }
      for slot in 1..<max(1, ids.count) {
        #expect(
          probabilities[slot - 1] > probabilities[slot]
            || (probabilities[slot - 1] == probabilities[slot] && ids[slot - 1] < ids[slot]))
      }
      if reference.count == 1 { #expect(probabilities == [1]) }
    }
  }

  @Test(arguments: [nil, 1, 3] as [Int?])
  func everyPositionMatchesTheReference(k: Int?) throws {
    let sequences = randomSequences(items: 300, seed: 7)
    let trie = try TitleTrie(sequences: sequences)
    var generator = SplitMix(seed: 11)
    let computer = SoftLabelComputer(trie: trie, k: k, beta: 1, type: .float32, excludeHistory: false)
    for target in stride(from: 1, through: 300, by: 17) {
      let scores = (0..<300).map { _ in Float(3 * generator.normal()) }
      let labels = computeLabels(computer, scores: scores, target: UInt32(target))
      check(labels, sequences: sequences, scores: scores, beta: 1, target: UInt32(target), k: k, trie: trie)
    }
  }

  @Test func aSmallTemperatureDoesNotUnderflow() throws {
    // β = 0.01 spreads scores of a few units over hundreds of nats: most branches fall below the
    // float range relative to the best item and must be recomputed from their own maximum.
    let sequences = randomSequences(items: 200, seed: 3)
    let trie = try TitleTrie(sequences: sequences)
    var generator = SplitMix(seed: 5)
    let computer = SoftLabelComputer(trie: trie, k: nil, beta: 0.01, type: .float32, excludeHistory: false)
    for target in stride(from: 1, through: 200, by: 13) {
      let scores = (0..<200).map { _ in Float(2 * generator.normal()) }
      let labels = computeLabels(computer, scores: scores, target: UInt32(target))
      check(labels, sequences: sequences, scores: scores, beta: 0.01, target: UInt32(target), k: nil, trie: trie)
      #expect(!labels.softProbabilities.contains { $0.isNaN })
    }
  }

  @Test func branchesFarBelowTheBestKeepTheirPrecision() throws {
    // Items 41 nats below the best: as floats of magnitude 32–64, z − m is exact only to 2⁻¹⁹, and
    // these two round in opposite directions (found by search), so exponentials relative to the
    // sample's best would split their ½ off by 9.5e-7. Items 3 and 4 share a node below item 2
    // (their first-token subtree's best, still 40 nats above them: the node is recomputed from its
    // own maximum); items 5 and 6 are the best of their own subtree (its maximum is the shift).
    let sequences: [[UInt32]] = [[1, 99], [2, 5, 99], [2, 3, 6, 99], [2, 3, 7, 99], [8, 9, 99], [8, 10, 99]]
    let trie = try TitleTrie(sequences: sequences)
    let (best, low, high): (Float, Float, Float) = (15.959_627, -25.165_89, -25.165_87)
    let scores: [Float] = [best, best - 1, low, high, low, high]
    let computer = SoftLabelComputer(trie: trie, k: nil, beta: 1, type: .float32, excludeHistory: false)
    for target: UInt32 in [3, 5] {
      let labels = computeLabels(computer, scores: scores, target: target)
      check(
        labels, sequences: sequences, scores: scores, beta: 1, target: target, k: nil, trie: trie, tolerance: 3e-7)
    }
  }

  @Test func historyItemsGetNoMassButTheTargetKeepsItsOwn() throws {
    let sequences = randomSequences(items: 120, seed: 21)
    let trie = try TitleTrie(sequences: sequences)
    var generator = SplitMix(seed: 8)
    let computer = SoftLabelComputer(trie: trie, k: nil, beta: 1, type: .float32, excludeHistory: true)
    let scores = (0..<120).map { _ in Float(generator.normal()) }
    let target: UInt32 = 40
    let history: [UInt32] = [3, 40, 77, 100]
    let labels = computeLabels(computer, scores: scores, target: target, history: history)
    check(
      labels, sequences: sequences, scores: scores, beta: 1, target: target, k: nil, trie: trie,
      excluded: [2, 76, 99])
  }

  @Test func float16ProbabilitiesAreTheRoundedValues() throws {
    let sequences = randomSequences(items: 150, seed: 4)
    let trie = try TitleTrie(sequences: sequences)
    var generator = SplitMix(seed: 2)
    let scores = (0..<150).map { _ in Float(generator.normal()) }
    let full = SoftLabelComputer(trie: trie, k: nil, beta: 1, type: .float32, excludeHistory: false)
    let half = SoftLabelComputer(trie: trie, k: nil, beta: 1, type: .float16, excludeHistory: false)
    let reference = computeLabels(full, scores: scores, target: 9)
    let rounded = computeLabels(half, scores: scores, target: 9)
    #expect(rounded.labels == reference.labels && rounded.nodes == reference.nodes)
    for (position, _) in reference.labels.enumerated() {
      let lower = Int(rounded.softOffsets[position])
      let upper = Int(rounded.softOffsets[position + 1])
      for slot in lower..<upper {
        let value = rounded.softProbabilities[slot]
        #expect(Float(Float16(value)) == value)
        let token = rounded.softIDs[slot]
        let fullSlot = (Int(reference.softOffsets[position])..<Int(reference.softOffsets[position + 1]))
          .first { reference.softIDs[$0] == token }!
        #expect(abs(value - reference.softProbabilities[fullSlot]) <= 1e-3)
      }
    }
  }

  @Test func nanScoresAreReported() throws {
    let sequences = randomSequences(items: 50, seed: 1)
    let trie = try TitleTrie(sequences: sequences)
    let computer = SoftLabelComputer(trie: trie, k: 4, beta: 1, type: .float32, excludeHistory: false)
    var scores = [Float](repeating: 0.5, count: 50)
    scores[10] = .nan
    #expect(computeLabels(computer, scores: scores, target: 3).hasInvalidScores)
  }
}

@Suite("The vectorised exponential, maximum, sums and logarithm")
struct FastMathTests {
  @Test func exponentialIsWithinTwoUlp() {
    var worst = 0.0
    var x: Float = -87
    while x <= 0 {
      let lanes = SIMD16<Float>((0..<16).map { x + Float($0) * 0.0001 })
      let result = FastMath.expNonPositive(lanes)
      for lane in 0..<16 where lanes[lane] <= 0 {
        let exact = Foundation.exp(Double(lanes[lane]))
        worst = max(worst, abs(Double(result[lane]) - exact) / exact)
      }
      x += 0.0137
    }
    #expect(worst < 2.5e-7, "worst relative error \(worst)")
    let edge = FastMath.expNonPositive(
      SIMD16<Float>(-100, -88, -.infinity, 0, -0.0, -1e-8, .nan, -87.3, 0, 0, 0, 0, 0, 0, 0, 0))
    #expect(edge[0] == 0 && edge[1] == 0 && edge[2] == 0 && edge[3] == 1 && edge[4] == 1)
    #expect(abs(edge[5] - 1) <= 1e-7 && edge[6].isNaN && edge[7] > 0)
  }

  /// `FastMath.sum`'s order restated: blocks of 32 into four 8-lane partial sums, the remaining
  /// blocks of 8 and the tail into the first; (s0 + s1) + (s2 + s3); lanes i + 4, i + 2, then 0 + 1.
  static func documentedSum(_ values: ArraySlice<Float>) -> Double {
    var partial = [[Double]](repeating: [Double](repeating: 0, count: 8), count: 4)
    var index = values.startIndex
    while values.endIndex - index >= 32 {
      for block in 0..<4 { for lane in 0..<8 { partial[block][lane] += Double(values[index + 8 * block + lane]) } }
      index += 32
    }
    while index < values.endIndex {
      for lane in 0..<min(8, values.endIndex - index) { partial[0][lane] += Double(values[index + lane]) }
      index += 8
    }
    let lanes = (0..<8).map { (partial[0][$0] + partial[1][$0]) + (partial[2][$0] + partial[3][$0]) }
    let fours = (0..<4).map { lanes[$0] + lanes[$0 + 4] }
    return (fours[0] + fours[2]) + (fours[1] + fours[3])
  }

  @Test func maximumSumAndLog() {
    var values = (0..<1003).map { Float(($0 * 7919) % 1009) - 500 }
    values[17] = .nan
    values.withUnsafeBufferPointer { buffer in
      #expect(FastMath.maximum(buffer.baseAddress!, count: 1003) == 508)
      #expect(FastMath.maximum(buffer.baseAddress!, count: 0) == -.infinity)
    }
    values[17] = 1
    let exact = values[5..<990].reduce(0.0) { $0 + Double($1) }
    values.withUnsafeBufferPointer { buffer in
      #expect(abs(FastMath.sum(buffer.baseAddress!, from: 5, to: 990) - exact) < 1e-9)
      #expect(FastMath.sum(buffer.baseAddress!, from: 5, to: 5) == 0)
      for start in 0..<20 {
        for length in 0..<20 {
          let exactRange = values[start..<(start + length)].reduce(0.0) { $0 + Double($1) }
          #expect(FastMath.sum(buffer.baseAddress!, from: start, to: start + length) == exactRange)
        }
      }
      // The documented order, bit for bit, across the 32-float blocks.
      for (start, length) in [(0, 31), (3, 32), (1, 33), (7, 64), (2, 95), (0, 100), (5, 985)] {
        let got = FastMath.sum(buffer.baseAddress!, from: start, to: start + length)
        let want = Self.documentedSum(values[start..<(start + length)])
        #expect(got.bitPattern == want.bitPattern, "sum from \(start), \(length) floats")
      }
    }
    for x in [1e-300, 1e-9, 0.3, 0.5, 1, 1.4142, 2, 123.456, 1e200] {
      #expect(abs(FastMath.log(x) - Foundation.log(x)) <= 1e-9 * max(1, abs(Foundation.log(x))), "log \(x)")
    }
  }

  /// The grouped short sums of the root's pieces are `sum`'s bits for every length below 32, for
  /// one to four arrays (values of every magnitude, so the order of the additions shows).
  @Test func shortSumsAreSumBitForBit() {
    var generator = SplitMix(seed: 41)
    let storage = UnsafeMutablePointer<Float>.allocate(capacity: 4 * 64)
    defer { storage.deallocate() }
    for index in 0..<(4 * 64) { storage[index] = Float(Foundation.exp(generator.normal() * 6)) }
    let arrays = (0..<4).map { UnsafePointer(storage + $0 * 64) }
    for start in [0, 3, 9] {
      for end in start..<(start + 32) {
        let single = FastMath.shortSums(InlineArray<1, UnsafePointer<Float>> { arrays[$0] }, from: start, to: end)
        let three = FastMath.shortSums(InlineArray<3, UnsafePointer<Float>> { arrays[$0] }, from: start, to: end)
        let four = FastMath.shortSums(InlineArray<4, UnsafePointer<Float>> { arrays[$0] }, from: start, to: end)
        for array in 0..<4 {
          let want = FastMath.sum(arrays[array], from: start, to: end).bitPattern
          #expect(four[array].bitPattern == want, "array \(array), \(start)..<\(end)")
          if array < 3 { #expect(three[array].bitPattern == want) }
          if array < 1 { #expect(single[array].bitPattern == want) }
        }
      }
    }
  }
}

/// Many items, so that a sample's scores stream in several chunks: root children whose ranges
/// cross chunk boundaries, and maxima that rise from chunk to chunk (every earlier mass is
/// rescaled).
@Suite("Soft labels streamed in chunks")
struct StreamedSoftLabelTests {
  /// 3,000 items over a first-token vocabulary of 40 (ranges of ≈ 75 items, many crossing a chunk
  /// boundary), then short tails.
  static func sequences(seed: UInt64) -> [[UInt32]] {
    var generator = SplitMix(seed: seed)
    return (0..<3000).map { _ in
      let length = Int(generator.next() % 3)
      return [UInt32(100 + generator.next() % 40)] + (0..<length).map { _ in UInt32(1 + generator.next() % 6) } + [99]
    }
  }

  @Test(arguments: [(1.0, nil), (1.0, 4), (0.05, nil)] as [(Double, Int?)])
  func chunkedSamplesMatchTheReference(beta: Double, k: Int?) throws {
    let sequences = Self.sequences(seed: 31)
    let trie = try TitleTrie(sequences: sequences)
    #expect(trie.itemCount > 2 * SoftLabelComputer.chunkItems)
    var generator = SplitMix(seed: 17)
    let computer = SoftLabelComputer(trie: trie, k: k, beta: beta, type: .float32, excludeHistory: true)
    let check = SoftLabelComputerTests()
    for target in stride(from: 1, through: 3000, by: 397) {
      // Scores rising along the trie order: each chunk holds a new maximum.
      var scores = [Float](repeating: 0, count: 3000)
      for (position, item) in trie.itemOrder.enumerated() {
        scores[Int(item) - 1] = Float(generator.normal()) + Float(position) * 0.002
      }
      let history: [UInt32] = [UInt32(target % 3000 + 1), 5, 2999]
      let excluded = Set(history.filter { $0 != UInt32(target) }.map { Int($0) - 1 })
      let labels = computeLabels(computer, scores: scores, target: UInt32(target), history: history)
      check.check(
        labels, sequences: sequences, scores: scores, beta: beta, target: UInt32(target), k: k, trie: trie,
        excluded: excluded)
    }
  }

  /// The stage's path (packed items, the register-blocked product, chunks consumed as they come,
  /// six samples at a time with AVX2's tile of 6, four with AVX-512's, the rest one by one) gives
  /// the same bits as whole score rows given to `labels(scores:)` (one sample at a time), the
  /// product is the documented fused multiply-add chain, and a tile of 2 scores its users alike.
  @Test func packedProductAndRowsGiveTheSameBits() throws {
    let sequences = Self.sequences(seed: 5)
    let trie = try TitleTrie(sequences: sequences)
    let n = trie.itemCount
    let dimension = 13
    var generator = SplitMix(seed: 23)
    let items = (0..<(n * dimension)).map { _ in Float(generator.normal()) * 0.5 }
    let tile = PackedItems.usersPerTile
    let users = (0..<(tile * dimension)).map { _ in Float(generator.normal()) }
    let order = trie.itemOrder
    let packed = items.withUnsafeBufferPointer { vectors in
      nonisolated(unsafe) let rows = vectors.baseAddress!
      // Two threads: each panel is packed by one, so the panels are the same.
      return PackedItems(itemCount: n, dimension: dimension, threads: 2) { position in
        rows + (Int(order[position]) - 1) * dimension
      }
    }
    let computer = SoftLabelComputer(trie: trie, k: 8, beta: 0.7, type: .float16, excludeHistory: false)
    // The kernel's outputs, a 2-user tile's, and a copy of them for the second set of samples.
    let main = ScoreChunks()
    let pair = ScoreChunks()
    let copy = ScoreChunks()
    let targets = (0..<tile).map { UInt32(1 + ($0 * 911) % n) }
    // Each user's sample twice: one set consumed in a group of 6, the other in a group of 4.
    let samples = (0..<tile).map { _ in computer.makeSample() }
    let others = (0..<tile).map { _ in computer.makeSample() }
    for user in 0..<tile {
      computer.begin(samples[user], target: targets[user], history: [])
      computer.begin(others[user], target: targets[user], history: [])
    }
    var rows = [[Float]](repeating: [Float](repeating: 0, count: n), count: tile)
    for start in Swift.stride(from: 0, to: n, by: SoftLabelComputer.chunkItems) {
      let count = min(SoftLabelComputer.chunkItems, n - start)
      let first = start / PackedItems.panelWidth
      let panels = first..<min(packed.panelCount, first + SoftLabelComputer.chunkItems / PackedItems.panelWidth)
      users.withUnsafeBufferPointer {
        packed.scores(users: $0.baseAddress!, panels: panels, into: main.chunks, maxima: main.maxima)
        packed.scores(users: $0.baseAddress!, count: 2, panels: panels, into: pair.chunks, maxima: pair.maxima)
      }
      // A short tile (a unit's last) gives its users the same bits.
      for user in 0..<2 {
        for offset in 0..<(panels.count * PackedItems.panelWidth) {
          #expect(pair.chunks[user][offset].bitPattern == main.chunks[user][offset].bitPattern)
        }
        #expect(pair.maxima[user].bitPattern == main.maxima[user].bitPattern)
      }
      let whole = panels.count * PackedItems.panelWidth == count
      for user in 0..<tile {
        for offset in 0..<count { rows[user][start + offset] = main.chunks[user][offset] }
        let largest = (0..<(panels.count * PackedItems.panelWidth)).map { main.chunks[user][$0] }.max()!
        #expect(main.maxima[user] == largest)
      }
      // The chunks are consumed in place: each set gets a copy.
      copy.storage.update(from: main.storage, count: main.floats)
      computer.consume(
        InlineArray<6, SoftLabelComputer.Sample> { samples[$0] }, chunks: main.chunks, count: count,
        maxima: whole ? main.maxima : nil)
      for user in 6..<tile {
        computer.consume(
          samples[user], chunk: main.chunks[user], count: count, maximum: whole ? main.maxima[user] : nil)
      }
      computer.consume(
        InlineArray<4, SoftLabelComputer.Sample> { others[$0] }, chunks: copy.chunks, count: count,
        maxima: whole ? main.maxima : nil)
      for user in 4..<tile {
        computer.consume(others[user], chunk: copy.chunks[user], count: count, maximum: whole ? main.maxima[user] : nil)
      }
    }
    let workspace = computer.makeWorkspace()
    for user in 0..<tile {
      for position in Swift.stride(from: 0, to: n, by: 97) {
        let item = Int(trie.itemOrder[position]) - 1
        var expected: Float = 0
        for k in 0..<dimension {
          expected = expected.addingProduct(users[user * dimension + k], items[item * dimension + k])
        }
        #expect(rows[user][position].bitPattern == expected.bitPattern)
      }
      let streamed = computer.finish(samples[user], workspace: workspace)
      let fours = computer.finish(others[user], workspace: workspace)
      let whole = rows[user].withUnsafeBufferPointer { row in
        computer.labels(scores: row.baseAddress!, target: targets[user], history: [], workspace: workspace)
      }
      #expect(streamed == whole)
      #expect(streamed.softProbabilities.map(\.bitPattern) == whole.softProbabilities.map(\.bitPattern))
      #expect(fours.softProbabilities.map(\.bitPattern) == whole.softProbabilities.map(\.bitPattern))
      #expect(fours == whole)
    }
  }
}

@Suite("Top-k selection helpers")
struct SelectionTests {
  @Test func sortAscendingSortsEveryLength() {
    var generator = SplitMix(seed: 99)
    for count in [0, 1, 2, 3, 24, 25, 26, 64, 80, 81, 300, 1270] {
      for duplicates in [false, true] {
        var keys = (0..<count).map { _ in duplicates ? generator.next() % 7 : generator.next() }
        let expected = keys.sorted()
        keys.withUnsafeMutableBufferPointer { FastMath.sortAscending($0.baseAddress!, count: count) }
        #expect(keys == expected, "count \(count) duplicates \(duplicates)")
      }
    }
  }

  @Test func rankOrderGivesTheSortedKeysFirstIndices() {
    var generator = SplitMix(seed: 17)
    for count in [1, 16, 17, 48, 65, 80, 128, 129, 300] {
      for duplicates in [false, true] {
        // High halves (complemented probabilities) with or without many equal ones; low halves
        // ascending, as `selectTop` collects its candidates.
        let keys = (0..<count).map { index in
          (duplicates ? generator.next() % 5 : generator.next() & 0xFFFF_FFFF) << 32 | UInt64(index * 3)
        }
        for limit in Set([1, min(count, 64), count]) {
          var order = [Int32](repeating: -1, count: count)
          keys.withUnsafeBufferPointer { keys in
            order.withUnsafeMutableBufferPointer {
              var scratch = [Int32](repeating: 0, count: FastMath.rankOrderScratch(count))
              FastMath.rankOrder(
                keys.baseAddress!, count: count, limit: limit, into: $0.baseAddress!, scratch: &scratch)
            }
          }
          let expected = keys.sorted().prefix(limit).map { Int32(truncatingIfNeeded: $0) }
          #expect(Array(order.prefix(limit)) == expected, "count \(count) limit \(limit) duplicates \(duplicates)")
          #expect(order.dropFirst(limit).allSatisfy { $0 == -1 })
        }
      }
    }
  }

  @Test func countAtLeastCountsBitPatterns() {
    var generator = SplitMix(seed: 4)
    for count in [0, 5, 16, 17, 100, 1270] {
      let values = (0..<count).map { _ in Float(generator.next() % 1000) / 1000 }
      for threshold in [Float(0), 0.001, 0.25, 0.5, 0.999, 1] {
        let expected = values.filter { $0.bitPattern >= threshold.bitPattern }.count
        values.withUnsafeBufferPointer { buffer in
          #expect(FastMath.countAtLeast(buffer.baseAddress!, count: count, bits: threshold.bitPattern) == expected)
        }
      }
    }
  }
}
