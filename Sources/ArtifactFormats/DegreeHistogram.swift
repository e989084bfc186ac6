import PipelineCore

/// How many users (or items) have each number of interactions: an exact, sparse histogram of degrees,
/// sorted by degree. `report.json` of the samples artifact carries one for users and one for items of
/// the final events (`degrees.users`, `degrees.items`: `[[degree, count], …]`); the prepare stage
/// writes them and `tca report` draws degree distributions and the popularity long tail from them
/// (the histories are cut to `max_history`, so the samples alone cannot give them).
public struct DegreeHistogram: Equatable, Sendable {
  /// `count` users (or items) have exactly `degree` interactions.
  public struct Bin: Equatable, Sendable {
    public var degree: Int
    public var count: Int

    public init(degree: Int, count: Int) {
      self.degree = degree
      self.count = count
    }
  }

  /// Ascending by degree; every degree at least 1 and every count at least 1.
  public var bins: [Bin]

  /// Keeps the entries with a positive degree and count, sorted by degree.
  public init(bins: [Bin]) {
    self.bins = bins.filter { $0.degree > 0 && $0.count > 0 }.sorted { $0.degree < $1.degree }
  }

  /// Reads `[[degree, count], …]`; `nil` when the value is not that shape.
  public init?(json: JSONValue?) {
    guard let pairs = json?.arrayValue else { return nil }
    var bins: [Bin] = []
    for pair in pairs {
      guard let values = pair.arrayValue, values.count == 2, let degree = values[0].integerValue,
        let count = values[1].integerValue
      else { return nil }
      bins.append(Bin(degree: Int(degree), count: Int(count)))
    }
    self.init(bins: bins)
  }

  /// The histogram of per-entity interaction counts; entities without interactions are left out.
  ///
  /// - Complexity: O(*n* + *d* log *d*) for *n* degrees with *d* distinct values.
  public init(degrees: some Sequence<Int>) {
    var counts: [Int: Int] = [:]
    for degree in degrees where degree > 0 { counts[degree, default: 0] += 1 }
    bins = counts.keys.sorted().map { Bin(degree: $0, count: counts[$0]!) }
  }

  /// The histogram of how often each id occurs in `ids` (ids below `idCount`).
  public init(occurrencesOf ids: some Sequence<UInt32>, idCount: Int) {
    var degrees = [Int](repeating: 0, count: idCount)
    for id in ids { degrees[Int(id)] += 1 }
    self.init(degrees: degrees)
  }

  /// The number of interactions the histogram accounts for: Σ degree × count.
  public var interactions: Int { bins.reduce(0) { $0 + $1.degree * $1.count } }

  /// The number of users (or items) with at least one interaction.
  public var entities: Int { bins.reduce(0) { $0 + $1.count } }

  /// `[[degree, count], …]`.
  public var json: JSONValue { .array(bins.map { [JSONValue($0.degree), JSONValue($0.count)] }) }
}
