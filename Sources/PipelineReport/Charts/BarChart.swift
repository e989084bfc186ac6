/// Bars over categories (histogram bins, pipeline steps), one colour per series, grouped side by side.
public struct BarChart: Sendable, Equatable {
  /// One named set of bar heights, one per category.
  public struct Series: Sendable, Equatable {
    public var name: String
    public var values: [Double]

    public init(name: String, values: [Double]) {
      self.name = name
      self.values = values
    }
  }

  /// The chart's accessible name.
  public var title: String
  public var categories: [String]
  public var xTitle: String
  public var yAxis: ChartAxis
  public var series: [Series]

  public init(title: String, categories: [String], xTitle: String, yAxis: ChartAxis, series: [Series]) {
    self.title = title
    self.categories = categories
    self.xTitle = xTitle
    self.yAxis = yAxis
    self.series = series
  }

  /// Whether there is no bar to draw.
  public var isEmpty: Bool {
    categories.isEmpty || series.allSatisfy { $0.values.allSatisfy { !($0.isFinite && $0 > 0) } }
  }

  /// At most this many category labels are written under the bars (every n-th when there are more).
  static let labelLimit = 16
  static let widestBar = 56.0

  public func svg() -> String {
    let frame = ChartFrame()
    let c = ReportText.coordinate
    var axis = yAxis
    axis.includesZero = !axis.isLogarithmic
    let yScale = frame.verticalScale(series.flatMap(\.values), axis: axis)
    var svg = ChartFrame.open(label: title, kind: "bar-chart")
    svg += frame.yAxis(yScale, title: yAxis.title)
    let band = (frame.plotRight - frame.plotLeft) / Double(max(categories.count, 1))
    // Few categories make wide bands; bars stay at most `widestBar` wide.
    let groupWidth = min(band * (categories.count > 40 ? 0.92 : 0.8), Self.widestBar * Double(max(series.count, 1)))
    let barWidth = groupWidth / Double(max(series.count, 1))
    let every = max(1, (categories.count + Self.labelLimit - 1) / Self.labelLimit)
    svg += "<g class=\"axis x\">"
    for (index, category) in categories.enumerated() where index % every == 0 {
      svg +=
        "<text x=\"\(c(frame.plotLeft + band * (Double(index) + 0.5)))\" y=\"\(c(frame.plotBottom + 16))\" text-anchor=\"middle\">\(ReportText.escape(category))</text>"
    }
    svg += frame.axisTitle(xTitle) + "</g><g class=\"marks\">"
    // Bars stand on zero, or on the lower bound of a log domain (where `position` clamps 0).
    let base = yScale.position(0)
    for (seriesIndex, bars) in series.enumerated() {
      let color = ChartPalette.color(seriesIndex)
      for (index, value) in bars.values.enumerated() where index < categories.count {
        guard value.isFinite && value > 0 else { continue }
        let top = yScale.position(value)
        let x = frame.plotLeft + band * Double(index) + (band - groupWidth) / 2 + barWidth * Double(seriesIndex)
        let label =
          "\(series.count > 1 ? bars.name + ", " : "")\(categories[index]): \(ReportText.tick(value, step: value == value.rounded() ? 1 : 0.001))"
        svg +=
          "<rect x=\"\(c(x))\" y=\"\(c(top))\" width=\"\(c(max(barWidth - 1, 0.5)))\" height=\"\(c(max(base - top, 0.5)))\" fill=\"\(color)\"><title>\(ReportText.escape(label))</title></rect>"
      }
    }
    return svg + "</g>" + frame.baseline() + "</svg>"
  }
}
