import ArtifactFormats
import PipelineCore

/// Reads MovieLens 1M and 10M (`ratings.dat` `UserID::MovieID::Rating::Timestamp`, `movies.dat`
/// `MovieID::Title::Genres`) and MovieLens 20M, 25M and latest (`ratings.csv`
/// `userId,movieId,rating,timestamp` and `movies.csv` `movieId,title,genres`, both with a header).
///
/// The log is filled as for MovieLens 100K: items ordered by movie id, users by first appearance in
/// the ratings, events in ratings order; raw ids are the decimal movie and user ids. Titles are the
/// file's, without surrounding spaces. Item metadata: `genres` (the `|`-separated list; "(no genres
/// listed)" is the empty list) and `year` (see `year(title:)`; absent when the title has none).
enum MovieLensReader {
  /// Raw file roles: `ratings` (ratings.dat, ratings.csv), `items` (movies.dat, movies.csv).
  static let ratingsRole = "ratings"
  static let itemsRole = "items"

  /// The text encoding of a `movies.dat` file.
  enum TextEncoding: String, CaseIterable, Sendable {
    /// ISO-8859-1: every byte is the code point of the same value (ml-1m).
    case latin1 = "latin-1"
    /// UTF-8; a title that is not valid UTF-8 is a skipped line (ml-10m).
    case utf8 = "utf-8"
  }

  /// How the files are laid out.
  enum Format: Equatable, Sendable {
    /// ml-1m, ml-10m: fields separated by `::`, no header, titles in `moviesEncoding`.
    case doubleColon(moviesEncoding: TextEncoding)
    /// ml-20m, ml-25m, ml-latest: CSV with a header, UTF-8, titles quoted when they hold commas.
    case csv
    /// ml-100k's `u.data`: whitespace-separated ratings (its `u.item` is `MovieLens100KReader`'s).
    case whitespace
  }

  /// The genre list of a movie without genres in ml-10m and the CSV releases.
  static let noGenres = "(no genres listed)"
  /// The columns of `ratings.csv`, by header name.
  static let ratingColumns = ["userId", "movieId", "rating", "timestamp"]

  /// Reads both files into a log.
  /// - Complexity: O(lines); memory O(items + users + events).
  static func read(_ inputs: IngestInputs, format: Format) throws -> InteractionLog {
    var log = InteractionLog()
    var movies = MovieTable()
    switch format {
    case .doubleColon(let encoding):
      try readMoviesDat(inputs, encoding: encoding, into: &movies)
    case .csv:
      try readMoviesCSV(inputs, into: &movies)
    case .whitespace:
      preconditionFailure("ml-100k's items are read by MovieLens100KReader")
    }
    let itemIndex = movies.finish(into: &log)
    try readRatings(inputs, format: format, itemIndex: itemIndex, into: &log)
    return log
  }

  // MARK: - Movies

  /// The movies read so far, in file order, each movie id once.
  struct MovieTable {
    private var entries: [(movieID: Int64, item: ItemRecord)] = []
    private var seen: Set<Int64> = []

    /// Adds a movie; `false` when its id was added before.
    mutating func insert(movieID: Int64, title: String, genres: String) -> Bool {
      let title = title.trimmingSpaces()
      var metadata: [String: JSONValue] = ["genres": .array(MovieLensReader.genreList(genres).map(JSONValue.string))]
      if let year = MovieLensReader.year(title: title) { metadata["year"] = JSONValue(year) }
      return insert(movieID: movieID, title: title, metadata: metadata)
    }

    /// Adds a movie with its metadata (an empty title becomes none); `false` when its id was added
    /// before.
    mutating func insert(movieID: Int64, title: String, metadata: [String: JSONValue]) -> Bool {
      guard seen.insert(movieID).inserted else { return false }
      entries.append(
        (movieID, ItemRecord(rawID: String(movieID), title: title.isEmpty ? nil : title, metadata: metadata)))
      return true
    }

    /// Whether a movie id was added.
    func contains(_ movieID: Int64) -> Bool { seen.contains(movieID) }

    /// Appends the items to `log` ordered by movie id; returns movie id → item index.
    func finish(into log: inout InteractionLog) -> [Int64: UInt32] {
      // Every release lists movies by id already; sorting (stably) makes the order a rule, not luck.
      let sorted = entries.enumerated().sorted { left, right in
        (left.element.movieID, left.offset) < (right.element.movieID, right.offset)
      }
      var index: [Int64: UInt32] = [:]
      index.reserveCapacity(sorted.count)
      for (position, entry) in sorted.enumerated() {
        index[entry.element.movieID] = UInt32(position)
        log.items.append(entry.element.item)
      }
      return index
    }
  }

  /// Reads `movies.dat`: `MovieID::Title::Genres`.
  static func readMoviesDat(_ inputs: IngestInputs, encoding: TextEncoding, into movies: inout MovieTable) throws {
    let report = inputs.report
    let name = try inputs.name(itemsRole)
    var fields: [Range<Int>] = []
    try inputs.forEachLine(itemsRole) { line, number in
      splitAtDoubleColons(line, into: &fields)
      guard fields.count == 3 else {
        try report.skip(
          "wrong_field_count", file: name, line: number,
          problem: "has \(fields.count) '::'-separated fields, expected 3 (movie id, title, genres)")
        return
      }
      guard let movieID = positiveInteger(line[field: fields[0]]) else {
        try report.skip(
          "bad_movie_id", file: name, line: number, field: "movie id",
          problem: "is not a positive integer (\"\(FieldParsing.preview(line[field: fields[0]]))\")")
        return
      }
      let title: String
      let genres: String
      switch encoding {
      case .latin1:
        title = FieldParsing.latin1String(line[field: fields[1]])
        genres = FieldParsing.latin1String(line[field: fields[2]])
      case .utf8:
        guard let text = String(validating: line[field: fields[1]], as: UTF8.self) else {
          try report.skip(
            "invalid_utf8", file: name, line: number, field: "title",
            problem:
              "is not valid UTF-8 (\"\(FieldParsing.preview(line[field: fields[1]]))\"); is the file latin-1 (movies_encoding: latin-1)?"
          )
          return
        }
        title = text
        genres = String(decoding: line[field: fields[2]], as: UTF8.self)
      }
      guard movies.insert(movieID: movieID, title: title, genres: genres) else {
        try report.skip(
          "duplicate_movie_id", file: name, line: number, field: "movie id", problem: "repeats movie \(movieID)")
        return
      }
    }
  }

  /// Reads `movies.csv`: a header naming `movieId`, `title`, `genres`, then one record per movie
  /// (titles quoted when they hold commas, quotes or line breaks).
  static func readMoviesCSV(_ inputs: IngestInputs, into movies: inout MovieTable) throws {
    let report = inputs.report
    let name = try inputs.name(itemsRole)
    var columnCount = 0
    var idColumn = 0
    var titleColumn = 0
    var genresColumn = 0
    try inputs.forEachCSVRecord(itemsRole) { header in
      columnCount = header.count
      func column(_ wanted: String) throws(PipelineError) -> Int {
        guard let index = header.firstIndex(of: wanted) else {
          throw .invalidInput(
            "'\(name)' line 1: the header lacks column '\(wanted)' (found \(header.joined(separator: ","))); is this a MovieLens movies.csv (ml-20m, ml-25m, ml-latest)?"
          )
        }
        return index
      }
      idColumn = try column("movieId")
      titleColumn = try column("title")
      genresColumn = try column("genres")
    } record: { record, number in
      guard record.count == columnCount else {
        try report.skip(
          "wrong_field_count", file: name, line: number,
          problem: "has \(record.count) fields, expected \(columnCount) (movieId, title, genres)")
        return
      }
      guard let movieID = record.withField(idColumn, positiveInteger) else {
        try report.skip(
          "bad_movie_id", file: name, line: number, field: "movieId",
          problem: "is not a positive integer (\"\(record.withField(idColumn, FieldParsing.preview))\")")
        return
      }
      guard let title = record.withField(titleColumn, { String(validating: $0, as: UTF8.self) }) else {
        try report.skip(
          "invalid_utf8", file: name, line: number, field: "title",
          problem: "is not valid UTF-8 (\"\(record.withField(titleColumn, FieldParsing.preview))\")")
        return
      }
      guard movies.insert(movieID: movieID, title: title, genres: record.string(genresColumn)) else {
        try report.skip(
          "duplicate_movie_id", file: name, line: number, field: "movieId", problem: "repeats movie \(movieID)")
        return
      }
    }
  }

  // MARK: - Ratings

  /// Reads the ratings into events; users get indices by first appearance.
  static func readRatings(
    _ inputs: IngestInputs, format: Format, itemIndex: [Int64: UInt32], into log: inout InteractionLog
  ) throws {
    let report = inputs.report
    let name = try inputs.name(ratingsRole)
    let itemsName = try inputs.name(itemsRole)
    // Field positions of user, movie, rating, timestamp; a CSV header may order them otherwise.
    var columns = [0, 1, 2, 3]
    var fieldCount = 4
    var awaitingHeader = format == .csv
    var sawRating = false
    var userIndex: [Int64: UInt32] = [:]
    var users: [String] = []
    var fields: [Range<Int>] = []
    try inputs.forEachLine(ratingsRole) { line, number in
      if awaitingHeader {
        awaitingHeader = false
        FieldParsing.split(line, separator: UInt8(ascii: ","), into: &fields)
        let header = fields.map { String(decoding: FieldParsing.trimmed(line[field: $0]), as: UTF8.self) }
        fieldCount = header.count
        for (position, wanted) in ratingColumns.enumerated() {
          guard let index = header.firstIndex(of: wanted) else {
            throw PipelineError.invalidInput(
              "'\(name)' line \(number): the header lacks column '\(wanted)' (found \(header.joined(separator: ","))); is this a MovieLens ratings.csv (ml-20m, ml-25m, ml-latest)?"
            )
          }
          columns[position] = index
        }
        return
      }
      sawRating = true
      switch format {
      case .doubleColon: splitAtDoubleColons(line, into: &fields)
      case .csv: FieldParsing.split(line, separator: UInt8(ascii: ","), into: &fields)
      case .whitespace: FieldParsing.splitWhitespace(line, into: &fields)
      }
      guard fields.count == fieldCount else {
        let separator = format == .csv ? "comma" : format == .whitespace ? "whitespace" : "'::'"
        try report.skip(
          "wrong_field_count", file: name, line: number,
          problem:
            "has \(fields.count) \(separator)-separated fields, expected \(fieldCount) (user, movie, rating, timestamp)"
        )
        return
      }
      func field<Value>(
        _ column: Int, _ parse: (UnsafeBufferPointer<UInt8>) -> Value?, _ expected: String, _ reason: String,
        _ fieldName: String
      ) throws(PipelineError) -> Value? {
        try report.parsedField(
          line[field: fields[columns[column]]], parse, expected: expected, reason: reason, file: name, line: number,
          field: fieldName)
      }
      guard let userID = try field(0, FieldParsing.integer, "an integer", "bad_user_id", "user id"),
        let movieID = try field(1, FieldParsing.integer, "an integer", "bad_item_id", "movie id"),
        let rating = try field(2, FieldParsing.decimal, "a number", "bad_rating", "rating"),
        let timestamp = try field(3, FieldParsing.integer, "an integer", "bad_timestamp", "timestamp")
      else { return }
      guard let item = itemIndex[movieID] else {
        try report.skip(
          "unknown_item", file: name, line: number, field: "movie id",
          problem: "names movie \(movieID), which '\(itemsName)' does not list")
        return
      }
      let user: UInt32
      if let known = userIndex[userID] {
        user = known
      } else {
        user = UInt32(users.count)
        userIndex[userID] = user
        users.append(String(userID))
      }
      log.appendEvent(user: user, item: item, time: timestamp, rating: Float(rating))
    }
    if format == .csv && !sawRating {
      throw PipelineError.invalidInput("'\(name)' has a header but no records; check the file or re-download it")
    }
    log.users = users
  }

  // MARK: - Fields

  /// The release year in a MovieLens title.
  ///
  /// The year is read from the title's last parenthesised group when that group ends the title
  /// (trailing spaces ignored): "(1995)" gives 1995; a range "(1994-1998)", "(2006–2007)" (en dash)
  /// or an open one "(2007-)" gives its first year. A title without such a group ("Babylon 5"), or
  /// whose last group is something else ("(V)", "(a.k.a. …)"), has no year: the earlier groups of
  /// a title are alternative names, not years.
  static func year(title: String) -> Int? {
    var scalars = Substring(title).unicodeScalars
    while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
    guard scalars.last == ")", let open = scalars.lastIndex(of: "(") else { return nil }
    let inner = Array(scalars[scalars.index(after: open)..<scalars.index(before: scalars.endIndex)])
    guard inner.count >= 4, let year = digits(inner[0..<4]) else { return nil }
    let rest = inner[4...]
    if rest.isEmpty { return year }
    guard rest.first == "-" || rest.first == "\u{2013}" else { return nil }
    let end = rest.dropFirst()
    guard end.isEmpty || (end.count == 4 && digits(end) != nil) else { return nil }
    return year
  }

  /// The genres of a `Genres` field: `|`-separated names, spaces trimmed, empty names dropped;
  /// "(no genres listed)" and an empty field are the empty list.
  static func genreList(_ field: String) -> [String] {
    let trimmed = field.trimmingSpaces()
    if trimmed == noGenres { return [] }
    return trimmed.split(separator: "|").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
  }

  /// Splits a line at every `::` (empty fields kept), replacing `fields`' contents.
  static func splitAtDoubleColons(_ line: UnsafeBufferPointer<UInt8>, into fields: inout [Range<Int>]) {
    fields.removeAll(keepingCapacity: true)
    let colon = UInt8(ascii: ":")
    var start = 0
    var index = 0
    let count = line.count
    while index + 1 < count {
      if line[index] == colon && line[index + 1] == colon {
        fields.append(start..<index)
        index += 2
        start = index
      } else {
        index += 1
      }
    }
    fields.append(start..<count)
  }

  private static func positiveInteger(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
    guard let value = FieldParsing.integer(FieldParsing.trimmed(bytes)), value > 0 else { return nil }
    return value
  }

  private static func digits(_ scalars: some Collection<Unicode.Scalar>) -> Int? {
    var value = 0
    for scalar in scalars {
      guard scalar.value >= 0x30 && scalar.value <= 0x39 else { return nil }
      value = value * 10 + Int(scalar.value - 0x30)
    }
    return value
  }
}

extension String {
  /// The string without leading and trailing spaces and tabs.
  fileprivate func trimmingSpaces() -> String {
    var scalars = Substring(self).unicodeScalars
    while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
    while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
    return String(scalars)
  }
}
