import ArtifactFormats
import PipelineCore

/// One parameter tensor inside a `ParameterStore`: its values and its gradient, `count` each.
///
/// A view: it does not own the storage, which the store keeps alive as long as the network that
/// holds the view.
public struct Parameter: @unchecked Sendable {
  public let value: UnsafeMutablePointer<Float>
  public let gradient: UnsafeMutablePointer<Float>
  public let count: Int

  /// Elements `offset..<offset + count` (rows of a weight matrix, part of a bias).
  public func slice(offset: Int, count: Int) -> Parameter {
    precondition(offset >= 0 && offset + count <= self.count, "parameter slice out of range")
    return Parameter(value: value + offset, gradient: gradient + offset, count: count)
  }
}

/// All parameters of a network in one flat Float array, with a gradient array of the same layout,
/// so the optimizer, snapshots and zeroing are single loops over contiguous memory.
///
/// Not thread-safe: one network trains on it at a time (its layers write gradients from their own
/// parallel loops, each to disjoint parts).
public final class ParameterStore: @unchecked Sendable {
  public let layout: ParameterLayout
  /// `layout.count` values, then as many gradients.
  let values: UnsafeMutablePointer<Float>
  let gradients: UnsafeMutablePointer<Float>

  /// Zero values and gradients.
  public init(layout: ParameterLayout) {
    self.layout = layout
    let count = max(layout.count, 1)
    values = UnsafeMutablePointer<Float>.allocate(capacity: count)
    values.initialize(repeating: 0, count: count)
    gradients = UnsafeMutablePointer<Float>.allocate(capacity: count)
    gradients.initialize(repeating: 0, count: count)
  }

  deinit {
    values.deallocate()
    gradients.deallocate()
  }

  public var count: Int { layout.count }

  public func parameter(_ index: Int) -> Parameter {
    let entry = layout.entries[index]
    return Parameter(value: values + entry.offset, gradient: gradients + entry.offset, count: entry.count)
  }

  /// The parameter named `name`; it must exist.
  public func parameter(named name: String) -> Parameter {
    guard let index = layout.index(of: name) else { preconditionFailure("no parameter '\(name)'") }
    return parameter(index)
  }

  public func zeroGradients() {
    gradients.update(repeating: 0, count: layout.count)
  }

  /// A copy of every value, in layout order.
  public func copyValues() -> [Float] {
    Array(UnsafeBufferPointer(start: values, count: layout.count))
  }

  /// A copy of every gradient, in layout order.
  public func copyGradients() -> [Float] {
    Array(UnsafeBufferPointer(start: gradients, count: layout.count))
  }

  public func setValues(_ newValues: [Float]) {
    precondition(newValues.count == layout.count, "expected \(layout.count) parameter values")
    newValues.withUnsafeBufferPointer { values.update(from: $0.baseAddress!, count: layout.count) }
  }

  /// The values as named tensors in layout order; `shapes` overrides the shape written for a name
  /// (e.g. a Conv1d weight stored `[out, in, 1]`).
  public func tensors(shapes: [String: [Int]] = [:]) -> [SafeTensors.Tensor] {
    layout.entries.map { entry in
      SafeTensors.Tensor(
        name: entry.name, shape: shapes[entry.name] ?? entry.shape,
        values: Array(UnsafeBufferPointer(start: values + entry.offset, count: entry.count)))
    }
  }

  /// Sets every value from `tensors` (found by name, each shape checked, `shapes` as in
  /// `tensors(shapes:)`). Errors name `file` and the tensor.
  public func load(
    _ tensors: [SafeTensors.Tensor], shapes: [String: [Int]] = [:], file: String
  ) throws(PipelineError) {
    for entry in layout.entries {
      let tensor = try TrainedModel.tensor(
        entry.name, in: tensors, shape: shapes[entry.name] ?? entry.shape, file: file)
      tensor.values.withUnsafeBufferPointer {
        (values + entry.offset).update(from: $0.baseAddress!, count: entry.count)
      }
    }
  }
}
