/// The merge loop of BPE training, on counted byte strings: no pre-tokenization and no tokenizer
/// (the preset is only recorded in the result), so it can be tested and timed on its own.
///
/// Token ids: the special tokens first (0..<k), then the 256 byte-level characters sorted by code
/// point (GPT-2's `vocab.json` order), then one id per new merged string. Each step merges the pair
/// with the highest count; ties go to the pair with the smallest left token id, then the smallest
/// right token id. This is exactly the rule of `tokenizers`' `BpeTrainer` (given the full byte-level
/// alphabet as `initial_alphabet`), so both learn the same merges from the same words.
///
/// Within a word, occurrences are merged left to right without overlap (`a a a` merging `(a, a)`
/// gives `aa a`), as `tokenizers` and the encoder do.
struct BPEMergeLearner {
  var vocabularySize: Int
  var minimumFrequency: Int
  var specialTokens: [String]
  var preset: PreTokenizerPreset

  /// Learns merges from the words of `corpus`.
  ///
  /// - Complexity: O(*P* + *M* log *P* + Σ over merges of the lengths of the words containing the
  ///   merged pair), where *P* is the number of distinct pairs and *M* the number of merges; each
  ///   merge touches only the words that contain its pair (an index from pair to words), and the best
  ///   pair comes from a max-heap with lazy deletion.
  func learn(_ corpus: BPETrainingCorpus) -> BPETrainingResult {
    // Token strings and their ids; keyed by UTF-8 bytes, since String equality is canonical
    // equivalence, not byte equality.
    var vocabulary: [String] = []
    var ids: [[UInt8]: UInt32] = [:]
    func intern(_ token: String) -> UInt32 {
      let key = Array(token.utf8)
      if let id = ids[key] { return id }
      let id = UInt32(vocabulary.count)
      vocabulary.append(token)
      ids[key] = id
      return id
    }
    var specials: [String] = []
    for token in specialTokens where ids[Array(token.utf8)] == nil {
      _ = intern(token)
      specials.append(token)
    }
    var byteIDs = [UInt32](repeating: 0, count: 256)
    let characters = ByteLevelAlphabet.characters
    for byte in (0..<256).sorted(by: { characters[$0].value < characters[$1].value }) {
      byteIDs[byte] = intern(String(characters[byte]))
    }

    // Words as symbol ids in one flat buffer; a word keeps its slot range and shrinks as it merges.
    let wordCount = corpus.wordCount
    var starts = [Int](repeating: 0, count: wordCount)
    var lengths = [Int](repeating: 0, count: wordCount)
    var weights = [Int64](repeating: 0, count: wordCount)
    var symbols: [UInt32] = []
    corpus.forEachWord { number, word in
      starts[number] = symbols.count
      lengths[number] = word.count
      weights[number] = Int64(corpus.counts[number])
      for byte in word { symbols.append(byteIDs[Int(byte)]) }
    }

    var pairs = TrainingPairTable(capacity: max(1024, symbols.count / 4))
    for word in 0..<wordCount where lengths[word] > 1 {
      let start = starts[word]
      for position in start..<(start + lengths[word] - 1) {
        pairs.add(
          TrainingPairTable.key(symbols[position], symbols[position + 1]), weights[word], word: Int32(word))
      }
    }
    var queue = TrainingPairQueue(
      pairs.keys.indices.compactMap { number in
        pairs.counts[number] > 0 ? TrainingPairQueue.Entry(count: pairs.counts[number], pair: pairs.keys[number]) : nil
      })

    let threshold = Int64(max(1, minimumFrequency))
    var merges: [BPETrainingResult.Merge] = []
    var stopReason = BPETrainingResult.StopReason.noPairs
    var lastMergeCount: Int64 = 0
    // Pairs that gained occurrences in the current step, to be pushed once the step is done.
    var gained: [Int] = []
    var gainedStep: [Int] = []
    var step = 0
    func noteGain(_ pair: Int) {
      if pair >= gainedStep.count {
        gainedStep.append(contentsOf: repeatElement(0, count: pair - gainedStep.count + 1))
      }
      if gainedStep[pair] != step {
        gainedStep[pair] = step
        gained.append(pair)
      }
    }

    while true {
      if vocabulary.count >= vocabularySize {
        stopReason = .vocabularySize
        break
      }
      guard let top = queue.pop() else {
        stopReason = .noPairs
        break
      }
      let number = pairs.find(top.pair)!
      let current = pairs.counts[number]
      if top.count != current {
        // Stale: the pair lost occurrences since this entry was pushed.
        if current >= threshold { queue.push(.init(count: current, pair: top.pair)) }
        continue
      }
      if current < threshold {
        stopReason = .minimumFrequency
        break
      }

      let left = UInt32(truncatingIfNeeded: top.pair >> 32)
      let right = UInt32(truncatingIfNeeded: top.pair)
      let merged = intern(vocabulary[Int(left)] + vocabulary[Int(right)])
      merges.append(.init(vocabulary[Int(left)], vocabulary[Int(right)]))
      lastMergeCount = current

      step = merges.count
      let containing = pairs.words[number]
      pairs.words[number] = []
      for word32 in containing {
        let word = Int(word32)
        let start = starts[word]
        let end = start + lengths[word]
        let weight = weights[word]
        var read = start
        var write = start
        while read < end {
          if read + 1 < end && symbols[read] == left && symbols[read + 1] == right {
            pairs.counts[number] -= weight
            if write > start {
              let previous = symbols[write - 1]
              pairs.add(TrainingPairTable.key(previous, left), -weight, word: nil)
              noteGain(pairs.add(TrainingPairTable.key(previous, merged), weight, word: word32))
            }
            if read + 2 < end {
              let next = symbols[read + 2]
              pairs.add(TrainingPairTable.key(right, next), -weight, word: nil)
              noteGain(pairs.add(TrainingPairTable.key(merged, next), weight, word: word32))
            }
            symbols[write] = merged
            write += 1
            read += 2
          } else {
            symbols[write] = symbols[read]
            write += 1
            read += 1
          }
        }
        lengths[word] = write - start
      }
      for pair in gained where pairs.counts[pair] > 0 {
        queue.push(.init(count: pairs.counts[pair], pair: pairs.keys[pair]))
      }
      gained.removeAll(keepingCapacity: true)
    }
    return BPETrainingResult(
      vocabulary: vocabulary, merges: merges, specialTokens: specials, preset: preset, stopReason: stopReason,
      lastMergeCount: Int(lastMergeCount))
  }
}
