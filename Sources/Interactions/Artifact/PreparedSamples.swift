import ArtifactFormats
import LogIngest
import PipelineCore

/// The `samples` artifact that `prepare` writes and every later stage reads: the kept items and users
/// under their public ids, and the train, valid and test samples.
///
/// Item id `j + 1` is `items[j]` and user id `j + 1` is `users[j]`; id 0 is padding.
///
/// On disk: `items.jsonl` (line `j` is `{"id": j + 1, "raw_id", "title", …metadata}`), `users.jsonl`
/// (`{"id", "raw_id"}`), the five `.npy` files of each split (`SampleSet`), and `report.json`.
public struct PreparedSamples: Equatable, Sendable {
  public static let itemsFile = "items.jsonl"
  public static let usersFile = "users.jsonl"
  public static let reportFile = "report.json"

  public var items: [ItemRecord]
  /// Raw user ids.
  public var users: [String]
  public var splits: [SplitName: SampleSet]

  public init(items: [ItemRecord], users: [String], splits: [SplitName: SampleSet]) {
    self.items = items
    self.users = users
    self.splits = splits
  }

  /// The samples of `split` (empty when the split has none).
  public subscript(split: SplitName) -> SampleSet {
    get { splits[split] ?? SampleSet() }
    set { splits[split] = newValue }
  }

  /// Every file of the artifact, in a fixed order.
  public static var fileNames: [String] {
    [itemsFile, usersFile, reportFile] + SplitName.allCases.flatMap { SampleSet.fileNames($0) }
  }
}

// MARK: - Files

extension PreparedSamples {
  static let reservedItemKeys: Set<String> = ["id", "raw_id", "title"]

  /// Appends line `id - 1` of `items.jsonl` to `bytes`: the canonical text of the item's metadata
  /// with `id`, `raw_id` and `title` (`null` when it has none) added, without building that object.
  static func appendItemJSON(_ item: ItemRecord, id: Int, to bytes: inout [UInt8]) {
    JSONValue.appendCanonicalObject(
      item.metadata,
      adding: [
        "id": .integer(Int64(id)), "raw_id": .string(item.rawID), "title": item.title.map(JSONValue.string) ?? .null,
      ], to: &bytes)
  }

  /// Appends line `id - 1` of `users.jsonl`, `{"id":…,"raw_id":"…"}`, to `bytes`.
  static func appendUserJSON(_ rawID: String, id: Int, to bytes: inout [UInt8]) {
    bytes.append(contentsOf: #"{"id":"#.utf8)
    JSONValue.appendDecimal(Int64(id), to: &bytes)
    bytes.append(contentsOf: #","raw_id":"#.utf8)
    JSONValue.appendCanonical(string: rawID, to: &bytes)
    bytes.append(UInt8(ascii: "}"))
  }

  /// Writes `items.jsonl`, `users.jsonl` and every split's arrays (not the report) into `directory`.
  public func write(to directory: String) throws(PipelineError) {
    try JSONLines.write(items.count, to: FileSystem.join(directory, Self.itemsFile)) { index, bytes in
      Self.appendItemJSON(items[index], id: index + 1, to: &bytes)
    }
    try JSONLines.write(users.count, to: FileSystem.join(directory, Self.usersFile)) { index, bytes in
      Self.appendUserJSON(users[index], id: index + 1, to: &bytes)
    }
    for split in SplitName.allCases {
      try self[split].write(split, to: directory)
    }
  }

  /// Reads a `samples` artifact and checks its invariants: the `id` of line `j` of `items.jsonl` and
  /// `users.jsonl` is `j + 1`, and every split passes `SampleSet.read`'s checks. Errors name the file.
  public static func read(from directory: String) throws(PipelineError) -> PreparedSamples {
    let itemsPath = FileSystem.join(directory, itemsFile)
    let usersPath = FileSystem.join(directory, usersFile)
    for path in [itemsPath, usersPath] where !FileSystem.exists(path) {
      throw .invalidArtifact("'\(path)' is missing; rerun the prepare stage with --force")
    }
    var items: [ItemRecord] = []
    for (index, record) in try JSONLines.read(itemsPath).enumerated() {
      try checkLineID(record, line: index + 1, path: itemsPath)
      guard var object = record.objectValue, let rawID = object["raw_id"]?.stringValue else {
        throw .invalidArtifact(
          "'\(itemsPath)' line \(index + 1): field 'raw_id' must be a string; rerun the prepare stage with --force")
      }
      let title = object["title"]?.stringValue
      if let value = object["title"], value != .null, title == nil {
        throw .invalidArtifact(
          "'\(itemsPath)' line \(index + 1): field 'title' must be a string or null, found \(value.typeName)")
      }
      for key in reservedItemKeys { object[key] = nil }
      items.append(ItemRecord(rawID: rawID, title: title, metadata: object))
    }
    var users: [String] = []
    for (index, record) in try JSONLines.read(usersPath).enumerated() {
      try checkLineID(record, line: index + 1, path: usersPath)
      guard let rawID = record["raw_id"]?.stringValue else {
        throw .invalidArtifact(
          "'\(usersPath)' line \(index + 1): field 'raw_id' must be a string; rerun the prepare stage with --force")
      }
      users.append(rawID)
    }
    var splits: [SplitName: SampleSet] = [:]
    for split in SplitName.allCases {
      splits[split] = try SampleSet.read(split, from: directory, userCount: users.count, itemCount: items.count)
    }
    return PreparedSamples(items: items, users: users, splits: splits)
  }

  static func checkLineID(_ record: JSONValue, line: Int, path: String) throws(PipelineError) {
    guard case .integer(let id)? = record["id"] else {
      throw .invalidArtifact(
        "'\(path)' line \(line): field 'id' must be an integer; rerun the prepare stage with --force")
    }
    guard id == Int64(line) else {
      throw .invalidArtifact(
        "'\(path)' line \(line) has id \(id), expected \(line) (ids follow line order); rerun the prepare stage with --force"
      )
    }
  }
}
