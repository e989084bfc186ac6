import BPETokenizer
import Testing

/// Hand-worked splits; each expectation is what `tokenizers.pre_tokenizers.Split(Regex(pattern),
/// "isolated")` gives for the preset's pattern (checked with tokenizers 0.23.3).
@Suite("Pre-tokenizer regexes")
struct PreTokenizerTests {
  @Test func gpt2GluesOneSpaceToTheNextWordAndSplitsContractionsCaseSensitively() {
    let gpt2 = PreTokenizerPreset.gpt2
    #expect(gpt2.pieces(of: "Hello world") == ["Hello", " world"])
    #expect(gpt2.pieces(of: "it's IT'S it'S") == ["it", "'s", " IT", "'", "S", " it", "'", "S"])
    #expect(gpt2.pieces(of: "don't 'll") == ["don", "'t", " '", "ll"])
    #expect(gpt2.pieces(of: "12345") == ["12345"])
    #expect(gpt2.pieces(of: "'ſ") == ["'", "ſ"])
    #expect(gpt2.pieces(of: "\tfoo") == ["\t", "foo"])
  }

  @Test func whitespaceBeforeAWordLeavesItsLastCharacterToTheWord() {
    // \s+(?!\S): the run backs off one character so that the next alternative can take " b".
    for preset in PreTokenizerPreset.allCases {
      #expect(preset.pieces(of: "a   b") == ["a", "  ", " b"])
      #expect(preset.pieces(of: "a   ") == ["a", "   "])
      #expect(preset.pieces(of: "x\u{3000}\u{3000}") == ["x", "\u{3000}\u{3000}"])
    }
    #expect(PreTokenizerPreset.gpt2.pieces(of: "hello!!\n\nworld") == ["hello", "!!", "\n", "\n", "world"])
    #expect(PreTokenizerPreset.gpt2.pieces(of: "\n\n  x") == ["\n\n ", " x"])
    #expect(PreTokenizerPreset.gpt2.pieces(of: "x\u{3000}y") == ["x", "\u{3000}", "y"])
  }

  @Test func llama3ContractionsIgnoreCaseAndIncludeLongS() {
    let llama3 = PreTokenizerPreset.llama3
    #expect(llama3.pieces(of: "it's IT'S it'S") == ["it", "'s", " IT", "'S", " it", "'S"])
    #expect(llama3.pieces(of: "WE'LL they'Re I'M") == ["WE", "'LL", " they", "'Re", " I", "'M"])
    #expect(llama3.pieces(of: "'ſ") == ["'ſ"])
    #expect(llama3.pieces(of: "'Ss") == ["'S", "s"])
  }

  @Test func llama3GroupsDigitsByThreeAndQwen2SplitsEveryDigit() {
    #expect(PreTokenizerPreset.llama3.pieces(of: "12345") == ["123", "45"])
    #expect(PreTokenizerPreset.qwen2.pieces(of: "12345") == ["1", "2", "3", "4", "5"])
    #expect(PreTokenizerPreset.llama3.pieces(of: "x²³¹⁴") == ["x", "²³¹", "⁴"])
  }

  @Test func llama3KeepsNewlinesWithPunctuationAndGluesOneNonLetterToAWord() {
    let llama3 = PreTokenizerPreset.llama3
    #expect(llama3.pieces(of: "hello!!\n\nworld") == ["hello", "!!\n\n", "world"])
    #expect(llama3.pieces(of: "\n\n  x") == ["\n\n", " ", " x"])
    #expect(llama3.pieces(of: "  \n x") == ["  \n", " x"])
    #expect(llama3.pieces(of: "\tfoo -bar") == ["\tfoo", " -", "bar"])
    #expect(llama3.pieces(of: "x\u{3000}y") == ["x", "\u{3000}y"])
    #expect(llama3.pieces(of: " !!") == [" !!"])
  }

  @Test func piecesTileTheText() {
    let text = "Ünïcödé  text\twith 1234 numbers, emoji 👨‍👩‍👧 and 中文\r\n\n  end  "
    for preset in PreTokenizerPreset.allCases {
      let pieces = preset.pieces(of: text)
      #expect(pieces.joined() == text)
      #expect(!pieces.contains(""))
    }
  }

  @Test func presetsAreRecognisedByTheirExactPattern() {
    for preset in PreTokenizerPreset.allCases { #expect(PreTokenizerPreset(pattern: preset.pattern) == preset) }
    #expect(PreTokenizerPreset(pattern: #"\w+"#) == nil)
  }
}
