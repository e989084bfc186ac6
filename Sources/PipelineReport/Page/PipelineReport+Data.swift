import ArtifactFormats
import PipelineCore

extension PipelineReport {
  /// The ingest report: source, counts, and skipped lines by reason.
  func ingestSection(_ entry: ReportEntry, page: inout ReportPage) {
    guard let report = entry.report else { return missingReport(entry, page: &page) }
    var facts: [(label: String, value: String)] = []
    if let source = report["source"]?.stringValue { facts.append(("source", source)) }
    for field in ["users", "items", "events", "items_with_title", "lines_read", "skipped_lines"] {
      if let value = report[field]?.integerValue {
        facts.append((field.replacing("_", with: " "), ReportText.integer(value)))
      }
    }
    page.facts(facts)
    if let time = report["time"]?.stringValue { page.paragraph(ReportPage.text("Timestamps: \(time)."), class: "note") }
    let skipped = (report["skipped"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
    if !skipped.isEmpty {
      page.table(
        ["reason", "lines skipped"],
        skipped.map { [$0.key, ReportText.integer(Self.skippedCount($0.value))] }, numeric: [1],
        caption: "Skipped lines by reason")
    }
  }

  /// A skipped-lines entry is a count, or an object with one.
  static func skippedCount(_ value: JSONValue) -> Int64 {
    value.integerValue ?? value["count"]?.integerValue ?? value["lines"]?.integerValue ?? 0
  }

  /// The prepare report: counts after every step, samples and history lengths per split, degree
  /// distributions and the popularity long tail.
  func prepareSection(_ entry: ReportEntry, page: inout ReportPage) {
    guard let report = entry.report else { return missingReport(entry, page: &page) }
    let steps = report["steps"]?.arrayValue ?? []
    if let protocolName = report["protocol"]?.stringValue {
      page.paragraph(
        "Protocol " + ReportPage.code(protocolName)
          + ReportPage.text("; " + (report["id_order"]?.stringValue ?? "") + "."),
        class: "note")
    }
    page.table(
      ["step", "users", "items", "events"],
      steps.map { step in
        [step["step"]?.stringValue ?? "?"]
          + ["users", "items", "events"].map { ReportText.integer(step[$0]?.integerValue ?? 0) }
      }, numeric: [1, 2, 3], caption: "Users, items and events after each step")
    page.openGrid()
    if let input = steps.first {
      let kinds = ["users", "items", "events"]
      page.chart(
        BarChart(
          title: "share of the input kept after each step",
          categories: steps.map { ($0["step"]?.stringValue ?? "?").replacing("k-core pass", with: "k-core") },
          xTitle: "step", yAxis: ChartAxis("share of the input kept", domain: 0...1),
          series: kinds.map { kind in
            let total = Double(input[kind]?.integerValue ?? 0)
            return BarChart.Series(
              name: kind,
              values: steps.map { total > 0 ? Double($0[kind]?.integerValue ?? 0) / total : 0 })
          }),
        caption: "What each filter keeps", note: "Each bar is a share of the input's users, items or events.")
    }
    historyChart(entry, report: report, page: &page)
    page.closeGrid()
    degreeCharts(report, page: &page)
  }

  /// History lengths per split, as shares of the split's samples, from `<split>.history.offsets.npy`.
  func historyChart(_ entry: ReportEntry, report: JSONValue, page: inout ReportPage) {
    let splits = Self.splits.filter { (entry.historyLengths[$0]?.reduce(0, +) ?? 0) > 0 }
    let series = splits.map { split in
      let counts = entry.historyLengths[split]!
      let total = Double(counts.reduce(0, +))
      return ChartSeries(
        name: split,
        points: counts.enumerated().compactMap { length, count in
          count == 0
            ? nil
            : ChartSeries.Point(
              x: Double(length), y: Double(count) / total,
              label: "\(split): \(ReportText.integer(count)) samples with \(length) history items")
        }, style: .line)
    }
    let summary = splits.compactMap { split -> String? in
      guard let lengths = report["history_length"]?[split], let mean = lengths["mean"]?.numberValue else { return nil }
      return
        "\(split): \(ReportText.integer(report["samples"]?[split]?.integerValue ?? 0)) samples, history \(lengths["min"]?.integerValue ?? 0)–\(lengths["max"]?.integerValue ?? 0), mean \(ReportText.decimal(mean, digits: 1))"
    }
    page.chart(
      LineChart(
        title: "history length per split", xAxis: ChartAxis("history length (items)", includesZero: true),
        yAxis: ChartAxis("share of the split's samples", includesZero: true), series: series),
      caption: "History lengths", note: summary.isEmpty ? nil : summary.joined(separator: "; ") + ".")
  }

  /// Degree distributions of users and items (log-binned, log-log) and the items' long tail.
  func degreeCharts(_ report: JSONValue, page: inout ReportPage) {
    guard let users = DegreeHistogram(json: report["degrees"]?["users"]),
      let items = DegreeHistogram(json: report["degrees"]?["items"])
    else {
      page.paragraph(
        ReportPage.text(
          "This samples artifact has no degree histograms (written by an older prepare); rerun prepare to see the degree distributions and the long tail."
        ), class: "note")
      return
    }
    let tail = LongTail(items)
    let top = tail.interactionShare(ofTopItems: 0.2)
    page.element("h4", "Degrees and popularity")
    page.facts([
      (
        "interactions per user (mean)",
        ReportText.decimal(Double(users.interactions) / Double(max(users.entities, 1)), digits: 1)
      ),
      (
        "interactions per item (mean)",
        ReportText.decimal(Double(items.interactions) / Double(max(items.entities, 1)), digits: 1)
      ),
      ("most active user", ReportText.integer(users.bins.last?.degree ?? 0)),
      ("most popular item", ReportText.integer(items.bins.last?.degree ?? 0)),
      ("interactions held by the top 20% of items", ReportText.percent(top)),
      ("Gini of item popularity", ReportText.decimal(tail.gini, digits: 3)),
    ])
    page.openGrid()
    let series = [("users", users), ("items", items)].map { name, distribution in
      ChartSeries(
        name: name,
        points: distribution.logBins().map { bin in
          ChartSeries.Point(
            x: bin.center, y: bin.density,
            label:
              "\(ReportText.integer(bin.count)) \(name) with \(bin.lower == bin.upper ? "\(bin.lower)" : "\(bin.lower)–\(bin.upper)") interactions"
          )
        })
    }
    page.chart(
      LineChart(
        title: "degree distributions", xAxis: ChartAxis("interactions (degree), log scale", logarithmic: true),
        yAxis: ChartAxis("users or items per degree, log scale", logarithmic: true), series: series),
      caption: "Degree distributions",
      note: "Log-binned (5 bins per decade): each point is the number of users or items per unit of degree in its bin.")
    var chart = LineChart(
      title: "popularity long tail", xAxis: ChartAxis("share of items, most popular first", domain: 0...1),
      yAxis: ChartAxis("share of interactions", domain: 0...1),
      series: [
        ChartSeries(
          name: "items",
          points: tail.points.map {
            ChartSeries.Point(
              x: $0.itemShare, y: $0.interactionShare,
              label:
                "top \(ReportText.percent($0.itemShare)) of items: \(ReportText.percent($0.interactionShare)) of interactions"
            )
          }, style: .line),
        ChartSeries(name: "equal popularity", points: [.init(x: 0, y: 0), .init(x: 1, y: 1)], style: .reference),
      ])
    chart.guides = [LineChart.Guide(.vertical, at: 0.2, label: "20% of items")]
    chart.callouts = [
      LineChart.Callout(x: 0.2, y: top, text: "top 20% of items hold \(ReportText.percent(top)) of interactions")
    ]
    page.chart(
      chart, caption: "Popularity long tail",
      note:
        "Cumulative share of interactions against the share of items sorted by popularity; the dashed diagonal is every item equally popular."
    )
    page.closeGrid()
  }

  /// Says that a stored entry has no readable `report.json`.
  func missingReport(_ entry: ReportEntry, page: inout ReportPage) {
    page.notice(
      ReportPage.text("This entry has no readable report.json; check it with ") + ReportPage.code("tca validate")
        + ReportPage.text(" or recompute it with ") + ReportPage.code("tca run \(argument) --force \(entry.name)")
        + ".",
      kind: "problem")
  }
}
