/// The pipeline's DAG as SVG: one box per entry, in columns by topological layer (an entry sits one
/// column right of its furthest input), with arrows from each input to the entry that reads it.
public struct PipelineDiagram: Sendable, Equatable {
  /// One entry of the pipeline.
  public struct Box: Sendable, Equatable {
    public var name: String
    /// Lines under the name (stage, key, timing, size).
    public var lines: [String]
    /// The CSS class of the box: `computed`, `cached`, `pulled`, `missing`, ….
    public var state: String
    /// The entries it reads, which must come before it in `boxes`.
    public var inputs: [String]

    public init(name: String, lines: [String], state: String, inputs: [String]) {
      self.name = name
      self.lines = lines
      self.state = state
      self.inputs = inputs
    }
  }

  /// In topological order (every input before the entries that read it).
  public var boxes: [Box]

  public init(boxes: [Box]) {
    self.boxes = boxes
  }

  static let boxWidth = 178.0
  static let lineHeight = 15.0
  static let columnGap = 54.0
  static let rowGap = 18.0
  static let margin = 10.0
  /// Vertical distance between the lanes of arrows that skip columns.
  static let laneGap = 9.0
  /// Longer names are cut with an ellipsis to fit the box.
  static let nameLimit = 22

  /// Each box's column: 0 without inputs, else one more than its furthest input's.
  func layers() -> [Int] {
    var layer: [String: Int] = [:]
    return boxes.map { box in
      let value = box.inputs.compactMap { layer[$0] }.max().map { $0 + 1 } ?? 0
      layer[box.name] = value
      return value
    }
  }

  /// An arrow from one box to another: where it leaves and where it arrives.
  struct Edge {
    var source: String
    var target: String
    var start: (x: Double, y: Double)
    var end: (x: Double, y: Double)
    /// Set for an arrow that skips a column: it runs in a lane above the boxes instead of through them.
    var lane: Int?
  }

  public func svg() -> String {
    let c = ReportText.coordinate
    let layers = layers()
    let layerOf = Dictionary(zip(boxes.map(\.name), layers), uniquingKeysWith: { first, _ in first })
    let boxHeight = Self.lineHeight * Double(1 + (boxes.map(\.lines.count).max() ?? 0)) + 14
    let links = boxes.flatMap { box in box.inputs.filter { layerOf[$0] != nil }.map { (source: $0, target: box.name) } }
    let longLinks = links.filter { layerOf[$0.target]! - layerOf[$0.source]! > 1 }
    let laneSpace = longLinks.isEmpty ? 0 : Double(longLinks.count) * Self.laneGap + 12
    var row: [Int: Int] = [:]
    var frames: [String: (x: Double, y: Double)] = [:]
    for (box, layer) in zip(boxes, layers) {
      let index = row[layer, default: 0]
      row[layer] = index + 1
      frames[box.name] = (
        Self.margin + Double(layer) * (Self.boxWidth + Self.columnGap),
        Self.margin + laneSpace + Double(index) * (boxHeight + Self.rowGap)
      )
    }
    // Arrows leave and arrive spread along the box's side, in the order of the boxes at their other end.
    func port(_ name: String, _ index: Int, of count: Int) -> Double {
      frames[name]!.y + boxHeight * Double(index + 1) / Double(count + 1)
    }
    var edges: [Edge] = []
    for link in links {
      let outgoing = links.filter { $0.source == link.source }
      let incoming = links.filter { $0.target == link.target }
      let out = outgoing.firstIndex { $0.target == link.target }!
      let into = incoming.firstIndex { $0.source == link.source }!
      edges.append(
        Edge(
          source: link.source, target: link.target,
          start: (frames[link.source]!.x + Self.boxWidth, port(link.source, out, of: outgoing.count)),
          end: (frames[link.target]!.x - 2, port(link.target, into, of: incoming.count)),
          lane: longLinks.firstIndex { $0.source == link.source && $0.target == link.target }))
    }
    let columns = (layers.max() ?? 0) + 1
    let rows = row.values.max() ?? 1
    let width = 2 * Self.margin + Double(columns) * Self.boxWidth + Double(columns - 1) * Self.columnGap
    let height = 2 * Self.margin + laneSpace + Double(rows) * boxHeight + Double(rows - 1) * Self.rowGap
    var svg =
      "<svg class=\"chart dag\" viewBox=\"0 0 \(c(width)) \(c(height))\" style=\"max-width:\(c(width))px\" role=\"img\" aria-label=\"pipeline stages and their inputs\">"
      + "<defs><marker id=\"dag-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0 L10 5 L0 10 z\" fill=\"#6b7280\"/></marker></defs>"
      + "<g class=\"marks\">"
    for edge in edges {
      let path: String
      if let lane = edge.lane {
        // Up into the gap after the source's column, along the lane, down in the gap before the target.
        let laneY = Self.margin + 6 + Double(lane) * Self.laneGap
        let out = edge.start.x + Self.columnGap / 2 - Double(lane) * 4
        let into = edge.end.x - Self.columnGap / 2 + Double(lane) * 4
        path =
          "M\(c(edge.start.x)) \(c(edge.start.y)) L\(c(out)) \(c(edge.start.y)) L\(c(out)) \(c(laneY)) L\(c(into)) \(c(laneY)) L\(c(into)) \(c(edge.end.y)) L\(c(edge.end.x)) \(c(edge.end.y))"
      } else {
        let bend = (edge.end.x - edge.start.x) / 2
        path =
          "M\(c(edge.start.x)) \(c(edge.start.y)) C\(c(edge.start.x + bend)) \(c(edge.start.y)) \(c(edge.end.x - bend)) \(c(edge.end.y)) \(c(edge.end.x)) \(c(edge.end.y))"
      }
      svg +=
        "<path class=\"edge\" d=\"\(path)\" marker-end=\"url(#dag-arrow)\"><title>\(ReportText.escape("\(edge.source) → \(edge.target)"))</title></path>"
    }
    for box in boxes {
      guard let frame = frames[box.name] else { continue }
      let name = box.name.count > Self.nameLimit ? String(box.name.prefix(Self.nameLimit - 1)) + "…" : box.name
      svg +=
        "<g class=\"box \(ReportText.escape(box.state))\"><title>\(ReportText.escape(([box.name] + box.lines).joined(separator: "\n")))</title>"
        + "<rect x=\"\(c(frame.x))\" y=\"\(c(frame.y))\" width=\"\(c(Self.boxWidth))\" height=\"\(c(boxHeight))\" rx=\"8\"/>"
        + "<text class=\"name\" x=\"\(c(frame.x + 10))\" y=\"\(c(frame.y + 20))\">\(ReportText.escape(name))</text>"
      for (index, line) in box.lines.enumerated() {
        svg +=
          "<text x=\"\(c(frame.x + 10))\" y=\"\(c(frame.y + 20 + Self.lineHeight * Double(index + 1)))\">\(ReportText.escape(line))</text>"
      }
      svg += "</g>"
    }
    return svg + "</g></svg>"
  }
}
