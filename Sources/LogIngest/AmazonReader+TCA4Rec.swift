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

  let extraKeys: [ExtraKey]
  /// The top-level members of a meta line that `apply` reads, in the order of its `members`:
  /// `title`, `asin`, `parent_asin`, then, with extra keys, `details` and every source key once.
  let memberNames: [String]
  /// For each extra key, the positions of its source keys in `memberNames`.
  private let sourcePositions: [[Int]]

  static let titlePosition = 0
  static let asinPosition = 1
  static let parentASINPosition = 2
  static let detailsPosition = 3

  /// The extra columns the official script knows, with their source keys (`detailKeys`).
  static let knownKeys = [
    ExtraKey(column: "brand", sourceKeys: ["Brand", "brand"]),
    ExtraKey(column: "style", sourceKeys: ["Style"]),
    ExtraKey(column: "category", sourceKeys: ["Category", "category", "Categories", "categories", "cate", "cates"]),
  ]

  init(extraKeys: [ExtraKey]) {
    self.extraKeys = extraKeys
    var names = ["title", "asin", "parent_asin"]
    if !extraKeys.isEmpty { names.append("details") }
    var positions: [[Int]] = []
    for key in extraKeys {
      positions.append(
        key.sourceKeys.map { source in
          if let known = names.firstIndex(of: source) { return known }
          names.append(source)
          return names.count - 1
        })
    }
    memberNames = names
    sourcePositions = positions
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
    self.init(extraKeys: keys)
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

  /// A cut title's UTF-8 bytes as an `item_mapping` key: equal when the bytes are (Python's `str`
  /// equality, not `String`'s canonical equivalence), hashed in one call rather than byte by byte.
  struct TitleKey: Hashable {
    var bytes: [UInt8]

    func hash(into hasher: inout Hasher) {
      bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
  }

  /// The record of one meta line, or why the official code would not keep it.
  enum Outcome {
    case item(ItemRecord)
    case withoutTitle
    case brandRejected
    case malformed(field: String, expected: String)
  }

  /// Applies the rules to one meta line given as its object.
  func apply(_ object: [String: JSONValue], mapping: inout [TitleKey: String]) -> Outcome {
    apply(members: memberNames.map { object[$0] }, mapping: &mapping)
  }

  /// Applies the rules to one meta line; `mapping` is the official `item_mapping` (cut title → the
  /// first id), updated here for every line with a title.
  /// - Parameter members: the line's members named `memberNames`, in that order (`nil`: missing).
  func apply(members: [JSONValue?], mapping: inout [TitleKey: String]) -> Outcome {
    guard let titleValue = members[Self.titlePosition], Self.isTruthy(titleValue) else { return .withoutTitle }
    guard case .string(let fullTitle) = titleValue else { return .malformed(field: "title", expected: "a string") }
    if fullTitle == "unknown" || fullTitle == "None" { return .withoutTitle }
    var extras: [(ExtraKey, [JSONValue])] = []
    for (keyIndex, key) in extraKeys.enumerated() {
      var values: [JSONValue] = []
      for (source, position) in zip(key.sourceKeys, sourcePositions[keyIndex]) {
        switch members[position] {
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
      if case .object(let details)? = members[Self.detailsPosition] {
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
    let asin = members[Self.asinPosition]
    let rawID: String
    if case .string(let text)? = asin {
      rawID = text
    } else if case .string(let parent)? = members[Self.parentASINPosition], asin == nil || asin == .null {
      rawID = parent
    } else {
      return .malformed(field: "asin", expected: "a string (or parent_asin)")
    }
    guard !rawID.isEmpty else { return .malformed(field: "asin", expected: "a non-empty string") }
    let (cut, titleBytes) = Self.cutTitle(fullTitle)
    let titleKey = TitleKey(bytes: titleBytes)
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
    return .item(ItemRecord(rawID: rawID, title: Self.filterTitle(cut, bytes: titleKey.bytes), metadata: metadata))
  }

  /// `TCA4RecText.filterTitle` of a cut title whose UTF-8 bytes are `bytes`, computed on the bytes
  /// when they are what nearly every title is: printable ASCII without `&`, where `filter_title`
  /// unescapes, replaces and blanks nothing and every character is allowed, so it only joins runs
  /// of spaces, strips the ends, and checks for "abcdefg", a letter and a length of 3. Any other
  /// title goes to `TCA4RecText.filterTitle`.
  static func filterTitle(_ cut: String, bytes: [UInt8]) -> String {
    guard bytes.count <= 150, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "&") }) else {
      return TCA4RecText.filterTitle(cut)
    }
    var kept: [UInt8] = []
    kept.reserveCapacity(bytes.count)
    for byte in bytes where byte != 0x20 || (kept.last.map { $0 != 0x20 } ?? false) { kept.append(byte) }
    if kept.last == 0x20 { kept.removeLast() }
    // "abcdefg" in the lower-cased text: a run of 7 letters, each the one after the one before.
    var hasLetter = false
    var run = 0
    for byte in kept {
      let lowered = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
      guard (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(lowered) else {
        run = 0
        continue
      }
      hasLetter = true
      run = lowered == UInt8(ascii: "a") + UInt8(run) ? run + 1 : (lowered == UInt8(ascii: "a") ? 1 : 0)
      if run == 7 { return "unknown title" }
    }
    guard hasLetter, kept.count >= 3 else { return TCA4RecText.deleteFlag }
    return kept.count == bytes.count ? cut : String(decoding: kept, as: UTF8.self)
  }

  /// `title[:50]`: the first 50 code points of `title`, and their UTF-8 bytes (the `item_mapping`
  /// key), counted on the bytes (a code point is a byte that is not a continuation byte).
  static func cutTitle(_ title: String) -> (String, [UInt8]) {
    var contiguous = title
    let (kept, isWhole) = contiguous.withUTF8 { bytes in
      var scalars = 0
      var end = 0
      while end < bytes.count {
        if bytes[end] & 0xC0 != 0x80 {
          if scalars == 50 { break }
          scalars += 1
        }
        end += 1
      }
      return (Array(bytes[..<end]), end == bytes.count)
    }
    return (isWhole ? title : String(decoding: kept, as: UTF8.self), kept)
  }
}

/// What the official TCA4Rec item rules make of one meta line (`TCA4RecMetaLineReader.read`).
package enum TCA4RecMetaLine: Equatable, Sendable {
  /// A record the rules keep (before the reader keeps only the first one of each id).
  case item(ItemRecord)
  /// No usable title: counted, not reported.
  case withoutTitle
  /// A rejected brand: counted, not reported.
  case brandRejected
  /// A skipped line: `bad_json` (not JSON), `bad_meta_line` (not an object) or `bad_metadata`
  /// (a field the official code would fail on), with the field at fault and the problem as the
  /// report words them.
  case skipped(reason: String, field: String?, problem: String)
}

/// Reads meta lines one at a time with the official TCA4Rec item rules, keeping the official
/// `item_mapping` (cut title → first id) across lines.
///
/// A line goes first through `JSONFieldScanner`, which validates it as `JSONParser` would and
/// finds only the members the rules read (`TCA4RecItemRules.memberNames`); only those values are
/// parsed, each alone. A line the scanner is not sure of goes through `JSONParser` whole, so the
/// outcome, the skip reason and its message are the same either way (a differential test checks
/// it on every real meta line and on mutations of them).
package struct TCA4RecMetaLineReader {
  let rules: TCA4RecItemRules
  private var scanner: JSONFieldScanner
  private var mapping: [TCA4RecItemRules.TitleKey: String] = [:]
  private var members: [JSONValue?]
  /// How many lines `read` took through the scanner (for tests that check the fast path is taken).
  package private(set) var scannedLines = 0

  init(rules: TCA4RecItemRules) {
    self.rules = rules
    scanner = JSONFieldScanner(names: rules.memberNames, options: [.valuesOfAnyKind, .decodesNestedKeys])
    members = Array(repeating: nil, count: rules.memberNames.count)
  }

  /// The rules with the named extra columns (`brand`, `style`, `category`).
  package init(columns: [String]) throws {
    self.init(rules: try TCA4RecItemRules(columns: columns, file: "test"))
  }

  /// Reads the next meta line.
  /// - Parameter fullParse: parse the whole line with `JSONParser` (the fallback), for tests that
  ///   compare the two ways.
  package mutating func read(_ line: UnsafeBufferPointer<UInt8>, fullParse: Bool = false) -> TCA4RecMetaLine {
    if !fullParse, scanner.scan(line), readScannedMembers(line) {
      scannedLines += 1
      let outcome = rules.apply(members: members, mapping: &mapping)
      return result(outcome) { field in
        if let position = rules.memberNames.firstIndex(of: field) { return members[position] }
        return (try? JSONParser.parse(line))?[field]
      }
    }
    let value: JSONValue
    do throws(JSONParser.SyntaxError) {
      value = try JSONParser.parse(line)
    } catch {
      return .skipped(reason: "bad_json", field: nil, problem: "is not JSON (\(error))")
    }
    guard let object = value.objectValue else {
      return .skipped(reason: "bad_meta_line", field: nil, problem: "is a \(value.typeName), not a dict")
    }
    return result(rules.apply(object, mapping: &mapping)) { object[$0] }
  }

  /// `members` from the scanner's fields; `false` when a value does not parse (never expected: the
  /// scanner validated it), for the caller to parse the line whole.
  private mutating func readScannedMembers(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
    for (position, field) in scanner.fields.enumerated() {
      switch field.kind {
      case .missing: members[position] = nil
      case .string:
        members[position] = .string(String(decoding: UnsafeBufferPointer(rebasing: line[field.range]), as: UTF8.self))
      case .integer: members[position] = .integer(field.integer)
      case .number: members[position] = .number(field.number)
      case .value:
        do throws(JSONParser.SyntaxError) {
          members[position] = try JSONParser.parse(UnsafeBufferPointer(rebasing: line[field.range]))
        } catch {
          return false
        }
      }
    }
    return true
  }

  /// The line's result from the rules' outcome; `member` gives a top-level member for the message
  /// of a malformed field.
  private func result(_ outcome: TCA4RecItemRules.Outcome, member: (String) -> JSONValue?) -> TCA4RecMetaLine {
    switch outcome {
    case .item(let record): return .item(record)
    case .withoutTitle: return .withoutTitle
    case .brandRejected: return .brandRejected
    case .malformed(let field, let expected):
      return .skipped(
        reason: "bad_metadata", field: field, problem: AmazonReader.describe(member(field), expected: expected))
    }
  }
}

extension AmazonReader {
  /// Reads the meta file with the official TCA4Rec item rules (`TCA4RecItemRules`): the record of
  /// each id the rules keep (the first line of each), by raw id; the counts go into the report's
  /// `tca4rec` entry. Which items were reviewed does not matter here: `read` keeps the records of
  /// reviewed items afterwards.
  ///
  /// Errors do not escape: the one that stopped reading is the result's `failure`.
  /// - Parameter stop: checked every 1024 lines; once cancelled, reading stops.
  /// - Complexity: O(bytes of the file); memory: the cut titles of all titled meta lines (the
  ///   official `item_mapping`) and the kept records, O(meta lines).
  static func readTCA4RecMetadata(_ inputs: IngestInputs, rules: TCA4RecItemRules, stop: Cancellation? = nil)
    -> MetaItems
  {
    var items = MetaItems()
    var counts = TCA4RecItemRules.Counts()
    do {
      let report = inputs.report
      let name = try inputs.name(metaRole)
      var reader = TCA4RecMetaLineReader(rules: rules)
      try inputs.forEachLine(metaRole) { line, number in
        counts.metaLines += 1
        if counts.metaLines & 1023 == 0 { try stop?.check() }
        switch reader.read(line) {
        case .withoutTitle:
          counts.withoutTitle += 1
        case .brandRejected:
          counts.brandRejected += 1
        case .skipped(let reason, let field, let problem):
          if reason == "bad_metadata" { counts.malformed += 1 }
          try report.skip(reason, file: name, line: number, field: field, problem: problem)
        case .item(let record):
          // The first line of an id wins.
          guard items.records[record.rawID] == nil else {
            counts.duplicateIDs += 1
            return
          }
          items.records[record.rawID] = record
          counts.items += 1
        }
      }
      inputs.report.extra["tca4rec"] = counts.json(rules: rules)
    } catch {
      items.failure = error
    }
    return items
  }
}
