import Interactions

/// The inputs of a batch of samples as the official `SeqDataset` builds them: the last `length`
/// history items, left-padded with 0 to `length`, and the target.
enum SequenceBatch {
  /// Writes `indices.count × length` item ids to `items`, one target per sample to `targets` (when
  /// given) and 1/0 per token to `timelineMask` (when given).
  /// - Complexity: O(indices.count · length).
  static func load(
    _ samples: SampleSet, indices: some Collection<Int>, length: Int, items: UnsafeMutablePointer<Int32>,
    targets: UnsafeMutablePointer<Int32>?, timelineMask: UnsafeMutablePointer<Float>?
  ) {
    for (row, sample) in indices.enumerated() {
      let history = samples.history(sample)
      let kept = min(history.count, length)
      let line = items + row * length
      let padding = length - kept
      line.update(repeating: 0, count: padding)
      var position = padding
      for item in history.suffix(kept) {
        line[position] = Int32(item)
        position += 1
      }
      targets?[row] = Int32(samples.targets[sample])
      if let timelineMask {
        for position in 0..<length { timelineMask[row * length + position] = line[position] == 0 ? 0 : 1 }
      }
    }
  }
}
