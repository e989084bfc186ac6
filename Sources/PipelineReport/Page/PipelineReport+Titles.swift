import PipelineCore

extension PipelineReport {
  /// The tokenizer report: mode, vocabulary and the title corpus.
  func tokenizerSection(_ entry: ReportEntry, page: inout ReportPage) {
    guard let report = entry.report else { return missingReport(entry, page: &page) }
    var facts: [(label: String, value: String)] = []
    for (field, label) in [("mode", "mode"), ("preset", "pre-tokenizer")] {
      if let value = report[field]?.stringValue { facts.append((label, value)) }
    }
    for (field, label) in [("vocab_size", "vocabulary"), ("merges", "merges")] {
      if let value = report[field]?.integerValue { facts.append((label, ReportText.integer(value))) }
    }
    if let corpus = report["corpus"] {
      for (field, label) in [("titles", "titles"), ("words", "words in titles"), ("distinct_words", "distinct words")] {
        if let value = corpus[field]?.integerValue { facts.append((label, ReportText.integer(value))) }
      }
    }
    page.facts(facts)
    if let stop = report["training"]?["stop_reason"]?.stringValue {
      page.paragraph(ReportPage.text("Training stopped: \(stop)."), class: "note")
    }
  }

  /// The trie report: size, branching, nodes and leaves by depth, duplicate titles.
  func trieSection(_ entry: ReportEntry, page: inout ReportPage) {
    guard let report = entry.report else { return missingReport(entry, page: &page) }
    var facts: [(label: String, value: String)] = []
    for (field, label) in [
      ("items", "items"), ("nodes", "nodes"), ("leaves", "leaves"), ("branching_nodes", "branching nodes"),
      ("distinct_first_tokens", "distinct first tokens"), ("max_children", "most children of a node"),
      ("max_depth", "deepest title (tokens)"),
    ] {
      if let value = report[field]?.integerValue { facts.append((label, ReportText.integer(value))) }
    }
    if let depth = report["mean_item_depth"]?.numberValue {
      facts.append(("mean title length (tokens + EOS)", ReportText.decimal(depth, digits: 2)))
    }
    page.facts(facts)
    let nodes = report["depth_histogram"]?["nodes"]?.arrayValue?.compactMap(\.numberValue) ?? []
    let leaves = report["depth_histogram"]?["leaves"]?.arrayValue?.compactMap(\.numberValue) ?? []
    page.openGrid()
    page.chart(
      BarChart(
        title: "trie nodes and leaves by depth", categories: nodes.indices.map(String.init),
        xTitle: "depth (tokens from the root)",
        yAxis: ChartAxis("nodes"), series: [.init(name: "nodes", values: nodes), .init(name: "leaves", values: leaves)]),
      caption: "Trie nodes by depth", note: "A leaf ends a title (its EOS); titles that share a prefix share nodes.")
    if let duplicates = report["duplicate_titles"] {
      page.raw("<div>")
      let groups = duplicates["groups"]?.integerValue ?? 0
      page.paragraph(
        ReportPage.text(
          "\(ReportText.integer(groups)) group\(groups == 1 ? "" : "s") of items share a title (\(ReportText.integer(duplicates["items"]?.integerValue ?? 0)) items); their soft-label mass adds up on one leaf."
        ))
      let examples = duplicates["examples"]?.arrayValue ?? []
      if !examples.isEmpty {
        page.table(
          ["title", "items"],
          examples.map { example in
            [
              example["title"]?.stringValue ?? "",
              ReportText.idList(
                (example["items"]?.arrayValue ?? []).compactMap(\.integerValue),
                total: example["size"]?.integerValue.map(Int.init)),
            ]
          }, caption: "Examples of shared titles")
      }
      let perLeaf = report["items_per_leaf"]?.arrayValue ?? []
      if !perLeaf.isEmpty {
        page.table(
          ["items on the leaf", "leaves"],
          perLeaf.map {
            [ReportText.integer($0["items"]?.integerValue ?? 0), ReportText.integer($0["leaves"]?.integerValue ?? 0)]
          }, numeric: [0, 1])
      }
      page.raw("</div>")
    }
    page.closeGrid()
  }
}
