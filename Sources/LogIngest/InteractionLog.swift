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

  /// Appends an `items.jsonl` line to `bytes`: the canonical text of the item's metadata with
  /// `raw_id` and `title` (`null` when it has none) added, without building that object.
  static func appendItemJSON(_ item: ItemRecord, to bytes: inout [UInt8]) {
    JSONValue.appendCanonicalObject(
      item.metadata, adding: ["raw_id": .string(item.rawID), "title": item.title.map(JSONValue.string) ?? .null],
      to: &bytes)
  }

  /// Appends a `users.jsonl` line, `{"raw_id":"…"}`, to `bytes`.
  static func appendUserJSON(_ rawID: String, to bytes: inout [UInt8]) {
    bytes.append(contentsOf: #"{"raw_id":"#.utf8)
    JSONValue.appendCanonical(string: rawID, to: &bytes)
    bytes.append(UInt8(ascii: "}"))
  }

  static func item(from json: JSONValue, path: String, line: Int) throws(PipelineError) -> ItemRecord {
    guard var object = json.objectValue, let rawID = object["raw_id"]?.stringValue else {
      throw .invalidArtifact(
        "'\(path)' line \(line): field 'raw_id' must be a string; rerun the ingest stage with --force")
    }
    let title = object["title"]?.stringValue
    object["raw_id"] = nil
    object["title"] = nil
    return ItemRecord(rawID: rawID, title: title, metadata: object)
  }

  /// Whether a key's bytes spell `name`.
  @inline(__always)
  static func isKey(_ key: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
    name.withUTF8Buffer { key.elementsEqual($0) }
  }

  /// The item of an `items.jsonl` line that is a flat object of strings with a `raw_id`
  /// (`JSONLines.scanStringMembers`), as `item(from:path:line:)` would build it; `nil` for any other
  /// line, which then goes through `JSONParser`.
  static func fastItem(_ line: UnsafeBufferPointer<UInt8>) -> ItemRecord? {
    var rawID: String?
    var title: String?
    var metadata: [String: JSONValue] = [:]
    let scanned = JSONLines.scanStringMembers(line) { key, value in
      if isKey(key, "raw_id") {
        rawID = value
      } else if isKey(key, "title") {
        title = value
      } else {
        metadata[String(decoding: key, as: UTF8.self)] = .string(value)
      }
    }
    guard scanned, let rawID else { return nil }
    return ItemRecord(rawID: rawID, title: title, metadata: metadata)
  }

  /// The raw id of a `users.jsonl` line that is a flat object of strings with a `raw_id` (in the
  /// canonical form `{"raw_id":"…"}`); `nil` for any other line, which then goes through `JSONParser`.
  static func fastUser(_ line: UnsafeBufferPointer<UInt8>) -> String? {
    var rawID: String?
    let scanned = JSONLines.scanStringMembers(line) { key, value in
      if isKey(key, "raw_id") { rawID = value }
    }
    return scanned ? rawID : nil
  }

  /// Writes the artifact files (not the report) into `directory`: the event arrays and
  /// `users.jsonl` on one thread, `items.jsonl` and the predefined splits on another (when there
  /// are two). A failure is reported as writing them one by one would: items, users, events,
  /// predefined splits.
  public func write(to directory: String) throws(PipelineError) {
    // Jobs 0 to 3 are items, users, events and predefined splits (the order failures are reported
    // in); `Parallel.forEach` deals indices 0 and 2 to one thread and 1 and 3 to the other, so this
    // order puts events and users on one thread, items and predefined splits on the other.
    let order = [2, 0, 1, 3]
    var failures = [PipelineError?](repeating: nil, count: order.count)
    failures.withUnsafeMutableBufferPointer { failures in
      let failures = DisjointPointer(failures)
      Parallel.forEach(order.count, threads: Parallel.defaultThreadCount) { dealt in
        let job = order[dealt]
        do throws(PipelineError) {
          switch job {
          case 0:
            try JSONLines.write(items.count, to: FileSystem.join(directory, Self.itemsFile)) { index, bytes in
              Self.appendItemJSON(items[index], to: &bytes)
            }
          case 1:
            try JSONLines.write(users.count, to: FileSystem.join(directory, Self.usersFile)) { index, bytes in
              Self.appendUserJSON(users[index], to: &bytes)
            }
          case 2: try writeEvents(to: directory)
          default: try writePredefined(to: directory)
          }
        } catch {
          failures[job] = error
        }
      }
    }
    if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
  }

  /// Writes the four `events.*.npy` arrays.
  func writeEvents(to directory: String) throws(PipelineError) {
    try NumPyArray.write(eventUser, to: FileSystem.join(directory, "events.user.npy"))
    try NumPyArray.write(eventItem, to: FileSystem.join(directory, "events.item.npy"))
    try NumPyArray.write(eventTime, to: FileSystem.join(directory, "events.timestamp.npy"))
    try NumPyArray.write(eventRating, to: FileSystem.join(directory, "events.rating.npy"))
  }

  /// Writes the `predefined.<split>.*.npy` arrays of the splits the log has.
  func writePredefined(to directory: String) throws(PipelineError) {
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
    // items.jsonl on one thread; users.jsonl, then the event arrays on another. The errors are
    // those of reading them in that order on one thread: items first.
    let itemsPath = FileSystem.join(directory, itemsFile)
    let usersPath = FileSystem.join(directory, usersFile)
    @Sendable func readItems() throws(PipelineError) -> [ItemRecord] {
      try JSONLines.read(itemsPath, fast: fastItem) { value, line throws(PipelineError) in
        try item(from: value, path: itemsPath, line: line)
      }
    }
    @Sendable func readUsersAndEvents() throws(PipelineError) -> InteractionLog {
      var log = InteractionLog()
      log.users = try JSONLines.read(usersPath, fast: fastUser) { value, line throws(PipelineError) in
        guard let rawID = value["raw_id"]?.stringValue else {
          throw .invalidArtifact(
            "'\(usersPath)' line \(line): field 'raw_id' must be a string; rerun the ingest stage with --force")
        }
        return rawID
      }
      log.eventUser = try NumPyArray.read(UInt32.self, from: FileSystem.join(directory, "events.user.npy")).values
      log.eventItem = try NumPyArray.read(UInt32.self, from: FileSystem.join(directory, "events.item.npy")).values
      log.eventTime = try NumPyArray.read(Int64.self, from: FileSystem.join(directory, "events.timestamp.npy")).values
      log.eventRating = try NumPyArray.read(Float.self, from: FileSystem.join(directory, "events.rating.npy")).values
      return log
    }
    var items: Result<[ItemRecord], PipelineError> = .success([])
    var rest: Result<InteractionLog, PipelineError> = .success(InteractionLog())
    withUnsafeMutablePointer(to: &items) { items in
      withUnsafeMutablePointer(to: &rest) { rest in
        let (items, rest) = (DisjointPointer(items), DisjointPointer(rest))
        Parallel.forEach(2, threads: Parallel.defaultThreadCount) { job in
          if job == 0 {
            items[0] = Result { () throws(PipelineError) in try readItems() }
          } else {
            rest[0] = Result { () throws(PipelineError) in try readUsersAndEvents() }
          }
        }
      }
    }
    let itemRecords = try items.get()
    var log = try rest.get()
    log.items = itemRecords
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
