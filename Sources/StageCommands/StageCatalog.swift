import ArtifactFormats
import Interactions
import LogIngest
import PipelineGraph

/// Every stage this build knows, for the driver and `tca validate`.
public let stageRegistry = StageRegistry([IngestStage.self, PrepareStage.self])
