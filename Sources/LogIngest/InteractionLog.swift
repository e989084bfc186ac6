import ArtifactFormats
import PipelineCore

/// An item as the source describes it: its raw id, its title (when the source has one), and the
/// metadata users filter on (brand, categories, year…).
public struct ItemRecord: Equatable, Sendable {
  public var rawID: String
  public var title: String?
  public var metadata: [String: JSONValue]

  public init(rawID: String, title: String?, metadata: [String: JSONValue] = [:]) {
    self.rawID = rawID
    self.title = title
    self.metadata = metadata
  }
}

/// One sample of a source that comes already split (the official TCA4Rec CSVs): a user, the target
/// item, the history before it (oldest first), with indices into the log's users and items.
public struct PredefinedSample: Equatable, Sendable {
  public var user: UInt32
  public var target: UInt32
  public var history: [UInt32]
  public var timestamp: Int64
  public var rating: Float

  public init(user: UInt32, target: UInt32, history: [UInt32], timestamp: Int64, rating: Float) {
    self.user = user
    self.target = target
    self.history = history
    self.timestamp = timestamp
    self.rating = rating
  }
}

/// The sample splits every protocol produces.
public enum SplitName: String, CaseIterable, Sendable {
  case train, valid, test
}

/// What ingest produces and prepare reads: items, users and events in source order, all indices
/// 0-based into `items` and `users`. (Prepare assigns the public 1-based ids.)
///
/// On disk (the `interactions` artifact, Schemas/interactions.md):
/// `items.jsonl`, `users.jsonl`, `events.user.npy` (uint32), `events.item.npy` (uint32),
/// `events.timestamp.npy` (int64), `events.rating.npy` (float32, NaN when the source has none),
/// for pre-split sources `predefined.<split>.{user,target,timestamp}.npy`, `predefined.<split>.rating.npy`
/// and `predefined.<split>.history.{offsets,values}.npy`, and `report.json`.
public struct InteractionLog: Equatable, Sendable {
  public var items: [ItemRecord] = []
  public var users: [String] = []
  public var eventUser: [UInt32] = []
  public var eventItem: [UInt32] = []
  public var eventTime: [Int64] = []
  public var eventRating: [Float] = []
  /// Samples of a pre-split source, by split; empty for event logs.
  public var predefined: [SplitName: [PredefinedSample]] = [:]

  public init() {}

  public var eventCount: Int { eventUser.count }

  public mutating func appendEvent(user: UInt32, item: UInt32, time: Int64, rating: Float) {
    eventUser.append(user)
    eventItem.append(item)
    eventTime.append(time)
    eventRating.append(rating)
  }
}

extension InteractionLog {
  public static let itemsFile = "items.jsonl"
  public static let usersFile = "users.jsonl"
  public static let reportFile = "report.json"

  static func itemJSON(_ item: ItemRecord) -> JSONValue {
    var object = item.metadata
    object["raw_id"] = .string(item.rawID)
    object["title"] = item.title.map(JSONValue.string) ?? .null
    return .object(object)
  }

  static func item(from json: JSONValue, path: String, line: Int) throws(PipelineError) -> ItemRecord {
    guard var object = json.objectValue, let rawID = object["raw_id"]?.stringValue else {
      throw .invalidArtifact("'\(path)' line \(line): field 'raw_id' must be a string")
    }
    let title = object["title"]?.stringValue
    object["raw_id"] = nil
    object["title"] = nil
    return ItemRecord(rawID: rawID, title: title, metadata: object)
  }

  /// Writes the artifact files (not the report) into `directory`.
  public func write(to directory: String) throws(PipelineError) {
    try JSONLines.write(items.map(Self.itemJSON), to: FileSystem.join(directory, Self.itemsFile))
    try JSONLines.write(users.map { .object(["raw_id": .string($0)]) }, to: FileSystem.join(directory, Self.usersFile))
    try NumPyArray.write(eventUser, to: FileSystem.join(directory, "events.user.npy"))
    try NumPyArray.write(eventItem, to: FileSystem.join(directory, "events.item.npy"))
    try NumPyArray.write(eventTime, to: FileSystem.join(directory, "events.timestamp.npy"))
    try NumPyArray.write(eventRating, to: FileSystem.join(directory, "events.rating.npy"))
    for split in SplitName.allCases {
      guard let samples = predefined[split] else { continue }
      let prefix = FileSystem.join(directory, "predefined.\(split.rawValue)")
      try NumPyArray.write(samples.map(\.user), to: prefix + ".user.npy")
      try NumPyArray.write(samples.map(\.target), to: prefix + ".target.npy")
      try NumPyArray.write(samples.map(\.timestamp), to: prefix + ".timestamp.npy")
      try NumPyArray.write(samples.map(\.rating), to: prefix + ".rating.npy")
      var offsets: [UInt64] = [0]
      var values: [UInt32] = []
      for sample in samples {
        values.append(contentsOf: sample.history)
        offsets.append(UInt64(values.count))
      }
      try NumPyArray.write(offsets, to: prefix + ".history.offsets.npy")
      try NumPyArray.write(values, to: prefix + ".history.values.npy")
    }
  }

  /// Reads an `interactions` artifact and checks its invariants (equal lengths, indices in range,
  /// CSR offsets monotone); errors name the file.
  public static func read(from directory: String) throws(PipelineError) -> InteractionLog {
    var log = InteractionLog()
    let itemsPath = FileSystem.join(directory, itemsFile)
    for (index, record) in try JSONLines.read(itemsPath).enumerated() {
      log.items.append(try item(from: record, path: itemsPath, line: index + 1))
    }
    let usersPath = FileSystem.join(directory, usersFile)
    for (index, record) in try JSONLines.read(usersPath).enumerated() {
      guard let rawID = record["raw_id"]?.stringValue else {
        throw .invalidArtifact("'\(usersPath)' line \(index + 1): field 'raw_id' must be a string")
      }
      log.users.append(rawID)
    }
    log.eventUser = try NumPyArray.read(UInt32.self, from: FileSystem.join(directory, "events.user.npy")).values
    log.eventItem = try NumPyArray.read(UInt32.self, from: FileSystem.join(directory, "events.item.npy")).values
    log.eventTime = try NumPyArray.read(Int64.self, from: FileSystem.join(directory, "events.timestamp.npy")).values
    log.eventRating = try NumPyArray.read(Float.self, from: FileSystem.join(directory, "events.rating.npy")).values
    let count = log.eventUser.count
    guard log.eventItem.count == count, log.eventTime.count == count, log.eventRating.count == count else {
      throw .invalidArtifact("'\(directory)': events.*.npy arrays have different lengths; rerun ingest with --force")
    }
    try checkRange(log.eventUser, bound: log.users.count, what: "events.user.npy", directory: directory)
    try checkRange(log.eventItem, bound: log.items.count, what: "events.item.npy", directory: directory)
    for split in SplitName.allCases {
      let prefix = FileSystem.join(directory, "predefined.\(split.rawValue)")
      guard FileSystem.exists(prefix + ".user.npy") else { continue }
      let users = try NumPyArray.read(UInt32.self, from: prefix + ".user.npy").values
      let targets = try NumPyArray.read(UInt32.self, from: prefix + ".target.npy").values
      let times = try NumPyArray.read(Int64.self, from: prefix + ".timestamp.npy").values
      let ratings = try NumPyArray.read(Float.self, from: prefix + ".rating.npy").values
      let offsets = try NumPyArray.read(UInt64.self, from: prefix + ".history.offsets.npy").values
      let values = try NumPyArray.read(UInt32.self, from: prefix + ".history.values.npy").values
      let name = "predefined.\(split.rawValue)"
      guard targets.count == users.count, times.count == users.count, ratings.count == users.count,
        offsets.count == users.count + 1
      else {
        throw .invalidArtifact(
          "'\(directory)': \(name).*.npy arrays have inconsistent lengths; rerun ingest with --force")
      }
      try checkOffsets(offsets, valueCount: values.count, what: "\(name).history.offsets.npy", directory: directory)
      try checkRange(users, bound: log.users.count, what: "\(name).user.npy", directory: directory)
      try checkRange(targets, bound: log.items.count, what: "\(name).target.npy", directory: directory)
      try checkRange(values, bound: log.items.count, what: "\(name).history.values.npy", directory: directory)
      var samples: [PredefinedSample] = []
      samples.reserveCapacity(users.count)
      for index in 0..<users.count {
        let history = Array(values[Int(offsets[index])..<Int(offsets[index + 1])])
        samples.append(
          PredefinedSample(
            user: users[index], target: targets[index], history: history, timestamp: times[index],
            rating: ratings[index]))
      }
      log.predefined[split] = samples
    }
    return log
  }

  static func checkRange(_ values: [UInt32], bound: Int, what: String, directory: String) throws(PipelineError) {
    if let index = values.firstIndex(where: { Int($0) >= bound }) {
      throw .invalidArtifact(
        "'\(FileSystem.join(directory, what))' element \(index) is \(values[index]), out of range 0..<\(bound); rerun the stage with --force"
      )
    }
  }

  /// CSR offsets start at 0, never decrease, and end at the number of values.
  public static func checkOffsets(_ offsets: [UInt64], valueCount: Int, what: String, directory: String)
    throws(PipelineError)
  {
    guard offsets.first == 0, offsets.last == UInt64(valueCount) else {
      throw .invalidArtifact(
        "'\(FileSystem.join(directory, what))' must start at 0 and end at \(valueCount); rerun the stage with --force")
    }
    for index in 1..<offsets.count where offsets[index] < offsets[index - 1] {
      throw .invalidArtifact(
        "'\(FileSystem.join(directory, what))' decreases at element \(index); rerun the stage with --force")
    }
  }
}
