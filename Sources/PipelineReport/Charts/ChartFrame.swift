/// The shared geometry of every chart: a fixed view box, the plot area inside the margins, and the
/// axes with grid lines and titles. Charts scale with the page through the view box.
struct ChartFrame {
  static let width = 640.0
  static let height = 300.0
  static let left = 64.0
  static let right = 20.0
  static let top = 16.0
  static let bottom = 48.0

  var plotLeft: Double { Self.left }
  var plotRight: Double { Self.width - Self.right }
  var plotTop: Double { Self.top }
  var plotBottom: Double { Self.height - Self.bottom }

  /// `<svg class="chart …">`; `label` (escaped here) is the accessible name.
  static func open(label: String, kind: String) -> String {
    let c = ReportText.coordinate
    return
      "<svg class=\"chart \(kind)\" viewBox=\"0 0 \(c(width)) \(c(height))\" role=\"img\" aria-label=\"\(ReportText.escape(label))\">"
  }

  /// Grid lines and tick labels of the y axis, and its title.
  func yAxis(_ scale: ChartScale, title: String) -> String {
    let c = ReportText.coordinate
    var svg = "<g class=\"axis y\">"
    for tick in scale.ticks() {
      let y = c(scale.position(tick.value))
      svg +=
        "<line class=\"grid\" x1=\"\(c(plotLeft))\" x2=\"\(c(plotRight))\" y1=\"\(y)\" y2=\"\(y)\"/>"
        + "<text x=\"\(c(plotLeft - 6))\" y=\"\(y)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(ReportText.escape(tick.label))</text>"
    }
    svg +=
      "<text class=\"title\" transform=\"translate(14 \(c((plotTop + plotBottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(ReportText.escape(title))</text>"
    return svg + "</g>"
  }

  /// Grid lines and tick labels of a numeric x axis, and its title.
  func xAxis(_ scale: ChartScale, title: String) -> String {
    let c = ReportText.coordinate
    var svg = "<g class=\"axis x\">"
    for tick in scale.ticks() {
      let x = c(scale.position(tick.value))
      svg +=
        "<line class=\"grid\" x1=\"\(x)\" x2=\"\(x)\" y1=\"\(c(plotTop))\" y2=\"\(c(plotBottom))\"/>"
        + "<text x=\"\(x)\" y=\"\(c(plotBottom + 16))\" text-anchor=\"middle\">\(ReportText.escape(tick.label))</text>"
    }
    return svg + axisTitle(title) + "</g>"
  }

  /// The x axis title, under the tick labels.
  func axisTitle(_ text: String) -> String {
    let c = ReportText.coordinate
    return
      "<text class=\"title\" x=\"\(c((plotLeft + plotRight) / 2))\" y=\"\(c(Self.height - 8))\" text-anchor=\"middle\">\(ReportText.escape(text))</text>"
  }

  /// The base line under the plot.
  func baseline() -> String {
    let c = ReportText.coordinate
    return
      "<line class=\"baseline\" x1=\"\(c(plotLeft))\" x2=\"\(c(plotRight))\" y1=\"\(c(plotBottom))\" y2=\"\(c(plotBottom))\"/>"
  }

  /// A scale along the x axis of the plot area.
  func horizontalScale(_ values: [Double], axis: ChartAxis) -> ChartScale {
    ChartScale(
      values: values + (axis.fixedDomain.map { [$0.lowerBound, $0.upperBound] } ?? []),
      logarithmic: axis.isLogarithmic, start: plotLeft, end: plotRight, includeZero: axis.includesZero)
  }

  /// A scale along the y axis of the plot area (upwards).
  func verticalScale(_ values: [Double], axis: ChartAxis) -> ChartScale {
    ChartScale(
      values: values + (axis.fixedDomain.map { [$0.lowerBound, $0.upperBound] } ?? []),
      logarithmic: axis.isLogarithmic, start: plotBottom, end: plotTop, includeZero: axis.includesZero)
  }
}
