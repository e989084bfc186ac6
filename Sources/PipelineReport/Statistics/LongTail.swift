import ArtifactFormats

/// The popularity long tail of a degree distribution: items sorted from most to least popular, the
/// cumulative share of interactions against the share of items (a Lorenz curve read from the top).
public struct LongTail: Sendable, Equatable {
  /// After the most popular `itemShare` of the items come `interactionShare` of the interactions.
  public struct Point: Sendable, Equatable {
    public var itemShare: Double
    public var interactionShare: Double
  }

  /// From (0, 0) to (1, 1), one point after each group of items with equal degree; the curve is
  /// exactly linear between them.
  public var points: [Point]

  public init(_ distribution: DegreeHistogram) {
    let items = Double(distribution.entities)
    let interactions = Double(distribution.interactions)
    points = [Point(itemShare: 0, interactionShare: 0)]
    guard items > 0 && interactions > 0 else { return }
    var itemsSoFar = 0
    var interactionsSoFar = 0
    for bin in distribution.bins.reversed() {
      itemsSoFar += bin.count
      interactionsSoFar += bin.count * bin.degree
      points.append(
        Point(itemShare: Double(itemsSoFar) / items, interactionShare: Double(interactionsSoFar) / interactions))
    }
  }

  /// The share of interactions held by the most popular `itemShare` (0…1) of the items; a share
  /// that ends inside a group of equally popular items takes that fraction of the group.
  public func interactionShare(ofTopItems itemShare: Double) -> Double {
    let share = min(max(itemShare, 0), 1)
    for (previous, point) in zip(points, points.dropFirst()) where point.itemShare >= share {
      let width = point.itemShare - previous.itemShare
      let fraction = width > 0 ? (share - previous.itemShare) / width : 1
      return previous.interactionShare + fraction * (point.interactionShare - previous.interactionShare)
    }
    return points.last?.interactionShare ?? 0
  }

  /// The Gini coefficient of item popularity: 0 when every item has the same degree, towards 1 when a
  /// few items hold everything (twice the area between this curve and the diagonal).
  public var gini: Double {
    guard points.count > 1 else { return 0 }
    var area = 0.0
    for (previous, point) in zip(points, points.dropFirst()) {
      area += (point.itemShare - previous.itemShare) * (point.interactionShare + previous.interactionShare) / 2
    }
    return 2 * area - 1
  }
}
