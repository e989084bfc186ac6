import BPETokenizer
import PipelineCore
import TestSupport
import Testing

/// The byte-level alphabet in vocabulary order: sorted by code point, as GPT-2's `vocab.json`.
private let sortedAlphabet = ByteLevelAlphabet.characters.map { String($0) }.sorted {
  $0.unicodeScalars.first!.value < $1.unicodeScalars.first!.value
}

private func corpus(_ words: [(String, Int)]) -> BPETrainingCorpus {
  var corpus = BPETrainingCorpus()
  for (word, count) in words { corpus.add(word: word, count: count) }
  return corpus
}

/// A reference trainer that recounts every pair before each merge: slow, obviously right.
private func naiveTraining(
  _ corpus: BPETrainingCorpus, vocabularySize: Int, minimumFrequency: Int, specialTokens: [String]
) -> (vocabulary: [String], merges: [BPETrainingResult.Merge]) {
  var vocabulary: [String] = []
  for token in specialTokens + sortedAlphabet where !vocabulary.contains(token) { vocabulary.append(token) }
  let byteID = (0..<256).map { vocabulary.firstIndex(of: String(ByteLevelAlphabet.characters[$0]))! }
  var words = corpus.words.map { $0.map { byteID[Int($0)] } }
  var merges: [BPETrainingResult.Merge] = []
  while vocabulary.count < vocabularySize {
    var counts: [[Int]: Int] = [:]
    for (word, count) in zip(words, corpus.counts) where word.count > 1 {
      for index in 0..<(word.count - 1) { counts[[word[index], word[index + 1]], default: 0] += count }
    }
    guard
      let best = counts.max(by: { left, right in
        left.value != right.value ? left.value < right.value : left.key.lexicographicallyPrecedes(right.key) == false
      }), best.value >= max(1, minimumFrequency)
    else { break }
    let text = vocabulary[best.key[0]] + vocabulary[best.key[1]]
    let merged: Int
    if let existing = vocabulary.firstIndex(of: text) {
      merged = existing
    } else {
      merged = vocabulary.count
      vocabulary.append(text)
    }
    merges.append(.init(vocabulary[best.key[0]], vocabulary[best.key[1]]))
    for wordIndex in words.indices {
      var output: [Int] = []
      var index = 0
      let word = words[wordIndex]
      while index < word.count {
        if index + 1 < word.count && word[index] == best.key[0] && word[index + 1] == best.key[1] {
          output.append(merged)
          index += 2
        } else {
          output.append(word[index])
          index += 1
        }
      }
      words[wordIndex] = output
    }
  }
  return (vocabulary, merges)
}

@Suite("BPE trainer")
struct TrainerTests {
  /// The Hugging Face course corpus: hug ×10, pug ×5, pun ×12, bun ×4, hugs ×5.
  ///
  /// Pair counts: u g 20, p u 17, u n 16, h u 15, g s 5, b u 4. Merge `u g` (20); then `u n` (16;
  /// `p u` fell to 12); then `h ug` (15); then `p un` (12); then `p ug` and `hug s` tie at 5 and
  /// `p ug` wins because `p` (id 80) is older than `hug` (259); then `hug s`; `b un` (4) is below the
  /// minimum frequency 5.
  @Test func handWorkedCorpusMergesByCountThenOlderLeftToken() {
    let words = corpus([("hug", 10), ("pug", 5), ("pun", 12), ("bun", 4), ("hugs", 5)])
    let result = BPETrainer(vocabularySize: 1000, minimumFrequency: 5).train(words)
    #expect(result.mergeLines == ["u g", "u n", "h ug", "p un", "p ug", "hug s"])
    #expect(result.vocabulary.count == 1 + 256 + 6)
    #expect(Array(result.vocabulary[257...]) == ["ug", "un", "hug", "pun", "pug", "hugs"])
    #expect(result.stopReason == .minimumFrequency)
    #expect(result.lastMergeCount == 5)

    let lower = BPETrainer(vocabularySize: 1000, minimumFrequency: 4).train(words)
    // At 4, `b un` merges too and every word is then one token.
    #expect(lower.mergeLines.last == "b un")
    #expect(lower.stopReason == .noPairs)
  }

  /// Equal counts and equal left tokens: the smaller right id wins (`b` before `c`).
  @Test func tieWithEqualLeftTokenGoesToSmallerRightID() {
    let result = BPETrainer(vocabularySize: 1000, minimumFrequency: 1).train(corpus([("ac", 1), ("ab", 1)]))
    #expect(result.mergeLines == ["a b", "a c"])
  }

  /// Ids follow the code points of the byte-level characters, not the byte values: a space is `Ġ`
  /// (U+0120), after every letter, so `a b` beats `Ġ a` at equal counts although 0x20 < 0x61.
  @Test func tiesFollowByteLevelCodePointsNotByteValues() {
    let result = BPETrainer(vocabularySize: 1000, minimumFrequency: 1).train(corpus([(" a", 2), ("ab", 2)]))
    #expect(result.mergeLines == ["a b", "Ġ a"])
  }

  /// Occurrences merge left to right without overlap, and the counts of the overlapped pairs drop.
  @Test func overlappingOccurrencesMergeLeftToRight() {
    let four = BPETrainer(vocabularySize: 1000, minimumFrequency: 1).train(corpus([("aaaa", 1)]))
    #expect(four.mergeLines == ["a a", "aa aa"])
    #expect(four.stopReason == .noPairs)
    let three = BPETrainer(vocabularySize: 1000, minimumFrequency: 1).train(corpus([("aaa", 1)]))
    #expect(three.mergeLines == ["a a", "aa a"])
  }

  @Test func specialTokensTakeTheFirstIDsThenTheAlphabetInCodePointOrder() {
    let trainer = BPETrainer(
      vocabularySize: 300, minimumFrequency: 1, specialTokens: ["<|endoftext|>", "<pad>", "<|endoftext|>"])
    let result = trainer.train(["hello world"])
    #expect(result.specialTokens == ["<|endoftext|>", "<pad>"])
    #expect(Array(result.vocabulary[0..<2]) == ["<|endoftext|>", "<pad>"])
    #expect(Array(result.vocabulary[2..<258]) == sortedAlphabet)
    #expect(result.vocabulary[2] == "!")
    #expect(result.vocabulary[2 + 255] == "Ń")
    #expect(trainer.baseVocabularySize == 258)

    let tokenizer = result.makeTokenizer(eosToken: "<|endoftext|>")
    #expect(tokenizer.id(of: "<|endoftext|>") == 0)
    #expect(tokenizer.id(of: "<pad>") == 1)
    #expect(tokenizer.eosID == 0)
    #expect(tokenizer.encode("hello<pad>world").contains(1))
  }

  @Test func vocabularySizeStopsTraining() {
    let result = BPETrainer(vocabularySize: 260, minimumFrequency: 1, specialTokens: []).train(
      ["the theme of the thesis", "then there"])
    #expect(result.vocabulary.count == 260)
    #expect(result.merges.count == 4)
    #expect(result.stopReason == .vocabularySize)

    let none = BPETrainer(vocabularySize: 100, specialTokens: []).train(["the the the"])
    #expect(none.merges.isEmpty)
    #expect(none.vocabulary.count == 256)
  }

  @Test func minimumFrequencyStopsTraining() {
    let texts = ["red rose", "red rose", "red car", "blue sky"]
    let two = BPETrainer(vocabularySize: 10_000, minimumFrequency: 2, specialTokens: []).train(texts)
    let three = BPETrainer(vocabularySize: 10_000, minimumFrequency: 3, specialTokens: []).train(texts)
    #expect(two.stopReason == .minimumFrequency)
    #expect(three.stopReason == .minimumFrequency)
    #expect(three.merges.count < two.merges.count)
    #expect(Array(two.merges.prefix(three.merges.count)) == three.merges)
    #expect(three.lastMergeCount >= 3)
    // " red" occurs 3 times, " rose" twice: at 3 "red" is a token, "rose" is not.
    #expect(three.vocabulary.contains("red"))
    #expect(!three.vocabulary.contains("Ġrose"))
    #expect(two.vocabulary.contains("Ġrose"))
  }

  /// Texts are split by the preset's regex before counting; merges never cross a split.
  @Test func wordsComeFromThePreTokenizer() {
    let trainer = BPETrainer(vocabularySize: 10_000, minimumFrequency: 1, specialTokens: [])
    let words = trainer.corpus(["toy car", "toy-car"])
    #expect(words.words.map { String(decoding: $0, as: UTF8.self) } == ["toy", " car", "-", "car"])
    #expect(words.counts == [2, 1, 1, 1])
    #expect(words.textCount == 2)
    #expect(words.occurrenceCount == 5)
    let result = trainer.train(words)
    #expect(!result.vocabulary.contains { $0.contains("Ġcar") && $0.count > 4 })
    #expect(result.vocabulary.contains("toy"))

    // Llama 3 keeps one leading non-letter with a word: "-car" is one word there.
    let llama = BPETrainer(vocabularySize: 10_000, minimumFrequency: 1, specialTokens: [], preset: .llama3)
    #expect(llama.corpus(["toy-car"]).words.map { String(decoding: $0, as: UTF8.self) } == ["toy", "-car"])
  }

  /// The incremental trainer against the reference that recounts everything, on random corpora
  /// over a small alphabet, where ties are everywhere.
  @Test(arguments: 0..<12) func incrementalCountsAgreeWithRecounting(seed: Int) {
    var generator = SeededGenerator(seed: UInt64(seed))
    let letters = Array("ab c\u{e9}a") + ["\u{1F600}"]
    var words = BPETrainingCorpus()
    for _ in 0..<(20 + generator.nextInt(below: 40)) {
      let length = 1 + generator.nextInt(below: 9)
      let word = String((0..<length).map { _ in letters[generator.nextInt(below: letters.count)] })
      words.add(word: word, count: 1 + generator.nextInt(below: 4))
    }
    let specials = seed % 3 == 0 ? [] : ["<|endoftext|>"]
    let minimum = seed % 4
    let size = specials.count + 256 + 10 + generator.nextInt(below: 80)
    let result = BPETrainer(vocabularySize: size, minimumFrequency: minimum, specialTokens: specials).train(words)
    let reference = naiveTraining(words, vocabularySize: size, minimumFrequency: minimum, specialTokens: specials)
    #expect(result.merges == reference.merges)
    #expect(result.vocabulary == reference.vocabulary)
  }

  @Test func trainingIsDeterministicAndIndependentOfWordOrder() {
    let titles = ["LEGO Star Wars Battle", "Star Wars Rebels Blaster", "PLAYMOBIL Dragon", "LEGO City Fire Truck"]
    let trainer = BPETrainer(vocabularySize: 300, minimumFrequency: 1)
    let first = trainer.train(titles)
    #expect(trainer.train(titles) == first)
    #expect(trainer.train(titles.reversed()) == first)
    #expect(
      first.makeTokenizer().tokenizerJSON().prettyText()
        == trainer.train(titles.reversed()).makeTokenizer().tokenizerJSON().prettyText())
  }

  @Test func trainedTokenizerEncodesWithItsMergesAndRoundTrips() {
    let titles = ["Wooden toy train", "Wooden toy car", "Toy train set", "Remote control car"]
    let result = BPETrainer(vocabularySize: 400, minimumFrequency: 2).train(titles)
    let tokenizer = result.makeTokenizer()
    let ids = tokenizer.encode("Wooden toy train")
    #expect(ids.map { tokenizer.token(of: $0)! } == ["Wooden", "Ġtoy", "Ġtrain"])
    for text in titles + ["unseen wörds ✓ 日本 \u{1F600}", "", "  two  spaces\n", "<|endoftext|>"] {
      #expect(tokenizer.decode(tokenizer.encode(text)) == text)
    }
    #expect(tokenizer.encode("a<|endoftext|>b") == [tokenizer.id(of: "a")!, 0, tokenizer.id(of: "b")!])
    #expect(tokenizer.vocabularySize == result.vocabulary.count)
  }

  @Test(.enabled(if: SharedData.shouldRun("tca4rec-official/Toys_and_Games/item.csv")))
  func eightThousandTokensFromTheToysTitles() throws {
    let titles = try officialTitles("tca4rec-official/Toys_and_Games/item.csv")
    #expect(titles.count == 20_669)
    let trainer = BPETrainer(vocabularySize: 8192, minimumFrequency: 2)
    let result = trainer.train(titles)
    #expect(result.vocabulary.count == 8192)
    #expect(result.stopReason == .vocabularySize)
    let tokenizer = result.makeTokenizer()
    var tokens = 0
    for title in titles {
      let ids = tokenizer.encode(title)
      tokens += ids.count
      #expect(tokenizer.decode(ids) == title)
    }
    // A vocabulary learned from these titles compresses them well below 1 token per 4 bytes.
    #expect(tokens * 4 < titles.reduce(0) { $0 + $1.utf8.count })
  }
}

/// The `title` column of an official TCA4Rec `item.csv` (`,rawid,title,…`; quoted fields may hold
/// commas, doubled quotes and newlines).
private func officialTitles(_ relative: String) throws -> [String] {
  let bytes = try FileSystem.readFile(SharedData.path(relative))
  var rows: [[String]] = []
  var row: [String] = []
  var field: [UInt8] = []
  var quoted = false
  var index = 0
  while index < bytes.count {
    let byte = bytes[index]
    if quoted {
      if byte == UInt8(ascii: "\"") {
        if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\"") {
          field.append(byte)
          index += 1
        } else {
          quoted = false
        }
      } else {
        field.append(byte)
      }
    } else if byte == UInt8(ascii: "\"") {
      quoted = true
    } else if byte == UInt8(ascii: ",") {
      row.append(String(decoding: field, as: UTF8.self))
      field = []
    } else if byte == UInt8(ascii: "\n") {
      row.append(String(decoding: field, as: UTF8.self))
      rows.append(row)
      row = []
      field = []
    } else if byte != UInt8(ascii: "\r") {
      field.append(byte)
    }
    index += 1
  }
  if !field.isEmpty || !row.isEmpty {
    row.append(String(decoding: field, as: UTF8.self))
    rows.append(row)
  }
  let column = rows[0].firstIndex(of: "title")!
  return rows.dropFirst().map { $0[column] }
}
