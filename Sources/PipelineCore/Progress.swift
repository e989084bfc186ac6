#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Progress of a long piece of work: a redrawn line with rate and ETA on a terminal, and a log line
/// every few seconds otherwise. Silent at `-q`.
public final class ProgressReporter: @unchecked Sendable {
  private let diagnostics: Diagnostics
  private let label: String
  private let unit: String
  private let total: Int64?
  private let start: Double
  private var lastReport: Double
  private var current: Int64 = 0
  private var calls: UInt32 = 0
  private var shown = false
  private let interval: Double

  /// - Parameters:
  ///   - label: what is being done ("ingest: reading u.data").
  ///   - unit: what is counted ("lines", "bytes").
  ///   - total: the expected count, when known, for an ETA.
  public init(diagnostics: Diagnostics, label: String, unit: String, total: Int64? = nil) {
    self.diagnostics = diagnostics
    self.label = label
    self.unit = unit
    self.total = total
    self.start = monotonicSeconds()
    self.lastReport = start
    self.interval = diagnostics.isTerminal ? 0.2 : 5.0
  }

  /// Records that `count` units are done in all; cheap enough to call per line.
  @inline(__always)
  public func update(_ count: Int64) {
    current = count
    calls &+= 1
    // Look at the clock only every 1024 calls, so per-line updates cost nothing measurable.
    if calls & 0x3FF == 0 { maybeReport() }
  }

  public func advance(by count: Int64 = 1) {
    update(current + count)
  }

  private func maybeReport() {
    guard diagnostics.verbosity >= .normal else { return }
    let now = monotonicSeconds()
    guard now - lastReport >= interval else { return }
    lastReport = now
    let line = describe(now: now)
    if diagnostics.isTerminal {
      diagnostics.emit("\r\u{1B}[K\(diagnostics.toolName): \(line)")
      shown = true
    } else {
      diagnostics.emit("\(diagnostics.toolName): \(line)\n")
    }
  }

  private func describe(now: Double) -> String {
    let elapsed = max(now - start, 1e-9)
    let rate = Double(current) / elapsed
    var text = "\(label): \(formatCount(Double(current))) \(unit)"
    if let total, total > 0 {
      let percent = 100.0 * Double(current) / Double(total)
      text += " of \(formatCount(Double(total))) (\(Int(percent))%)"
      if rate > 0 {
        let remaining = Double(total - current) / rate
        text += ", ETA \(formatDuration(remaining))"
      }
    }
    text += ", \(formatCount(rate)) \(unit)/s"
    return text
  }

  /// Clears the progress line (on a terminal) when the work is done.
  public func finish() {
    if shown && diagnostics.isTerminal { diagnostics.emit("\r\u{1B}[K") }
  }
}

public func monotonicSeconds() -> Double {
  var spec = timespec()
  clock_gettime(CLOCK_MONOTONIC, &spec)
  return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
}

/// "12.3k", "4.56M": counts for people.
public func formatCount(_ value: Double) -> String {
  switch value {
  case ..<1_000: return String(Int(value.rounded()))
  case ..<1_000_000: return formatFixed(value / 1_000, digits: 1) + "k"
  case ..<1_000_000_000: return formatFixed(value / 1_000_000, digits: 2) + "M"
  default: return formatFixed(value / 1_000_000_000, digits: 2) + "G"
  }
}

public func formatDuration(_ seconds: Double) -> String {
  if seconds < 60 { return formatFixed(seconds, digits: 1) + "s" }
  let whole = Int(seconds)
  if whole < 3600 { return "\(whole / 60)m\(whole % 60)s" }
  return "\(whole / 3600)h\((whole % 3600) / 60)m"
}

/// Fixed-point formatting without Foundation's locale-dependent `String(format:)`.
public func formatFixed(_ value: Double, digits: Int) -> String {
  var scale = 1.0
  for _ in 0..<digits { scale *= 10 }
  let scaled = (abs(value) * scale).rounded()
  let integerPart = Int64(scaled / scale)
  let fraction = Int64(scaled - Double(integerPart) * scale)
  var text = (value < 0 && scaled != 0 ? "-" : "") + String(integerPart)
  if digits > 0 {
    let fractionText = String(fraction)
    text += "." + String(repeating: "0", count: max(0, digits - fractionText.count)) + fractionText
  }
  return text
}
