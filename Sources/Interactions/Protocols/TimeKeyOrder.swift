import PipelineCore

/// Sorts records by (time, key, position): the order in which prepare numbers events and cuts
/// sliding-window samples.
///
/// A least-significant-digit radix sort on the time (11-bit digits, as many as the span between
/// the earliest and the latest time needs; a digit that is the same for every record is skipped)
/// puts the records in time order with ties in position order, because each pass is stable. Each
/// run of equal times is then sorted by (key, position). A record carries its key and position
/// packed into one integer when they fit in 64 bits, so a run sorts plain integers without looking
/// anything up. The runs are split among threads at run boundaries and each is sorted by one
/// thread, so the order does not depend on the thread count.
public enum TimeKeyOrder {
  /// One record: its time as an offset from the earliest, and its position, or its key and
  /// position packed as `key << positionBits | position`.
  struct Entry {
    var offset: UInt64
    var tail: UInt64
  }

  /// One record of a run of equal times whose key and position do not fit in one integer.
  struct KeyedPosition {
    var key: UInt64
    var position: UInt32
  }

  static let digitBits = 11

  /// The positions `0..<times.count` sorted by (`times[p]`, `keys[p]`, `p`), or by (`times[p]`, `p`)
  /// when there are no keys.
  ///
  /// - Parameters:
  ///   - times: each record's time.
  ///   - keys: each record's second sort key, as many as `times`; `nil` to order ties by position.
  ///     Small keys are faster (they pack with the position into one integer).
  ///   - threads: how many threads sort the runs of equal times; the result does not depend on it.
  ///   - packedBits: the most bits a key and a position packed together may take; 64 (tests lower
  ///     it to sort runs with the keys looked up, as records whose keys are too large are sorted).
  /// - Returns: the sorted positions.
  /// - Complexity: O(*n* × *d*) for *n* records and *d* = ⌈log₂(time span) / 11⌉ digits, plus
  ///   O(*r* log *r*) per run of *r* equal times.
  public static func order(times: [Int64], keys: [UInt64]?, threads: Int, packedBits: Int = 64) -> [Int32] {
    let count = times.count
    precondition(keys == nil || keys?.count == count, "TimeKeyOrder: keys and times differ in number")
    precondition(count <= Int(Int32.max), "more than 2^31 - 1 events")
    guard let earliest = times.min(), let latest = times.max() else { return [] }
    let positionBits = UInt64.bitWidth - UInt64(count - 1).leadingZeroBitCount
    let keyBits = UInt64.bitWidth - (keys?.max() ?? 0).leadingZeroBitCount
    let packed = keys != nil && positionBits + keyBits <= min(packedBits, UInt64.bitWidth)

    let packedKeys = packed ? keys! : []
    var entries = [Entry](unsafeUninitializedCapacity: count) { buffer, initialized in
      times.withUnsafeBufferPointer { time in
        for position in 0..<count {
          let tail = packed ? packedKeys[position] << UInt64(positionBits) | UInt64(position) : UInt64(position)
          buffer[position] = Entry(offset: UInt64(bitPattern: time[position] &- earliest), tail: tail)
        }
      }
      initialized = count
    }
    radixSort(&entries, span: UInt64(bitPattern: latest &- earliest))
    guard let keys else { return entries.map { Int32(truncatingIfNeeded: $0.tail) } }
    return sortRuns(entries, keys: packed ? nil : keys, positionBits: positionBits, threads: threads)
  }

  /// Sorts `entries` stably by offset, every offset being at most `span`.
  static func radixSort(_ entries: inout [Entry], span: UInt64) {
    let count = entries.count
    let passes = (UInt64.bitWidth - span.leadingZeroBitCount + digitBits - 1) / digitBits
    guard passes > 0 else { return }
    let bucketCount = 1 << digitBits
    let mask = UInt64(bucketCount - 1)
    // Every pass's histogram from one read of the offsets.
    var histograms = [Int](repeating: 0, count: passes * bucketCount)
    entries.withUnsafeBufferPointer { source in
      histograms.withUnsafeMutableBufferPointer { histogram in
        for entry in source {
          for pass in 0..<passes {
            histogram[pass * bucketCount + Int((entry.offset >> UInt64(pass * digitBits)) & mask)] += 1
          }
        }
      }
    }
    var scratch = [Entry](repeating: Entry(offset: 0, tail: 0), count: count)
    var starts = [Int](repeating: 0, count: bucketCount)
    for pass in 0..<passes {
      let counts = histograms[(pass * bucketCount)..<((pass + 1) * bucketCount)]
      if counts.contains(count) { continue }
      var total = 0
      for (bucket, bucketSize) in counts.enumerated() {
        starts[bucket] = total
        total += bucketSize
      }
      let shift = UInt64(pass * digitBits)
      entries.withUnsafeBufferPointer { source in
        scratch.withUnsafeMutableBufferPointer { target in
          starts.withUnsafeMutableBufferPointer { next in
            for entry in source {
              let bucket = Int((entry.offset >> shift) & mask)
              target[next[bucket]] = entry
              next[bucket] += 1
            }
          }
        }
      }
      swap(&entries, &scratch)
    }
  }

  /// Sorts each run of equal offsets in `entries` (in time order) by (key, position) and returns
  /// the positions; the runs are split among `threads` threads at run boundaries.
  ///
  /// - Parameters:
  ///   - entries: the records in time order.
  ///   - keys: the keys by position when the entries hold only positions; `nil` when they hold
  ///     keys and positions packed.
  ///   - positionBits: the low bits of a packed entry that hold the position.
  ///   - threads: how many threads sort runs.
  static func sortRuns(_ entries: [Entry], keys: [UInt64]?, positionBits: Int, threads: Int) -> [Int32] {
    let count = entries.count
    // Part boundaries: about count / parts records each, moved forward to the start of a run.
    let parts = max(1, min(threads, count / 65_536))
    var bounds = [0]
    for part in 1..<(parts + 1) {
      var bound = part == parts ? count : max(bounds.last!, part * count / parts)
      while bound < count && bound > 0 && entries[bound].offset == entries[bound - 1].offset { bound += 1 }
      bounds.append(bound)
    }
    let positionMask = UInt64.max >> UInt64(UInt64.bitWidth - positionBits)
    var order = [Int32](repeating: 0, count: count)
    entries.withUnsafeBufferPointer { source in
      order.withUnsafeMutableBufferPointer { output in
        let source = DisjointPointer(UnsafeMutablePointer(mutating: source.baseAddress!))
        let output = DisjointPointer(output)
        let bounds = bounds
        Parallel.forEach(parts, threads: parts) { part in
          var packedRun: [UInt64] = []
          var keyedRun: [KeyedPosition] = []
          var start = bounds[part]
          let end = bounds[part + 1]
          while start < end {
            var runEnd = start + 1
            while runEnd < end && source[runEnd].offset == source[start].offset { runEnd += 1 }
            if runEnd - start == 1 {
              output[start] = Int32(truncatingIfNeeded: source[start].tail & positionMask)
            } else if let keys {
              keyedRun.removeAll(keepingCapacity: true)
              for index in start..<runEnd {
                let position = UInt32(truncatingIfNeeded: source[index].tail)
                keyedRun.append(KeyedPosition(key: keys[Int(position)], position: position))
              }
              keyedRun.sort { ($0.key, $0.position) < ($1.key, $1.position) }
              for (offset, entry) in keyedRun.enumerated() { output[start + offset] = Int32(entry.position) }
            } else {
              packedRun.removeAll(keepingCapacity: true)
              for index in start..<runEnd { packedRun.append(source[index].tail) }
              packedRun.sort()
              for (offset, tail) in packedRun.enumerated() {
                output[start + offset] = Int32(truncatingIfNeeded: tail & positionMask)
              }
            }
            start = runEnd
          }
        }
      }
    }
    return order
  }
}
