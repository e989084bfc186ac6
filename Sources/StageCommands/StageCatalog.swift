import ArtifactFormats
import BPETokenizer
import CollaborativeFiltering
import Interactions
import LogIngest
import PipelineGraph
import SoftLabels
import TitleTrie

/// Every stage this build knows, for the driver and `tca validate`.
public let stageRegistry = StageRegistry([
  IngestStage.self, PrepareStage.self, TokenizerStage.self, TrieStage.self, CFStage.self, SoftLabelsStage.self,
])
