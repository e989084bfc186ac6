import PipelineCore

/// Small loops of the neural layers that BLAS does not cover, written so that every reduction has
/// one fixed order whatever the thread count (the weights must not depend on it).
enum VectorKernels {
  /// Σ a[i]·b[i], accumulated in 8 lanes then reduced; the order is fixed by `count` alone.
  @inline(__always)
  static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var index = 0
    while index + 8 <= count {
      let x = UnsafeRawPointer(a + index).loadUnaligned(as: SIMD8<Float>.self)
      let y = UnsafeRawPointer(b + index).loadUnaligned(as: SIMD8<Float>.self)
      lanes += x * y
      index += 8
    }
    var sum = lanes.sum()
    while index < count {
      sum += a[index] * b[index]
      index += 1
    }
    return sum
  }

  /// Σ x[i], accumulated in 8 lanes then reduced (one fixed order).
  @inline(__always)
  static func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var index = 0
    while index + 8 <= count {
      lanes += UnsafeRawPointer(x + index).loadUnaligned(as: SIMD8<Float>.self)
      index += 8
    }
    var total = lanes.sum()
    while index < count {
      total += x[index]
      index += 1
    }
    return total
  }

  /// Σ (x[i] − mean)², accumulated in 8 lanes then reduced.
  @inline(__always)
  static func squaredDeviations(_ x: UnsafePointer<Float>, mean: Float, _ count: Int) -> Float {
    var lanes = SIMD8<Float>()
    let center = SIMD8<Float>(repeating: mean)
    var index = 0
    while index + 8 <= count {
      let deviation = UnsafeRawPointer(x + index).loadUnaligned(as: SIMD8<Float>.self) - center
      lanes += deviation * deviation
      index += 8
    }
    var total = lanes.sum()
    while index < count {
      let deviation = x[index] - mean
      total += deviation * deviation
      index += 1
    }
    return total
  }

  /// y[i] += alpha · x[i].
  @inline(__always)
  static func add(_ alpha: Float, _ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, _ count: Int) {
    for index in 0..<count { y[index] += alpha * x[index] }
  }

  /// The column block of `addColumnSums`: 16 columns, one SIMD register on wide machines.
  static let columnBlock = 16

  /// out[j] += Σ_r a[r·stride + j] for j in 0..<width, the rows summed in order into a register
  /// copy of out (per column the same order on any thread count: threads split the columns, never
  /// the rows).
  static func addColumnSums(
    rows: Int, width: Int, _ a: UnsafePointer<Float>, stride: Int, into out: UnsafeMutablePointer<Float>,
    threads: Int
  ) {
    let source = DisjointPointer(reading: a)
    let target = DisjointPointer(out)
    let blocks = (width + columnBlock - 1) / columnBlock
    Parallel.forEach(blocks, threads: rows * width >= 65_536 ? threads : 1) { block in
      let lower = block * columnBlock
      let out = target.base + lower
      guard lower + columnBlock <= width else {
        for row in 0..<rows {
          let line = source.base + row * stride
          for column in lower..<width { target.base[column] += line[column] }
        }
        return
      }
      var sums = UnsafeRawPointer(out).loadUnaligned(as: SIMD16<Float>.self)
      for row in 0..<rows {
        sums += UnsafeRawPointer(source.base + row * stride + lower).loadUnaligned(as: SIMD16<Float>.self)
      }
      UnsafeMutableRawPointer(out).storeBytes(of: sums, as: SIMD16<Float>.self)
    }
  }

  /// out[j] += Σ_r a[r·width + j] · b[r·width + j], the rows summed in order (as `addColumnSums`).
  static func addColumnDotProducts(
    rows: Int, width: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    into out: UnsafeMutablePointer<Float>, threads: Int
  ) {
    let left = DisjointPointer(reading: a)
    let right = DisjointPointer(reading: b)
    let target = DisjointPointer(out)
    let blocks = (width + columnBlock - 1) / columnBlock
    Parallel.forEach(blocks, threads: rows * width >= 65_536 ? threads : 1) { block in
      let lower = block * columnBlock
      let out = target.base + lower
      guard lower + columnBlock <= width else {
        for row in 0..<rows {
          let x = left.base + row * width
          let y = right.base + row * width
          for column in lower..<width { target.base[column] += x[column] * y[column] }
        }
        return
      }
      var sums = UnsafeRawPointer(out).loadUnaligned(as: SIMD16<Float>.self)
      for row in 0..<rows {
        let x = UnsafeRawPointer(left.base + row * width + lower).loadUnaligned(as: SIMD16<Float>.self)
        let y = UnsafeRawPointer(right.base + row * width + lower).loadUnaligned(as: SIMD16<Float>.self)
        sums += x * y
      }
      UnsafeMutableRawPointer(out).storeBytes(of: sums, as: SIMD16<Float>.self)
    }
  }

  /// Calls `body(lower, upper)` for contiguous ranges of `0..<count` on `threads` threads; for
  /// elementwise loops, whose results do not depend on how the range is split.
  static func forEachRange(
    _ count: Int, threads: Int, grain: Int = 4096, _ body: @Sendable (Int, Int) -> Void
  ) {
    let chunks = (count + grain - 1) / grain
    Parallel.forEach(chunks, threads: threads) { chunk in
      body(chunk * grain, min(count, (chunk + 1) * grain))
    }
  }
}
