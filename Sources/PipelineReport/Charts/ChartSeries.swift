/// One named series of a chart: points joined by a line, drawn as points, or both.
public struct ChartSeries: Sendable, Equatable {
  public enum Style: Sendable, Equatable {
    case line, points, lineAndPoints
    /// A thin dashed line (references such as the equal-popularity diagonal).
    case reference
  }

  /// One data point; `label` is its tooltip (an SVG `<title>`), made from the values when `nil`.
  public struct Point: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var label: String?

    public init(x: Double, y: Double, label: String? = nil) {
      self.x = x
      self.y = y
      self.label = label
    }
  }

  public var name: String
  public var points: [Point]
  public var style: Style

  public init(name: String, points: [Point], style: Style = .lineAndPoints) {
    self.name = name
    self.points = points
    self.style = style
  }
}

/// One axis of a chart: its title and whether it is logarithmic.
public struct ChartAxis: Sendable, Equatable {
  public var title: String
  public var isLogarithmic: Bool
  /// Start a linear axis at zero (counts, shares).
  public var includesZero: Bool
  /// Fix the domain instead of fitting it to the data (shares: 0…1).
  public var fixedDomain: ClosedRange<Double>?

  public init(
    _ title: String, logarithmic: Bool = false, includesZero: Bool = false, domain: ClosedRange<Double>? = nil
  ) {
    self.title = title
    isLogarithmic = logarithmic
    self.includesZero = includesZero
    fixedDomain = domain
  }
}

/// The colours of series, in order (colour-blind-safe, readable on white).
enum ChartPalette {
  static let colors = ["#4269d0", "#ef8a17", "#3ca951", "#d9434f", "#8e5cd9", "#6cc5b0", "#9c6b4e", "#ff8ab7"]

  static func color(_ index: Int) -> String { colors[index % colors.count] }
}
