/// GPT-2's reversible map between bytes and printable characters (`bytes_to_unicode`).
///
/// Byte-level BPE vocabularies spell every token with these 256 characters, so a token string never
/// holds a control character or a space: byte `0x20` is `Ġ` (U+0120), `0x0A` is `Ċ` (U+010A), and the
/// printable bytes `!`…`~`, `¡`…`¬`, `®`…`ÿ` stand for themselves.
public enum ByteLevelAlphabet {
  /// The character of each byte, by byte value.
  public static let characters: [Unicode.Scalar] = {
    var printable: [UInt8] = []
    printable += Array(UInt8(ascii: "!")...UInt8(ascii: "~"))
    printable += Array(UInt8(0xA1)...UInt8(0xAC))
    printable += Array(UInt8(0xAE)...UInt8(0xFF))
    var table = [Unicode.Scalar](repeating: "\0", count: 256)
    for byte in printable { table[Int(byte)] = Unicode.Scalar(byte) }
    var next: UInt32 = 256
    for byte in 0..<256 where !printable.contains(UInt8(byte)) {
      table[byte] = Unicode.Scalar(next)!
      next += 1
    }
    return table
  }()

  /// Byte of each character code point below 324 (`0xFFFF` where a code point is not in the alphabet).
  static let byteOfScalar: [UInt16] = {
    var table = [UInt16](repeating: 0xFFFF, count: 324)
    for (byte, scalar) in characters.enumerated() { table[Int(scalar.value)] = UInt16(byte) }
    return table
  }()

  /// The byte a character stands for, or `nil` when the character is not in the alphabet.
  public static func byte(of scalar: Unicode.Scalar) -> UInt8? {
    let value = Int(scalar.value)
    guard value < byteOfScalar.count, byteOfScalar[value] != 0xFFFF else { return nil }
    return UInt8(byteOfScalar[value])
  }

  /// Spells bytes in the alphabet: one character per byte.
  public static func encode(_ bytes: some Sequence<UInt8>) -> String {
    var text = String.UnicodeScalarView()
    for byte in bytes { text.append(characters[Int(byte)]) }
    return String(text)
  }

  /// Spells the UTF-8 bytes of a text in the alphabet.
  public static func encode(_ text: String) -> String {
    encode(text.utf8)
  }

  /// The bytes a byte-level string stands for. A character outside the alphabet contributes its own
  /// UTF-8 bytes, as the `tokenizers` ByteLevel decoder does for a whole token.
  public static func decode(_ text: String) -> [UInt8] {
    decodeToken(text) ?? Array(text.utf8)
  }

  /// The bytes of a token whose every character is in the alphabet, else `nil`.
  static func decodeToken(_ text: String) -> [UInt8]? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      guard let byte = byte(of: scalar) else { return nil }
      bytes.append(byte)
    }
    return bytes
  }
}
