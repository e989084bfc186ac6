import PipelineCore

/// Storage allocated once and reused step after step, so the training loop never allocates.
///
/// The neural layers keep their activations and gradients in these; loops running on several
/// threads reach them through `shared` (each thread writing a disjoint part).
final class NeuralBuffer<Element: Numeric> {
  let count: Int
  let base: UnsafeMutablePointer<Element>

  /// `count` zeros.
  init(count: Int) {
    self.count = count
    base = UnsafeMutablePointer<Element>.allocate(capacity: max(count, 1))
    base.initialize(repeating: 0, count: max(count, 1))
  }

  deinit { base.deallocate() }

  var shared: DisjointPointer<Element> { DisjointPointer(base) }
}

typealias FloatBuffer = NeuralBuffer<Float>

extension DisjointPointer {
  /// A read-only pointer shared with the threads of a parallel loop.
  init(reading pointer: UnsafePointer<Element>) { self.init(UnsafeMutablePointer(mutating: pointer)) }
}
