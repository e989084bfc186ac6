/// NumPy's legacy `numpy.random.RandomState` as far as pandas' `DataFrame.sample` uses it: MT19937
/// seeded from a 32-bit integer, `permutation(n)`, and `choice(n, k, replace=False)`.
///
/// The official TCA4Rec preprocessing draws its `train_10000.csv`, `valid_5000.csv` and
/// `test_5000.csv` with `df.sample(k, random_state=42)`, which is
/// `RandomState(42).choice(n, k, replace=False)` = `RandomState(42).permutation(n)[:k]`, rows in
/// drawn order; this type reproduces those draws bit for bit (NumPy keeps the legacy stream frozen).
public struct NumPyRandomState: Sendable {
  private var key = [UInt32](repeating: 0, count: 624)
  private var position = 624

  /// `RandomState(seed)` for a seed in `0...2^32 - 1` (`init_genrand`).
  public init(seed: UInt32) {
    var value = seed
    for index in 0..<624 {
      key[index] = value
      value = 1_812_433_253 &* (value ^ (value >> 30)) &+ UInt32(index + 1)
    }
  }

  /// The next 32-bit output of MT19937 (`genrand_int32`).
  public mutating func nextUInt32() -> UInt32 {
    if position == 624 { regenerate() }
    var value = key[position]
    position += 1
    value ^= value >> 11
    value ^= (value << 7) & 0x9D2C_5680
    value ^= (value << 15) & 0xEFC6_0000
    value ^= value >> 18
    return value
  }

  private mutating func regenerate() {
    let upper: UInt32 = 0x8000_0000
    let lower: UInt32 = 0x7FFF_FFFF
    for index in 0..<624 {
      let mixed = (key[index] & upper) | (key[(index + 1) % 624] & lower)
      key[index] = key[(index + 397) % 624] ^ (mixed >> 1) ^ ((mixed & 1) == 0 ? 0 : 0x9908_B0DF)
    }
    position = 0
  }

  /// A uniform integer in `0...maximum` by masked rejection (`random_interval` of NumPy's legacy
  /// distributions): the smallest all-ones mask covering `maximum`, 32-bit draws while it fits.
  public mutating func interval(_ maximum: UInt64) -> UInt64 {
    guard maximum > 0 else { return 0 }
    var mask = maximum
    mask |= mask >> 1
    mask |= mask >> 2
    mask |= mask >> 4
    mask |= mask >> 8
    mask |= mask >> 16
    mask |= mask >> 32
    if maximum <= 0xFFFF_FFFF {
      while true {
        let value = UInt64(nextUInt32()) & mask
        if value <= maximum { return value }
      }
    }
    while true {
      // `next_uint64` of the legacy MT19937 bit generator: two 32-bit draws, high word first.
      let value = (UInt64(nextUInt32()) << 32 | UInt64(nextUInt32())) & mask
      if value <= maximum { return value }
    }
  }

  /// `permutation(count)`: `arange(count)` shuffled by Fisher–Yates from the last position down.
  public mutating func permutation(_ count: Int) -> [Int] {
    var values = Array(0..<count)
    var index = count - 1
    while index > 0 {
      let other = Int(interval(UInt64(index)))
      values.swapAt(index, other)
      index -= 1
    }
    return values
  }

  /// `choice(total, count, replace=False)`: the first `count` entries of `permutation(total)`, in
  /// drawn order (not sorted).
  public mutating func choice(total: Int, count: Int) -> [Int] {
    Array(permutation(total).prefix(count))
  }
}
