import ArtifactFormats
import LogIngest
import PipelineCore

/// The samples of one split, column-wise: per sample a user id, a target item id, the target's
/// timestamp and the history before it (oldest first) as CSR.
///
/// Ids are the public 1-based ids of the `samples` artifact (0 is padding and never appears).
/// On disk: `<split>.user.npy` (uint32), `<split>.target.npy` (uint32), `<split>.timestamp.npy`
/// (int64), `<split>.history.offsets.npy` (uint64, count + 1) and `<split>.history.values.npy` (uint32).
public struct SampleSet: Equatable, Sendable {
  public var users: [UInt32] = []
  public var targets: [UInt32] = []
  public var timestamps: [Int64] = []
  /// `historyOffsets[i]..<historyOffsets[i + 1]` is sample `i`'s range in `historyValues`.
  public var historyOffsets: [UInt64] = [0]
  public var historyValues: [UInt32] = []

  public init() {}

  public init(
    users: [UInt32], targets: [UInt32], timestamps: [Int64], historyOffsets: [UInt64], historyValues: [UInt32]
  ) {
    self.users = users
    self.targets = targets
    self.timestamps = timestamps
    self.historyOffsets = historyOffsets
    self.historyValues = historyValues
  }

  public var count: Int { users.count }
  public var isEmpty: Bool { users.isEmpty }

  /// Sample `index`'s history, oldest first.
  public func history(_ index: Int) -> ArraySlice<UInt32> {
    historyValues[Int(historyOffsets[index])..<Int(historyOffsets[index + 1])]
  }

  public func historyLength(_ index: Int) -> Int {
    Int(historyOffsets[index + 1] - historyOffsets[index])
  }

  public mutating func reserveCapacity(samples: Int, historyValues valueCount: Int) {
    users.reserveCapacity(samples)
    targets.reserveCapacity(samples)
    timestamps.reserveCapacity(samples)
    historyOffsets.reserveCapacity(samples + 1)
    historyValues.reserveCapacity(valueCount)
  }

  public mutating func append(user: UInt32, target: UInt32, timestamp: Int64, history: some Collection<UInt32>) {
    users.append(user)
    targets.append(target)
    timestamps.append(timestamp)
    historyValues.append(contentsOf: history)
    historyOffsets.append(UInt64(historyValues.count))
  }

  /// The samples at `indices`, in that order.
  public func selecting(_ indices: [Int]) -> SampleSet {
    var result = SampleSet()
    result.reserveCapacity(samples: indices.count, historyValues: indices.count * 8)
    for index in indices {
      result.append(user: users[index], target: targets[index], timestamp: timestamps[index], history: history(index))
    }
    return result
  }
}

// MARK: - Files

extension SampleSet {
  /// The five file names of a split, in the order they are written.
  public static func fileNames(_ split: SplitName) -> [String] {
    let prefix = split.rawValue
    return [
      "\(prefix).user.npy", "\(prefix).target.npy", "\(prefix).timestamp.npy", "\(prefix).history.offsets.npy",
      "\(prefix).history.values.npy",
    ]
  }

  /// Writes the split's five `.npy` files into `directory`.
  public func write(_ split: SplitName, to directory: String) throws(PipelineError) {
    let names = Self.fileNames(split)
    try NumPyArray.write(users, to: FileSystem.join(directory, names[0]))
    try NumPyArray.write(targets, to: FileSystem.join(directory, names[1]))
    try NumPyArray.write(timestamps, to: FileSystem.join(directory, names[2]))
    try NumPyArray.write(historyOffsets, to: FileSystem.join(directory, names[3]))
    try NumPyArray.write(historyValues, to: FileSystem.join(directory, names[4]))
  }

  /// Reads a split and checks its invariants: equal lengths, CSR offsets from 0 to the value count
  /// never decreasing, user ids in `1...userCount`, item ids in `1...itemCount`. Errors name the file.
  public static func read(
    _ split: SplitName, from directory: String, userCount: Int, itemCount: Int
  ) throws(PipelineError) -> SampleSet {
    let paths = fileNames(split).map { FileSystem.join(directory, $0) }
    for path in paths where !FileSystem.exists(path) {
      throw .invalidArtifact("'\(path)' is missing; rerun the prepare stage with --force")
    }
    var set = SampleSet()
    set.users = try NumPyArray.read(UInt32.self, from: paths[0]).values
    set.targets = try NumPyArray.read(UInt32.self, from: paths[1]).values
    set.timestamps = try NumPyArray.read(Int64.self, from: paths[2]).values
    set.historyOffsets = try NumPyArray.read(UInt64.self, from: paths[3]).values
    set.historyValues = try NumPyArray.read(UInt32.self, from: paths[4]).values
    let count = set.users.count
    for (path, length) in [(paths[1], set.targets.count), (paths[2], set.timestamps.count)] where length != count {
      throw .invalidArtifact(
        "'\(path)' has \(length) elements but '\(fileNames(split)[0])' has \(count); rerun the prepare stage with --force"
      )
    }
    guard set.historyOffsets.count == count + 1 else {
      throw .invalidArtifact(
        "'\(paths[3])' has \(set.historyOffsets.count) elements, expected \(count + 1) (samples + 1); rerun the prepare stage with --force"
      )
    }
    try checkOffsets(set.historyOffsets, valueCount: set.historyValues.count, path: paths[3])
    try checkIDs(set.users, upperBound: userCount, what: "user", path: paths[0])
    try checkIDs(set.targets, upperBound: itemCount, what: "item", path: paths[1])
    try checkIDs(set.historyValues, upperBound: itemCount, what: "item", path: paths[4])
    return set
  }

  static func checkOffsets(_ offsets: [UInt64], valueCount: Int, path: String) throws(PipelineError) {
    guard offsets.first == 0, offsets.last == UInt64(valueCount) else {
      throw .invalidArtifact(
        "'\(path)' must start at 0 and end at \(valueCount) (the number of history values), found \(offsets.first ?? 0)…\(offsets.last ?? 0); rerun the prepare stage with --force"
      )
    }
    for index in 1..<offsets.count where offsets[index] < offsets[index - 1] {
      throw .invalidArtifact(
        "'\(path)' decreases at element \(index) (\(offsets[index - 1]) then \(offsets[index])); rerun the prepare stage with --force"
      )
    }
  }

  static func checkIDs(_ ids: [UInt32], upperBound: Int, what: String, path: String) throws(PipelineError) {
    let bound = UInt32(clamping: upperBound)
    if let index = ids.firstIndex(where: { $0 == 0 || $0 > bound }) {
      throw .invalidArtifact(
        "'\(path)' element \(index) is \(what) id \(ids[index]), outside 1...\(upperBound); rerun the prepare stage with --force"
      )
    }
  }
}
