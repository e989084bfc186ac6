import PipelineCore
import Testing
import TitleTrie

/// `TitleTrie` against the naive dictionary-of-dictionaries trie on random sequences.
@Suite struct ReferenceTrieTests {
  static let eos: UInt32 = 1_000

  @Test(arguments: [1, 2, 3, 4, 5])
  func randomSequencesWithEOSMatchTheNaiveTrie(seed: UInt64) throws {
    var generator = SeededGenerator(seed: seed)
    let count = 200 + generator.nextInt(below: 800)
    let sequences = randomSequences(
      count: count, vocabulary: 2 + Int(seed) * 2, maximumLength: 6, eos: Self.eos, generator: &generator)
    try check(sequences, eos: Self.eos)
  }

  @Test(arguments: [11, 12, 13])
  func randomSequencesWithoutEOSMatchTheNaiveTrie(seed: UInt64) throws {
    var generator = SeededGenerator(seed: seed)
    let sequences = randomSequences(count: 500, vocabulary: 3, maximumLength: 5, eos: nil, generator: &generator)
    try check(sequences, eos: nil)
  }

  @Test func largeVocabulariesAndLongSequencesMatchTheNaiveTrie() throws {
    var generator = SeededGenerator(seed: 99)
    let sequences = randomSequences(
      count: 3_000, vocabulary: 50_000, maximumLength: 40, eos: 50_000, generator: &generator)
    try check(sequences, eos: 50_000)
  }

  func check(_ sequences: [[UInt32]], eos: UInt32?) throws {
    let trie = try TitleTrie(sequences: sequences)
    let naive = NaiveTrie(sequences)
    #expect(trie.nodeCount == naive.nodeCount)
    #expect(trie.childCount(of: TitleTrie.root) == naive.distinctFirstTokens)
    #expect(TitleTrieReport(trie).distinctFirstTokens == naive.distinctFirstTokens)
    try trie.checkInvariants(eosID: eos)
    for (index, sequence) in sequences.enumerated() {
      let item = UInt32(index + 1)
      let path = trie.path(ofItem: item)
      #expect(path.map { trie.token[Int($0)] } == sequence, "item \(item)")
      #expect(trie.node(following: sequence) == trie.itemLeaf[Int(item)])
      #expect(trie.items(of: path.last!).contains(item))
      #expect(trie.itemOrder[Int(trie.itemPosition[Int(item)])] == item)
    }
    naive.compare(with: trie)
  }

  /// 20k items of about 15 tokens from a 32k vocabulary with Zipf-like first tokens (shared
  /// prefixes, as real titles have). The time is printed, not asserted: absolute times on shared
  /// machines are noise.
  @Test func buildsTwentyThousandItemsQuickly() throws {
    var generator = SeededGenerator(seed: 7)
    let sequences: [[UInt32]] = (0..<20_000).map { _ in
      let length = 8 + generator.nextInt(below: 15)
      var sequence: [UInt32] = []
      for position in 0..<length {
        // Early positions draw from few tokens (brands), later ones from many.
        let range = position < 2 ? 40 * (position + 1) : 32_000
        sequence.append(UInt32(generator.nextInt(below: range)))
      }
      sequence.append(32_000)
      return sequence
    }
    let tokenCount = sequences.reduce(0) { $0 + $1.count }
    let start = monotonicSeconds()
    let trie = try TitleTrie(sequences: sequences)
    let seconds = monotonicSeconds() - start
    let checkStart = monotonicSeconds()
    try trie.checkInvariants(eosID: 32_000)
    let checkSeconds = monotonicSeconds() - checkStart
    print(
      "trie: built \(sequences.count) items, \(tokenCount) tokens → \(trie.nodeCount) nodes in \(formatFixed(seconds * 1000, digits: 1)) ms; checked in \(formatFixed(checkSeconds * 1000, digits: 1)) ms"
    )
    #expect(trie.itemCount == 20_000)
  }
}
