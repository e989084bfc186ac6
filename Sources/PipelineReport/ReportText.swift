import PipelineCore

/// Text for the report: HTML escaping, and number formats that never depend on the locale or the
/// clock, so the same store and ledger always give the same bytes.
public enum ReportText {
  /// Escapes `&`, `<`, `>`, `"` and `'`, so that any text (titles, pipeline names, descriptions: all
  /// user data) is inert both as element content and inside a quoted attribute value.
  public static func escape(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&#39;"
      default: result.unicodeScalars.append(scalar)
      }
    }
    return result
  }

  /// "23,744".
  public static func integer(_ value: some BinaryInteger) -> String {
    let digits = String(value.magnitude)
    var grouped = ""
    for (index, digit) in digits.enumerated() {
      if index > 0 && (digits.count - index) % 3 == 0 { grouped += "," }
      grouped.append(digit)
    }
    return (value < 0 ? "-" : "") + grouped
  }

  /// A decimal with `digits` fraction digits; "–" for NaN or an infinity.
  public static func decimal(_ value: Double, digits: Int) -> String {
    value.isFinite ? formatFixed(value, digits: digits) : "–"
  }

  /// "36.2%" for 0.362.
  public static func percent(_ share: Double, digits: Int = 1) -> String {
    share.isFinite ? formatFixed(share * 100, digits: digits) + "%" : "–"
  }

  /// Ids as "231, 303", at most `shown` of them and then how many there are in all (`total`, when the
  /// list itself is already a sample of a larger group): a group of items sharing a title can hold
  /// dozens (Toys has one of 75), which would make a table row a column of numbers.
  public static func idList(_ ids: [Int64], total: Int? = nil, shown: Int = 6) -> String {
    let count = max(total ?? ids.count, ids.count)
    let listed = ids.prefix(shown).map(String.init).joined(separator: ", ")
    return count > min(shown, ids.count) ? listed + ", … (\(integer(count)) in all)" : listed
  }

  /// "3.81 MB", "512 B" (powers of 1000, as `formatCount`).
  public static func bytes(_ count: Int64) -> String {
    let value = Double(count)
    switch value {
    case ..<1_000: return "\(count) B"
    case ..<1_000_000: return formatFixed(value / 1e3, digits: 1) + " kB"
    case ..<1_000_000_000: return formatFixed(value / 1e6, digits: 2) + " MB"
    default: return formatFixed(value / 1e9, digits: 2) + " GB"
    }
  }

  /// "0.02 s", "18.4 s", "2m05s".
  public static func seconds(_ value: Double) -> String {
    guard value.isFinite else { return "–" }
    if value < 0.995 { return formatFixed(value, digits: 2) + " s" }
    return value < 60 ? formatFixed(value, digits: 1) + " s" : formatDuration(value)
  }

  /// An axis label: as few digits as the step between ticks needs; large values as "12k", "1.5M".
  static func tick(_ value: Double, step: Double) -> String {
    guard value.isFinite else { return "" }
    let magnitude = abs(value)
    if magnitude >= 10_000 {
      let (scale, suffix) = magnitude >= 1e9 ? (1e9, "G") : magnitude >= 1e6 ? (1e6, "M") : (1e3, "k")
      let scaledStep = abs(step) / scale
      return formatFixed(value / scale, digits: scaledStep >= 1 || scaledStep == 0 ? 0 : 1) + suffix
    }
    var digits = 0
    var unit = 1.0
    while digits < 6 && abs(step) > 0 && abs(step) < unit * 0.999_999 {
      digits += 1
      unit /= 10
    }
    return formatFixed(value, digits: digits)
  }

  /// An SVG coordinate with one decimal; a non-finite value (never expected) becomes 0 rather than
  /// "nan", which would break the drawing.
  static func coordinate(_ value: Double) -> String {
    value.isFinite ? formatFixed(value, digits: 1) : "0"
  }
}
