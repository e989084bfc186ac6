import LogIngest
import PipelineCore

/// Formats the lines of the exported `train.csv`, `valid.csv` and `test.csv`
/// (`uid,iid,his_len,hist_id,rating,label,hist_rating,hist_label,timestamp`) straight into bytes.
///
/// The text of every item id and of every distinct rating is formatted once, by `CSVBytes`, and
/// kept with the list separator after it (`"1416, "`, `"5.0, "`) in a table of whole 64-bit words,
/// so that a list entry is written by storing one or a few words and moving on by its length; a
/// list's last separator is then overwritten by its `]`. Each event of the sequences is reduced to
/// its item id and the index of its rating, side by side. The events of a block of lines are
/// copied together before the lines are formatted (the lines' users are scattered over the
/// sequences, and a loop of independent reads lets the processor overlap them).
///
/// A line's length is bounded from its history length before it is written, and the memory it is
/// written into has room for a table entry's whole words past the bound. The same candidates
/// always give the same bytes, whichever thread formats them.
struct TCA4RecSampleLines: Sendable {
  /// What a line needs of one event of the sequences.
  struct Event {
    /// The item id (1-based).
    var item: UInt32
    /// The index of the event's rating in `ratings`.
    var rating: UInt32
  }

  /// Texts followed by `", "`, each in `wordsPerEntry` 64-bit words (little-endian, zero-padded).
  struct Table: Sendable {
    var words: [UInt64] = []
    /// Each entry's length in bytes, separator included.
    var lengths: [UInt8] = []
    var wordsPerEntry = 1
    /// The longest text, separator excluded.
    var longest = 0

    /// Makes a table of `texts`, the index of a text being its entry's.
    init(_ texts: [[UInt8]]) {
      longest = texts.map(\.count).max() ?? 0
      wordsPerEntry = (longest + 2 + 7) / 8
      words = [UInt64](repeating: 0, count: texts.count * wordsPerEntry)
      lengths.reserveCapacity(texts.count)
      for (index, text) in texts.enumerated() {
        let entry = text + Array(", ".utf8)
        precondition(entry.count < 256, "TCA4RecSampleLines: a text of \(text.count) bytes is too long")
        for (offset, byte) in entry.enumerated() {
          words[index * wordsPerEntry + offset / 8] |= UInt64(byte) << UInt64(8 * (offset % 8))
        }
        lengths.append(UInt8(entry.count))
      }
    }
  }

  /// Item id `id`'s decimal text (id 0 unused).
  let items: Table
  /// Each distinct rating as Python's `repr`.
  let ratings: Table
  /// `"1, "` or `"0, "` for each distinct rating: its `label` (rating above 4).
  let labels: Table
  /// The events of the sequences, in their order.
  let events: [Event]
  /// The sequences' user offsets.
  let offsets: [Int]
  let maximumHistory: Int

  /// Room past a line's bound for whole table words: an entry is at most 255 bytes.
  static let slack = 256

  init(_ sequences: UserSequences, options: PrepareOptions) {
    var csv = CSVBytes()
    var texts: [[UInt8]] = [[]]
    texts.reserveCapacity(sequences.itemCount + 1)
    for id in 1..<(sequences.itemCount + 1) {
      csv.integer(id)
      texts.append(csv.take())
    }
    items = Table(texts)

    // Ratings are few distinct values; each is formatted once, on first sight.
    var indexOfRating: [UInt32: UInt32] = [:]
    texts = []
    var labelTexts: [[UInt8]] = []
    events = sequences.items.indices.map { event in
      let rating = sequences.ratings[event]
      var index = indexOfRating[rating.bitPattern]
      if index == nil {
        index = UInt32(texts.count)
        indexOfRating[rating.bitPattern] = index
        csv.pythonFloat(rating)
        texts.append(csv.take())
        labelTexts.append(rating > 4 ? [UInt8(ascii: "1")] : [UInt8(ascii: "0")])
      }
      return Event(item: sequences.items[event], rating: index!)
    }
    ratings = Table(texts)
    labels = Table(labelTexts)
    offsets = sequences.offsets
    maximumHistory = options.maximumHistory
  }

  /// The history of `candidate`: positions in the sequences' arrays, oldest first.
  @inline(__always)
  func history(_ candidate: SlidingWindow.Candidate) -> Range<Int> {
    let event = Int(candidate.event)
    return max(offsets[Int(candidate.user) - 1], event - maximumHistory)..<event
  }

  /// The most bytes a line with a history of `length` items can take: three integers of at most 21
  /// bytes with their separators (the last is the line end), an item, a rating and the label with
  /// theirs, and the three lists (two brackets, two quotes, a separator, and per entry its text and
  /// ", ").
  func lineBound(historyLength length: Int) -> Int {
    let entry = items.longest + ratings.longest + 1 + 3 * 2
    return 3 * 22 + items.longest + ratings.longest + 4 + 3 * 5 + length * entry
  }

  /// The most bytes the lines of `candidates[index]` for each index of `indices` can take, plus the
  /// room past them that `write(_:_:to:)` needs.
  func bound(_ candidates: [SlidingWindow.Candidate], _ indices: some Collection<Int>) -> Int {
    var total = Self.slack
    for index in indices { total += lineBound(historyLength: history(candidates[index]).count) }
    return total
  }

  /// The lines of `candidates[index]` for each index of `indices`, in that order.
  func lines(_ candidates: [SlidingWindow.Candidate], _ indices: some Collection<Int>) -> [UInt8] {
    let bound = bound(candidates, indices)
    return [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialized in
      initialized = write(candidates, indices, to: buffer.baseAddress!)
      precondition(initialized + Self.slack <= bound, "TCA4RecSampleLines: the lines exceeded their bound")
    }
  }

  /// `header` and the lines of `candidates[range]`, formatted in tasks of `linesPerTask` lines on
  /// `threads` threads.
  ///
  /// Each task writes into its own stretch of one buffer, as long as its bound; the stretches are
  /// then moved down to follow each other.
  ///
  /// - Complexity: O(bytes written).
  func file(
    header: [UInt8], _ candidates: [SlidingWindow.Candidate], _ range: Range<Int>, linesPerTask: Int, threads: Int
  ) -> [UInt8] {
    let tasks = stride(from: range.lowerBound, to: range.upperBound, by: linesPerTask).map {
      $0..<min(range.upperBound, $0 + linesPerTask)
    }
    var bounds = [Int](repeating: 0, count: tasks.count)
    bounds.withUnsafeMutableBufferPointer { bounds in
      let bounds = DisjointPointer(bounds)
      Parallel.forEach(tasks.count, threads: threads) { task in bounds[task] = bound(candidates, tasks[task]) }
    }
    var taskStarts = [header.count]
    for taskBound in bounds { taskStarts.append(taskStarts.last! + taskBound) }
    let (starts, taskBounds) = (taskStarts, bounds)
    return [UInt8](unsafeUninitializedCapacity: starts.last!) { buffer, initialized in
      let base = buffer.baseAddress!
      header.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: $0.count) }
      var written = [Int](repeating: 0, count: tasks.count)
      written.withUnsafeMutableBufferPointer { written in
        let written = DisjointPointer(written)
        let output = DisjointPointer(base)
        Parallel.forEach(tasks.count, threads: threads) { task in
          written[task] = write(candidates, tasks[task], to: output.base + starts[task])
          precondition(
            written[task] + Self.slack <= taskBounds[task], "TCA4RecSampleLines: the lines exceeded their bound")
        }
      }
      var end = header.count
      for task in tasks.indices {
        if end != starts[task] { (base + end).update(from: base + starts[task], count: written[task]) }
        end += written[task]
      }
      initialized = end
    }
  }

  /// How many lines `write(_:_:to:)` gathers the events of before it formats them.
  static let linesPerBlock = 256

  /// Writes the lines of `candidates[index]` for each index of `indices` at `start`; returns the
  /// number of bytes written. The memory must have room for their bound (`bound(_:_:)`), and its
  /// bytes past the lines may be overwritten.
  func write(
    _ candidates: [SlidingWindow.Candidate], _ indices: some Collection<Int>, to start: UnsafeMutablePointer<UInt8>
  ) -> Int {
    var block: [Int] = []
    block.reserveCapacity(Self.linesPerBlock)
    var gathered: [Event] = []
    var spans: [Int] = []
    var writer = Writer(cursor: start)
    events.withUnsafeBufferPointer { events in
      items.words.withUnsafeBufferPointer { itemWords in
        ratings.words.withUnsafeBufferPointer { ratingWords in
          labels.words.withUnsafeBufferPointer { labelWords in
            let tables = (items: itemWords, ratings: ratingWords, labels: labelWords)
            func flush() {
              gathered.removeAll(keepingCapacity: true)
              spans.removeAll(keepingCapacity: true)
              for index in block {
                let candidate = candidates[index]
                spans.append(gathered.count)
                gathered.append(
                  contentsOf: UnsafeBufferPointer(
                    rebasing: events[history(candidate).lowerBound...Int(candidate.event)]))
              }
              spans.append(gathered.count)
              gathered.withUnsafeBufferPointer { gathered in
                for (line, index) in block.enumerated() {
                  let lineEvents = UnsafeBufferPointer(rebasing: gathered[spans[line]..<spans[line + 1]])
                  write(candidates[index], lineEvents, to: &writer, tables: tables)
                }
              }
              block.removeAll(keepingCapacity: true)
            }
            for index in indices {
              block.append(index)
              if block.count == Self.linesPerBlock { flush() }
            }
            flush()
          }
        }
      }
    }
    return writer.cursor - start
  }

  /// Writes one line: `uid,iid,his_len,hist_id,rating,label,hist_rating,hist_label,timestamp`, lists
  /// as Python's `repr`, quoted when they hold ", " (two or more entries).
  ///
  /// - Parameters:
  ///   - candidate: the sample.
  ///   - lineEvents: the events of its history, oldest first, then its target.
  ///   - writer: where the line goes.
  ///   - tables: the words of `items`, `ratings` and `labels`.
  @inline(__always)
  func write(
    _ candidate: SlidingWindow.Candidate, _ lineEvents: UnsafeBufferPointer<Event>, to writer: inout Writer,
    tables: (
      items: UnsafeBufferPointer<UInt64>, ratings: UnsafeBufferPointer<UInt64>,
      labels: UnsafeBufferPointer<UInt64>
    )
  ) {
    let historyLength = lineEvents.count - 1
    let target = lineEvents[historyLength]
    let quoted = historyLength >= 2
    // A field from a table: its entry, less the space of the separator (the comma stays).
    func field(_ table: Table, _ words: UnsafeBufferPointer<UInt64>, _ index: Int) {
      writer.entry(words, index, table.wordsPerEntry, length: Int(table.lengths[index]))
      writer.cursor -= 1
    }
    func list(_ table: Table, _ words: UnsafeBufferPointer<UInt64>, _ index: (Event) -> Int) {
      if quoted { writer.byte(UInt8(ascii: "\"")) }
      writer.byte(UInt8(ascii: "["))
      for position in 0..<historyLength {
        let entry = index(lineEvents[position])
        writer.entry(words, entry, table.wordsPerEntry, length: Int(table.lengths[entry]))
      }
      if historyLength > 0 { writer.cursor -= 2 }
      writer.byte(UInt8(ascii: "]"))
      if quoted { writer.byte(UInt8(ascii: "\"")) }
      writer.byte(UInt8(ascii: ","))
    }
    writer.integer(Int64(candidate.user))
    writer.byte(UInt8(ascii: ","))
    field(items, tables.items, Int(candidate.item))
    writer.integer(Int64(historyLength))
    writer.byte(UInt8(ascii: ","))
    list(items, tables.items) { Int($0.item) }
    field(ratings, tables.ratings, Int(target.rating))
    field(labels, tables.labels, Int(target.rating))
    list(ratings, tables.ratings) { Int($0.rating) }
    list(labels, tables.labels) { Int($0.rating) }
    writer.integer(candidate.timestamp)
    writer.byte(10)
  }

  /// Writes bytes through a pointer into memory the caller sized for them.
  struct Writer {
    var cursor: UnsafeMutablePointer<UInt8>

    @inline(__always)
    mutating func byte(_ value: UInt8) {
      cursor.pointee = value
      cursor += 1
    }

    /// Stores entry `index` of a table's words (`count` words an entry) and moves on by `length`,
    /// its length in bytes; the bytes past it up to the whole words are overwritten.
    @inline(__always)
    mutating func entry(_ words: UnsafeBufferPointer<UInt64>, _ index: Int, _ count: Int, length: Int) {
      let raw = UnsafeMutableRawPointer(cursor)
      for word in 0..<count {
        raw.storeBytes(of: words[index * count + word].littleEndian, toByteOffset: 8 * word, as: UInt64.self)
      }
      cursor += length
    }

    /// Writes `value`'s decimal digits, with a `-` when it is negative (as `CSVBytes.integer`).
    @inline(__always)
    mutating func integer(_ value: Int64) {
      if value < 0 { byte(UInt8(ascii: "-")) }
      var magnitude = value.magnitude
      var digits = 1
      var limit: UInt64 = 10
      while digits < 20 && magnitude >= limit {
        digits += 1
        limit &*= 10
      }
      var position = cursor + digits
      cursor = position
      repeat {
        position -= 1
        position.pointee = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
        magnitude /= 10
      } while magnitude > 0
    }
  }
}
