import ArtifactFormats
import Foundation
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// MovieLens 1M/10M (`::`-separated `.dat` files) and 20M/25M/latest (`ratings.csv`, `movies.csv`):
/// the real ml-1m `movies.dat` and ml-latest-small files in ../shared/data checked against counts made
/// here with plain Foundation code, and small hand-written files for every kind of malformed line.
@Suite struct MovieLensFormatsIngestTests {
  static let oneMillionMovies = "movielens/ml-1m/movies.dat"
  static let oneMillionRatings = "movielens/ml-1m/ratings.dat"
  static let latestMovies = "movielens/ml-latest-small/movies.csv"
  static let latestRatings = "movielens/ml-latest-small/ratings.csv"
  static let oneMillion: [String: JSONValue] = ["source": "movielens-1m", "path": "movielens/ml-1m"]
  static let tenMillion: [String: JSONValue] = ["source": "movielens-10m", "path": "movielens/ml-10m"]
  static let latest: [String: JSONValue] = ["source": "movielens-csv", "path": "movielens/ml-latest-small"]

  // MARK: - Declaration

  @Test func rawFilesAreTheReleasesFileNamesUnderThePath() throws {
    func files(_ parameters: [String: JSONValue]) throws -> [String: String] {
      try IngestStage.rawFiles(IngestStage.resolveParameters(parameters, entry: "ingest", file: "test"))
    }
    #expect(
      try files(Self.oneMillion) == ["ratings": "movielens/ml-1m/ratings.dat", "items": "movielens/ml-1m/movies.dat"])
    #expect(
      try files(Self.tenMillion) == [
        "ratings": "movielens/ml-10m/ratings.dat", "items": "movielens/ml-10m/movies.dat",
      ])
    #expect(
      try files(Self.latest) == [
        "ratings": "movielens/ml-latest-small/ratings.csv", "items": "movielens/ml-latest-small/movies.csv",
      ])
  }

  @Test func moviesEncodingEntersTheKeyOnlyWhereItApplies() throws {
    func key(_ parameters: [String: JSONValue]) throws -> [String: JSONValue] {
      IngestStage.keyParameters(try IngestStage.resolveParameters(parameters, entry: "ingest", file: "test"))
    }
    #expect(try key(Self.oneMillion)["movies_encoding"] == "latin-1")
    #expect(try key(Self.tenMillion)["movies_encoding"] == "utf-8")
    #expect(try key(Self.latest)["movies_encoding"] == nil)
    #expect(try key(["source": "movielens-100k"])["movies_encoding"] == nil, "older sources keep their keys")
    var spelledOut = Self.oneMillion
    spelledOut["movies_encoding"] = "latin-1"
    #expect(try key(spelledOut) == key(Self.oneMillion), "the default spelled out is the same key")
    var overridden = Self.tenMillion
    overridden["movies_encoding"] = "latin-1"
    #expect(try key(overridden)["movies_encoding"] == "latin-1")
  }

  // MARK: - Real data

  @Test(.enabled(if: SharedData.shouldRun(oneMillionMovies), "needs ../shared/data/movielens/ml-1m"))
  func oneMillionMoviesMatchAnIndependentReading() throws {
    guard SharedData.available(Self.oneMillionMovies) else { return }
    // The oracle: Foundation's latin-1 decoding and `components(separatedBy: "::")`.
    let text = try String(contentsOfFile: SharedData.path(Self.oneMillionMovies), encoding: .isoLatin1)
    var expected: [Int: (title: String, genres: [String])] = [:]
    for line in text.split(whereSeparator: \.isNewline) {
      let fields = line.components(separatedBy: "::")
      try #require(fields.count == 3)
      expected[Int(fields[0])!] = (fields[1], fields[2].split(separator: "|").map(String.init))
    }
    #expect(expected.count == 3883)

    // ratings.dat is not in ../shared/data (PROVENANCE.md, known gaps): without it, one rating per
    // movie from a made-up file exercises the real movies.dat.
    let directory = try TemporaryDirectory()
    let realRatings = FileSystem.exists(SharedData.path(Self.oneMillionRatings))
    let ratingsPath: String
    if realRatings {
      ratingsPath = SharedData.path(Self.oneMillionRatings)
    } else {
      print("note: \(Self.oneMillionRatings) is absent; checking the real movies.dat with one made-up rating per movie")
      let lines = expected.keys.sorted().enumerated().map { offset, movie in
        "\(offset % 97 + 1)::\(movie)::\(offset % 5 + 1)::\(978_300_000 + offset)\n"
      }
      ratingsPath = try directory.write("ratings.dat", lines.joined())
    }
    let run = try IngestRun(
      Self.oneMillion, rawFiles: ["ratings": ratingsPath, "items": SharedData.path(Self.oneMillionMovies)])
    #expect(run.log.items.count == expected.count)
    #expect(run.log.items.map(\.rawID) == expected.keys.sorted().map(String.init), "items ordered by movie id")
    for item in run.log.items {
      let movie = expected[Int(item.rawID)!]!
      #expect(item.title == movie.title.trimmingCharacters(in: .whitespaces))
      #expect(item.metadata["genres"] == .array(movie.genres.map(JSONValue.string)))
      #expect(item.metadata["year"] == Self.oracleYear(movie.title).map { JSONValue($0) }, "\(movie.title)")
    }
    let byID = Dictionary(uniqueKeysWithValues: run.log.items.map { ($0.rawID, $0) })
    #expect(byID["1"]?.title == "Toy Story (1995)")
    #expect(byID["1"]?.metadata["genres"] == ["Animation", "Children's", "Comedy"])
    #expect(byID["1"]?.metadata["year"] == 1995)
    #expect(byID["73"]?.title == "Misérables, Les (1995)", "latin-1 0xE9 is é")
    #expect(byID["73"]?.metadata["genres"] == ["Drama", "Musical"])
    #expect(run.report["items_with_title"] == 3883)
    #expect(run.report["files"]?["items"]?["lines"] == 3883)
    #expect(run.metrics["skipped_lines"] == 0)
    try Self.expectEventsMatch(run, ratingsPath: ratingsPath, separator: "::", header: false)
    if realRatings {
      #expect(run.log.eventCount == 1_000_209)
      #expect(run.log.users.count == 6040)
      #expect(Set(run.log.eventItem).count == 3706)
    }
    try run.validate()
  }

  @Test(.enabled(if: SharedData.shouldRun(latestRatings), "needs ../shared/data/movielens/ml-latest-small"))
  func latestSmallMatchesTheDatasetAndAnIndependentCount() throws {
    guard SharedData.available(Self.latestRatings) else { return }
    let run = try IngestRun(Self.latest)
    print("ingest: ml-latest-small in \(formatFixed(run.seconds, digits: 3)) s")
    #expect(run.log.eventCount == 100_836)
    #expect(run.log.users.count == 610)
    #expect(run.log.items.count == 9742)
    #expect(Set(run.log.eventItem).count == 9724)
    #expect(run.metrics["skipped_lines"] == 0)
    #expect(run.report["files"]?["ratings"]?["lines"] == 100_837)
    try Self.expectEventsMatch(run, ratingsPath: SharedData.path(Self.latestRatings), separator: ",", header: true)

    // The oracle for movies.csv: id before the first comma, genres after the last (neither holds a
    // comma), the title between, unquoted with doubled quotes undone.
    let text = try String(contentsOfFile: SharedData.path(Self.latestMovies), encoding: .utf8)
    var lines = text.split(whereSeparator: \.isNewline).map(String.init)
    #expect(lines.removeFirst() == "movieId,title,genres")
    var expected: [Int: (title: String, genres: [String])] = [:]
    for line in lines {
      let first = line.firstIndex(of: ",")!
      let last = line.lastIndex(of: ",")!
      var title = String(line[line.index(after: first)..<last])
      if title.hasPrefix("\"") {
        title = String(title.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
      }
      let genres = String(line[line.index(after: last)...])
      expected[Int(line[..<first])!] = (
        title, genres == "(no genres listed)" ? [] : genres.components(separatedBy: "|")
      )
    }
    #expect(run.log.items.map(\.rawID) == expected.keys.sorted().map(String.init), "items ordered by movie id")
    for item in run.log.items {
      let movie = expected[Int(item.rawID)!]!
      #expect(item.title == movie.title.trimmingCharacters(in: .whitespaces))
      #expect(item.metadata["genres"] == .array(movie.genres.map(JSONValue.string)))
      #expect(item.metadata["year"] == Self.oracleYear(movie.title).map { JSONValue($0) }, "\(movie.title)")
    }

    let byID = Dictionary(uniqueKeysWithValues: run.log.items.map { ($0.rawID, $0) })
    #expect(byID["1"]?.title == "Toy Story (1995)")
    #expect(byID["1"]?.metadata["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"])
    #expect(byID["11"]?.title == "American President, The (1995)", "a quoted title with a comma")
    #expect(byID["11"]?.metadata["year"] == 1995)
    #expect(byID["7789"]?.title == "11'09\"01 - September 11 (2002)", "doubled quotes are one quote")
    #expect(byID["7789"]?.metadata["year"] == 2002)
    #expect(byID["114335"]?.metadata["genres"] == [], "(no genres listed)")
    #expect(byID["40697"]?.title == "Babylon 5")
    #expect(byID["40697"]?.metadata["year"] == nil)
    #expect(byID["171749"]?.title == "Death Note: Desu nôto (2006–2007)")
    #expect(byID["171749"]?.metadata["year"] == 2006, "a range gives its first year")
    #expect(byID["96608"]?.title == "Runaway Brain (1995)", "trailing space trimmed")
    #expect(byID["96608"]?.metadata["year"] == 1995)
    try run.validate()
  }

  // MARK: - Hand-written files

  @Test func malformedMoviesDatLinesAreSkippedWithReasonAndLine() throws {
    let directory = try TemporaryDirectory()
    var movies: [UInt8] = Array("1::Heat (1995)::Action|Crime|Thriller\n2::Only Two Fields\n".utf8)
    movies += Array("x::Bad Id (1990)::Drama\n3::Mis".utf8) + [0xE9] + Array("rables, Les (1995)::Drama|Musical\n".utf8)
    movies += Array("1::Heat Again (1995)::Action\n4::A::B::C\n".utf8)
    let moviesPath = directory.file("movies.dat")
    try FileSystem.writeFile(moviesPath, movies)
    let ratings = try directory.write("ratings.dat", "1::1::5::978300760\n1::3::4::978300761\n2::2::3::978300762\n")
    let run = try IngestRun(Self.oneMillion, rawFiles: ["ratings": ratings, "items": moviesPath])
    #expect(run.log.items.map(\.rawID) == ["1", "3"])
    #expect(run.log.items.map(\.title) == ["Heat (1995)", "Misérables, Les (1995)"])
    #expect(run.skipped("wrong_field_count")?["count"] == 2)
    #expect(run.skipped("wrong_field_count")?["file"] == "movies.dat")
    #expect(run.skipped("wrong_field_count")?["first_lines"] == [2, 6])
    #expect(run.skipped("bad_movie_id")?["first_lines"] == [3])
    #expect(run.skipped("duplicate_movie_id")?["first_lines"] == [5])
    #expect(run.skipped("duplicate_movie_id")?["example"] == "'movies.dat' line 5: field 'movie id' repeats movie 1")
    // Movie 2's line was skipped, so its rating names a movie movies.dat does not list.
    #expect(run.skipped("unknown_item")?["file"] == "ratings.dat")
    #expect(run.skipped("unknown_item")?["first_lines"] == [3])
    #expect(
      run.skipped("unknown_item")?["example"]
        == "'ratings.dat' line 3: field 'movie id' names movie 2, which 'movies.dat' does not list")
    #expect(run.metrics["skipped_lines"] == 5)
    #expect(run.log.eventCount == 2)
    try run.validate()
  }

  @Test func malformedRatingsDatLinesAreSkippedWithReasonAndLine() throws {
    let directory = try TemporaryDirectory()
    let movies = try directory.write("movies.dat", "1::Heat (1995)::Action\n3::Casino (1995)::Drama\n")
    let ratings = try directory.write(
      "ratings.dat",
      [
        "1::1::5::978300760", "1::3::4", "2::1::x::978300761", "2::99::4::978300762", "2::3::4::978300763::9",
        "u::3::4::978300764", "2::v::4::978300764", "2::3::4::then", "3::3::2.5::978300765", "",
        "1::3::3::978300766",
      ].joined(separator: "\n"))
    let run = try IngestRun(Self.oneMillion, rawFiles: ["ratings": ratings, "items": movies])
    #expect(run.skipped("wrong_field_count")?["first_lines"] == [2, 5])
    #expect(
      run.skipped("wrong_field_count")?["example"]
        == "'ratings.dat' line 2: has 3 '::'-separated fields, expected 4 (user, movie, rating, timestamp)")
    #expect(run.skipped("bad_rating")?["first_lines"] == [3])
    #expect(run.skipped("bad_rating")?["example"] == "'ratings.dat' line 3: field 'rating' is not a number (\"x\")")
    #expect(run.skipped("unknown_item")?["first_lines"] == [4])
    #expect(run.skipped("bad_user_id")?["first_lines"] == [6])
    #expect(run.skipped("bad_item_id")?["first_lines"] == [7])
    #expect(run.skipped("bad_timestamp")?["first_lines"] == [8])
    #expect(run.metrics["skipped_lines"] == 7)
    #expect(run.report["files"]?["ratings"]?["blank_lines"] == 1)
    #expect(run.log.users == ["1", "3"], "users by first appearance")
    #expect(run.log.eventItem == [0, 1, 1])
    #expect(run.log.eventRating == [5, 2.5, 3])
    #expect(run.log.eventTime == [978_300_760, 978_300_765, 978_300_766])
    try run.validate()
  }

  @Test func strictTurnsASkippedLineIntoAnError() throws {
    let directory = try TemporaryDirectory()
    let movies = try directory.write("movies.dat", "1::Heat (1995)::Action\n")
    let ratings = try directory.write("ratings.dat", "1::1::5::978300760\n1::1::five::978300761\n")
    var parameters = Self.oneMillion
    parameters["strict"] = true
    let message = errorMessage { _ = try IngestRun(parameters, rawFiles: ["ratings": ratings, "items": movies]) }
    #expect(
      message
        == "'ratings.dat' line 2: field 'rating' is not a number (\"five\"); fix the line or pass strict: false to skip it"
    )
  }

  @Test func crlfLineEndsReadLikeLF() throws {
    let directory = try TemporaryDirectory()
    let movies = try directory.write("movies.dat", "1::Heat (1995)::Action|Crime\r\n2::Casino (1995)::Drama\r\n")
    let ratings = try directory.write("ratings.dat", "1::2::4::978300760\r\n1::1::5::978300761\r\n")
    let run = try IngestRun(Self.oneMillion, rawFiles: ["ratings": ratings, "items": movies])
    #expect(run.log.items.map(\.title) == ["Heat (1995)", "Casino (1995)"])
    #expect(run.log.items[0].metadata["genres"] == ["Action", "Crime"])
    #expect(run.log.items[1].metadata["genres"] == ["Drama"])
    #expect(run.log.items[1].metadata["year"] == 1995)
    #expect(run.log.eventTime == [978_300_760, 978_300_761])
    #expect(run.metrics["skipped_lines"] == 0)

    let csvMovies = try directory.write(
      "movies.csv", "movieId,title,genres\r\n1,\"Heat, The (1995)\",Action\r\n2,Casino (1995),Drama\r\n")
    let csvRatings = try directory.write("ratings.csv", "userId,movieId,rating,timestamp\r\n1,2,4.5,978300760\r\n")
    let csv = try IngestRun(Self.latest, rawFiles: ["ratings": csvRatings, "items": csvMovies])
    #expect(csv.log.items.map(\.title) == ["Heat, The (1995)", "Casino (1995)"])
    #expect(csv.log.items[1].metadata["genres"] == ["Drama"])
    #expect(csv.log.eventRating == [4.5])
    #expect(csv.log.eventTime == [978_300_760])
    #expect(csv.metrics["skipped_lines"] == 0)
  }

  @Test func aByteOrderMarkBeforeTheHeaderIsIgnored() throws {
    let directory = try TemporaryDirectory()
    let movies = try directory.write("movies.csv", "\u{FEFF}movieId,title,genres\n1,Heat (1995),Action\n")
    let ratings = try directory.write("ratings.csv", "\u{FEFF}userId,movieId,rating,timestamp\n7,1,3.5,1\n")
    let run = try IngestRun(Self.latest, rawFiles: ["ratings": ratings, "items": movies])
    #expect(run.log.items.map(\.title) == ["Heat (1995)"])
    #expect(run.log.users == ["7"])
    #expect(run.metrics["skipped_lines"] == 0)
  }

  @Test func malformedCSVRecordsAreSkippedWithReasonAndLine() throws {
    let directory = try TemporaryDirectory()
    let movies = try directory.write(
      "movies.csv",
      [
        "movieId,title,genres", "1,\"Two Lines", "Of Title (2001)\",Drama|Romance", "2,Plain (1990),(no genres listed)",
        "oops,Bad Id (1990),Drama", "3,Too,Many,Fields", "4,\"Closed\" badly (1990),Drama", "5,Kept (1999),Comedy",
        "1,Again (2001),Drama", "6,\"Never closed (1990),Drama",
      ].joined(separator: "\n") + "\n")
    let ratings = try directory.write(
      "ratings.csv",
      [
        "userId,movieId,rating,timestamp", "1,1,4.0,10", "1,2,abc,11", "2,4,3.0,12", "2,5,3.0,13", "2,5,3.0",
        "3,77,1.0,14", "3,2,0.5,15",
      ].joined(separator: "\n") + "\n")
    let run = try IngestRun(Self.latest, rawFiles: ["ratings": ratings, "items": movies])
    #expect(run.log.items.map(\.rawID) == ["1", "2", "5"])
    #expect(run.log.items[0].title == "Two Lines\nOf Title (2001)", "a quoted line break stays in the title")
    #expect(run.log.items[0].metadata["year"] == 2001)
    #expect(run.log.items[0].metadata["genres"] == ["Drama", "Romance"])
    #expect(run.log.items[1].metadata["genres"] == [])
    #expect(run.skipped("bad_movie_id")?["first_lines"] == [5], "line numbers count the quoted line break")
    #expect(run.skipped("wrong_field_count")?["first_lines"] == [6])
    #expect(
      run.skipped("wrong_field_count")?["example"]
        == "'movies.csv' line 6: has 4 fields, expected 3 (movieId, title, genres)")
    #expect(run.skipped("malformed_csv")?["first_lines"] == [7, 10])
    #expect(run.skipped("malformed_csv")?["count"] == 2)
    #expect(run.skipped("duplicate_movie_id")?["first_lines"] == [9])
    // ratings.csv: the movie of line 4 was skipped in movies.csv, the one of line 7 never existed.
    #expect(run.skipped("bad_rating")?["file"] == "ratings.csv")
    #expect(run.skipped("bad_rating")?["first_lines"] == [3])
    #expect(run.skipped("unknown_item")?["first_lines"] == [4, 7])
    #expect(run.skipped("unknown_item")?["count"] == 2)
    #expect(run.metrics["skipped_lines"] == 9)
    #expect(run.log.eventCount == 3)
    #expect(run.log.users == ["1", "2", "3"])
    // wrong_field_count was first seen in movies.csv; the report counts ratings.csv's (line 6) under
    // other_files, without its line number (IngestReport keeps line numbers for the first file only).
    #expect(run.skipped("wrong_field_count")?["count"] == 2)
    #expect(run.skipped("wrong_field_count")?["other_files"] == ["ratings.csv": 1])
    try run.validate()
  }

  @Test func yearsFollowTheLastParenthesisedGroup() throws {
    let directory = try TemporaryDirectory()
    let titles = [
      "Babylon 5 (1994-1998)", "Death Note (2006–2007)", "Open Ended (2007-)", "Babylon 5",
      "Land Before Time III (1995) (V)", "Runaway Brain (1995) ", "(500) Days of Summer (2009)", "Five Digits (19950)",
      "Bad Range (1994-98)", "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)",
    ]
    let movies = try directory.write(
      "movies.dat", titles.enumerated().map { "\($0.offset + 1)::\($0.element)::Drama\n" }.joined())
    let ratings = try directory.write("ratings.dat", "1::1::5::1\n")
    let run = try IngestRun(Self.tenMillion, rawFiles: ["ratings": ratings, "items": movies])
    #expect(
      run.log.items.map { $0.metadata["year"] } == [1994, 2006, 2007, nil, nil, 1995, 2009, nil, nil, 1995])
    #expect(run.log.items[5].title == "Runaway Brain (1995)")
    #expect(run.log.items.map { $0.metadata["year"] } == titles.map { Self.oracleYear($0).map { JSONValue($0) } })
  }

  @Test func tenMillionReadsUTF8AndReportsLatin1Bytes() throws {
    let directory = try TemporaryDirectory()
    let moviesPath = directory.file("movies.dat")
    try FileSystem.writeFile(
      moviesPath,
      Array("1::Misérables, Les (1995)::Drama|Musical\n2::Mis".utf8) + [0xE9] + Array("rables (1998)::Drama\n".utf8))
    let ratings = try directory.write("ratings.dat", "1::1::4.5::1\n1::2::4::2\n")
    let run = try IngestRun(Self.tenMillion, rawFiles: ["ratings": ratings, "items": moviesPath])
    #expect(run.log.items.map(\.title) == ["Misérables, Les (1995)"])
    #expect(run.skipped("invalid_utf8")?["first_lines"] == [2])
    #expect(run.skipped("unknown_item")?["first_lines"] == [2])
    #expect(run.log.eventRating == [4.5])

    var latin1 = Self.tenMillion
    latin1["movies_encoding"] = "latin-1"
    let decoded = try IngestRun(latin1, rawFiles: ["ratings": ratings, "items": moviesPath])
    #expect(decoded.log.items.map(\.title) == ["MisÃ©rables, Les (1995)", "Misérables (1998)"])
    #expect(decoded.metrics["skipped_lines"] == 0)
  }

  @Test func emptyOrHeaderOnlyRatingsAreClearErrors() throws {
    let directory = try TemporaryDirectory()
    let movies = try directory.write("movies.dat", "1::Heat (1995)::Action\n")
    let ratings = try directory.write("ratings.dat", "")
    let message = errorMessage { _ = try IngestRun(Self.oneMillion, rawFiles: ["ratings": ratings, "items": movies]) }
    #expect(message == "'ratings.dat' is empty (no non-blank line); check the path or re-download it")

    let csvMovies = try directory.write("movies.csv", "movieId,title,genres\n1,Heat (1995),Action\n")
    let headerOnly = try directory.write("ratings.csv", "userId,movieId,rating,timestamp\n\n")
    let csvMessage = errorMessage {
      _ = try IngestRun(Self.latest, rawFiles: ["ratings": headerOnly, "items": csvMovies])
    }
    #expect(csvMessage == "'ratings.csv' has a header but no records; check the file or re-download it")

    let wrongHeader = try directory.write("other.csv", "user,item,rating,timestamp\n1,1,4,1\n")
    let headerMessage = errorMessage {
      _ = try IngestRun(Self.latest, rawFiles: ["ratings": wrongHeader, "items": csvMovies])
    }
    #expect(
      headerMessage
        == "'other.csv' line 1: the header lacks column 'userId' (found user,item,rating,timestamp); is this a MovieLens ratings.csv (ml-20m, ml-25m, ml-latest)?"
    )
  }

  // MARK: - Oracles

  /// The year rule written independently: the last "(dddd)", "(dddd-)", "(dddd-dddd)" or with an en
  /// dash, at the end of the title (trailing spaces allowed).
  static func oracleYear(_ title: String) -> Int? {
    let pattern = #"\((\d{4})(?:[-\x{2013}](?:\d{4})?)?\)\s*$"#
    let expression = try! NSRegularExpression(pattern: pattern)
    let range = NSRange(title.startIndex..., in: title)
    guard let match = expression.firstMatch(in: title, range: range),
      let yearRange = Range(match.range(at: 1), in: title)
    else { return nil }
    return Int(title[yearRange])
  }

  /// Checks every event against the ratings file split with Foundation: users in order of first
  /// appearance, each event's user, movie, rating and timestamp in file order.
  static func expectEventsMatch(_ run: IngestRun, ratingsPath: String, separator: String, header: Bool) throws {
    let text = try String(contentsOfFile: ratingsPath, encoding: .utf8)
    var lines = text.split(whereSeparator: \.isNewline)
    if header { lines.removeFirst() }
    try #require(lines.count == run.log.eventCount)
    var users: [String] = []
    var seenUsers: Set<String> = []
    var items: Set<String> = []
    var mismatches = 0
    for (index, line) in lines.enumerated() {
      let fields = line.components(separatedBy: separator)
      if seenUsers.insert(fields[0]).inserted { users.append(fields[0]) }
      items.insert(fields[1])
      let matches =
        run.log.users[Int(run.log.eventUser[index])] == fields[0]
        && run.log.items[Int(run.log.eventItem[index])].rawID == fields[1]
        && run.log.eventRating[index] == Float(fields[2])! && run.log.eventTime[index] == Int64(fields[3])!
      if !matches { mismatches += 1 }
    }
    #expect(mismatches == 0)
    #expect(users == run.log.users, "users in order of first appearance")
    #expect(items.count == Set(run.log.eventItem).count)
  }
}
