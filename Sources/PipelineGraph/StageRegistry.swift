import ArtifactFormats
import PipelineCore

/// The stages a driver knows, by name. StageCommands builds it from the stage modules, since this
/// module may not import them.
public struct StageRegistry: Sendable {
  public let stages: [String: any PipelineStage.Type]

  public init(_ stages: [any PipelineStage.Type]) {
    self.stages = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0) })
  }

  public func stage(named name: String) -> (any PipelineStage.Type)? { stages[name] }

  public var names: [String] { stages.keys.sorted() }
}
