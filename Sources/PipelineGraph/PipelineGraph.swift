import ArtifactFormats
import PipelineCore

/// A validated pipeline: every entry's stage exists, every parameter is known and well typed, every
/// input names an entry, and there is no cycle. Entries are in a topological order that keeps file
/// order where dependencies allow.
public struct PipelineGraph: Sendable {
  public struct Node: Sendable {
    public var entry: PipelineEntry
    public var stage: any PipelineStage.Type
    public var parameters: StageParameters
    /// Input name → producing entry.
    public var inputs: [String: String]
    /// Raw files by role, as given (relative to the data root, or absolute).
    public var rawFiles: [String: String]
  }

  public var name: String
  public var file: String
  /// The pipeline file's `description:`.
  public var description: String?
  public var nodes: [Node]

  public func node(_ entry: String) -> Node? { nodes.first { $0.entry.name == entry } }

  /// Validates the whole definition before anything runs (CONVENTIONS.md §11).
  public init(definition: PipelineDefinition, registry: StageRegistry) throws(PipelineError) {
    name = definition.name
    file = definition.file
    description = definition.description
    var resolved: [String: Node] = [:]
    let entryNames = Set(definition.entries.map(\.name))
    guard !definition.entries.isEmpty else { throw .usage("\(definition.file): the pipeline has no stages") }
    for entry in definition.entries {
      let location = "\(entry.file):\(entry.line)"
      guard let stage = registry.stage(named: entry.stage) else {
        throw .usage(
          "\(location): stage '\(entry.name)' uses unknown stage '\(entry.stage)' (known: \(registry.names.joined(separator: ", ")))"
        )
      }
      let parameters = try stage.resolveParameters(entry.params, entry: entry.name, file: location)
      var inputs: [String: String] = [:]
      let declared = Dictionary(uniqueKeysWithValues: stage.inputs.map { ($0.name, $0) })
      for name in entry.inputs.keys.sorted() where declared[name] == nil {
        throw .usage(
          "\(location): stage '\(entry.name)': unknown input '\(name)' (\(stage.name) takes: \(stage.inputs.map(\.name).joined(separator: ", ")))"
        )
      }
      for input in stage.inputs {
        let producer = entry.inputs[input.name] ?? input.producer
        guard entryNames.contains(producer) else {
          throw .usage(
            "\(location): stage '\(entry.name)': input '\(input.name)' needs stage '\(producer)', which the pipeline does not define; add it or set inputs.\(input.name)"
          )
        }
        guard producer != entry.name else {
          throw .usage("\(location): stage '\(entry.name)': input '\(input.name)' names the stage itself (a cycle)")
        }
        inputs[input.name] = producer
      }
      let rawFiles = try stage.rawFiles(parameters)
      resolved[entry.name] = Node(
        entry: entry, stage: stage, parameters: parameters, inputs: inputs, rawFiles: rawFiles)
    }
    // Kahn's algorithm, taking ready entries in file order.
    var order: [Node] = []
    var done: Set<String> = []
    var remaining = definition.entries.map(\.name)
    while !remaining.isEmpty {
      guard let index = remaining.firstIndex(where: { name in resolved[name]!.inputs.values.allSatisfy(done.contains) })
      else {
        let cycle = remaining.joined(separator: ", ")
        let first = resolved[remaining[0]]!.entry
        throw .usage("\(first.file):\(first.line): stages \(cycle) form a cycle through their inputs")
      }
      let name = remaining.remove(at: index)
      done.insert(name)
      order.append(resolved[name]!)
    }
    nodes = order
  }

  /// The entries `targets` depend on, with the targets, in run order.
  public func closure(of targets: Set<String>) -> [Node] {
    var needed = targets
    for node in nodes.reversed() where needed.contains(node.entry.name) {
      needed.formUnion(node.inputs.values)
    }
    return nodes.filter { needed.contains($0.entry.name) }
  }
}
