/// Finds added tokens in text as `tokenizers` does (`AddedVocabulary::find_matches`): leftmost-longest
/// matches, left to right without overlap, then the `single_word`, `lstrip` and `rstrip` rules.
///
/// The tokens are in a byte trie; a position whose byte starts no token costs one table lookup.
struct AddedTokenMatcher: Sendable {
  /// One added token as the matcher needs it.
  struct Entry: Sendable {
    var id: UInt32
    var lstrip: Bool
    var rstrip: Bool
    var singleWord: Bool
  }

  let entries: [Entry]
  /// Whether a byte starts some token.
  private let startsToken: [Bool]
  /// Trie: for node `n`, edges `edgeStart[n]..<edgeStart[n + 1]` (sorted by byte), and the entry
  /// that ends at `n` (-1 when none).
  private let edgeStart: [Int32]
  private let edgeByte: [UInt8]
  private let edgeTarget: [Int32]
  private let terminal: [Int32]

  var isEmpty: Bool { entries.isEmpty }

  init(_ tokens: [(content: String, entry: Entry)]) {
    var children: [[UInt8: Int32]] = [[:]]
    var terminal: [Int32] = [-1]
    var entries: [Entry] = []
    var startsToken = [Bool](repeating: false, count: 256)
    for (content, entry) in tokens where !content.isEmpty {
      var node = 0
      for byte in content.utf8 {
        if let child = children[node][byte] {
          node = Int(child)
        } else {
          children.append([:])
          terminal.append(-1)
          children[node][byte] = Int32(children.count - 1)
          node = children.count - 1
        }
      }
      startsToken[Int(content.utf8.first!)] = true
      // A repeated content keeps its last entry, as a hash map from content to id would.
      if terminal[node] >= 0 {
        entries[Int(terminal[node])] = entry
      } else {
        terminal[node] = Int32(entries.count)
        entries.append(entry)
      }
    }
    var edgeStart: [Int32] = []
    var edgeByte: [UInt8] = []
    var edgeTarget: [Int32] = []
    for node in children {
      edgeStart.append(Int32(edgeByte.count))
      for (byte, target) in node.sorted(by: { $0.key < $1.key }) {
        edgeByte.append(byte)
        edgeTarget.append(target)
      }
    }
    edgeStart.append(Int32(edgeByte.count))
    self.entries = entries
    self.startsToken = startsToken
    self.edgeStart = edgeStart
    self.edgeByte = edgeByte
    self.edgeTarget = edgeTarget
    self.terminal = terminal
  }

  /// The longest token starting at `start`: its entry index and end.
  @inline(__always)
  private func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> (entry: Int, end: Int)? {
    var node = 0
    var best: (entry: Int, end: Int)?
    var position = start
    while position < bytes.count {
      let byte = bytes[position]
      var edge = Int(edgeStart[node])
      let last = Int(edgeStart[node + 1])
      while edge < last && edgeByte[edge] < byte { edge += 1 }
      guard edge < last && edgeByte[edge] == byte else { break }
      node = Int(edgeTarget[edge])
      position += 1
      if terminal[node] >= 0 { best = (Int(terminal[node]), position) }
    }
    return best
  }

  /// Calls `body` for each part of `bytes` in order: text between tokens (`id == nil`) and matched
  /// tokens with the whitespace their `lstrip`/`rstrip` took. Empty text parts are skipped.
  ///
  /// - Complexity: O(n · longest token).
  func forEachPart(
    _ bytes: UnsafeBufferPointer<UInt8>, _ body: (_ range: Range<Int>, _ id: UInt32?) -> Void
  ) {
    var emitted = 0
    var position = 0
    let table = UnicodeClassTable.shared
    while position < bytes.count {
      guard startsToken[Int(bytes[position])], let match = longestMatch(bytes, at: position) else {
        position += 1
        continue
      }
      let entry = entries[match.entry]
      var start = position
      var stop = match.end
      position = match.end
      if entry.singleWord {
        let spaceBefore = start == 0 || !Self.isWordScalar(Self.scalar(before: start, in: bytes))
        let spaceAfter = stop == bytes.count || !Self.isWordScalar(Self.scalar(at: stop, in: bytes))
        if !spaceBefore || !spaceAfter { continue }
      }
      if entry.lstrip {
        var newStart = start
        while newStart > 0 {
          let scalar = Self.scalar(before: newStart, in: bytes)
          guard table.classBits(scalar.value) & UnicodeClassTable.whitespace != 0 else { break }
          newStart -= scalar.utf8Length
        }
        start = max(newStart, emitted)
      }
      if entry.rstrip {
        while stop < bytes.count {
          let scalar = Self.scalar(at: stop, in: bytes)
          guard table.classBits(scalar.value) & UnicodeClassTable.whitespace != 0 else { break }
          stop += scalar.utf8Length
        }
      }
      if emitted < start { body(emitted..<start, nil) }
      body(start..<stop, entry.id)
      emitted = stop
    }
    if emitted < bytes.count { body(emitted..<bytes.count, nil) }
  }

  /// `\w` of the Rust `regex` crate: alphabetic, marks, decimal digits, connector punctuation, joiners.
  static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
    let properties = scalar.properties
    if properties.isAlphabetic || properties.isJoinControl { return true }
    switch properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
  }

  static func scalar(at index: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar {
    var iterator = UnsafeBufferPointer(rebasing: bytes[index...]).makeIterator()
    var decoder = UTF8()
    if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
    return "\u{FFFD}"
  }

  static func scalar(before index: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar {
    var start = index - 1
    while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
    return scalar(at: start, in: bytes)
  }
}

extension Unicode.Scalar {
  var utf8Length: Int { value < 0x80 ? 1 : value < 0x800 ? 2 : value < 0x10000 ? 3 : 4 }
}
