import ArtifactFormats
import PipelineCore

/// The item rules of the official TCA4Rec preprocessing (critical88/TCA4Rec `utils/preprocess.py`,
/// the meta loop and the item table after it), for `preset: tca4rec` on Amazon 2018 meta files.
///
/// Per meta line, in file order:
/// 1. skipped when `title` is missing, falsy (`null`, `""`, `[]`, `{}`, `0`, `false`) or `"unknown"`
///    or `"None"` (`if "title" not in line or not line['title'] or …`);
/// 2. the title is cut to its first 50 characters (code points), `title[:50]`;
/// 3. the per-category extra keys (`detailKeys`): for each, the values of its source keys at the top
///    level (a string is appended, a list extends), replaced by the first source key found in
///    `details` when that is a dict;
/// 4. the id is `asin`, or `parent_asin` when `asin` is missing or null;
/// 5. `mapping_iid` is the id of the first line with the same cut title (`item_mapping`);
/// then, on the table: `filter_title` on the cut title; `convert_category` on `category`;
/// `convert_brand` on `brand`, and a line whose converted brand contains "abcde" (lower-cased) is
/// dropped (the official "Delete Flag" and brands like "ABCDE"); finally the first remaining line
/// of each id wins (`drop_duplicates("iid")`).
///
/// Where the official script would crash (a `brand` source value that is null or an empty list, a
/// non-string title or brand), the line is dropped and counted instead; `details` that is not a dict
/// is ignored.
struct TCA4RecItemRules: Sendable {
  /// An extra column of `item.csv` and the meta keys it is read from.
  struct ExtraKey: Sendable {
    var column: String
    var sourceKeys: [String]
  }

  var extraKeys: [ExtraKey]

  /// The extra columns the official script knows, with their source keys (`detailKeys`).
  static let knownKeys = [
    ExtraKey(column: "brand", sourceKeys: ["Brand", "brand"]),
    ExtraKey(column: "style", sourceKeys: ["Style"]),
    ExtraKey(column: "category", sourceKeys: ["Category", "category", "Categories", "categories", "cate", "cates"]),
  ]

  init(extraKeys: [ExtraKey]) {
    self.extraKeys = extraKeys
  }

  /// The rules with the named extra columns, in the given order; an unknown name is a usage error.
  init(columns: [String], file: String) throws(PipelineError) {
    var keys: [ExtraKey] = []
    for column in columns {
      guard let key = Self.knownKeys.first(where: { $0.column == column }) else {
        throw .usage(
          "\(file): ingest parameter 'tca4rec_columns' names '\(column)'; the known columns are brand, style, category")
      }
      keys.append(key)
    }
    extraKeys = keys
  }

  /// The official `detailKeys` by dataset name: Toys_and_Games brand; Sports_and_Outdoors brand,
  /// style, category; every other category none.
  static func forCategory(_ category: String) -> TCA4RecItemRules {
    switch category {
    case "Toys_and_Games": return TCA4RecItemRules(extraKeys: [knownKeys[0]])
    case "Sports_and_Outdoors": return TCA4RecItemRules(extraKeys: knownKeys)
    default: return TCA4RecItemRules(extraKeys: [])
    }
  }

  /// Counts for the report's `tca4rec` entry.
  struct Counts {
    var metaLines = 0
    var withoutTitle = 0
    var brandRejected = 0
    var malformed = 0
    var duplicateIDs = 0
    var items = 0

    func json(rules: TCA4RecItemRules) -> JSONValue {
      [
        "meta_lines": JSONValue(metaLines), "without_title": JSONValue(withoutTitle),
        "brand_rejected": JSONValue(brandRejected), "malformed": JSONValue(malformed),
        "duplicate_ids": JSONValue(duplicateIDs), "items": JSONValue(items),
        "extra_columns": .array(rules.extraKeys.map { JSONValue.string($0.column) }),
      ]
    }
  }

  /// Python's truth value of a JSON value.
  static func isTruthy(_ value: JSONValue) -> Bool {
    switch value {
    case .null: return false
    case .bool(let flag): return flag
    case .integer(let number): return number != 0
    case .number(let number): return number != 0
    case .string(let text): return !text.isEmpty
    case .array(let elements): return !elements.isEmpty
    case .object(let members): return !members.isEmpty
    }
  }

  /// The record of one meta line, or why the official code would not keep it.
  enum Outcome {
    case item(ItemRecord)
    case withoutTitle
    case brandRejected
    case malformed(field: String, expected: String)
  }

  /// Applies the rules to one meta line; `mapping` is the official `item_mapping` (cut title → the
  /// first id), updated here for every line with a title.
  func apply(_ object: [String: JSONValue], mapping: inout [[UInt8]: String]) -> Outcome {
    guard let titleValue = object["title"], Self.isTruthy(titleValue) else { return .withoutTitle }
    guard case .string(let fullTitle) = titleValue else { return .malformed(field: "title", expected: "a string") }
    if fullTitle == "unknown" || fullTitle == "None" { return .withoutTitle }
    let cut = String(String.UnicodeScalarView(fullTitle.unicodeScalars.prefix(50)))
    var extras: [(ExtraKey, [JSONValue])] = []
    for key in extraKeys {
      var values: [JSONValue] = []
      for source in key.sourceKeys {
        switch object[source] {
        case nil: continue
        case .string(let text)?: values.append(.string(text))
        case .array(let elements)?: values.append(contentsOf: elements)
        case let other?:
          // `list.extend` of a dict adds its keys; of null or a number the official code fails.
          guard case .object(let members) = other else {
            return .malformed(field: source, expected: "a string or a list")
          }
          values.append(contentsOf: members.keys.sorted().map(JSONValue.string))
        }
      }
      if case .object(let details)? = object["details"] {
        for source in key.sourceKeys {
          guard let value = details[source] else { continue }
          switch value {
          case .string(let text): values = [.string(text)]
          case .array(let elements): values = elements
          default: return .malformed(field: "details.\(source)", expected: "a string or a list")
          }
          break
        }
      }
      extras.append((key, values))
    }
    let rawID: String
    if case .string(let asin)? = object["asin"] {
      rawID = asin
    } else if case .string(let parent)? = object["parent_asin"], object["asin"] == nil || object["asin"] == .null {
      rawID = parent
    } else {
      return .malformed(field: "asin", expected: "a string (or parent_asin)")
    }
    guard !rawID.isEmpty else { return .malformed(field: "asin", expected: "a non-empty string") }
    let titleKey = Array(cut.utf8)
    let mappingID: String
    if let first = mapping[titleKey] {
      mappingID = first
    } else {
      mapping[titleKey] = rawID
      mappingID = rawID
    }
    var metadata: [String: JSONValue] = ["mapping_iid": .string(mappingID)]
    for (key, values) in extras {
      switch key.column {
      case "brand":
        // `convert_brand`: the first value of the list.
        guard case .string(let first)? = values.first else { return .brandRejected }
        let brand = TCA4RecText.convertBrand(first)
        if brand.lowercased().contains("abcde") { return .brandRejected }
        metadata["brand"] = .string(brand)
      case "category":
        // `convert_category`: drop the first entry, keep the next one stripped.
        if values.count > 1 {
          guard case .string(let second) = values[1] else {
            return .malformed(field: "category", expected: "a list of strings")
          }
          metadata["category"] = [
            .string(String(String.UnicodeScalarView(TCA4RecText.pythonStrip(Array(second.unicodeScalars)))))
          ]
        } else {
          metadata["category"] = ["unknown category"]
        }
      default:
        metadata[key.column] = .array(values)
      }
    }
    return .item(ItemRecord(rawID: rawID, title: TCA4RecText.filterTitle(cut), metadata: metadata))
  }
}

extension AmazonReader {
  /// Reads the meta file with the official TCA4Rec item rules (`TCA4RecItemRules`); returns, for each
  /// provisional item, its record, or `nil` when the rules drop it or the meta file does not list it.
  ///
  /// Memory: the cut titles of all titled meta lines (the official `item_mapping`), O(meta lines).
  static func readTCA4RecMetadata(
    _ inputs: IngestInputs, rules: TCA4RecItemRules, wanted: [String: UInt32], count: Int
  ) throws -> [ItemRecord?] {
    let report = inputs.report
    let name = try inputs.name(metaRole)
    var records = [ItemRecord?](repeating: nil, count: count)
    var mapping: [[UInt8]: String] = [:]
    var keptIDs: Set<String> = []
    var counts = TCA4RecItemRules.Counts()
    try inputs.forEachLine(metaRole) { line, number in
      counts.metaLines += 1
      guard let value = try parse(line, pythonLiteral: false, report: report, name, number) else { return }
      guard let object = value.objectValue else {
        try report.skip("bad_meta_line", file: name, line: number, problem: "is a \(value.typeName), not a dict")
        return
      }
      switch rules.apply(object, mapping: &mapping) {
      case .withoutTitle:
        counts.withoutTitle += 1
      case .brandRejected:
        counts.brandRejected += 1
      case .malformed(let field, let expected):
        counts.malformed += 1
        try report.skip(
          "bad_metadata", file: name, line: number, field: field,
          problem: describe(object[field], expected: expected))
      case .item(let record):
        guard keptIDs.insert(record.rawID).inserted else {
          counts.duplicateIDs += 1
          return
        }
        counts.items += 1
        if let index = wanted[record.rawID] { records[Int(index)] = record }
      }
    }
    inputs.report.extra["tca4rec"] = counts.json(rules: rules)
    return records
  }
}
