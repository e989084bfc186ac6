import ArtifactFormats
import PipelineCore
import PipelineGraph
import PipelineReport
import Testing

/// The report's building blocks on hand-worked inputs: escaping, number formats, the long tail,
/// log-binning, and charts that must stay drawable (no NaN) whatever the data.
@Suite struct ReportBuildingBlockTests {
  @Test func escapingMakesMarkupCharactersInert() {
    #expect(
      ReportText.escape("<script>alert('x') & \"y\"</script>")
        == "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;")
    #expect(ReportText.escape("Café — ok") == "Café — ok")
  }

  @Test func numbersAreFormattedWithoutLocaleOrClock() {
    #expect(ReportText.integer(23_744) == "23,744")
    #expect(ReportText.integer(-1_234_567) == "-1,234,567")
    #expect(ReportText.integer(12) == "12")
    #expect(ReportText.percent(0.627) == "62.7%")
    #expect(ReportText.bytes(4_160_513) == "4.16 MB")
    #expect(ReportText.bytes(512) == "512 B")
    #expect(ReportText.decimal(.nan, digits: 3) == "–")
    #expect(ReportText.seconds(18.4) == "18.4 s")
  }

  /// Item degrees 10, 5, 3, 1, 1 (20 interactions, 5 items): the top item (20%) holds 10/20, the
  /// top two 15/20, three 18/20; half the items hold 15/20 + half of the third item's 3/20 = 0.825;
  /// the area under the curve is 0.72, so the Gini coefficient is 0.44.
  @Test func longIdListsAreCutWithTheirCount() {
    #expect(ReportText.idList([231, 303]) == "231, 303")
    #expect(ReportText.idList(Array(1...6)) == "1, 2, 3, 4, 5, 6")
    #expect(ReportText.idList(Array(1...1_075)) == "1, 2, 3, 4, 5, 6, … (1,075 in all)")
    #expect(ReportText.idList([]) == "")
    // The trie report lists 10 of a group's items and gives its size.
    #expect(ReportText.idList(Array(1...10), total: 75) == "1, 2, 3, 4, 5, 6, … (75 in all)")
    #expect(ReportText.idList([231, 303], total: 3) == "231, 303, … (3 in all)")
    #expect(ReportText.idList([231, 303], total: 2) == "231, 303")
  }

  @Test func longTailOfAHandWorkedExample() {
    let histogram = DegreeHistogram(degrees: [10, 5, 3, 1, 1])
    #expect(histogram.bins.map(\.degree) == [1, 3, 5, 10])
    #expect(histogram.interactions == 20 && histogram.entities == 5)
    let tail = LongTail(histogram)
    #expect(tail.points.map(\.itemShare) == [0, 0.2, 0.4, 0.6, 1])
    let shares = tail.points.map(\.interactionShare)
    for (share, expected) in zip(shares, [0, 0.5, 0.75, 0.9, 1.0]) { #expect(abs(share - expected) < 1e-12) }
    #expect(abs(tail.interactionShare(ofTopItems: 0.2) - 0.5) < 1e-12)
    #expect(abs(tail.interactionShare(ofTopItems: 0.5) - 0.825) < 1e-12)
    #expect(abs(tail.interactionShare(ofTopItems: 1) - 1) < 1e-12)
    #expect(abs(tail.gini - 0.44) < 1e-12)
    // Every item equally popular: the diagonal, Gini 0.
    let flat = LongTail(DegreeHistogram(degrees: [4, 4, 4, 4]))
    #expect(abs(flat.interactionShare(ofTopItems: 0.2) - 0.2) < 1e-12)
    #expect(abs(flat.gini) < 1e-12)
    // No items: one point, and no division by zero.
    #expect(LongTail(DegreeHistogram(bins: [])).interactionShare(ofTopItems: 0.2) == 0)
  }

  /// Degrees 1…12 once each, 5 bins per decade: bin starts ⌈10^(k/5)⌉ = 1, 2, 3, 4, 7, 10, 16, so
  /// [1], [2], [3], [4–6], [7–9], [10–15] with 1, 1, 1, 3, 3, 3 entities.
  @Test func logBinningOfAHandWorkedExample() {
    let bins = DegreeHistogram(degrees: Array(1...12)).logBins()
    #expect(bins.map(\.lower) == [1, 2, 3, 4, 7, 10])
    #expect(bins.map(\.upper) == [1, 2, 3, 6, 9, 15])
    #expect(bins.map(\.count) == [1, 1, 1, 3, 3, 3])
    #expect(bins.map(\.density) == [1, 1, 1, 1, 1, 0.5])
    #expect(abs(bins[3].center - 24.0.squareRoot()) < 1e-12)
    // A degree exactly on a decade starts its bin (10^(5/5) is 10, not 11), and empty bins are left out.
    let sparse = DegreeHistogram(bins: [.init(degree: 10, count: 2), .init(degree: 1000, count: 1)]).logBins()
    #expect(sparse.map(\.lower) == [10, 1000])
    #expect(sparse.map(\.count) == [2, 1])
    #expect(DegreeHistogram(bins: []).logBins().isEmpty)
  }

  @Test func degreeHistogramsReadTheirJSONForm() {
    let histogram = DegreeHistogram(json: [[3, 2], [1, 4]])
    #expect(histogram?.bins == [.init(degree: 1, count: 4), .init(degree: 3, count: 2)])
    #expect(histogram?.json == [[1, 4], [3, 2]])
    #expect(DegreeHistogram(json: [[1, 2, 3]]) == nil)
    #expect(DegreeHistogram(json: "users") == nil)
  }

  /// Charts with no point, one point, equal values or zeros on a log axis give finite coordinates.
  @Test func degenerateChartsHaveNoNaNCoordinates() {
    let cases: [[ChartSeries.Point]] = [
      [], [.init(x: 3, y: 7)], [.init(x: 1, y: 5), .init(x: 2, y: 5)], [.init(x: 0, y: 0), .init(x: 0, y: 0)],
      [.init(x: .nan, y: 1), .init(x: 2, y: .infinity)],
    ]
    for points in cases {
      for logarithmic in [false, true] {
        let chart = LineChart(
          title: "t", xAxis: ChartAxis("x", logarithmic: logarithmic),
          yAxis: ChartAxis("y", logarithmic: logarithmic), series: [ChartSeries(name: "s", points: points)])
        let svg = chart.svg()
        #expect(!Self.hasNonFiniteNumber(svg), "\(points) log \(logarithmic): \(svg)")
        #expect(svg.hasPrefix("<svg class=\"chart line-chart\""))
      }
      let bars = BarChart(
        title: "b", categories: points.indices.map(String.init), xTitle: "x", yAxis: ChartAxis("y"),
        series: [.init(name: "s", values: points.map(\.y))])
      #expect(!Self.hasNonFiniteNumber(bars.svg()))
    }
    let single = LineChart(
      title: "t", xAxis: ChartAxis("x"), yAxis: ChartAxis("y"),
      series: [ChartSeries(name: "s", points: [.init(x: 3, y: 7)], style: .line)])
    #expect(single.svg().contains("<circle"), "a single point is drawn as a dot")
    #expect(LineChart(title: "t", xAxis: ChartAxis("x"), yAxis: ChartAxis("y"), series: []).isEmpty)
    #expect(
      BarChart(
        title: "b", categories: ["a"], xTitle: "x", yAxis: ChartAxis("y"), series: [.init(name: "s", values: [0])]
      )
      .isEmpty)
  }

  @Test func chartsEscapeTheirTextAndAreDeterministic() {
    func make() -> LineChart {
      var chart = LineChart(
        title: "<script>&", xAxis: ChartAxis("x <b>"), yAxis: ChartAxis("y & z"),
        series: [ChartSeries(name: "<i>s</i>", points: [.init(x: 1, y: 2), .init(x: 2, y: 3)])])
      chart.callouts = [LineChart.Callout(x: 1, y: 2, text: "top & <tail>")]
      return chart
    }
    let svg = make().svg()
    #expect(svg == make().svg())
    #expect(!svg.contains("<script>") && !svg.contains("<b>") && !svg.contains("<i>"))
    #expect(svg.contains("&lt;script&gt;&amp;") && svg.contains("top &amp; &lt;tail&gt;"))
    let diagram = PipelineDiagram(boxes: [
      .init(name: "a<b", lines: ["x & y"], state: "computed", inputs: []),
      .init(name: "c", lines: [], state: "missing", inputs: ["a<b"]),
      .init(name: "d", lines: [], state: "cached", inputs: ["c", "a<b"]),
    ])
    #expect(diagram.svg() == diagram.svg())
    #expect(diagram.svg().contains("a&lt;b") && !diagram.svg().contains("a<b"))
    #expect(!Self.hasNonFiniteNumber(diagram.svg()))
  }

  /// A whole page from a hand-made report: user text escaped everywhere, a missing entry explained,
  /// nothing external, and the same bytes twice.
  @Test func pageEscapesUserTextAndExplainsMissingEntries() {
    var prepare = ReportEntry(
      name: "prepare", stage: "prepare", key: String(repeating: "ab", count: 32), inputs: [:],
      isStored: true)
    prepare.documents["report.json"] = [
      "protocol": "leave-one-out",
      "steps": [
        ["step": "input", "users": 3, "items": 4, "events": 9], ["step": "final", "users": 3, "items": 4, "events": 9],
      ],
      "samples": ["train": 3, "valid": 3, "test": 3],
      "degrees": ["users": [[2, 1], [3, 1], [4, 1]], "items": [[1, 1], [2, 2], [4, 1]]],
    ]
    prepare.historyLengths["train"] = [0, 2, 1]
    var trie = ReportEntry(
      name: "trie", stage: "trie", key: String(repeating: "cd", count: 32), inputs: ["samples": "prepare"],
      isStored: true)
    trie.documents["report.json"] = [
      "nodes": 5,
      "duplicate_titles": ["groups": 1, "examples": [["title": "<script>alert(1)</script> & co", "items": [1, 2]]]],
    ]
    var cf = ReportEntry(
      name: "cf", stage: "cf", key: String(repeating: "ef", count: 32), inputs: ["samples": "prepare"],
      isStored: false)
    cf.missingReasons = ["never run in this store"]
    let report = PipelineReport(
      name: "demo<&>", description: "a \"quoted\" <b>description</b>", argument: "demo<&>",
      entries: [prepare, trie, cf],
      lastRun: nil)
    let html = report.html()
    #expect(html == report.html())
    #expect(!html.contains("<script>alert") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"))
    #expect(!html.contains("<b>description") && html.contains("&lt;b&gt;description&lt;/b&gt;"))
    #expect(html.contains("<h1>demo&lt;&amp;&gt;</h1>"))
    #expect(html.contains("Not computed.") && html.contains("<code>tca run demo&lt;&amp;&gt; --only cf</code>"))
    #expect(html.contains("top 20% of items hold"))
    #expect(!html.contains("http://") && !html.contains("https://"))
    #expect(!html.contains("<script") && !html.contains("<img") && !html.contains("<link"))
    #expect(!Self.hasNonFiniteNumber(html))
  }

  /// Whether a number in the text is NaN or infinite as Swift or JavaScript would print it.
  static func hasNonFiniteNumber(_ text: String) -> Bool {
    for token in ["nan", "NaN", "inf", "Infinity"] {
      var rest = Substring(text)
      while let range = rest.range(of: token) {
        let before = rest[..<range.lowerBound].last
        let after = rest[range.upperBound...].first
        let isWord = { (character: Character?) in character.map { $0.isLetter } ?? false }
        if !isWord(before) && !isWord(after) { return true }
        rest = rest[range.upperBound...]
      }
    }
    return false
  }
}
