import BPETokenizer
import Testing

@Suite("Byte-level alphabet")
struct ByteLevelAlphabetTests {
  @Test func printableBytesStandForThemselvesAndOthersShiftPast255() {
    #expect(ByteLevelAlphabet.encode([UInt8(ascii: "A"), UInt8(ascii: "!"), UInt8(ascii: "~")]) == "A!~")
    // GPT-2's bytes_to_unicode: the unprintable bytes in order get 256, 257, …; space is the 33rd (Ġ).
    #expect(ByteLevelAlphabet.encode([0x00]) == "\u{100}")
    #expect(ByteLevelAlphabet.encode([0x20]) == "Ġ")
    #expect(ByteLevelAlphabet.encode([0x0A]) == "Ċ")
    #expect(ByteLevelAlphabet.encode([0x7F]) == "\u{121}")
    #expect(ByteLevelAlphabet.encode([0xAD]) == "\u{143}")
    #expect(ByteLevelAlphabet.encode([0xA1, 0xAC, 0xAE, 0xFF]) == "¡¬®ÿ")
    #expect(ByteLevelAlphabet.encode(" café") == "ĠcafÃ©")
  }

  @Test func everyByteHasItsOwnCharacterAndDecodeInvertsEncode() {
    let bytes = (0...255).map { UInt8($0) }
    let text = ByteLevelAlphabet.encode(bytes)
    #expect(Set(text.unicodeScalars).count == 256)
    #expect(ByteLevelAlphabet.decode(text) == bytes)
  }

  @Test func textOutsideTheAlphabetDecodesToItsOwnUTF8() {
    #expect(ByteLevelAlphabet.decode("<|endoftext|>") == Array("<|endoftext|>".utf8))
    #expect(ByteLevelAlphabet.decode("a b") == Array("a b".utf8))
  }
}
