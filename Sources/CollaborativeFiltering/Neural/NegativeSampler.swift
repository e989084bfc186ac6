import PipelineCore

/// Uniform negative items for the BCE losses, as the official `get_negative_items` draws them: an
/// item of 1...N that is neither among the sample's input items nor its target.
public enum NegativeSampler {
  /// A uniform draw from 1...`itemCount` minus `excluded` (0s ignored) and `target`, by rejection
  /// (`nextInt(below:)` until an allowed item comes up). When every item is excluded, a uniform
  /// draw from 1...`itemCount`.
  /// - Complexity: O(excluded.count) per try, N / (N − excluded) tries expected.
  public static func draw(
    itemCount: Int, excluding excluded: UnsafeBufferPointer<Int32>, target: Int32,
    generator: inout SeededGenerator
  ) -> Int32 {
    var tries = 0
    while true {
      let candidate = Int32(1 + generator.nextInt(below: itemCount))
      if candidate != target && !excluded.contains(candidate) { return candidate }
      tries += 1
      if tries == 64 && !hasAllowedItem(itemCount: itemCount, excluded: excluded, target: target) {
        return Int32(1 + generator.nextInt(below: itemCount))
      }
    }
  }

  static func hasAllowedItem(itemCount: Int, excluded: UnsafeBufferPointer<Int32>, target: Int32) -> Bool {
    var distinct = Set<Int32>()
    for item in excluded where item >= 1 && Int(item) <= itemCount { distinct.insert(item) }
    if target >= 1 && Int(target) <= itemCount { distinct.insert(target) }
    return distinct.count < itemCount
  }
}
