/// The exponential and logarithm of the soft-label inner loop, written for throughput: `exp` runs
/// over every item of every sample, so libm's scalar `expf` (≈ 5 ns per call) would cost more than
/// the score GEMM itself.
///
/// Both are deterministic (plain float arithmetic in a fixed order, no lookup tables, no
/// dependence on the CPU's vector width): the same input gives the same bits on every machine that
/// rounds IEEE single precision correctly and fuses multiply-adds exactly (an FMA instruction, or the
/// C library's `fmaf` in a portable build). The exponential and the maximum work on 16 lanes (two
/// AVX2 registers, or one AVX-512 register); each lane's result is the same whatever the width.
public enum FastMath {
  /// `exp(x)` for `x ≤ 0` (the caller subtracts the maximum first) in single precision, to within
  /// 2 ulp of the correctly rounded value for `x ≥ -87.3`; below that the result is 0 (it would be
  /// subnormal, below 1.2e-38 of the maximum's mass, and is dropped). NaN stays NaN.
  ///
  /// Cephes' reduction: n = round(x / ln 2), r = x − n·ln 2 in two parts (|r| ≤ ln 2 / 2), then
  /// e^r = 1 + r + r²·q(r) with q of degree 4 (one term fewer than Cephes' `expf`: its coefficients
  /// are a minimax fit of (e^r − 1 − r)/r² for the relative error of e^r, 4e-9 with the float
  /// coefficients), times 2ⁿ assembled in the exponent bits (the +1 and the ×2ⁿ are one multiply-add).
  @inline(__always)
  public static func expNonPositive(_ x: SIMD16<Float>) -> SIMD16<Float> {
    // Lanes below the lowest argument compute garbage (−∞ even NaN) that the last line replaces
    // with 0; a NaN argument is not below it and stays NaN.
    let tooSmall = x .< SIMD16<Float>(repeating: -87.33654)
    // n = round(x / ln 2) by the 1.5·2²³ trick: adding it rounds to an integer (to nearest, ties to
    // even) held in the low mantissa bits, which also give 2ⁿ's exponent field without a conversion.
    // Every a·b + c below is one fused multiply-add (one rounding; the same bits on every CPU).
    let magic = SIMD16<Float>(repeating: 12_582_912)
    let shifted = magic.addingProduct(x, SIMD16(repeating: 1.442_695_04))
    let n = shifted - magic
    var r = x.addingProduct(n, SIMD16(repeating: -0.693_359_375))
    r = r.addingProduct(n, SIMD16(repeating: 2.121_944_4e-4))
    var p = SIMD16<Float>(repeating: 8.368_710_06e-3).addingProduct(SIMD16(repeating: 1.381_461_28e-3), r)
    p = SIMD16<Float>(repeating: 4.166_838_90e-2).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 1.666_652_11e-1).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 4.999_999_40e-1).addingProduct(p, r)
    let exponent = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127
    let scale = unsafeBitCast(exponent &<< 23, to: SIMD16<Float>.self)
    // (e^r − 1)·2ⁿ + 2ⁿ in one rounding: what rounding e^r and scaling by the power of two gives
    // (exactly, for normal results), one multiply fewer.
    return scale.addingProduct(r.addingProduct(p, r * r), scale).replacing(with: 0, where: tooSmall)
  }

  /// The same for one value (lane 0 of the vector form, so the same bits).
  @inline(__always)
  public static func expNonPositive(_ x: Float) -> Float { expNonPositive(SIMD16(repeating: x))[0] }

  /// Writes `exp((values[i] − shift) · scale)` to `output[i]` for i in `0..<count`, where every
  /// argument is at most 0 (`shift` is the maximum, `scale` > 0); −∞ scores give 0. With `scale`
  /// 1 (β = 1, the default) the multiplication, which would not change a bit, is skipped: it is one
  /// of the dozen multiplies per lane that bound this loop.
  public static func exponentiate(
    _ values: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int, shift: Float, scale: Float
  ) {
    if scale == 1 {
      exponentiate(values, into: output, count: count, shift: shift, scale: scale, scaled: false)
    } else {
      exponentiate(values, into: output, count: count, shift: shift, scale: scale, scaled: true)
    }
  }

  @inline(__always)
  private static func exponentiate(
    _ values: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int, shift: Float, scale: Float,
    scaled: Bool
  ) {
    let vectorCount = count / 16
    let shiftVector = SIMD16<Float>(repeating: shift)
    let scaleVector = SIMD16<Float>(repeating: scale)
    @inline(__always) func argument(_ x: SIMD16<Float>) -> SIMD16<Float> {
      scaled ? (x - shiftVector) * scaleVector : x - shiftVector
    }
    let source = UnsafeRawPointer(values)
    let destination = UnsafeMutableRawPointer(output)
    for index in 0..<vectorCount {
      let x = source.loadUnaligned(fromByteOffset: index * 64, as: SIMD16<Float>.self)
      destination.storeBytes(of: expNonPositive(argument(x)), toByteOffset: index * 64, as: SIMD16<Float>.self)
    }
    let tail = count - vectorCount * 16
    if tail > 0 {
      var x = SIMD16<Float>(repeating: shift)
      for lane in 0..<tail { x[lane] = values[vectorCount * 16 + lane] }
      let result = expNonPositive(argument(x))
      for lane in 0..<tail { output[vectorCount * 16 + lane] = result[lane] }
    }
  }

  /// The largest of `values[0..<count]` (NaN is ignored unless every value is NaN); `-infinity`
  /// when `count` is 0.
  public static func maximum(_ values: UnsafePointer<Float>, count: Int) -> Float {
    var best = SIMD16<Float>(repeating: -.infinity)
    let vectorCount = count / 16
    let raw = UnsafeRawPointer(values)
    for index in 0..<vectorCount {
      let x = raw.loadUnaligned(fromByteOffset: index * 64, as: SIMD16<Float>.self)
      // A NaN compares false, so it never becomes the maximum.
      best.replace(with: x, where: x .> best)
    }
    var result = best.max()
    for index in (vectorCount * 16)..<count where values[index] > result { result = values[index] }
    return result
  }

  /// Σ `values[start..<end]` accumulated in double precision, in a fixed order, so the same range
  /// always gives the same bits: each float is widened to double before it is added; blocks of 32
  /// go to four running 8-lane partial sums (block lanes 0–7, 8–15, 16–23, 24–31: four independent
  /// chains, so a long range is not held up by the latency of one), the remaining blocks of 8 and
  /// the last partial block to the first; then the four are added as (s0 + s1) + (s2 + s3), and the
  /// 8 lanes pairwise: lanes i and i + 4, then i and i + 2, then 0 and 1. Below 32 floats only the
  /// first partial sum is used, and the zeros added cost no rounding.
  ///
  /// The memory must be readable up to `end + 7` (the last partial block is one masked 8-lane load,
  /// so the short ranges of a trie's many small children cost no per-item loop).
  @inline(__always)
  public static func sum(_ values: UnsafePointer<Float>, from start: Int, to end: Int) -> Double {
    // Each 8-lane partial sum is held as two 4-lane halves (lanes 0–3, 4–7): one AVX2 register and
    // one widening conversion each. Adding the halves separately is adding the 8 lanes, so the bits
    // are the same. Written as 8-lane vectors, the loop inlined into `SoftLabelComputer`'s group
    // consume widened 2 lanes at a time and kept half its sums on the stack (perf: 0.16 of the
    // kernel's time, then 0.11 with this and `SoftLabelComputer.longSum`).
    var total = (SIMD4<Double>.zero, SIMD4<Double>.zero)
    var second = (SIMD4<Double>.zero, SIMD4<Double>.zero)
    var third = (SIMD4<Double>.zero, SIMD4<Double>.zero)
    var fourth = (SIMD4<Double>.zero, SIMD4<Double>.zero)
    let raw = UnsafeRawPointer(values)
    @inline(__always) func widened(_ index: Int) -> SIMD4<Double> {
      SIMD4<Double>(raw.loadUnaligned(fromByteOffset: index &* 4, as: SIMD4<Float>.self))
    }
    var index = start
    while end &- index >= 32 {
      total.0 += widened(index)
      total.1 += widened(index &+ 4)
      second.0 += widened(index &+ 8)
      second.1 += widened(index &+ 12)
      third.0 += widened(index &+ 16)
      third.1 += widened(index &+ 20)
      fourth.0 += widened(index &+ 24)
      fourth.1 += widened(index &+ 28)
      index &+= 32
    }
    while end &- index >= 8 {
      total.0 += widened(index)
      total.1 += widened(index &+ 4)
      index &+= 8
    }
    if end > index {
      let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
      var x = raw.loadUnaligned(fromByteOffset: index &* 4, as: SIMD8<Float>.self)
      x.replace(with: 0, where: lanes .>= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: end &- index)))
      total.0 += SIMD4<Double>(x.lowHalf)
      total.1 += SIMD4<Double>(x.highHalf)
    }
    // Below 32 floats the other three are +0 and adding them changes no bit (a sum that starts at
    // +0 is never −0): skipped, the short ranges of small children are most of the calls.
    if end &- start >= 32 {
      total.0 = (total.0 + second.0) + (third.0 + fourth.0)
      total.1 = (total.1 + second.1) + (third.1 + fourth.1)
    }
    let fours = total.0 + total.1
    let twos = fours.lowHalf + fours.highHalf
    return twos[0] + twos[1]
  }

  /// `sum(values[u], from: start, to: end)` for each of `U` arrays, for ranges shorter than 32
  /// floats (`sum`'s first partial sum only): the same additions in the same order, so the same
  /// bits, with one loop for all the arrays and the reduction's middle step (lanes i and i + 2) on
  /// two arrays' lanes at once.
  @inline(__always)
  public static func shortSums<let U: Int>(
    _ values: InlineArray<U, UnsafePointer<Float>>, from start: Int, to end: Int
  ) -> InlineArray<U, Double> {
    precondition(end &- start < 32, "FastMath.shortSums takes ranges shorter than 32")
    var totals = InlineArray<U, SIMD8<Double>>(repeating: .zero)
    var index = start
    while end &- index >= 8 {
      for array in 0..<U {
        totals[array] += SIMD8<Double>(
          UnsafeRawPointer(values[array]).loadUnaligned(fromByteOffset: index &* 4, as: SIMD8<Float>.self))
      }
      index &+= 8
    }
    if end > index {
      let keep =
        SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .< SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: end &- index))
      for array in 0..<U {
        var x = UnsafeRawPointer(values[array]).loadUnaligned(fromByteOffset: index &* 4, as: SIMD8<Float>.self)
        x.replace(with: 0, where: .!keep)
        totals[array] += SIMD8<Double>(x)
      }
    }
    var result = InlineArray<U, Double>(repeating: 0)
    var array = 0
    // Two arrays at a time: lanes i and i + 4 (per array), then i and i + 2, then 0 and 1.
    while array &+ 2 <= U {
      let first = totals[array].lowHalf + totals[array].highHalf
      let second = totals[array &+ 1].lowHalf + totals[array &+ 1].highHalf
      let twos =
        SIMD4(lowHalf: first.lowHalf, highHalf: second.lowHalf)
        + SIMD4(lowHalf: first.highHalf, highHalf: second.highHalf)
      result[array] = twos[0] + twos[1]
      result[array &+ 1] = twos[2] + twos[3]
      array &+= 2
    }
    if array < U {
      let fours = totals[array].lowHalf + totals[array].highHalf
      let twos = fours.lowHalf + fours.highHalf
      result[array] = twos[0] + twos[1]
    }
    return result
  }

  /// Σ `values[0..<count]` in a fixed order: eight running partial sums over consecutive lanes
  /// (then added as `sum(_:from:to:)` adds them), the remaining values one by one.
  @inline(__always)
  public static func sum(_ values: UnsafePointer<Double>, count: Int) -> Double {
    var total = SIMD8<Double>.zero
    let raw = UnsafeRawPointer(values)
    var index = 0
    while count &- index >= 8 {
      total += raw.loadUnaligned(fromByteOffset: index &* 8, as: SIMD8<Double>.self)
      index &+= 8
    }
    let fours = total.lowHalf + total.highHalf
    let twos = fours.lowHalf + fours.highHalf
    var result = twos[0] + twos[1]
    while index < count {
      result += values[index]
      index &+= 1
    }
    return result
  }

  /// Floats of padding a buffer passed to `sum` needs after its last element.
  public static let sumPadding = 8

  /// Natural logarithm of a positive, finite double to about 1e-7 relative accuracy (for the
  /// report's entropies, where libm's `log` over thousands of children per sample would cost more
  /// than the labels themselves): exponent extraction, then ln(m) for m in [√½, √2) by the series of
  /// atanh((m − 1)/(m + 1)) to the 9th power.
  @inline(__always)
  public static func log(_ x: Double) -> Double {
    var bits = x.bitPattern
    var exponent = Int64((bits >> 52) & 0x7ff) - 1023
    bits = (bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000
    var m = Double(bitPattern: bits)
    if m > 1.414_213_562_373_095_1 {
      m *= 0.5
      exponent += 1
    }
    let s = (m - 1) / (m + 1)
    let s2 = s * s
    let series = s * (2 + s2 * (2.0 / 3 + s2 * (2.0 / 5 + s2 * (2.0 / 7 + s2 * (2.0 / 9 + s2 * (2.0 / 11))))))
    return series + Double(exponent) * 0.693_147_180_559_945_3
  }

  /// −Σ p·ln p over `probabilities[0..<count]` (zeros add nothing), in single precision, eight
  /// lanes at a time in a fixed order: the report's entropies, over every child of every branching
  /// position, to about 1e-6 relative.
  public static func entropy(_ probabilities: UnsafePointer<Float>, count: Int) -> Double {
    var total = SIMD8<Float>.zero
    let raw = UnsafeRawPointer(probabilities)
    let vectorCount = count / 8
    for index in 0..<vectorCount {
      let p = raw.loadUnaligned(fromByteOffset: index * 32, as: SIMD8<Float>.self)
      total -= (p * logPositive(p)).replacing(with: 0, where: p .<= 0)
    }
    var result = Double(total.sum())
    for index in (vectorCount * 8)..<count where probabilities[index] > 0 {
      result -= Double(probabilities[index]) * log(Double(probabilities[index]))
    }
    return result
  }

  /// ln x for positive normal floats, to about 2e-7 relative: the exponent from the bits, then ln m
  /// for m in [√½, √2) by the series of atanh((m − 1)/(m + 1)) to the 9th power.
  @inline(__always)
  public static func logPositive(_ x: SIMD8<Float>) -> SIMD8<Float> {
    var bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    let exponentBits = (bits &>> 23) & 0xff
    bits = (bits & 0x007F_FFFF) | 0x3F80_0000
    var m = unsafeBitCast(bits, to: SIMD8<Float>.self)
    // The exponent as a float without an integer conversion: 2²³ + e in the mantissa bits.
    var exponent = unsafeBitCast(exponentBits | 0x4B00_0000, to: SIMD8<Float>.self) - (8_388_608 + 127)
    let high = m .> 1.414_213_5
    m.replace(with: m * 0.5, where: high)
    exponent.replace(with: exponent + 1, where: high)
    let s = (m - 1) / (m + 1)
    let s2 = s * s
    var series = SIMD8<Float>(repeating: 2.0 / 9)
    series = series * s2 + 2.0 / 7
    series = series * s2 + 2.0 / 5
    series = series * s2 + 2.0 / 3
    series = series * s2 + 2
    return series * s + exponent * 0.693_147_18
  }

  /// How many of `values[0..<count]` (non-negative floats) have a bit pattern ≥ `bits`, 16 lanes at
  /// a time.
  public static func countAtLeast(_ values: UnsafePointer<Float>, count: Int, bits: UInt32) -> Int {
    let raw = UnsafeRawPointer(values)
    let threshold = SIMD16<UInt32>(repeating: bits)
    var counts = SIMD16<UInt32>.zero
    let vectorCount = count / 16
    for index in 0..<vectorCount {
      let x = raw.loadUnaligned(fromByteOffset: index &* 64, as: SIMD16<UInt32>.self)
      counts.replace(with: counts &+ 1, where: x .>= threshold)
    }
    var result = Int(counts.wrappedSum())
    for index in (vectorCount &* 16)..<count where values[index].bitPattern >= bits { result &+= 1 }
    return result
  }

  /// For keys whose low 32 bits ascend in input order and are below 2³¹ (the kept-children keys of
  /// `selectTop`: child indices), writes to `order[r]`, for every rank r below `limit`, the low 32
  /// bits of the key of rank r in ascending order: what sorting the keys and reading the first
  /// `limit` gives. Each key's rank among the high halves is counted, 16 lanes at a time with one
  /// compare and one subtraction per 8 (the halves flipped into signed order, which AVX2 compares
  /// natively), and the key goes to the first free slot from that rank: keys with equal high halves
  /// have the same count and, taken in input order, fill consecutive slots in the order of their
  /// low halves, as sorting puts them. No comparison branches (sorting keys in random order
  /// mispredicts about every other one): for the 65–80 candidates of a top 64 this took 0.55–0.6 of
  /// the time of sorting them when each count took two compares per lane; it takes half of that
  /// now (Beauty: 3.4 % of the stage's samples in perf, then 1.1 %).
  /// `scratch` holds `rankOrderScratch(count)` values (a thread's buffer, so the hot path allocates
  /// nothing).
  public static func rankOrder(
    _ keys: UnsafePointer<UInt64>, count: Int, limit: Int, into order: UnsafeMutablePointer<Int32>,
    scratch: UnsafeMutablePointer<Int32>
  ) {
    let blocks = (count &+ 15) / 16
    let padded = max(16, blocks &* 16)
    let high = scratch
    let slots = high + padded
    for index in 0..<count {
      high[index] = Int32(bitPattern: UInt32(truncatingIfNeeded: keys[index] &>> 32) ^ 0x8000_0000)
    }
    // Padding: never below a key.
    (high + count).initialize(repeating: .max, count: padded &- count)
    slots.initialize(repeating: .min, count: count)
    let raw = UnsafeRawPointer(high)
    for index in 0..<count {
      let key = SIMD16<Int32>(repeating: high[index])
      var rank = SIMD16<Int32>.zero
      var block = 0
      while block < blocks {
        let values = raw.loadUnaligned(fromByteOffset: block &* 64, as: SIMD16<Int32>.self)
        rank &-= unsafeBitCast(values .< key, to: SIMD16<Int32>.self)
        block &+= 1
      }
      var slot = Int(rank.wrappedSum())
      while slots[slot] != .min { slot &+= 1 }
      slots[slot] = Int32(truncatingIfNeeded: keys[index])
    }
    order.update(from: slots, count: limit)
  }

  /// The scratch `rankOrder` needs for `count` keys: the high halves padded to whole 16-lane blocks,
  /// then a slot per key.
  public static func rankOrderScratch(_ count: Int) -> Int { max(16, (count + 15) / 16 * 16) + count }

  /// Sorts `keys[0..<count]` ascending in place (no allocation): insertion sort for runs of up to
  /// 16, else quicksort with a median-of-three pivot and a branchless Lomuto partition — every key
  /// is swapped into place and the boundary moves by the comparison's result, so the partition has
  /// no branch to mispredict (for the ~80 candidates of a top 64, about 1.5× the classic Hoare
  /// partition's speed).
  public static func sortAscending(_ keys: UnsafeMutablePointer<UInt64>, count: Int) {
    var low = 0
    var high = count
    while high &- low > 16 {
      let middle = low &+ (high &- low) / 2
      let last = high &- 1
      // The median of the first, middle and last keys goes last, as the pivot.
      let (first, center, end) = (keys[low], keys[middle], keys[last])
      let median = max(min(first, center), min(max(first, center), end))
      if median == first {
        swap(&keys[low], &keys[last])
      } else if median == center {
        swap(&keys[middle], &keys[last])
      }
      let pivot = keys[last]
      // keys[low..<boundary] < pivot ≤ keys[boundary..<index].
      var boundary = low
      for index in low..<last {
        let key = keys[index]
        keys[index] = keys[boundary]
        keys[boundary] = key
        boundary &+= key < pivot ? 1 : 0
      }
      keys[last] = keys[boundary]
      keys[boundary] = pivot
      // Recurse into the smaller side, loop on the larger.
      if boundary &- low < high &- boundary {
        sortAscending(keys + low, count: boundary &- low)
        low = boundary &+ 1
      } else {
        sortAscending(keys + (boundary &+ 1), count: high &- boundary &- 1)
        high = boundary
      }
    }
    for position in (low &+ 1)..<max(low &+ 1, high) {
      let key = keys[position]
      var slot = position
      while slot > low && key < keys[slot &- 1] {
        keys[slot] = keys[slot &- 1]
        slot &-= 1
      }
      keys[slot] = key
    }
  }
}
