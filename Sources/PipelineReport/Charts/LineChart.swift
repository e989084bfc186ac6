/// A chart of points on two numeric axes (linear or logarithmic), joined by lines: training curves,
/// degree distributions, the long-tail curve. Deterministic SVG: the same chart gives the same bytes.
public struct LineChart: Sendable, Equatable {
  /// A dashed line across the plot at one value, with a label.
  public struct Guide: Sendable, Equatable {
    public enum Orientation: Sendable, Equatable { case vertical, horizontal }
    public var orientation: Orientation
    public var value: Double
    public var label: String

    public init(_ orientation: Orientation, at value: Double, label: String) {
      self.orientation = orientation
      self.value = value
      self.label = label
    }
  }

  /// A marked point with a sentence beside it.
  public struct Callout: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var text: String

    public init(x: Double, y: Double, text: String) {
      self.x = x
      self.y = y
      self.text = text
    }
  }

  /// The chart's accessible name.
  public var title: String
  public var xAxis: ChartAxis
  public var yAxis: ChartAxis
  public var series: [ChartSeries]
  public var guides: [Guide] = []
  public var callouts: [Callout] = []

  public init(title: String, xAxis: ChartAxis, yAxis: ChartAxis, series: [ChartSeries]) {
    self.title = title
    self.xAxis = xAxis
    self.yAxis = yAxis
    self.series = series
  }

  /// Whether there is nothing to draw (the page then says so instead of showing empty axes).
  public var isEmpty: Bool { series.allSatisfy { $0.points.isEmpty } }

  /// Points drawn as dots as well as a line when a series has at most this many.
  static let dottedLimit = 60

  public func svg() -> String {
    let frame = ChartFrame()
    let c = ReportText.coordinate
    let points = series.flatMap(\.points)
    let xValues = points.map(\.x) + callouts.map(\.x) + guides.filter { $0.orientation == .vertical }.map(\.value)
    let yValues = points.map(\.y) + callouts.map(\.y) + guides.filter { $0.orientation == .horizontal }.map(\.value)
    let xScale = frame.horizontalScale(xValues, axis: xAxis)
    let yScale = frame.verticalScale(yValues, axis: yAxis)
    var svg = ChartFrame.open(label: title, kind: "line-chart")
    svg += frame.yAxis(yScale, title: yAxis.title) + frame.xAxis(xScale, title: xAxis.title) + frame.baseline()
    svg += "<g class=\"marks\">"
    for (index, line) in series.enumerated() {
      let color = ChartPalette.color(index)
      let positioned = line.points.map { (x: xScale.position($0.x), y: yScale.position($0.y), point: $0) }
      let drawsLine = line.style != .points && positioned.count >= 2
      if drawsLine {
        let path = positioned.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(c($0.element.x)) \(c($0.element.y))" }
          .joined(separator: " ")
        let reference = line.style == .reference
        svg +=
          "<path class=\"\(reference ? "reference" : "line")\" d=\"\(path)\" fill=\"none\" stroke=\"\(reference ? "#8a8f98" : color)\" stroke-width=\"\(reference ? "1.5" : "2")\"\(reference ? " stroke-dasharray=\"5 4\"" : "")><title>\(ReportText.escape(line.name))</title></path>"
      }
      let drawsDots =
        line.style == .points || positioned.count == 1
        || (line.style == .lineAndPoints && positioned.count <= Self.dottedLimit)
      if drawsDots && line.style != .reference {
        for item in positioned {
          let tooltip =
            item.point.label
            ?? "\(line.name): \(ReportText.tick(item.point.x, step: 0.001)), \(ReportText.tick(item.point.y, step: 0.0001))"
          svg +=
            "<circle cx=\"\(c(item.x))\" cy=\"\(c(item.y))\" r=\"3\" fill=\"\(color)\"><title>\(ReportText.escape(tooltip))</title></circle>"
        }
      }
    }
    svg += "</g>"
    for guide in guides {
      if guide.orientation == .vertical {
        let position = xScale.position(guide.value)
        // The label goes on the side of the line with more room.
        let rightHalf = position > (frame.plotLeft + frame.plotRight) / 2
        let x = c(position)
        svg +=
          "<g class=\"guide\"><line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(c(frame.plotTop))\" y2=\"\(c(frame.plotBottom))\"/>"
          + "<text x=\"\(c(rightHalf ? position - 4 : position + 4))\" y=\"\(c(frame.plotTop - 4))\" text-anchor=\"\(rightHalf ? "end" : "start")\">\(ReportText.escape(guide.label))</text></g>"
      } else {
        let y = c(yScale.position(guide.value))
        svg +=
          "<g class=\"guide\"><line x1=\"\(c(frame.plotLeft))\" x2=\"\(c(frame.plotRight))\" y1=\"\(y)\" y2=\"\(y)\"/>"
          + "<text x=\"\(c(frame.plotRight - 4))\" y=\"\(c(yScale.position(guide.value) - 5))\" text-anchor=\"end\">\(ReportText.escape(guide.label))</text></g>"
      }
    }
    for callout in callouts {
      let x = xScale.position(callout.x)
      let y = yScale.position(callout.y)
      let rightHalf = x > (frame.plotLeft + frame.plotRight) / 2
      svg +=
        "<g class=\"callout\"><circle cx=\"\(c(x))\" cy=\"\(c(y))\" r=\"5\"/>"
        + "<text x=\"\(c(rightHalf ? x - 10 : x + 10))\" y=\"\(c(y + 18))\" text-anchor=\"\(rightHalf ? "end" : "start")\">\(ReportText.escape(callout.text))</text></g>"
    }
    return svg + "</svg>"
  }
}
