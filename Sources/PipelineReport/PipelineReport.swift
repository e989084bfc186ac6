import ArtifactFormats
import PipelineCore
import PipelineGraph

/// Everything `tca report` shows about one pipeline, gathered from the store and the ledger without
/// running anything: the entries with the keys the current definition gives them (as `tca status`),
/// their reports, curves and metrics, and the pipeline's runs. `html()` renders it.
///
/// Deterministic: the same store and ledger give the same report, byte for byte (nothing depends on
/// the clock, the host or the order of a directory listing).
public struct PipelineReport: Sendable {
  public var name: String
  public var description: String?
  /// The pipeline as the user named it (`demo`, `path/to/file.yaml`), for the commands the report
  /// suggests.
  public var argument: String
  /// In run order.
  public var entries: [ReportEntry]
  /// The pipeline's newest run in this store.
  public var lastRun: Ledger.RunSummary?

  public init(
    name: String, description: String?, argument: String, entries: [ReportEntry], lastRun: Ledger.RunSummary?
  ) {
    self.name = name
    self.description = description
    self.argument = argument
    self.entries = entries
    self.lastRun = lastRun
  }

  /// JSON documents and JSON Lines files a section may draw from, read when an entry has them.
  static let documentFiles = ["report.json", "metrics.json", "model.json"]
  static let recordFiles = ["curve.jsonl", "shard_stats.jsonl"]
  static let splits = ["train", "valid", "test"]

  /// Reads what the report shows from `runner`'s store and ledger. An entry missing from the store,
  /// or a file of an entry that cannot be read, becomes a note in the report, never an error.
  ///
  /// - Parameters:
  ///   - runner: the runner of the pipeline over the store (its plan gives every entry's key).
  ///   - argument: the pipeline as the user named it.
  public static func gather(runner: PipelineRunner, argument: String) throws(PipelineError)
    -> PipelineReport
  {
    let statuses = Dictionary(uniqueKeysWithValues: try runner.status().map { ($0.entry, $0) })
    let ledger = runner.store.ledger
    let pipeline = runner.graph.name
    var entries: [ReportEntry] = []
    for node in runner.graph.nodes {
      let name = node.entry.name
      guard let status = statuses[name] else { continue }
      var entry = ReportEntry(
        name: name, stage: node.stage.name, key: status.key, inputs: node.inputs,
        isStored: status.isCached)
      entry.missingReasons = status.reasons
      entry.lastRun = try ledger.latestStageRecord(pipeline: pipeline, entry: name)
      entry.artifact = try ledger.artifact(key: status.key)
      if status.isCached { readFiles(of: &entry, directory: runner.store.entryPath(status.key)) }
      entries.append(entry)
    }
    return PipelineReport(
      name: pipeline, description: runner.graph.description, argument: argument, entries: entries,
      lastRun: try ledger.latestRun(pipeline: pipeline))
  }

  /// Fills an entry's documents, records and history lengths from its store directory.
  static func readFiles(of entry: inout ReportEntry, directory: String) {
    do {
      let manifest = try Manifest.read(directory: directory)
      entry.fileCount = manifest.files.count
      entry.bytes = manifest.files.reduce(0) { $0 + $1.size }
    } catch {
      entry.problems.append(error.description)
    }
    for file in documentFiles {
      let path = FileSystem.join(directory, file)
      guard FileSystem.exists(path) else { continue }
      do {
        entry.documents[file] = try ArtifactJSON.read(path, stage: entry.stage)
      } catch {
        entry.problems.append(error.description)
      }
    }
    for file in recordFiles {
      let path = FileSystem.join(directory, file)
      guard FileSystem.exists(path) else { continue }
      do {
        entry.records[file] = try JSONLines.read(path)
      } catch {
        entry.problems.append(error.description)
      }
    }
    for split in splits {
      let path = FileSystem.join(directory, "\(split).history.offsets.npy")
      guard FileSystem.exists(path) else { continue }
      do {
        let offsets = try NumPyArray.read(UInt64.self, from: path).values
        var counts: [Int] = []
        for (start, end) in zip(offsets, offsets.dropFirst()) where end >= start {
          let length = Int(end - start)
          if length >= counts.count { counts += [Int](repeating: 0, count: length - counts.count + 1) }
          counts[length] += 1
        }
        entry.historyLengths[split] = counts
      } catch {
        entry.problems.append(error.description)
      }
    }
  }
}
