import Foundation
import PipelineCore
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The driver hashes raw files the memo lacks while the stage already computes: these tests check
/// that the outcome is what a hash-first run gives (keys, hits, errors, nothing left behind).
@Suite("Raw files hashed alongside the stage", .serialized)
struct RawFileHashingTests {
  /// A MovieLens-1M-format dataset under `root/movielens/ml-1m` and a pipeline reading it.
  static func writeDataset(
    _ root: String, users: Int = 3000, ratingsPerUser: Int = 15, extraIngestParameters: String = ""
  ) throws -> String {
    let folder = root + "/data/movielens/ml-1m"
    try FileSystem.createDirectory(folder)
    var movies = ""
    for movie in 1...60 { movies += "\(movie)::Movie number \(movie) (19\(movie % 90 + 10))::Drama\n" }
    try FileSystem.writeText(folder + "/movies.dat", movies)
    var ratings = ""
    for user in 1...users {
      for step in 0..<ratingsPerUser {
        let movie = (user * 7 + step * 13) % 60 + 1
        ratings += "\(user)::\(movie)::\((user + step) % 5 + 1)::\(978_300_000 + user * 100 + step)\n"
      }
    }
    try FileSystem.writeText(folder + "/ratings.dat", ratings)
    let pipeline = root + "/ml.yaml"
    try FileSystem.writeText(
      pipeline,
      """
      stages:
        ingest:
          params: {source: movielens-1m, path: movielens/ml-1m\(extraIngestParameters)}
        prepare:
          params: {user_k_core: 5, item_k_core: 5}

      """)
    return pipeline
  }

  /// Entries of a home's `tmp/`, and lock files that are not a key's or the ledger's.
  static func leftovers(_ home: String) throws -> [String] {
    var found = try FileSystem.listDirectory(home + "/tmp").map { "tmp/" + $0 }
    let keys = Set(try storeContents(home).keys)
    for name in try FileSystem.listDirectory(home + "/locks")
    where name != "ledger.lock" && !keys.contains(String(name.dropLast(".lock".count))) {
      found.append("locks/" + name)
    }
    return found
  }

  @Test func touchedRawFileIsACacheHitAndChangedOneIsComputed() throws {
    let work = try TemporaryDirectory()
    let pipeline = try Self.writeDataset(work.path)
    let environment = ["TCA_HOME": work.path + "/home", "TCA_DATA": work.path + "/data"]
    let first = try Executables.run("tca", ["run", pipeline], environment: environment)
    #expect(first.status == 0, "\(first.stderr)")
    #expect(first.stdout.contains("computed"))
    let reference = try storeContents(work.path + "/home")
    #expect(reference.count == 2)

    // Same bytes, new identity: the memo misses, the hash finds the entry, the computation stops.
    let ratings = work.path + "/data/movielens/ml-1m/ratings.dat"
    let bytes = try FileSystem.readFile(ratings)
    try FileSystem.removeTree(ratings)
    try FileSystem.writeFile(ratings, bytes)
    let touched = try Executables.run("tca", ["run", pipeline], environment: environment)
    #expect(touched.status == 0, "\(touched.stderr)")
    #expect(!touched.stdout.contains("computed"), "\(touched.stdout)")
    #expect(touched.stderr.contains("touched, not changed"), "\(touched.stderr)")
    #expect(try storeContents(work.path + "/home") == reference)
    #expect(try Self.leftovers(work.path + "/home") == [])

    // A third run finds the new identity memoised: nothing is re-read.
    let memoised = try Executables.run("tca", ["run", pipeline], environment: environment)
    #expect(
      memoised.stderr.contains("raw files unchanged by size/mtime/ctime/inode, not re-read"), "\(memoised.stderr)")

    // Changed content: a new ingest key, computed; its artifacts equal a hash-first run's (fresh home).
    var changed = bytes
    changed.append(contentsOf: Array("1::2::5::978400000\n".utf8))
    try FileSystem.writeFile(ratings, changed)
    let rerun = try Executables.run("tca", ["run", pipeline], environment: environment)
    #expect(rerun.status == 0, "\(rerun.stderr)")
    #expect(rerun.stdout.split(separator: "\n").contains { $0.hasPrefix("ingest") && $0.contains("computed") })
    let fresh = try Executables.run(
      "tca", ["run", pipeline], environment: ["TCA_HOME": work.path + "/fresh", "TCA_DATA": work.path + "/data"])
    #expect(fresh.status == 0)
    let all = try storeContents(work.path + "/home")
    for (key, files) in try storeContents(work.path + "/fresh") { #expect(all[key] == files, "entry \(key)") }
    #expect(try Self.leftovers(work.path + "/home") == [])
  }

  @Test func aStageErrorWhileHashingIsReportedAndLeavesNothing() throws {
    let work = try TemporaryDirectory()
    let pipeline = try Self.writeDataset(work.path, users: 50, extraIngestParameters: ", strict: true")
    let ratings = work.path + "/data/movielens/ml-1m/ratings.dat"
    try FileSystem.writeText(ratings, "1::2::5::978300000\nnot a rating line\n")
    let environment = ["TCA_HOME": work.path + "/home", "TCA_DATA": work.path + "/data"]
    let result = try Executables.run("tca", ["run", pipeline], environment: environment)
    #expect(result.status == 1)
    #expect(result.stderr.contains("'ratings.dat' line 2"), "\(result.stderr)")
    #expect(try FileSystem.listDirectory(work.path + "/home/tmp") == [])
    #expect(try storeContents(work.path + "/home").isEmpty)
  }

  @Test func forcedStageWithUnmemoisedFilesIsRecomputedIdentically() throws {
    let work = try TemporaryDirectory()
    let pipeline = try Self.writeDataset(work.path, users: 400)
    let environment = ["TCA_HOME": work.path + "/home", "TCA_DATA": work.path + "/data"]
    #expect(try Executables.run("tca", ["run", "-q", pipeline], environment: environment).status == 0)
    let reference = try storeContents(work.path + "/home")
    let movies = work.path + "/data/movielens/ml-1m/movies.dat"
    let bytes = try FileSystem.readFile(movies)
    try FileSystem.removeTree(movies)
    try FileSystem.writeFile(movies, bytes)
    let forced = try Executables.run("tca", ["run", pipeline, "--force", "ingest"], environment: environment)
    #expect(forced.status == 0, "\(forced.stderr)")
    #expect(forced.stdout.split(separator: "\n").contains { $0.hasPrefix("ingest") && $0.contains("computed") })
    #expect(try storeContents(work.path + "/home") == reference)
    #expect(try Self.leftovers(work.path + "/home") == [])
  }
}
