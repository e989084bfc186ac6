import ArtifactFormats
import Interactions
import LogIngest
import PipelineCore

/// Builds an `InteractionLog` from events written with raw ids, in source order: users and items get
/// their log indices in order of first mention.
struct LogBuilder {
  var log = InteractionLog()
  private var userIndices: [String: UInt32] = [:]
  private var itemIndices: [String: UInt32] = [:]

  init() {}

  /// Declares an item ahead of its events (to fix its log index).
  @discardableResult
  mutating func item(_ rawID: String) -> UInt32 {
    if let index = itemIndices[rawID] { return index }
    let index = UInt32(log.items.count)
    itemIndices[rawID] = index
    log.items.append(ItemRecord(rawID: rawID, title: "Title \(rawID)", metadata: ["brand": .string("Brand \(rawID)")]))
    return index
  }

  @discardableResult
  mutating func user(_ rawID: String) -> UInt32 {
    if let index = userIndices[rawID] { return index }
    let index = UInt32(log.users.count)
    userIndices[rawID] = index
    log.users.append(rawID)
    return index
  }

  mutating func add(_ user: String, _ item: String, _ time: Int64, rating: Float = .nan) {
    let userIndex = self.user(user)
    let itemIndex = self.item(item)
    log.appendEvent(user: userIndex, item: itemIndex, time: time, rating: rating)
  }
}

/// A log of `(user, item, timestamp)` events in source order, without ratings.
func makeLog(_ events: [(String, String, Int64)]) -> InteractionLog {
  var builder = LogBuilder()
  for (user, item, time) in events { builder.add(user, item, time) }
  return builder.log
}

func makeOptions(
  _ sampleProtocol: PrepareOptions.SampleProtocol = .leaveOneOut, kCore: Int = 0, minimumHistory: Int = 1,
  maximumHistory: Int = 50, deduplication: PrepareOptions.Deduplication = .none
) -> PrepareOptions {
  var options = PrepareOptions()
  options.sampleProtocol = sampleProtocol
  options.userKCore = kCore
  options.itemKCore = kCore
  options.minimumHistory = minimumHistory
  options.maximumHistory = maximumHistory
  options.deduplication = deduplication
  return options
}

extension InteractionLog {
  /// The same log with these ratings, in event order.
  func withRatings(_ ratings: [Float]) -> InteractionLog {
    var log = self
    log.eventRating = ratings
    return log
  }
}

/// One sample with raw ids, for readable expectations.
struct RawSample: Equatable, CustomStringConvertible {
  var user: String
  var target: String
  var history: [String]
  var description: String { "\(user): \(history) → \(target)" }
}

extension PreparedSamples {
  func rawSamples(_ split: SplitName) -> [RawSample] {
    let set = self[split]
    return (0..<set.count).map { index in
      RawSample(
        user: users[Int(set.users[index]) - 1], target: items[Int(set.targets[index]) - 1].rawID,
        history: set.history(index).map { items[Int($0) - 1].rawID })
    }
  }
}

/// A manifest good enough for `validate` (it reads only `params`).
func testManifest(params: [String: JSONValue] = ["max_history": 50]) -> Manifest {
  Manifest(
    stage: PrepareStage.name, stageVersion: PrepareStage.version, key: String(repeating: "0", count: 64),
    params: params,
    inputs: [:], rawFiles: [:], files: [], metrics: [:], toolVersion: "test")
}

/// Writes a prepared artifact (arrays, records and report) as `run` does.
func writeArtifact(_ output: PrepareStage.Output, to directory: String) throws {
  try output.samples.write(to: directory)
  try FileSystem.writeText(FileSystem.join(directory, PreparedSamples.reportFile), output.report.json.prettyText())
}
