import ArtifactFormats
import LogIngest
import PipelineCore
import TitleTrie

/// What `tca validate` checks in a soft-label directory, beyond the manifest's file hashes: the MDS
/// structure (exact index keys, every shard's size and sha256 before and after decompression,
/// offsets, columns) and the labels' meaning against the trie stored beside them.
enum SoftLabelsValidation {
  /// Per-position probability sums may exceed 1 by rounding only.
  static let sumTolerance = 1e-6

  static func validate(directory: String) throws {
    let rootPath = FileSystem.join(directory, SoftLabelsLayout.indexFile)
    guard FileSystem.exists(rootPath) else {
      throw PipelineError.invalidArtifact("'\(rootPath)' is missing; this is not a soft-label shard directory")
    }
    let root = try MDS.readIndex(rootPath)
    let trie = try TitleTrie.read(from: directory)
    let report = try ArtifactJSON.read(FileSystem.join(directory, SoftLabelsLayout.reportFile), stage: "soft-labels")
    let splits = (report["configuration"]?["splits"]?.arrayValue ?? []).compactMap {
      $0.stringValue.flatMap(SplitName.init(rawValue:))
    }
    guard !splits.isEmpty else {
      throw PipelineError.invalidArtifact(
        "'\(FileSystem.join(directory, SoftLabelsLayout.reportFile))': field 'configuration.splits' must list the splits"
      )
    }
    let withPrompt = report["configuration"]?["prompt_template"]?.stringValue != nil
    var expectedRoot: [MDS.ShardEntry] = []
    for split in splits {
      let splitDirectory = FileSystem.join(directory, split.rawValue)
      let entries = try MDS.readIndex(FileSystem.join(splitDirectory, SoftLabelsLayout.indexFile))
      expectedRoot += entries.map { $0.prefixed(split.rawValue) }
      var nextSampleID: UInt64? = nil
      for (number, entry) in entries.enumerated() {
        let file = FileSystem.join(splitDirectory, entry.zipBasename)
        guard entry.zipBasename == SoftLabelsLayout.zipBasename(index: number) else {
          throw PipelineError.invalidArtifact(
            "'\(FileSystem.join(splitDirectory, SoftLabelsLayout.indexFile))': shard \(number) is '\(entry.zipBasename)', expected '\(SoftLabelsLayout.zipBasename(index: number))'"
          )
        }
        let names = entry.configuration.columns.map(\.name)
        let expectedNames =
          ["history", "item", "labels", "nodes", "sample_id", "soft_ids", "soft_offsets", "soft_probs", "user"]
          + (withPrompt ? ["input_ids"] : [])
        guard names == expectedNames.sorted() else {
          throw PipelineError.invalidArtifact(
            "'\(file)': columns are \(names.joined(separator: ", ")), expected \(expectedNames.sorted().joined(separator: ", "))"
          )
        }
        let shard = try MDS.readShard(entry, directory: splitDirectory)
        for index in 0..<shard.count {
          let sample = try shard.sample(index)
          let id = try checkSample(sample, trie: trie, file: file, index: index)
          if let expected = nextSampleID, id != expected {
            throw PipelineError.invalidArtifact(
              "'\(file)': sample \(index) has sample_id \(id), expected \(expected) (samples are in split order)")
          }
          nextSampleID = id + 1
        }
      }
    }
    guard root == expectedRoot else {
      throw PipelineError.invalidArtifact(
        "'\(rootPath)' does not list exactly the split indexes' shards (prefixed by their split folder), in split order; recompute or re-merge"
      )
    }
  }

  /// Checks one decoded sample and returns its `sample_id`.
  static func checkSample(_ sample: [String: MDS.Shard.Value], trie: TitleTrie, file: String, index: Int) throws
    -> UInt64
  {
    func fail(_ column: String, _ problem: String) -> PipelineError {
      .invalidArtifact("'\(file)': sample \(index), column '\(column)': \(problem)")
    }
    guard case .uint64(let sampleID) = sample["sample_id"] else { throw fail("sample_id", "missing or not uint64") }
    guard case .uint32(let item) = sample["item"] else { throw fail("item", "missing or not uint32") }
    guard item >= 1 && Int(item) <= trie.itemCount else {
      throw fail("item", "\(item) is not an item id (1...\(trie.itemCount))")
    }
    guard case .uint32Array(let labels) = sample["labels"] else { throw fail("labels", "missing") }
    guard labels == Array(trie.tokens(ofItem: item)) else {
      throw fail("labels", "are not item \(item)'s title tokens (+ EOS) in the trie")
    }
    guard case .uint32Array(let nodes) = sample["nodes"] else { throw fail("nodes", "missing") }
    guard nodes == trie.prefixNodes(ofItem: item) else {
      throw fail("nodes", "are not the trie nodes along item \(item)'s path")
    }
    guard case .uint32Array(let offsets) = sample["soft_offsets"] else { throw fail("soft_offsets", "missing") }
    guard case .uint32Array(let ids) = sample["soft_ids"] else { throw fail("soft_ids", "missing") }
    let probabilities: [Float]
    switch sample["soft_probs"] {
    case .float32Array(let values): probabilities = values
    case .float16Bits(let bits): probabilities = bits.map { Float(Float16(bitPattern: $0)) }
    default: throw fail("soft_probs", "missing or not a float array")
    }
    guard offsets.count == labels.count + 1, offsets.first == 0, Int(offsets.last ?? 0) == ids.count,
      ids.count == probabilities.count
    else {
      throw fail(
        "soft_offsets",
        "\(offsets.count) offsets ending at \(offsets.last ?? 0) for \(labels.count) positions, \(ids.count) ids and \(probabilities.count) probabilities"
      )
    }
    for position in 0..<labels.count {
      let lower = Int(offsets[position])
      let upper = Int(offsets[position + 1])
      guard lower < upper else {
        throw fail("soft_offsets", "position \(position) keeps no child (offsets not increasing)")
      }
      let node = nodes[position]
      let childCount = trie.childCount(of: node)
      guard upper - lower <= childCount else {
        throw fail(
          "soft_ids", "position \(position) keeps \(upper - lower) children but node \(node) has \(childCount)")
      }
      var sum: Double = 0
      for slot in lower..<upper {
        let probability = probabilities[slot]
        guard probability >= 0 && probability <= 1 else {
          throw fail("soft_probs", "position \(position) entry \(slot - lower) is \(probability), outside [0, 1]")
        }
        guard trie.child(of: node, token: ids[slot]) != nil else {
          throw fail("soft_ids", "position \(position): token \(ids[slot]) is not a child of node \(node)")
        }
        if slot > lower {
          let (previous, token, previousToken) = (probabilities[slot - 1], ids[slot], ids[slot - 1])
          guard previous > probability || (previous == probability && previousToken < token) else {
            throw fail(
              "soft_probs",
              "position \(position) entries \(slot - lower - 1) and \(slot - lower) are not ordered by probability, then token id"
            )
          }
        }
        sum += Double(probability)
      }
      guard sum <= 1 + sumTolerance else {
        throw fail("soft_probs", "position \(position) sums to \(sum), more than 1 + \(sumTolerance)")
      }
      if childCount == 1 && probabilities[lower] != 1 {
        throw fail("soft_probs", "position \(position): node \(node) has one child, whose probability must be 1")
      }
    }
    return sampleID
  }
}
