import PipelineCore
import PipelineGraph

/// One entry of the pipeline as the report shows it: where it stands in the store and the ledger, and
/// the files its section is drawn from.
public struct ReportEntry: Sendable {
  public var name: String
  /// The stage it runs (`ingest`, `prepare`, `cf`, …).
  public var stage: String
  /// The key the pipeline's current definition gives it (as `tca status` computes it).
  public var key: String
  /// The entries it reads, by input name.
  public var inputs: [String: String]
  /// Whether the store has the entry of `key`.
  public var isStored: Bool
  /// Why it is not in the store (`tca status`'s reasons); empty when stored.
  public var missingReasons: [String] = []
  /// The entry in the pipeline's newest run that reached it.
  public var lastRun: Ledger.StageRecord?
  /// The ledger's record of the entry of `key`: when it was made here and its compute time.
  public var artifact: Ledger.ArtifactRecord?
  /// The entry's files and their total size, from its manifest.
  public var fileCount = 0
  public var bytes: Int64 = 0
  /// JSON files of the entry by name (`report.json`, `metrics.json`, `model.json`).
  public var documents: [String: JSONValue] = [:]
  /// JSON Lines files of the entry by name (`curve.jsonl`, `shard_stats.jsonl`).
  public var records: [String: [JSONValue]] = [:]
  /// Per split with samples (`<split>.history.offsets.npy`): how many samples have each history
  /// length, index = length.
  public var historyLengths: [String: [Int]] = [:]
  /// Files that could not be read, with why; the section says so instead of failing the report.
  public var problems: [String] = []

  /// An entry with nothing read yet (`PipelineReport.gather` fills the rest).
  public init(
    name: String, stage: String, key: String, inputs: [String: String], isStored: Bool
  ) {
    self.name = name
    self.stage = stage
    self.key = key
    self.inputs = inputs
    self.isStored = isStored
  }

  /// The producing entries, in input-name order.
  public var producers: [String] { inputs.sorted { $0.key < $1.key }.map(\.value) }

  /// `report.json`, when the entry has a readable one.
  public var report: JSONValue? { documents["report.json"] }
}
