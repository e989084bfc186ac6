import PipelineCore

/// The soft-label stage's own score product for dot-product models: the item vectors packed once, in
/// trie order, into panels of 16 items, and a register-blocked kernel that scores a few users against
/// one panel at a time, so that a chunk of scores is produced, exponentiated and summed while it is
/// still in the first-level cache (no N-float score row per sample ever goes to memory, which cost
/// as much as the product itself).
///
/// Every score is one fused multiply-add chain over the dimensions in order, starting from 0:
/// s = fma(u[d−1], v[d−1], … fma(u[0], v[0], 0)). The lanes never mix, so a score's bits do not
/// depend on the vector width, the blocking, the thread or the batch it is computed in (an AVX-512
/// build, an AVX2 build and a portable build, where FMA is a library call, give the same bits).
public final class PackedItems: @unchecked Sendable {
  /// Items per panel (one SIMD16 lane each).
  public static let panelWidth = 16

  public let itemCount: Int
  public let dimension: Int
  public let panelCount: Int
  /// `panelCount` panels of `dimension` × 16 floats: panel p, dimension k, lane l holds dimension k
  /// of the item at trie position 16p + l (0 beyond the last item); 64-byte aligned.
  let storage: UnsafeMutablePointer<Float>

  /// Packs `itemCount` vectors of `dimension` floats; `vector(position)` points at the item at
  /// that trie position. Panels are filled on up to `threads` threads (each panel by one: the
  /// gathers from the vectors' scattered rows are most of the time).
  public init(itemCount: Int, dimension: Int, threads: Int = 1, vector: @Sendable (Int) -> UnsafePointer<Float>) {
    self.itemCount = itemCount
    self.dimension = dimension
    let panelCount = (itemCount + Self.panelWidth - 1) / Self.panelWidth
    self.panelCount = panelCount
    let panelFloats = dimension * Self.panelWidth
    let floats = max(1, panelCount * panelFloats)
    storage = UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64)
      .bindMemory(to: Float.self, capacity: floats)
    // The panels below write every float; with none (no items or no dimensions) the one float
    // allocated is zeroed.
    if panelCount * panelFloats == 0 { storage.initialize(to: 0) }
    let output = DisjointPointer(storage)
    Parallel.forEach(panelCount, threads: threads, chunk: 64) { panel in
      let panelStorage = output.base + panel * panelFloats
      for lane in 0..<Self.panelWidth {
        let position = panel * Self.panelWidth + lane
        if position < itemCount {
          let source = vector(position)
          for k in 0..<dimension { (panelStorage + k * Self.panelWidth + lane).initialize(to: source[k]) }
        } else {
          for k in 0..<dimension { (panelStorage + k * Self.panelWidth + lane).initialize(to: 0) }
        }
      }
    }
  }

  deinit { storage.deallocate() }

  /// Users scored together against a panel: as many 16-lane accumulators as the vector registers
  /// hold with room to spare (8 users × 2 panels on AVX-512's 32 registers, 6 × 1 — twelve 8-lane
  /// registers — on AVX2: Zen 3's two FMA pipes with 4 cycles of latency need 8 chains in flight,
  /// and 4 users' 8 left none to spare; in a probe of the kernel alone 4 users were 15–20 % slower
  /// in some runs and as fast in others, in the stage the kernel's share fell by about 4 %).
  public static var usersPerTile: Int {
    #if TCA_AVX512
      return 8
    #else
      return 6
    #endif
  }

  /// Writes the scores of `usersPerTile` users (row-major vectors of `dimension` floats; pad a
  /// short group with zero vectors) against the items of panels `panels` to `output[u]` at float
  /// offset 16·(p − panels.lowerBound) for panel p: 16 floats per panel, the lanes past the last
  /// item hold 0. `maxima[u]` receives the largest of user u's scores written (padding lanes
  /// included; NaN never is). With `users: count` of 2 or fewer, AVX2 scores only the first 2
  /// (the same bits; a unit of 128 ends with a tile of 2, which 6 users' kernel padded with 4).
  public func scores(
    users: UnsafePointer<Float>, count: Int = usersPerTile, panels: Range<Int>,
    into output: UnsafePointer<UnsafeMutablePointer<Float>>, maxima: UnsafeMutablePointer<Float>
  ) {
    #if TCA_AVX512
      tile(users: users, panels: panels, output: output, maxima: maxima, width: InlineArray<8, Int>.self, paired: true)
    #else
      if count <= 2 {
        tile(
          users: users, panels: panels, output: output, maxima: maxima, width: InlineArray<2, Int>.self, paired: false)
      } else {
        tile(
          users: users, panels: panels, output: output, maxima: maxima, width: InlineArray<6, Int>.self, paired: false)
      }
    #endif
  }

  /// The register-blocked loop for exactly `U` users (the width type only carries `U`): U
  /// accumulators per panel, against two panels at once when `paired` (AVX-512's 32 registers hold
  /// 2·U accumulators: twice the independent chains hide the multiply-add latency, and each
  /// broadcast user value feeds two FMAs, about a quarter faster), else one (AVX2's 16 registers).
  /// Each score is its own chain either way, so the bits are the same.
  @inline(__always)
  private func tile<let U: Int>(
    users: UnsafePointer<Float>, panels: Range<Int>, output: UnsafePointer<UnsafeMutablePointer<Float>>,
    maxima: UnsafeMutablePointer<Float>, width: InlineArray<U, Int>.Type, paired: Bool
  ) {
    let dimension = dimension
    let panelBytes = dimension &* Self.panelWidth &* 4
    // Wrapping arithmetic throughout: the offsets are bounded by the allocations, and checked
    // arithmetic inside the multiply-add loop costs as much as the loop itself.
    var rows = InlineArray<U, UnsafePointer<Float>>(repeating: users)
    for user in 0..<U { rows[user] = users + user &* dimension }
    var best = InlineArray<U, SIMD16<Float>>(repeating: SIMD16(repeating: -.infinity))
    var panel = panels.lowerBound
    while panel < panels.upperBound {
      let pair = paired && panel &+ 1 < panels.upperBound
      let base = UnsafeRawPointer(storage) + panel &* panelBytes
      var first = InlineArray<U, SIMD16<Float>>(repeating: .zero)
      var second = InlineArray<U, SIMD16<Float>>(repeating: .zero)
      var k = 0
      if pair {
        while k < dimension {
          let items = base.load(fromByteOffset: k &* 64, as: SIMD16<Float>.self)
          let next = base.load(fromByteOffset: panelBytes &+ k &* 64, as: SIMD16<Float>.self)
          for user in 0..<U {
            let value = SIMD16<Float>(repeating: rows[user][k])
            first[user] = first[user].addingProduct(value, items)
            second[user] = second[user].addingProduct(value, next)
          }
          k &+= 1
        }
      } else {
        while k < dimension {
          let items = base.load(fromByteOffset: k &* 64, as: SIMD16<Float>.self)
          for user in 0..<U { first[user] = first[user].addingProduct(SIMD16(repeating: rows[user][k]), items) }
          k &+= 1
        }
      }
      let offset = (panel &- panels.lowerBound) &* 64
      for user in 0..<U {
        let output = UnsafeMutableRawPointer(output[user])
        var largest = best[user]
        output.storeBytes(of: first[user], toByteOffset: offset, as: SIMD16<Float>.self)
        largest.replace(with: first[user], where: first[user] .> largest)
        if pair {
          output.storeBytes(of: second[user], toByteOffset: offset &+ 64, as: SIMD16<Float>.self)
          largest.replace(with: second[user], where: second[user] .> largest)
        }
        best[user] = largest
      }
      panel &+= pair ? 2 : 1
    }
    for user in 0..<U { maxima[user] = best[user].max() }
  }
}

/// One chunk of scores per user of a tile: where `PackedItems.scores` writes and
/// `SoftLabelComputer.consume` reads. `chunks[u]` points at user u's `chunkItems` floats and the
/// 16 after them (at least `FastMath.sumPadding`, which the masked sums read past a range's end;
/// zeroed here; 16 keeps every chunk 64-byte aligned), `maxima[u]` is where the kernel puts user
/// u's largest score. One per thread, reused for every tile.
public final class ScoreChunks: @unchecked Sendable {
  /// Floats in all the chunks together (`storage[0..<floats]`, chunk u from u · (chunkItems + 16)).
  public let floats: Int
  public let storage: UnsafeMutablePointer<Float>
  public let chunks: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
  public let maxima: UnsafeMutablePointer<Float>

  public init(users: Int = PackedItems.usersPerTile) {
    let stride = SoftLabelComputer.chunkItems + 16
    floats = users * stride
    storage = UnsafeMutableRawPointer.allocate(byteCount: max(1, floats) * 4, alignment: 64)
      .bindMemory(to: Float.self, capacity: max(1, floats))
    storage.initialize(repeating: 0, count: max(1, floats))
    chunks = .allocate(capacity: max(1, users))
    for user in 0..<users { chunks[user] = storage + user * stride }
    maxima = .allocate(capacity: max(1, users))
    maxima.initialize(repeating: 0, count: max(1, users))
  }

  deinit {
    storage.deallocate()
    chunks.deallocate()
    maxima.deallocate()
  }
}
