/// The character classes the pre-tokenizer regexes use (`\p{L}`, `\p{N}`, `\s`, and `\r`/`\n`), for
/// every Unicode scalar, as the Oniguruma engine inside `tokenizers` defines them.
///
/// The ranges come from the library itself (see `UnicodeClassTable+Ranges.swift`), not from the
/// Unicode version of the Swift standard library, which may be newer: a scalar that Swift calls a
/// letter but Oniguruma does not would split a word differently.
///
/// Lookups are two array reads: the scalar's 256-scalar block picks one of the distinct block rows,
/// and the row gives the class bits.
final class UnicodeClassTable: @unchecked Sendable {  // immutable after init
  /// Class bits of a scalar.
  static let letter: UInt8 = 1
  static let number: UInt8 = 2
  static let whitespace: UInt8 = 4
  /// `\r` or `\n` (also `whitespace`).
  static let newline: UInt8 = 8

  /// The shared table, built on first use.
  static let shared = UnicodeClassTable()

  /// Row index of each 256-scalar block (0x1100 blocks).
  let blockRows: UnsafeMutablePointer<UInt16>
  /// The distinct rows, 256 class bytes each; row 0 is the block of ASCII and Latin-1.
  let rows: UnsafeMutablePointer<UInt8>

  init() {
    var classes = [UInt8](repeating: 0, count: 0x11_0000)
    func mark(_ ranges: [UInt32], _ bit: UInt8) {
      for index in stride(from: 0, to: ranges.count, by: 2) {
        for scalar in ranges[index]...ranges[index + 1] { classes[Int(scalar)] |= bit }
      }
    }
    mark(Self.letterRanges, Self.letter)
    mark(Self.numberRanges, Self.number)
    mark(Self.whitespaceRanges, Self.whitespace)
    classes[0x0A] |= Self.newline
    classes[0x0D] |= Self.newline
    var rowIndex: [[UInt8]: UInt16] = [:]
    var blockRows: [UInt16] = []
    var rows: [UInt8] = []
    blockRows.reserveCapacity(0x1100)
    for block in 0..<0x1100 {
      let row = Array(classes[(block << 8)..<((block + 1) << 8)])
      if let index = rowIndex[row] {
        blockRows.append(index)
      } else {
        let index = UInt16(rowIndex.count)
        rowIndex[row] = index
        rows += row
        blockRows.append(index)
      }
    }
    self.blockRows = .allocate(capacity: blockRows.count)
    self.blockRows.initialize(from: blockRows, count: blockRows.count)
    self.rows = .allocate(capacity: rows.count)
    self.rows.initialize(from: rows, count: rows.count)
  }

  deinit {
    blockRows.deallocate()
    rows.deallocate()
  }

  /// The class bits of a scalar value (0 for anything outside `\p{L}`, `\p{N}` and `\s`).
  @inline(__always)
  func classBits(_ scalar: UInt32) -> UInt8 {
    rows[Int(blockRows[Int(scalar >> 8)]) << 8 | Int(scalar & 0xFF)]
  }
}
