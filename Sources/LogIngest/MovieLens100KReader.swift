import ArtifactFormats
import PipelineCore

/// Reads MovieLens 100K: `u.item` (pipe-separated, latin-1) and `u.data` (tab-separated
/// `user item rating timestamp`).
///
/// Items are ordered by movie id (u.item lists them so), users by first appearance in `u.data`,
/// events in `u.data` order. Raw ids are the decimal movie and user ids. Item metadata: `year` (from
/// the title's "(1995)" suffix, else from the release date), `release_date`, `genres`.
enum MovieLens100KReader {
  /// Raw file roles: `ratings` (u.data), `items` (u.item).
  static let ratingsRole = "ratings"
  static let itemsRole = "items"

  /// The 19 genre flags of `u.item`, in the order of the ml-100k README (and `u.genre`).
  static let genreNames = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
  ]
  static let leadingFieldCount = 5

  /// Reads both files into a log.
  /// - Complexity: O(lines); memory O(items + users + events).
  static func read(_ inputs: IngestInputs) throws -> InteractionLog {
    var log = InteractionLog()
    let itemIndex = try readItems(inputs, into: &log)
    try readRatings(inputs, itemIndex: itemIndex, into: &log)
    return log
  }

  /// Reads `u.item`; returns movie id → item index.
  static func readItems(_ inputs: IngestInputs, into log: inout InteractionLog) throws -> [Int64: UInt32] {
    let report = inputs.report
    let name = try inputs.name(itemsRole)
    var movies = MovieLensReader.MovieTable()
    var fields: [Range<Int>] = []
    let expectedFields = leadingFieldCount + genreNames.count
    try inputs.forEachLine(itemsRole) { line, number in
      FieldParsing.split(line, separator: UInt8(ascii: "|"), into: &fields)
      guard fields.count == expectedFields else {
        try report.skip(
          "wrong_field_count", file: name, line: number,
          problem: "has \(fields.count) fields, expected \(expectedFields)")
        return
      }
      guard let movieID = FieldParsing.integer(line[field: fields[0]]), movieID > 0 else {
        try report.skip(
          "bad_movie_id", file: name, line: number, field: "movie id",
          problem: "is not a positive integer (\"\(FieldParsing.preview(line[field: fields[0]]))\")")
        return
      }
      guard !movies.contains(movieID) else {
        try report.skip(
          "duplicate_movie_id", file: name, line: number, field: "movie id", problem: "repeats movie \(movieID)")
        return
      }
      var genres: [JSONValue] = []
      for (offset, genre) in genreNames.enumerated() {
        let flag = line[field: fields[leadingFieldCount + offset]]
        guard flag.count == 1, flag[0] == UInt8(ascii: "0") || flag[0] == UInt8(ascii: "1") else {
          try report.skip(
            "bad_genre_flag", file: name, line: number, field: genre,
            problem: "is not 0 or 1 (\"\(FieldParsing.preview(flag))\")")
          return
        }
        if flag[0] == UInt8(ascii: "1") { genres.append(.string(genre)) }
      }
      let title = FieldParsing.latin1String(FieldParsing.trimmed(line[field: fields[1]]))
      let releaseDate = FieldParsing.latin1String(FieldParsing.trimmed(line[field: fields[2]]))
      var metadata: [String: JSONValue] = ["genres": .array(genres)]
      if !releaseDate.isEmpty { metadata["release_date"] = .string(releaseDate) }
      if let year = year(title: title, releaseDate: releaseDate) { metadata["year"] = JSONValue(year) }
      _ = movies.insert(movieID: movieID, title: title, metadata: metadata)
    }
    return movies.finish(into: &log)
  }

  /// Reads `u.data` into events (users get indices by first appearance): the ratings reader of the
  /// other MovieLens releases, with whitespace-separated fields.
  static func readRatings(_ inputs: IngestInputs, itemIndex: [Int64: UInt32], into log: inout InteractionLog) throws {
    try MovieLensReader.readRatings(inputs, format: .whitespace, itemIndex: itemIndex, into: &log)
  }

  /// The year of a movie: the four digits of a trailing "(1995)" in the title, else the last four
  /// characters of the release date ("01-Jan-1995"), else `nil`.
  static func year(title: String, releaseDate: String) -> Int? {
    let titleBytes = Array(title.utf8)
    if titleBytes.count >= 6, titleBytes[titleBytes.count - 1] == UInt8(ascii: ")"),
      titleBytes[titleBytes.count - 6] == UInt8(ascii: "("),
      let year = fourDigits(titleBytes[(titleBytes.count - 5)..<(titleBytes.count - 1)])
    {
      return year
    }
    let dateBytes = Array(releaseDate.utf8)
    if dateBytes.count >= 4, let year = fourDigits(dateBytes[(dateBytes.count - 4)...]) {
      return year
    }
    return nil
  }

  private static func fourDigits(_ bytes: ArraySlice<UInt8>) -> Int? {
    var value = 0
    for byte in bytes {
      guard byte &- UInt8(ascii: "0") < 10 else { return nil }
      value = value * 10 + Int(byte &- UInt8(ascii: "0"))
    }
    return value
  }
}
