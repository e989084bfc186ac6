/// The names and shapes of a network's parameters, in the order they are stored, initialised and
/// written (for SASRec the order of the official model's `state_dict`).
public struct ParameterLayout: Sendable {
  /// One named tensor: `count` values from `offset` of the flat storage.
  public struct Entry: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var offset: Int
    public var count: Int { shape.reduce(1, *) }
  }

  public private(set) var entries: [Entry] = []
  /// The number of scalar parameters.
  public private(set) var count = 0

  public init() {}

  /// Appends a tensor and returns its index.
  @discardableResult
  public mutating func add(_ name: String, shape: [Int]) -> Int {
    precondition(!entries.contains { $0.name == name }, "parameter '\(name)' appears twice")
    entries.append(Entry(name: name, shape: shape, offset: count))
    count += shape.reduce(1, *)
    return entries.count - 1
  }

  public func index(of name: String) -> Int? { entries.firstIndex { $0.name == name } }
}
