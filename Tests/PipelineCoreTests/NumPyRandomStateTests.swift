import PipelineCore
import Testing

/// `NumPyRandomState` against NumPy's legacy `RandomState`. The expected values were printed by NumPy
/// 2.4.6 (`np.random.RandomState(seed).permutation(n)`, `randint(0, 2**32, dtype=np.uint32)`, and
/// pandas 3.1.1 `DataFrame.sample(5, random_state=42)` on 20 rows); Tests/python/test_tca4rec_preset.py
/// compares whole sampled CSV files with pandas itself.
@Suite struct NumPyRandomStateTests {
  @Test func rawOutputsMatchMT19937() {
    // 3499211612 is the reference first output of MT19937 seeded with 5489 (Matsumoto & Nishimura).
    var state = NumPyRandomState(seed: 5489)
    #expect(state.nextUInt32() == 3_499_211_612)
    #expect(state.nextUInt32() == 581_869_302)
  }

  @Test func permutationsMatchNumPy() {
    var fortyTwo = NumPyRandomState(seed: 42)
    #expect(fortyTwo.permutation(10) == [8, 1, 5, 0, 7, 2, 9, 4, 3, 6])
    var large = NumPyRandomState(seed: 42)
    #expect(Array(large.permutation(100_000).prefix(5)) == [75721, 80184, 19864, 76699, 92991])
    var zero = NumPyRandomState(seed: 0)
    #expect(zero.permutation(7) == [6, 2, 1, 3, 0, 5, 4])
    var largestSeed = NumPyRandomState(seed: .max)
    #expect(largestSeed.permutation(12) == [11, 8, 5, 9, 1, 10, 6, 0, 4, 7, 2, 3])
  }

  @Test func choiceIsThePermutationsPrefixInDrawnOrder() {
    var state = NumPyRandomState(seed: 42)
    #expect(state.choice(total: 20, count: 5) == [0, 17, 15, 1, 8])
    var empty = NumPyRandomState(seed: 42)
    #expect(empty.permutation(0).isEmpty)
    #expect(empty.permutation(1) == [0])
  }
}
