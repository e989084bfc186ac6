/// One preset's regex as a scanner over UTF-8 bytes: from the end of one match, the end of the next.
///
/// Every scalar is a letter (`\p{L}`), a number (`\p{N}`), whitespace (`\s`) or other, so each
/// regex matches at every position and the pieces tile the text; the scanner only finds where the
/// match starting at `start` ends, trying the alternatives in the regex's order. The comments quote
/// the alternative each branch implements.
struct PreTokenizerScanner {
  let preset: PreTokenizerPreset
  let bytes: UnsafePointer<UInt8>
  let count: Int
  let blockRows: UnsafeMutablePointer<UInt16>
  let rows: UnsafeMutablePointer<UInt8>

  init(preset: PreTokenizerPreset, bytes: UnsafePointer<UInt8>, count: Int) {
    self.preset = preset
    self.bytes = bytes
    self.count = count
    let table = UnicodeClassTable.shared
    self.blockRows = table.blockRows
    self.rows = table.rows
  }

  private static let letter = UnicodeClassTable.letter
  private static let number = UnicodeClassTable.number
  private static let whitespace = UnicodeClassTable.whitespace
  private static let newline = UnicodeClassTable.newline

  /// The class bits and byte length of the scalar at `index`.
  @inline(__always)
  func scalarClass(at index: Int) -> (bits: UInt8, length: Int) {
    let lead = bytes[index]
    if lead < 0x80 { return (rows[Int(lead)], 1) }
    let value: UInt32
    let length: Int
    if lead < 0xE0 {
      value = UInt32(lead & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F)
      length = 2
    } else if lead < 0xF0 {
      value = UInt32(lead & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6 | UInt32(bytes[index + 2] & 0x3F)
      length = 3
    } else {
      value =
        UInt32(lead & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12 | UInt32(bytes[index + 2] & 0x3F) << 6
        | UInt32(bytes[index + 3] & 0x3F)
      length = 4
    }
    return (rows[Int(blockRows[Int(value >> 8)]) << 8 | Int(value & 0xFF)], length)
  }

  /// The end of the run of scalars from `index` whose class has any of `bits`.
  @inline(__always)
  func runEnd(from index: Int, matching bits: UInt8) -> Int {
    var position = index
    while position < count {
      let (classBits, length) = scalarClass(at: position)
      if classBits & bits == 0 { break }
      position += length
    }
    return position
  }

  /// The end of the run of "other" scalars (`[^\s\p{L}\p{N}]`) from `index`.
  @inline(__always)
  func otherRunEnd(from index: Int) -> Int {
    var position = index
    while position < count {
      let (classBits, length) = scalarClass(at: position)
      if classBits != 0 { break }
      position += length
    }
    return position
  }

  /// The end of the match that starts at `start` (`start < count`).
  @inline(__always)
  func pieceEnd(from start: Int) -> Int {
    switch preset {
    case .gpt2: return gpt2PieceEnd(from: start)
    case .llama3: return llamaPieceEnd(from: start, digitGroup: 3)
    case .qwen2: return llamaPieceEnd(from: start, digitGroup: 1)
    }
  }

  /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
  func gpt2PieceEnd(from start: Int) -> Int {
    let first = bytes[start]
    // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
    if first == UInt8(ascii: "'") && start + 1 < count {
      switch bytes[start + 1] {
      case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
        return start + 2
      case UInt8(ascii: "r"), UInt8(ascii: "v"):
        if start + 2 < count && bytes[start + 2] == UInt8(ascii: "e") { return start + 3 }
      case UInt8(ascii: "l"):
        if start + 2 < count && bytes[start + 2] == UInt8(ascii: "l") { return start + 3 }
      default: break
      }
    }
    // The optional space of ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+` is taken when a run follows.
    if first == UInt8(ascii: " ") && start + 1 < count {
      let (next, length) = scalarClass(at: start + 1)
      if next & Self.letter != 0 { return runEnd(from: start + 1 + length, matching: Self.letter) }
      if next & Self.number != 0 { return runEnd(from: start + 1 + length, matching: Self.number) }
      if next == 0 { return otherRunEnd(from: start + 1 + length) }
    }
    let (bits, length) = scalarClass(at: start)
    if bits & Self.letter != 0 { return runEnd(from: start + length, matching: Self.letter) }
    if bits & Self.number != 0 { return runEnd(from: start + length, matching: Self.number) }
    if bits == 0 { return otherRunEnd(from: start + length) }
    return whitespaceEnd(from: start)
  }

  /// `\s+(?!\S)|\s+` from a whitespace scalar: the whole run at the end of the text; else the run
  /// less its last scalar (which then prefixes the next word) when that leaves at least one.
  @inline(__always)
  func whitespaceEnd(from start: Int) -> Int {
    var position = start
    var lastStart = start
    while position < count {
      let (bits, length) = scalarClass(at: position)
      if bits & Self.whitespace == 0 { break }
      lastStart = position
      position += length
    }
    if position == count || lastStart == start { return position }
    return lastStart
  }

  /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
  /// (Qwen 2: `\p{N}` for `\p{N}{1,3}`).
  func llamaPieceEnd(from start: Int, digitGroup: Int) -> Int {
    let first = bytes[start]
    // (?i:'s|'t|'re|'ve|'m|'ll|'d): ASCII letters in either case (`byte | 0x20` lowercases exactly
    // the two bytes of each letter), and ſ (U+017F), which folds to s.
    if first == UInt8(ascii: "'") && start + 1 < count {
      switch bytes[start + 1] | 0x20 {
      case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
        return start + 2
      case UInt8(ascii: "r"), UInt8(ascii: "v"):
        if start + 2 < count && bytes[start + 2] | 0x20 == UInt8(ascii: "e") { return start + 3 }
      case UInt8(ascii: "l"):
        if start + 2 < count && bytes[start + 2] | 0x20 == UInt8(ascii: "l") { return start + 3 }
      default:
        if bytes[start + 1] == 0xC5 && start + 2 < count && bytes[start + 2] == 0xBF { return start + 3 }
      }
    }
    let (bits, length) = scalarClass(at: start)
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if bits & (Self.letter | Self.number | Self.newline) == 0 && start + length < count {
      let (next, nextLength) = scalarClass(at: start + length)
      if next & Self.letter != 0 { return runEnd(from: start + length + nextLength, matching: Self.letter) }
    }
    if bits & Self.letter != 0 { return runEnd(from: start + length, matching: Self.letter) }
    // \p{N}{1,3}
    if bits & Self.number != 0 {
      var position = start + length
      var taken = 1
      while taken < digitGroup && position < count {
        let (next, nextLength) = scalarClass(at: position)
        if next & Self.number == 0 { break }
        position += nextLength
        taken += 1
      }
      return position
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    var otherStart = -1
    if first == UInt8(ascii: " ") && start + 1 < count && scalarClass(at: start + 1).bits == 0 {
      otherStart = start + 1
    } else if bits == 0 {
      otherStart = start
    }
    if otherStart >= 0 {
      var position = otherRunEnd(from: otherStart)
      while position < count && (bytes[position] == 0x0A || bytes[position] == 0x0D) { position += 1 }
      return position
    }
    // \s*[\r\n]+ : through the last \r or \n of the whitespace run, if it has one.
    var position = start
    var lastStart = start
    var afterNewline = -1
    while position < count {
      let (classBits, scalarLength) = scalarClass(at: position)
      if classBits & Self.whitespace == 0 { break }
      if classBits & Self.newline != 0 { afterNewline = position + 1 }
      lastStart = position
      position += scalarLength
    }
    if afterNewline >= 0 { return afterNewline }
    // \s+(?!\S)|\s+
    if position == count || lastStart == start { return position }
    return lastStart
  }
}
