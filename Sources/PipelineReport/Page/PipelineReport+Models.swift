import PipelineCore

extension PipelineReport {
  /// The metric names of a metrics object (`HR@K`, `NDCG@K`), HR first, then by K.
  static func metricNames(_ metrics: JSONValue?) -> [String] {
    func cutoff(_ name: String) -> Int { Int(name.split(separator: "@").last ?? "") ?? 0 }
    return (metrics?.objectValue?.keys.filter { $0.contains("@") } ?? []).sorted {
      let (left, right) = ($0.split(separator: "@").first ?? "", $1.split(separator: "@").first ?? "")
      return left != right ? left < right : cutoff($0) < cutoff($1)
    }
  }

  /// One CF model: its card, the metrics on valid and test, and the training curve. When the
  /// pipeline has several models, the first one's section starts with a table comparing them.
  func modelSection(_ entry: ReportEntry, page: inout ReportPage) {
    let models = entries.filter { $0.stage == "cf" }
    if models.count > 1 && models.first?.name == entry.name { modelComparison(models, page: &page) }
    let card = entry.documents["model.json"]
    let metrics = entry.documents["metrics.json"]
    var facts: [(label: String, value: String)] = []
    if let architecture = card?["architecture"]?.stringValue { facts.append(("model", architecture)) }
    if let parameters = card?["details"]?["parameters"]?.integerValue {
      facts.append(("parameters", ReportText.integer(parameters)))
    }
    if let items = card?["item_count"]?.integerValue { facts.append(("items scored", ReportText.integer(items))) }
    if let best = metrics?["best_epoch"]?.integerValue, let epochs = metrics?["epochs"]?.integerValue {
      facts.append(("best epoch", "\(best) of \(epochs)"))
    }
    if let stopped = card?["details"]?["stopped"]?.stringValue { facts.append(("stopped by", stopped)) }
    if let seconds = entry.artifact?.seconds { facts.append(("training time", ReportText.seconds(seconds))) }
    page.facts(facts)
    if let hyperparameters = card?["hyperparameters"]?.objectValue, !hyperparameters.isEmpty {
      page.paragraph(
        "Hyperparameters: "
          + hyperparameters.sorted { $0.key < $1.key }.map { ReportPage.code("\($0.key)=\($0.value.canonicalText())") }
          .joined(separator: " "), class: "note")
    }
    let names = Self.metricNames(metrics?["valid"] ?? metrics?["test"])
    if !names.isEmpty {
      page.table(
        ["split"] + names + ["samples"],
        ["valid", "test"].compactMap { split in
          guard let values = metrics?[split] else { return nil }
          return [split] + names.map { ReportText.decimal(values[$0]?.numberValue ?? .nan, digits: 4) }
            + [ReportText.integer(values["count"]?.integerValue ?? 0)]
        }, numeric: Set(1...(names.count + 1)),
        caption:
          "Full-ranking metrics over all items (\(metrics?["exclude_history"]?.boolValue == true ? "history items excluded" : "history items kept"))"
      )
    }
    curveCharts(entry, metrics: metrics, page: &page)
  }

  /// The training curve: loss per epoch, and the valid metrics per epoch, with the best epoch marked.
  func curveCharts(_ entry: ReportEntry, metrics: JSONValue?, page: inout ReportPage) {
    let curve = entry.records["curve.jsonl"] ?? []
    // A closed-form model (EASE, popularity) writes one record without a loss: nothing to draw.
    guard curve.count > 1 || curve.contains(where: { $0["loss"]?.numberValue != nil }) else {
      page.paragraph(
        ReportPage.text("No training curve: this model is solved in closed form, not trained by epochs."),
        class: "note")
      return
    }
    let best = metrics?["best_epoch"]?.numberValue
    var loss = LineChart(
      title: "\(entry.name): training loss per epoch", xAxis: ChartAxis("epoch"),
      yAxis: ChartAxis("mean training loss"),
      series: [
        ChartSeries(
          name: "loss",
          points: curve.compactMap { record in
            guard let epoch = record["epoch"]?.numberValue, let value = record["loss"]?.numberValue else { return nil }
            return ChartSeries.Point(
              x: epoch, y: value, label: "epoch \(Int(epoch)): loss \(ReportText.decimal(value, digits: 4))")
          })
      ])
    let shown = ["NDCG@10", "HR@10"].filter { name in curve.contains { $0["valid"]?[name] != nil } }
    var valid = LineChart(
      title: "\(entry.name): valid metrics per epoch", xAxis: ChartAxis("epoch"),
      yAxis: ChartAxis("on the valid samples", includesZero: true),
      series: shown.map { name in
        ChartSeries(
          name: name,
          points: curve.compactMap { record in
            guard let epoch = record["epoch"]?.numberValue, let value = record["valid"]?[name]?.numberValue else {
              return nil
            }
            return ChartSeries.Point(
              x: epoch, y: value, label: "epoch \(Int(epoch)): \(name) \(ReportText.decimal(value, digits: 4))")
          })
      })
    if let best {
      loss.guides = [LineChart.Guide(.vertical, at: best, label: "best epoch \(Int(best))")]
      valid.guides = loss.guides
    }
    page.openGrid()
    page.chart(loss, caption: "Training loss")
    page.chart(
      valid, caption: "Valid metrics during training",
      note: "The model of the best epoch (highest valid NDCG@10) is the one kept.")
    page.closeGrid()
  }

  /// Every CF model of the pipeline side by side.
  func modelComparison(_ models: [ReportEntry], page: inout ReportPage) {
    let names = ["NDCG@10", "HR@10", "NDCG@20", "HR@20"]
    page.table(
      ["model entry", "model"] + names.map { "test \($0)" } + ["valid NDCG@10", "training time"],
      models.map { model in
        guard model.isStored else {
          return [model.name, "not computed"] + Array(repeating: "–", count: names.count + 2)
        }
        let metrics = model.documents["metrics.json"]
        return [model.name, model.documents["model.json"]?["architecture"]?.stringValue ?? "?"]
          + names.map { ReportText.decimal(metrics?["test"]?[$0]?.numberValue ?? .nan, digits: 4) }
          + [
            ReportText.decimal(metrics?["valid"]?["NDCG@10"]?.numberValue ?? .nan, digits: 4),
            model.artifact.map { ReportText.seconds($0.seconds) } ?? "–",
          ]
      }, numeric: Set(2...(names.count + 3)), caption: "The pipeline's CF models compared")
  }
}
