import ArtifactFormats
import PipelineCore

/// A seeded generator of an Amazon-2018-style review log, for tests, demos and benchmarks.
///
/// What it plants, so that a CF model has something to learn and a title trie something to share:
/// - a catalog of product lines (2–9 items of one brand whose titles share the prefix
///   brand + line + descriptor, see `SyntheticTitleGrammar`), in three departments;
/// - long-tailed popularity: line weights 1/rank (Zipf, exponent 1) over a random ranking of the
///   lines, member weights 1/(position + 1) inside a line;
/// - sequential structure: after an item, the next one is the following member of its line with
///   probability 0.45, another member of the line with 0.15, an item of another line of the same
///   brand with 0.10, else a popularity draw (from the user's preferred department with 0.6);
///   a user reviews an item at most once (up to 32 redraws);
/// - history lengths 5 + a negative binomial (r = 2), mean `meanLength` (at least 5);
/// - daily unix timestamps increasing strictly per user inside 2014-01-01…2018-12-31, in bursts;
/// - ratings 1–5 skewed high (5: 55 %, 4: 22 %, 3: 11 %, 2: 5 %, 1: 7 %);
/// - ASIN-shaped item ids ("B0" + 8 of [0-9A-Z]) and reviewer ids ("A" + 13 of [0-9A-Z]).
///
/// The same parameters give the same log, byte for byte, on every platform: only the seeded
/// generator and IEEE arithmetic (no `exp`/`log`) decide anything. Events come user by user,
/// each user's in time order. Item metadata: `brand`, `categories` ([department, subcategory]).
public struct SyntheticReviewGenerator: Sendable {
  public var userCount: Int
  public var itemCount: Int
  public var meanLength: Double
  public var seed: UInt64

  /// The shortest history a user gets.
  public static let minimumLength = 5
  static let firstDay: Int64 = 1_388_534_400  // 2014-01-01T00:00:00Z
  static let dayCount = 1826  // through 2018-12-31
  static let secondsPerDay: Int64 = 86_400
  static let maximumLength = 1800
  static let identifierAlphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)

  /// - Parameters:
  ///   - users: how many users (each gets at least `minimumLength` events).
  ///   - items: how many items in the catalog (at least 2).
  ///   - meanLength: the mean history length (values below 5 give 5).
  ///   - seed: the generator's seed.
  public init(users: Int, items: Int, meanLength: Double = 12, seed: UInt64 = 17) {
    precondition(users >= 0 && items >= 2, "the synthetic log needs users >= 0 and items >= 2")
    self.userCount = users
    self.itemCount = items
    self.meanLength = meanLength
    self.seed = seed
  }

  /// A product line: the items of one brand that share a title prefix and follow each other.
  struct ProductLine {
    var department: Int
    var brandKey: String
    var members: [Int]
  }

  /// Items with their lines and the popularity tables to draw from.
  struct Catalog {
    var items: [ItemRecord] = []
    var lines: [ProductLine] = []
    var lineOfItem: [Int] = []
    var positionInLine: [Int] = []
    var linesByBrand: [String: [Int]] = [:]
    /// Cumulative popularity over all items, and per department over that department's items.
    var cumulative: [Double] = []
    var departmentItems: [[Int]] = []
    var departmentCumulative: [[Double]] = []
    var departmentWeights: [Double] = []
  }

  /// Generates the log.
  /// - Complexity: O(items + users × mean length) expected.
  public func generate() -> InteractionLog {
    var generator = SeededGenerator(seed: seed)
    let catalog = makeCatalog(&generator)
    var log = InteractionLog()
    log.items = catalog.items
    var reviewerIDs: Set<String> = []
    let departmentTotal = catalog.departmentWeights.reduce(0, +)
    let departmentCumulative = catalog.departmentWeights.reduce(into: [Double]()) { $0.append(($0.last ?? 0) + $1) }
    var history: [Int] = []
    var seen: Set<Int> = []
    var days: [Int64] = []
    for _ in 0..<userCount {
      var reviewerID = Self.identifier(prefix: "A", length: 13, &generator)
      while !reviewerIDs.insert(reviewerID).inserted {
        reviewerID = Self.identifier(prefix: "A", length: 13, &generator)
      }
      let user = UInt32(log.users.count)
      log.users.append(reviewerID)
      let preferred = Self.draw(departmentCumulative, total: departmentTotal, &generator)
      let length = drawLength(&generator)
      history.removeAll(keepingCapacity: true)
      seen.removeAll(keepingCapacity: true)
      var current = drawPopular(catalog, preferred: preferred, &generator)
      for position in 0..<length {
        if position > 0 {
          var candidate = nextItem(after: current, catalog, preferred: preferred, &generator)
          var attempts = 0
          while seen.contains(candidate) && attempts < 32 {
            candidate = nextItem(after: current, catalog, preferred: preferred, &generator)
            attempts += 1
          }
          current = candidate
        }
        seen.insert(current)
        history.append(current)
      }
      drawDays(count: length, into: &days, &generator)
      for (position, item) in history.enumerated() {
        let time = Self.firstDay + days[position] * Self.secondsPerDay
        log.appendEvent(user: user, item: UInt32(item), time: time, rating: Self.drawRating(&generator))
      }
    }
    return log
  }

  // MARK: - Catalog

  func makeCatalog(_ generator: inout SeededGenerator) -> Catalog {
    let departments = SyntheticTitleGrammar.departments
    let departmentCumulative = departments.reduce(into: [Double]()) { $0.append(($0.last ?? 0) + $1.weight) }
    // Items in creation order; shuffled into their final indices below.
    var titles: [String] = []
    var metadata: [[String: JSONValue]] = []
    var lineMembers: [[Int]] = []
    var lineDepartments: [Int] = []
    var lineBrands: [String] = []
    var usedTitles: Set<String> = []
    while titles.count < itemCount {
      let size = min(itemCount - titles.count, 2 + generator.nextInt(below: 8))
      let departmentIndex = Self.draw(departmentCumulative, total: departmentCumulative.last!, &generator)
      let department = departments[departmentIndex]
      // The smaller of two uniform draws: early brands get more lines.
      let brand = department.brands[
        min(generator.nextInt(below: department.brands.count), generator.nextInt(below: department.brands.count))]
      let lineName = department.lineNames[generator.nextInt(below: department.lineNames.count)]
      let descriptor =
        generator.nextUnit() < 0.7
        ? department.descriptors[generator.nextInt(below: department.descriptors.count)] : nil
      let subcategory = department.subcategories[generator.nextInt(below: department.subcategories.count)]
      let audience =
        generator.nextUnit() < 0.25 ? department.audiences[generator.nextInt(below: department.audiences.count)] : nil
      let sameType = generator.nextUnit() < 0.5
      let baseType = subcategory.productTypes[generator.nextInt(below: subcategory.productTypes.count)]
      var members: [Int] = []
      for _ in 0..<size {
        let productType =
          sameType ? baseType : subcategory.productTypes[generator.nextInt(below: subcategory.productTypes.count)]
        var title = ""
        for _ in 0..<6 {
          let variant =
            generator.nextUnit() < 0.8 || sameType
            ? department.variants[generator.nextInt(below: department.variants.count)] : nil
          title = Self.assembleTitle(
            brand: brand, line: lineName, descriptor: descriptor, productType: productType, variant: variant,
            audience: audience)
          if !usedTitles.contains(title) { break }
        }
        usedTitles.insert(title)
        members.append(titles.count)
        titles.append(title)
        metadata.append([
          "brand": .string(brand),
          "categories": .array([.string(department.name), .string(subcategory.name)]),
        ])
      }
      lineMembers.append(members)
      lineDepartments.append(departmentIndex)
      lineBrands.append(department.name + "/" + brand)
    }

    // Final item indices: a seeded permutation, so that index order says nothing about lines.
    var permutation = Array(0..<itemCount)
    for index in stride(from: itemCount - 1, to: 0, by: -1) {
      permutation.swapAt(index, generator.nextInt(below: index + 1))
    }
    var catalog = Catalog()
    catalog.items = [ItemRecord](repeating: ItemRecord(rawID: "", title: nil), count: itemCount)
    var asins: Set<String> = []
    var asinByIndex = [String](repeating: "", count: itemCount)
    for index in 0..<itemCount {
      var asin = Self.identifier(prefix: "B0", length: 8, &generator)
      while !asins.insert(asin).inserted { asin = Self.identifier(prefix: "B0", length: 8, &generator) }
      asinByIndex[index] = asin
    }
    for created in 0..<itemCount {
      let index = permutation[created]
      catalog.items[index] = ItemRecord(rawID: asinByIndex[index], title: titles[created], metadata: metadata[created])
    }
    catalog.lineOfItem = [Int](repeating: 0, count: itemCount)
    catalog.positionInLine = [Int](repeating: 0, count: itemCount)
    for (lineIndex, members) in lineMembers.enumerated() {
      let mapped = members.map { permutation[$0] }
      for (position, item) in mapped.enumerated() {
        catalog.lineOfItem[item] = lineIndex
        catalog.positionInLine[item] = position
      }
      catalog.lines.append(
        ProductLine(department: lineDepartments[lineIndex], brandKey: lineBrands[lineIndex], members: mapped))
      catalog.linesByBrand[lineBrands[lineIndex], default: []].append(lineIndex)
    }

    // Popularity: lines ranked by a seeded permutation, weight 1/(rank + 1); members 1/(position + 1).
    var ranks = Array(0..<catalog.lines.count)
    for index in stride(from: ranks.count - 1, to: 0, by: -1) {
      ranks.swapAt(index, generator.nextInt(below: index + 1))
    }
    var weights = [Double](repeating: 0, count: itemCount)
    for (lineIndex, line) in catalog.lines.enumerated() {
      let lineWeight = 1.0 / Double(ranks[lineIndex] + 1)
      for (position, item) in line.members.enumerated() {
        weights[item] = lineWeight / Double(position + 1)
      }
    }
    catalog.cumulative = weights.reduce(into: [Double]()) { $0.append(($0.last ?? 0) + $1) }
    catalog.departmentItems = Array(repeating: [], count: departments.count)
    catalog.departmentCumulative = Array(repeating: [], count: departments.count)
    catalog.departmentWeights = Array(repeating: 0, count: departments.count)
    for item in 0..<itemCount {
      let department = catalog.lines[catalog.lineOfItem[item]].department
      catalog.departmentItems[department].append(item)
      catalog.departmentWeights[department] += weights[item]
      catalog.departmentCumulative[department].append(catalog.departmentWeights[department])
    }
    return catalog
  }

  /// Joins the parts of a title, dropping optional parts until it has at most 14 words and adding a
  /// variant when it has fewer than 4.
  static func assembleTitle(
    brand: String, line: String, descriptor: String?, productType: String, variant: String?, audience: String?
  ) -> String {
    var descriptor = descriptor
    var variant = variant
    var audience = audience
    func join() -> String {
      [brand, line, descriptor, productType, variant, audience].compactMap { $0 }.joined(separator: " ")
    }
    var title = join()
    if SyntheticTitleGrammar.wordCount(title) > 14 { audience = nil; title = join() }
    if SyntheticTitleGrammar.wordCount(title) > 14 { descriptor = nil; title = join() }
    if SyntheticTitleGrammar.wordCount(title) > 14 { variant = nil; title = join() }
    if SyntheticTitleGrammar.wordCount(title) < 4 {
      variant = variant ?? "Value Pack"
      title = join()
    }
    return title
  }

  // MARK: - Drawing

  /// The first index whose cumulative weight exceeds a uniform draw in [0, total).
  static func draw(_ cumulative: [Double], total: Double, _ generator: inout SeededGenerator) -> Int {
    let target = generator.nextUnit() * total
    var low = 0
    var high = cumulative.count - 1
    while low < high {
      let middle = (low + high) / 2
      if cumulative[middle] > target { high = middle } else { low = middle + 1 }
    }
    return low
  }

  func drawPopular(_ catalog: Catalog, preferred: Int, _ generator: inout SeededGenerator) -> Int {
    let items = catalog.departmentItems[preferred]
    if !items.isEmpty && generator.nextUnit() < 0.6 {
      let cumulative = catalog.departmentCumulative[preferred]
      return items[Self.draw(cumulative, total: cumulative.last!, &generator)]
    }
    return Self.draw(catalog.cumulative, total: catalog.cumulative.last!, &generator)
  }

  func nextItem(after item: Int, _ catalog: Catalog, preferred: Int, _ generator: inout SeededGenerator) -> Int {
    let line = catalog.lines[catalog.lineOfItem[item]]
    let choice = generator.nextUnit()
    if line.members.count > 1 {
      if choice < 0.45 {
        return line.members[(catalog.positionInLine[item] + 1) % line.members.count]
      }
      if choice < 0.60 {
        return line.members[generator.nextInt(below: line.members.count)]
      }
    }
    if choice < 0.70, let brandLines = catalog.linesByBrand[line.brandKey], brandLines.count > 1 {
      let other = catalog.lines[brandLines[generator.nextInt(below: brandLines.count)]]
      let position = min(generator.nextInt(below: other.members.count), generator.nextInt(below: other.members.count))
      return other.members[position]
    }
    return drawPopular(catalog, preferred: preferred, &generator)
  }

  /// 5 + a negative binomial (two geometric draws) with mean `meanLength` − 5, capped.
  func drawLength(_ generator: inout SeededGenerator) -> Int {
    let extraMean = max(0, meanLength - Double(Self.minimumLength))
    let cap = min(itemCount, Self.maximumLength)
    guard extraMean > 0 else { return min(Self.minimumLength, cap) }
    let stopProbability = 1.0 / (1.0 + extraMean / 2)
    let extraCap = Int(extraMean * 20) + 50
    var extra = 0
    for _ in 0..<2 {
      while generator.nextUnit() >= stopProbability && extra < extraCap { extra += 1 }
    }
    return min(Self.minimumLength + extra, cap)
  }

  /// Day offsets from 2014-01-01, strictly increasing, inside the five years: bursts of reviews a few
  /// days apart with occasional long gaps.
  func drawDays(count: Int, into days: inout [Int64], _ generator: inout SeededGenerator) {
    days.removeAll(keepingCapacity: true)
    let meanGap = max(1, min(40, 1500 / max(count, 1)))
    var gaps: [Int] = []
    for _ in 1..<max(count, 1) {
      let spread = generator.nextUnit() < 0.7 ? meanGap : 6 * meanGap
      gaps.append(1 + generator.nextInt(below: spread))
    }
    let maximumSpan = Self.dayCount - 1
    var span = gaps.reduce(0, +)
    if span > maximumSpan {
      // Scale the part of each gap above one day so the span fits; gaps stay at least one day.
      let allowed = maximumSpan - gaps.count
      let extras = span - gaps.count
      gaps = gaps.map { 1 + ($0 - 1) * allowed / extras }
      span = gaps.reduce(0, +)
    }
    var day = Int64(generator.nextInt(below: maximumSpan - span + 1))
    days.append(day)
    for gap in gaps {
      day += Int64(gap)
      days.append(day)
    }
  }

  static func drawRating(_ generator: inout SeededGenerator) -> Float {
    let draw = generator.nextUnit()
    if draw < 0.55 { return 5 }
    if draw < 0.77 { return 4 }
    if draw < 0.88 { return 3 }
    if draw < 0.93 { return 2 }
    return 1
  }

  static func identifier(prefix: String, length: Int, _ generator: inout SeededGenerator) -> String {
    var bytes = Array(prefix.utf8)
    for _ in 0..<length { bytes.append(identifierAlphabet[generator.nextInt(below: identifierAlphabet.count)]) }
    return String(decoding: bytes, as: UTF8.self)
  }
}
