import PipelineCore

extension PipelineReport {
  /// A soft-labels entry: its configuration, then per split the positions, branching and entropy by
  /// depth, the target-probability histogram and the top-k coverage per shard.
  func softLabelsSection(_ entry: ReportEntry, page: inout ReportPage) {
    guard let report = entry.report else { return missingReport(entry, page: &page) }
    let configuration = report["configuration"]
    page.paragraph(
      "Configuration: "
        + ["k", "beta", "dtype", "exclude_history", "shard_samples", "zstd_level", "prompt_template"].compactMap {
          field in
          guard let value = configuration?[field], value != .null else { return nil }
          let text = value.stringValue ?? value.canonicalText()
          // A prompt template runs to paragraphs: its start says which one it is.
          return ReportPage.code("\(field)=\(text.count > 60 ? text.prefix(59) + "…" : text)")
        }.joined(separator: " ") + ReportPage.text(". Entry size \(ReportText.bytes(entry.bytes))."), class: "note")
    let splits = report["splits"]?.objectValue ?? [:]
    let order = Self.splits.filter { splits[$0] != nil } + splits.keys.filter { !Self.splits.contains($0) }.sorted()
    for split in order {
      guard let statistics = splits[split] else { continue }
      softLabelSplit(entry, split: split, statistics: statistics, k: configuration?["k"], page: &page)
    }
  }

  func softLabelSplit(
    _ entry: ReportEntry, split: String, statistics: JSONValue, k: JSONValue?, page: inout ReportPage
  ) {
    page.element("h4", "Split \(split)")
    func integer(_ field: String) -> String { ReportText.integer(statistics[field]?.integerValue ?? 0) }
    func decimal(_ field: String, _ digits: Int) -> String {
      ReportText.decimal(statistics[field]?.numberValue ?? .nan, digits: digits)
    }
    func percent(_ field: String) -> String { ReportText.percent(statistics[field]?.numberValue ?? .nan) }
    page.facts([
      ("samples", integer("samples")), ("label positions", integer("positions")),
      ("positions per sample", decimal("positions_per_sample", 2)),
      ("branching positions", percent("branching_share")),
      ("mean entropy (nats)", decimal("mean_entropy", 3)),
      ("mean entropy where branching", decimal("mean_entropy_branching", 3)),
      ("mean target probability", decimal("mean_target_probability", 3)),
      ("mean top-k coverage", percent("mean_topk_coverage")),
      ("target within the top k", percent("target_in_topk")),
      ("soft entries per position", decimal("soft_entries_per_position", 2)),
      ("shards", integer("shards")),
      ("compressed", ReportText.bytes(statistics["zip_bytes"]?.integerValue ?? 0)),
      ("compression ratio", decimal("compression_ratio", 2) + "×"),
      ("bytes per sample", decimal("zip_bytes_per_sample", 0)),
    ])
    let depths = statistics["by_depth"]?.arrayValue ?? []
    let categories = depths.map { String($0["depth"]?.integerValue ?? 0) }
    let positions = depths.map { $0["positions"]?.numberValue ?? 0 }
    let branching = depths.map { $0["branching"]?.numberValue ?? 0 }
    page.openGrid()
    page.chart(
      BarChart(
        title: "\(split): positions by depth", categories: categories, xTitle: "position in the title (trie depth)",
        yAxis: ChartAxis("label positions"),
        series: [.init(name: "all positions", values: positions), .init(name: "branching", values: branching)]),
      caption: "Label positions by depth",
      note: "A branching position's trie node has more than one child, so its soft label is more than the target token."
    )
    page.chart(
      LineChart(
        title: "\(split): branching share and entropy by depth", xAxis: ChartAxis("position in the title (trie depth)"),
        yAxis: ChartAxis("share of positions · nats", includesZero: true),
        series: [
          ChartSeries(
            name: "branching share",
            points: zip(depths, zip(positions, branching)).compactMap { depth, counts in
              guard counts.0 > 0, let index = depth["depth"]?.numberValue else { return nil }
              return ChartSeries.Point(
                x: index, y: counts.1 / counts.0,
                label: "depth \(Int(index)): \(ReportText.percent(counts.1 / counts.0)) of positions branch")
            }),
          ChartSeries(
            name: "mean entropy (nats)",
            points: depths.compactMap { depth in
              guard let index = depth["depth"]?.numberValue, let entropy = depth["mean_entropy"]?.numberValue else {
                return nil
              }
              return ChartSeries.Point(
                x: index, y: entropy,
                label: "depth \(Int(index)): mean entropy \(ReportText.decimal(entropy, digits: 3)) nats")
            }),
        ]),
      caption: "Branching share and entropy by position",
      note: "Entropy of the stored soft label per position, averaged over every position at that depth.")
    let histogram = statistics["target_probability_histogram"]
    let counts = histogram?["counts"]?.arrayValue?.compactMap(\.numberValue) ?? []
    let width = 1 / Double(max(counts.count, 1))
    page.chart(
      BarChart(
        title: "\(split): target-token probability",
        categories: counts.indices.map { ReportText.tick(Double($0) * width, step: width) },
        xTitle: "probability of the target token (bin start)", yAxis: ChartAxis("branching positions"),
        series: [.init(name: "positions", values: counts)]),
      caption: "Target-token probability at branching positions",
      note: "How much of the soft label's mass the true next token gets, over the positions with a choice.")
    // Closes the grid (the shard table goes under it, full width).
    coverageChart(entry, split: split, k: k, depths: depths, page: &page)
  }

  /// The top-k coverage (kept mass over branching positions) by depth from `by_depth` (soft-labels
  /// version 5 on), else per shard from `shard_stats.jsonl`; and the shard table.
  func coverageChart(
    _ entry: ReportEntry, split: String, k: JSONValue?, depths: [JSONValue], page: inout ReportPage
  ) {
    let shards = (entry.records["shard_stats.jsonl"] ?? []).filter { $0["split"]?.stringValue == split }
    func value(_ record: JSONValue, _ field: String) -> Double { record[field]?.numberValue ?? 0 }
    let coverage = shards.map {
      value($0, "branching_positions") > 0 ? value($0, "kept_mass_sum") / value($0, "branching_positions") : 0
    }
    let kept =
      "Share of the probability mass the kept top \(k.map { $0.stringValue ?? $0.canonicalText() } ?? "k") children carry, averaged over branching positions"
    let byDepth = depths.compactMap { depth -> ChartSeries.Point? in
      guard let index = depth["depth"]?.numberValue, let share = depth["mean_topk_coverage"]?.numberValue else {
        return nil
      }
      return ChartSeries.Point(
        x: index, y: share, label: "depth \(Int(index)): the top k keep \(ReportText.percent(share, digits: 2))")
    }
    if !byDepth.isEmpty {
      page.chart(
        LineChart(
          title: "\(split): top-k coverage by depth", xAxis: ChartAxis("position in the title (trie depth)"),
          yAxis: ChartAxis("mean kept mass where branching", domain: 0...1),
          series: [ChartSeries(name: "top-k coverage", points: byDepth)]),
        caption: "Top-k coverage by position",
        note: kept + " at that depth (depths without a branching position have no point).")
    } else if !shards.isEmpty {
      page.chart(
        BarChart(
          title: "\(split): top-k coverage per shard",
          categories: shards.map { String($0["shard"]?.integerValue ?? 0) },
          xTitle: "shard", yAxis: ChartAxis("mean kept mass where branching", domain: 0...1),
          series: [.init(name: "top-k coverage", values: coverage)]),
        caption: "Top-k coverage per shard",
        note: kept + ". (Soft labels written before stage version 5 record no coverage per depth.)")
    }
    page.closeGrid()
    guard !shards.isEmpty else { return }
    let entries = shards.map { value($0, "positions") > 0 ? value($0, "kept_children") / value($0, "positions") : 0 }
    let names = shards.map { "shard \($0["shard"]?.integerValue ?? 0)" }
    page.table(
      ["shard", "samples", "positions", "branching", "soft entries / position", "coverage", "mean target probability"],
      shards.indices.map { index in
        let shard = shards[index]
        return [
          names[index], ReportText.integer(Int64(value(shard, "samples"))),
          ReportText.integer(Int64(value(shard, "positions"))),
          ReportText.integer(Int64(value(shard, "branching_positions"))), ReportText.decimal(entries[index], digits: 2),
          ReportText.percent(coverage[index], digits: 2),
          ReportText.decimal(
            value(shard, "branching_positions") > 0
              ? value(shard, "target_probability_sum") / value(shard, "branching_positions") : .nan,
            digits: 3),
        ]
      }, numeric: [1, 2, 3, 4, 5, 6], caption: "Shards of split \(split)")
  }
}
