extension PipelineReport {
  /// The sections of the report, in page order: one per stage kind, after the overview.
  struct SectionKind {
    var id: String
    var title: String
    /// The stages whose entries the section shows.
    var stages: [String]
  }

  static let sectionKinds = [
    SectionKind(id: "data", title: "Data: ingest and prepare", stages: ["ingest", "prepare"]),
    SectionKind(id: "titles", title: "Titles: tokenizer and trie", stages: ["tokenizer", "trie"]),
    SectionKind(id: "models", title: "CF models", stages: ["cf"]),
    SectionKind(id: "soft-labels", title: "Soft labels", stages: ["soft-labels"]),
  ]

  /// The whole report as one self-contained HTML page: inline CSS and SVG, no script, no font, no
  /// image, no link to anything outside the file.
  public func html() -> String {
    var page = ReportPage()
    page.raw(
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        + "<title>\(ReportText.escape("\(name): TCA4Rec pipeline report"))</title><style>\(Self.styleSheet)</style></head><body>"
    )
    header(&page)
    page.raw("<main>")
    contents(&page)
    overview(&page)
    let known = Set(Self.sectionKinds.flatMap(\.stages))
    for kind in Self.sectionKinds where entries.contains(where: { kind.stages.contains($0.stage) }) {
      page.openSection(id: kind.id, title: kind.title)
      for entry in entries where kind.stages.contains(entry.stage) { entrySection(entry, page: &page) }
      page.closeSection()
    }
    let others = entries.filter { !known.contains($0.stage) }
    if !others.isEmpty {
      page.openSection(id: "other", title: "Other stages")
      for entry in others { entrySection(entry, page: &page) }
      page.closeSection()
    }
    page.raw(
      "<footer>Written by <code>tca report</code> from the store and the ledger; the same store and ledger give the same file. Charts are inline SVG; hover a bar or point for its value.</footer></main></body></html>\n"
    )
    return page.html
  }

  /// The anchor of an entry's sub-section.
  static func anchor(_ entry: ReportEntry) -> String { "entry-" + entry.name }

  /// The title block: pipeline name, description and the newest run.
  func header(_ page: inout ReportPage) {
    page.raw("<header><div class=\"inner\"><p class=\"kicker\">TCA4Rec pipeline report</p>")
    page.element("h1", name)
    if let description { page.element("p", description, class: "description") }
    let stored = entries.filter(\.isStored).count
    var line = "\(entries.count) stages, \(stored) of them in the store"
    if let lastRun {
      line +=
        " · last run #\(lastRun.id) (\(lastRun.command)) started \(lastRun.startedAt)"
        + (lastRun.finishedAt.map { ", finished \($0)" } ?? "") + ", \(lastRun.status)"
    } else {
      line += " · never run in this store"
    }
    page.element("p", line, class: "meta")
    page.raw("</div></header>")
  }

  /// The table of contents.
  func contents(_ page: inout ReportPage) {
    page.raw("<nav class=\"toc\"><h2>Contents</h2><ol><li><a href=\"#overview\">Pipeline overview</a></li>")
    for kind in Self.sectionKinds {
      let members = entries.filter { kind.stages.contains($0.stage) }
      guard !members.isEmpty else { continue }
      page.raw("<li><a href=\"#\(kind.id)\">\(ReportText.escape(kind.title))</a><ul>")
      for entry in members {
        page.raw(
          "<li><a href=\"#\(ReportText.escape(Self.anchor(entry)))\">\(ReportText.escape(entry.name))</a>\(entry.isStored ? "" : " <span class=\"badge missing\">not computed</span>")</li>"
        )
      }
      page.raw("</ul></li>")
    }
    if entries.contains(where: { entry in !Self.sectionKinds.contains { $0.stages.contains(entry.stage) } }) {
      page.raw("<li><a href=\"#other\">Other stages</a></li>")
    }
    page.raw("</ol></nav>")
  }

  /// One entry: its heading, then what its stage kind shows, or why it is not there.
  func entrySection(_ entry: ReportEntry, page: inout ReportPage) {
    let detail =
      entry.name == entry.stage ? "key \(entry.key.prefix(12))" : "\(entry.stage) · key \(entry.key.prefix(12))"
    page.entryHeading(id: Self.anchor(entry), title: entry.name, detail: detail)
    guard entry.isStored else {
      let reasons = entry.missingReasons.isEmpty ? "" : " (\(entry.missingReasons.joined(separator: "; ")))"
      page.notice(
        "<b>Not computed.</b> "
          + ReportPage.text("The store has no entry for this stage's key \(entry.key.prefix(12))\(reasons). ")
          + "Compute it with " + ReportPage.code("tca run \(argument) --only \(entry.name)") + " (or "
          + ReportPage.code("tca run \(argument)") + " for the whole pipeline), then write the report again.",
        kind: "missing")
      return
    }
    for problem in entry.problems {
      page.notice("<b>Could not read:</b> " + ReportPage.text(problem), kind: "problem")
    }
    switch entry.stage {
    case "ingest": ingestSection(entry, page: &page)
    case "prepare": prepareSection(entry, page: &page)
    case "tokenizer": tokenizerSection(entry, page: &page)
    case "trie": trieSection(entry, page: &page)
    case "cf": modelSection(entry, page: &page)
    case "soft-labels": softLabelsSection(entry, page: &page)
    default:
      page.paragraph(ReportPage.text("\(entry.fileCount) files, \(ReportText.bytes(entry.bytes))."))
    }
  }

  static let styleSheet = """
    :root{--ink:#1f2328;--muted:#59636e;--line:#d8dee4;--panel:#f6f8fa;--accent:#4269d0}
    *{box-sizing:border-box}
    body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
    header{background:#1d2a45;color:#fff}
    header .inner{max-width:1180px;margin:0 auto;padding:26px 40px 22px}
    header h1{margin:0;font-size:30px}
    header .kicker{margin:0;text-transform:uppercase;letter-spacing:.08em;font-size:12px;color:#aebbd6}
    header .description{margin:6px 0 0;font-size:17px;color:#e4e9f2}
    header .meta{margin:8px 0 0;font-size:13px;color:#aebbd6}
    main{max-width:1180px;margin:0 auto;padding:8px 40px 48px}
    h2{font-size:22px;margin:0 0 12px}
    h3{font-size:18px;margin:26px 0 10px}
    h3 small{font-weight:400;color:var(--muted);font-size:13px;margin-left:6px}
    h4{font-size:15px;margin:18px 0 8px}
    section{border-top:1px solid var(--line);margin-top:30px;padding-top:18px}
    nav.toc{margin-top:22px;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 20px}
    nav.toc h2{font-size:16px;margin:0 0 4px}
    nav.toc ol{margin:0;padding-left:20px;columns:2}
    nav.toc ul{margin:0;padding-left:18px}
    a{color:var(--accent);text-decoration:none}
    a:hover{text-decoration:underline}
    .facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:10px 0 16px}
    .fact{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
    .fact b{display:block;font-size:20px;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
    .fact span{color:var(--muted);font-size:13px}
    .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:18px;margin:12px 0}
    figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:12px 14px 8px;background:#fff;min-width:0}
    figcaption{font-weight:600;margin-bottom:4px}
    .legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px;color:var(--muted);margin-bottom:2px}
    .legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
    .note{color:var(--muted);font-size:13px;margin:4px 0 4px}
    .empty{color:var(--muted);font-style:italic}
    svg.chart{display:block;width:100%;height:auto}
    svg.chart text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#59636e}
    svg.chart text.title{font-weight:600;fill:#1f2328;font-size:12px}
    svg .grid{stroke:#edf0f3}
    svg .baseline{stroke:#8c959f}
    svg .guide line{stroke:#d9434f;stroke-dasharray:4 3;stroke-width:1.5}
    svg .guide text{fill:#b42332;font-weight:600}
    svg .callout circle{fill:none;stroke:#b42332;stroke-width:2}
    svg .callout text{fill:#b42332;font-weight:700;font-size:13px}
    svg.dag{margin:6px 0 10px}
    svg.dag .edge{fill:none;stroke:#6b7280;stroke-width:1.6;stroke-linejoin:round}
    svg.dag .box rect{fill:#f6f8fa;stroke:#8c959f;stroke-width:1.5}
    svg.dag .box.computed rect{fill:#eaf7ee;stroke:#2f9a48}
    svg.dag .box.cached rect{fill:#ebf1fc;stroke:#4269d0}
    svg.dag .box.pulled rect{fill:#f3edfc;stroke:#8e5cd9}
    svg.dag .box.missing rect{fill:#fff;stroke:#d9434f;stroke-dasharray:6 4}
    svg.dag text{font:11.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#424a53}
    svg.dag text.name{font:700 13.5px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1f2328}
    .table{overflow-x:auto;margin:8px 0 14px}
    table{border-collapse:collapse;font-size:14px;font-variant-numeric:tabular-nums}
    caption{text-align:left;font-weight:600;padding-bottom:4px;white-space:nowrap}
    th,td{padding:4px 12px 4px 0;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
    th{font-weight:600;color:var(--muted);font-size:13px}
    .num{text-align:right;padding-left:12px;white-space:nowrap}
    td:not(.num){overflow-wrap:anywhere}
    code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;background:#eef1f4;padding:1px 5px;border-radius:4px}
    .badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;background:#eef1f4;color:#424a53}
    .badge.computed{background:#dcf3e3;color:#1a7f37}
    .badge.cached{background:#dfe8fa;color:#2d4fa8}
    .badge.pulled{background:#ece2fb;color:#6a3fb5}
    .badge.missing{background:#fde2e4;color:#b42332}
    .notice{border-left:4px solid #d9434f;background:#fff4f4;padding:8px 12px;margin:8px 0;border-radius:0 6px 6px 0}
    .notice.problem{border-color:#ef8a17;background:#fff8ee}
    .legend-states{font-size:13px;color:var(--muted)}
    footer{margin-top:40px;border-top:1px solid var(--line);padding-top:12px;color:var(--muted);font-size:13px}
    @media (max-width:700px){main,header .inner{padding-left:16px;padding-right:16px}.grid{grid-template-columns:1fr}nav.toc ol{columns:1}}
    """
}
