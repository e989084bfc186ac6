import ArtifactFormats
import Foundation
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// Random mutations of real lines fed to every reader for a bounded time (`TCA_FUZZ_SECONDS` per
/// source, default 2): each run either ingests (skipping what it must, with reasons) or stops with a
/// `PipelineError` that names the file it could not read. A crash or a hang fails the test run.
@Suite(.serialized) struct ReaderFuzzTests {
  /// One reader and the real files its mutated inputs start from.
  struct Case: CustomStringConvertible, Sendable {
    var source: String
    /// Role → (file under the shared data, name of the mutated copy, lines kept).
    var files: [String: (path: String, name: String, lines: Int)]
    /// Further ingest parameters (a preset).
    var parameters: [String: JSONValue] = [:]
    var description: String { parameters["preset"]?.stringValue.map { "\(source) (\($0))" } ?? source }
  }

  static let cases: [Case] = [
    Case(
      source: "movielens-100k",
      files: [
        "ratings": ("movielens/ml-100k/u.data", "u.data", 300), "items": ("movielens/ml-100k/u.item", "u.item", 300),
      ]),
    Case(
      source: "movielens-1m",
      files: [
        // ratings.dat from u.data (see below).
        "ratings": ("movielens/ml-100k/u.data", "ratings.dat", 300),
        "items": ("movielens/ml-1m/movies.dat", "movies.dat", 300),
      ]),
    Case(
      source: "movielens-csv",
      files: [
        "ratings": ("movielens/ml-latest-small/ratings.csv", "ratings.csv", 300),
        "items": ("movielens/ml-latest-small/movies.csv", "movies.csv", 400),
      ]),
    Case(
      source: "amazon-2014",
      files: [
        "reviews": (
          "amazon-2014/Digital_Music-truncated/reviews_Digital_Music_5.complete-lines.json.gz", "r.json", 200
        ),
        "meta": ("amazon-2014/Digital_Music-truncated/meta_Digital_Music.complete-lines.json.gz", "m.json", 300),
      ]),
    Case(
      source: "amazon-2018",
      files: [
        "reviews": ("amazon-2018/Gift_Cards/Gift_Cards_5.json.gz", "r.json", 200),
        "meta": ("amazon-2018/Gift_Cards/meta_Gift_Cards.json.gz", "m.json", 200),
      ]),
    Case(
      source: "amazon-2018",
      files: [
        "reviews": ("amazon-2018/Gift_Cards/Gift_Cards_5.json.gz", "r.json", 200),
        "meta": ("amazon-2018/Gift_Cards/meta_Gift_Cards.json.gz", "m.json", 200),
      ],
      // The official item rules with every extra column (brand, style, category).
      parameters: ["preset": "tca4rec", "category": "Sports_and_Outdoors"]),
    Case(
      source: "amazon-2023",
      files: ["reviews": ("amazon-2023/All_Beauty-5core-rating_only/All_Beauty.csv", "r.csv", 300)]),
  ]

  /// The first `count` lines of a (possibly gzipped) file, with their line ends.
  static func lines(_ path: String, count: Int) throws -> [[UInt8]] {
    var bytes = try FileSystem.readFile(path)
    if path.hasSuffix(".gz") {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = ["gzip", "-dc", path]
      let pipe = Pipe()
      process.standardOutput = pipe
      try process.run()
      bytes = Array(pipe.fileHandleForReading.readDataToEndOfFile())
      process.waitUntilExit()
    }
    var result: [[UInt8]] = []
    var start = 0
    for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
      result.append(Array(bytes[start...index]))
      start = index + 1
      if result.count == count { break }
    }
    return result
  }

  /// A random edit of `text`: a flipped byte, a deleted or repeated run, an inserted troublemaker, a
  /// cut line.
  static func mutate(_ text: inout [UInt8], generator: inout SplitMix64) {
    guard !text.isEmpty else { return }
    let troublemakers: [[UInt8]] = [
      [0x22], [0x27], [0x5C], [0x7B], [0x7D], [0x5B], [0x5D], [0x3A], [0x2C], [0x0A], [0x0D, 0x0A], [0xFF],
      [0x00], [0xC3], [0xEF, 0xBB, 0xBF], Array("::".utf8), Array("\\u12".utf8), Array("1e999".utf8),
      Array("-".utf8), Array("None".utf8), Array("NaN".utf8),
    ]
    let position = Int(generator.next() % UInt64(text.count))
    switch generator.next() % 5 {
    case 0: text[position] ^= UInt8(truncatingIfNeeded: 1 << (generator.next() % 8))
    case 1: text.removeSubrange(position..<min(text.count, position + 1 + Int(generator.next() % 12)))
    case 2:
      let end = min(text.count, position + 1 + Int(generator.next() % 40))
      text.insert(contentsOf: text[position..<end], at: position)
    case 3: text.insert(contentsOf: troublemakers[Int(generator.next() % UInt64(troublemakers.count))], at: position)
    default:
      // Cut the line at `position` (drop up to the next line end).
      let end = text[position...].firstIndex(of: UInt8(ascii: "\n")) ?? text.count
      text.removeSubrange(position..<end)
    }
  }

  @Test(arguments: cases)
  func mutatedRealLinesNeverCrashAndEveryFailureNamesItsFile(_ fuzzCase: Case) throws {
    for (_, file) in fuzzCase.files {
      guard SharedData.shouldRun(file.path) else { return }
    }
    let seconds = Double(FileSystem.environment("TCA_FUZZ_SECONDS") ?? "") ?? 2
    var seeds: [String: [[UInt8]]] = [:]
    for (role, file) in fuzzCase.files {
      var lines = try Self.lines(SharedData.path(file.path), count: file.lines)
      if file.name == "ratings.dat" {
        // ml-1m's ratings.dat is not in the shared data: ml-100k's u.data lines with `::` for tabs.
        lines = lines.map { line in line.flatMap { $0 == UInt8(ascii: "\t") ? Array("::".utf8) : [$0] } }
      }
      seeds[role] = lines
    }
    let directory = try TemporaryDirectory()
    var generator = SplitMix64(seed: UInt64(fuzzCase.source.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
    let start = monotonicSeconds()
    var runs = 0
    var failures = 0
    while monotonicSeconds() - start < seconds || runs < 20 {
      runs += 1
      var rawFiles: [String: String] = [:]
      var parameters = fuzzCase.parameters
      parameters["source"] = .string(fuzzCase.source)
      for (role, file) in fuzzCase.files {
        var text = seeds[role]!.flatMap { $0 }
        for _ in 0..<(1 + Int(generator.next() % 4)) where generator.next() % 3 != 0 {
          Self.mutate(&text, generator: &generator)
        }
        let path = directory.file(file.name)
        try FileSystem.writeFile(path, text)
        rawFiles[role] = path
        if role == "reviews" { parameters["reviews_file"] = .string(file.name) }
        if role == "meta" { parameters["meta_file"] = .string(file.name) }
      }
      if fuzzCase.files["meta"] == nil && fuzzCase.source.hasPrefix("amazon") { parameters["metadata"] = false }
      parameters["strict"] = .bool(generator.next() % 4 == 0)
      do {
        _ = try IngestRun(parameters, rawFiles: rawFiles)
      } catch let error as PipelineError {
        failures += 1
        let message = String(describing: error)
        let names = fuzzCase.files.values.map(\.name)
        #expect(names.contains { message.contains($0) }, "\(fuzzCase.source): \(message)")
      }
    }
    print("fuzz \(fuzzCase.source): \(runs) runs, \(failures) stopped with an error naming the file")
    // Readers skip bad lines rather than give up: most mutated inputs still ingest.
    #expect(failures < runs / 2, "\(failures) of \(runs) mutated inputs stopped the reader")
  }

  @Test func theLiteralParserSurvivesMutatedMetaLines() throws {
    let path = "amazon-2014/Digital_Music-truncated/meta_Digital_Music.complete-lines.json.gz"
    guard SharedData.shouldRun(path) else { return }
    let seeds = try Self.lines(SharedData.path(path), count: 500)
    var generator = SplitMix64(seed: 41)
    let seconds = Double(FileSystem.environment("TCA_FUZZ_SECONDS") ?? "") ?? 2
    let start = monotonicSeconds()
    var parsed = 0
    var rejected = 0
    while monotonicSeconds() - start < seconds {
      var line = seeds[Int(generator.next() % UInt64(seeds.count))]
      for _ in 0..<(1 + Int(generator.next() % 3)) { Self.mutate(&line, generator: &generator) }
      do throws(PythonLiteral.SyntaxError) {
        _ = try line.withUnsafeBufferPointer { (buffer) throws(PythonLiteral.SyntaxError) in
          try PythonLiteral.parse(buffer)
        }
        parsed += 1
      } catch {
        rejected += 1
        #expect(!error.description.isEmpty)
      }
    }
    print("fuzz PythonLiteral: \(parsed) parsed, \(rejected) rejected with an offset")
    #expect(parsed > 0 && rejected > 0)
  }
}

/// SplitMix64, for reproducible mutations.
struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
