import PipelineCore

extension PipelineReport {
  /// What happened to an entry, for its badge and its box: the outcome of the newest run when that
  /// run made or found this very key, `stored` when the entry is in the store from elsewhere (an
  /// earlier definition, an import), `missing` when it is not in the store.
  static func state(_ entry: ReportEntry) -> String {
    guard entry.isStored else { return "missing" }
    if let run = entry.lastRun, run.key == entry.key { return run.outcome }
    return "stored"
  }

  /// The headline numbers, the DAG and the table of stages.
  func overview(_ page: inout ReportPage) {
    page.openSection(id: "overview", title: "Pipeline overview")
    page.facts(headlineFacts())
    page.raw(diagram().svg())
    page.paragraph(
      "<span class=\"badge computed\">computed</span> in the newest run · <span class=\"badge cached\">cached</span> found in the store · <span class=\"badge pulled\">pulled</span> from the remote store · <span class=\"badge\">stored</span> in the store, not touched by the newest run · <span class=\"badge missing\">missing</span> not in the store. Arrows go from an input to the stage that reads it.",
      class: "legend-states")
    var rows: [[String]] = []
    for entry in entries {
      let state = Self.state(entry)
      let lastRun = entry.lastRun.map { "#\($0.runID) \($0.runStartedAt)" } ?? "–"
      rows.append([
        ReportPage.text(entry.name), ReportPage.text(entry.stage), ReportPage.code(String(entry.key.prefix(12))),
        "<span class=\"badge \(ReportText.escape(state))\">\(ReportText.escape(state))</span>",
        ReportPage.text(lastRun),
        ReportPage.text(entry.lastRun.map { ReportText.seconds($0.seconds) } ?? "–"),
        ReportPage.text(entry.artifact.map { ReportText.seconds($0.seconds) } ?? "–"),
        ReportPage.text(entry.isStored ? ReportText.bytes(entry.bytes) : "–"),
        ReportPage.text(entry.isStored ? ReportText.integer(entry.fileCount) : "–"),
      ])
    }
    page.table(
      ["stage entry", "stage", "key", "state", "newest run", "time in that run", "compute time", "size", "files"], rows,
      numeric: [5, 6, 7, 8], markup: Set(0..<9),
      caption: "Stages in run order, with the keys tca status computes from the pipeline file")
    page.closeSection()
  }

  /// The pipeline's DAG with each entry's key, state, compute time and size.
  func diagram() -> PipelineDiagram {
    PipelineDiagram(
      boxes: entries.map { entry in
        let state = Self.state(entry)
        var lines = [
          entry.name == entry.stage ? "key \(entry.key.prefix(12))" : "\(entry.stage) · \(entry.key.prefix(12))"
        ]
        if entry.isStored {
          let time = entry.artifact.map { " · \(ReportText.seconds($0.seconds))" } ?? ""
          lines.append(state + time)
          lines.append("\(ReportText.bytes(entry.bytes)) · \(entry.fileCount) files")
        } else {
          lines.append("not computed:")
          lines.append("not in the store")
        }
        return PipelineDiagram.Box(name: entry.name, lines: lines, state: state, inputs: entry.producers)
      })
  }

  /// The first prepare entry's final counts and samples, each CF model's test NDCG@10 and the soft
  /// labels' size.
  func headlineFacts() -> [(label: String, value: String)] {
    var facts: [(label: String, value: String)] = []
    if let prepare = entries.first(where: { $0.stage == "prepare" && $0.isStored }), let report = prepare.report {
      if let final = report["steps"]?.arrayValue?.last {
        for field in ["users", "items", "events"] {
          if let value = final[field]?.integerValue { facts.append((field, ReportText.integer(value))) }
        }
      }
      for split in Self.splits {
        if let count = report["samples"]?[split]?.integerValue {
          facts.append(("\(split) samples", ReportText.integer(count)))
        }
      }
    }
    for model in entries where model.stage == "cf" && model.isStored {
      if let value = model.documents["metrics.json"]?["test"]?["NDCG@10"]?.numberValue {
        facts.append(("test NDCG@10 (\(model.name))", ReportText.decimal(value, digits: 4)))
      }
    }
    for labels in entries where labels.stage == "soft-labels" && labels.isStored {
      if let positions = labels.report?["total"]?["positions"]?.integerValue {
        facts.append(("soft-label positions (\(labels.name))", formatCount(Double(positions))))
      }
      facts.append(("size (\(labels.name))", ReportText.bytes(labels.bytes)))
    }
    return facts
  }
}
