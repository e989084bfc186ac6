/// An HTML page under construction: sections, tables, figures and notices, every piece of text
/// escaped on the way in (titles, names and descriptions are user data).
struct ReportPage {
  private(set) var html = ""

  /// Appends markup that is already safe (made by this type or by the charts).
  mutating func raw(_ markup: String) {
    html += markup
  }

  /// `<tag class="…">escaped text</tag>`.
  mutating func element(_ tag: String, _ text: String, class name: String? = nil) {
    html += "<\(tag)\(name.map { " class=\"\($0)\"" } ?? "")>\(ReportText.escape(text))</\(tag)>"
  }

  /// A paragraph of markup built with `ReportPage.code` and escaped pieces.
  mutating func paragraph(_ markup: String, class name: String? = nil) {
    html += "<p\(name.map { " class=\"\($0)\"" } ?? "")>\(markup)</p>"
  }

  /// `<code>escaped</code>`, for commands and file names inside a sentence.
  static func code(_ text: String) -> String { "<code>\(ReportText.escape(text))</code>" }

  /// Escaped text, for sentences assembled from pieces.
  static func text(_ text: String) -> String { ReportText.escape(text) }

  /// A section with an anchor for the table of contents.
  mutating func openSection(id: String, title: String) {
    html += "<section id=\"\(ReportText.escape(id))\"><h2>\(ReportText.escape(title))</h2>"
  }

  mutating func closeSection() { html += "</section>" }

  /// A sub-section heading for one entry, with its anchor.
  mutating func entryHeading(id: String, title: String, detail: String?) {
    html +=
      "<h3 id=\"\(ReportText.escape(id))\">\(ReportText.escape(title))\(detail.map { " <small>\(ReportText.escape($0))</small>" } ?? "")</h3>"
  }

  /// Big numbers with a label under each.
  mutating func facts(_ items: [(label: String, value: String)]) {
    guard !items.isEmpty else { return }
    html += "<div class=\"facts\">"
    for item in items {
      html +=
        "<div class=\"fact\"><b>\(ReportText.escape(item.value))</b><span>\(ReportText.escape(item.label))</span></div>"
    }
    html += "</div>"
  }

  /// A table; cells are text (escaped here) unless `markup` lists their columns. Columns in
  /// `numeric` are right-aligned.
  mutating func table(
    _ headers: [String], _ rows: [[String]], numeric: Set<Int> = [], markup: Set<Int> = [], caption: String? = nil
  ) {
    html += "<div class=\"table\"><table>"
    if let caption { html += "<caption>\(ReportText.escape(caption))</caption>" }
    html += "<thead><tr>"
    for (index, header) in headers.enumerated() {
      html += "<th\(numeric.contains(index) ? " class=\"num\"" : "")>\(ReportText.escape(header))</th>"
    }
    html += "</tr></thead><tbody>"
    for row in rows {
      html += "<tr>"
      for (index, cell) in row.enumerated() {
        html +=
          "<td\(numeric.contains(index) ? " class=\"num\"" : "")>\(markup.contains(index) ? cell : ReportText.escape(cell))</td>"
      }
      html += "</tr>"
    }
    html += "</tbody></table></div>"
  }

  /// Opens a grid that puts figures side by side on a wide screen.
  mutating func openGrid() { html += "<div class=\"grid\">" }
  mutating func closeGrid() { html += "</div>" }

  /// A figure with a caption, a legend for several series, the chart and a note under it; a chart
  /// without data becomes a sentence that says so (so every drawn chart has content).
  mutating func figure(caption: String, legend: [String], note: String?, isEmpty: Bool, svg: () -> String) {
    html += "<figure><figcaption>\(ReportText.escape(caption))</figcaption>"
    if isEmpty {
      html += "<p class=\"empty\">No data to draw.</p>"
    } else {
      if legend.count > 1 {
        html += "<div class=\"legend\">"
        for (index, name) in legend.enumerated() {
          html +=
            "<span><i style=\"background:\(ChartPalette.color(index))\"></i>\(ReportText.escape(name))</span>"
        }
        html += "</div>"
      }
      html += svg()
    }
    if let note { html += "<p class=\"note\">\(ReportText.escape(note))</p>" }
    html += "</figure>"
  }

  mutating func chart(_ chart: LineChart, caption: String, note: String? = nil) {
    figure(
      caption: caption, legend: chart.series.filter { $0.style != .reference }.map(\.name), note: note,
      isEmpty: chart.isEmpty, svg: chart.svg)
  }

  mutating func chart(_ chart: BarChart, caption: String, note: String? = nil) {
    figure(caption: caption, legend: chart.series.map(\.name), note: note, isEmpty: chart.isEmpty, svg: chart.svg)
  }

  /// A highlighted box: `missing` (an entry not in the store) or `problem` (a file that did not read).
  mutating func notice(_ markup: String, kind: String) {
    html += "<div class=\"notice \(kind)\">\(markup)</div>"
  }
}
