import PipelineCore

extension PythonLiteral {
  /// Python 3's `repr` of a value, as `str(list)` writes list columns into pandas CSV files:
  /// `None`, `True`/`False`, integers, floats (shortest round trip: `5.0`, `nan`, `inf`), strings
  /// (CPython's `unicode_repr`), lists `[a, b]`. Dicts are written with their keys sorted, which is
  /// Python's order only when the source had them sorted (`JSONValue` keeps no key order).
  public static func repr(_ value: JSONValue) -> String {
    switch value {
    case .null: return "None"
    case .bool(let flag): return flag ? "True" : "False"
    case .integer(let number): return String(number)
    case .number(let number):
      guard number.isFinite else { return number.isNaN ? "nan" : (number < 0 ? "-inf" : "inf") }
      return number.description
    case .string(let text): return repr(text)
    case .array(let elements): return "[" + elements.map(repr).joined(separator: ", ") + "]"
    case .object(let members):
      return "{" + members.keys.sorted().map { repr($0) + ": " + repr(members[$0]!) }.joined(separator: ", ") + "}"
    }
  }

  /// CPython's `repr(str)`: single quotes unless the text has a single quote and no double quote;
  /// backslash, the quote, `\t`, `\n`, `\r` escaped; other ASCII controls as `\xhh`; non-ASCII kept
  /// when printable (`str.isprintable`), else `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
  public static func repr(_ text: String) -> String {
    let scalars = text.unicodeScalars
    let quote: Unicode.Scalar = scalars.contains("'") && !scalars.contains("\"") ? "\"" : "'"
    var output = String.UnicodeScalarView()
    output.append(quote)
    func hex(_ value: UInt32, digits: Int) -> String {
      let text = String(value, radix: 16)
      return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
    for scalar in scalars {
      switch scalar {
      case quote, "\\":
        output.append("\\")
        output.append(scalar)
      case "\t": output.append(contentsOf: "\\t".unicodeScalars)
      case "\n": output.append(contentsOf: "\\n".unicodeScalars)
      case "\r": output.append(contentsOf: "\\r".unicodeScalars)
      default:
        let value = scalar.value
        if value < 0x20 || value == 0x7F {
          output.append(contentsOf: ("\\x" + hex(value, digits: 2)).unicodeScalars)
        } else if value < 0x7F || isPrintable(scalar) {
          output.append(scalar)
        } else if value <= 0xFF {
          output.append(contentsOf: ("\\x" + hex(value, digits: 2)).unicodeScalars)
        } else if value <= 0xFFFF {
          output.append(contentsOf: ("\\u" + hex(value, digits: 4)).unicodeScalars)
        } else {
          output.append(contentsOf: ("\\U" + hex(value, digits: 8)).unicodeScalars)
        }
      }
    }
    output.append(quote)
    return String(output)
  }

  /// `str.isprintable` for one non-ASCII code point: not in categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs.
  static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
      .spaceSeparator:
      return false
    default:
      return true
    }
  }
}
