import ArtifactFormats
import PipelineCore

extension SyntheticReviewGenerator {
  /// Renders a log as Amazon Reviews 2018 review lines (the `<Category>_5.json` files), one JSON
  /// object per event in log order, keys in the order the real files have them:
  /// `overall, verified, reviewTime, reviewerID, asin, reviewerName, reviewText, summary, unixReviewTime`.
  ///
  /// The review text and summary are short phrases chosen by rating and event index, so the output is
  /// deterministic. `overall` is left out for events without a rating (NaN).
  /// - Parameter log: any log; synthetic ones have the raw ids Amazon files expect.
  /// - Returns: one line per event, without line breaks.
  public static func renderAmazon2018Reviews(_ log: InteractionLog) -> [String] {
    var lines: [String] = []
    lines.reserveCapacity(log.eventCount)
    for index in 0..<log.eventCount {
      let user = log.users[Int(log.eventUser[index])]
      let item = log.items[Int(log.eventItem[index])]
      let rating = log.eventRating[index]
      let time = log.eventTime[index]
      let stars = rating.isFinite ? min(max(Int(rating.rounded()), 1), 5) : 4
      let phrases = reviewPhrases[stars - 1]
      let text = phrases[index % phrases.count]
      let summary = summaries[stars - 1][(index / phrases.count) % summaries[stars - 1].count]
      var line = "{"
      if rating.isFinite { line += "\"overall\": \(JSONValue.number(Double(rating)).canonicalText()), " }
      line += "\"verified\": true, "
      line += "\"reviewTime\": \(quoted(reviewTime(unixSeconds: time))), "
      line += "\"reviewerID\": \(quoted(user)), "
      line += "\"asin\": \(quoted(item.rawID)), "
      line += "\"reviewerName\": \(quoted("Reviewer \(log.eventUser[index] + 1)")), "
      line += "\"reviewText\": \(quoted(text)), "
      line += "\"summary\": \(quoted(summary)), "
      line += "\"unixReviewTime\": \(time)}"
      lines.append(line)
    }
    return lines
  }

  /// Renders a log's items as Amazon Reviews 2018 metadata lines (`meta_<Category>.json`):
  /// `category` (the item's `categories`), `title`, `brand`, `asin`, in item order; a missing title or
  /// brand leaves its key out.
  public static func renderAmazon2018Metadata(_ log: InteractionLog) -> [String] {
    log.items.map { item in
      var line = "{"
      if let categories = item.metadata["categories"] { line += "\"category\": \(categories.canonicalText()), " }
      if let title = item.title { line += "\"title\": \(quoted(title)), " }
      if let brand = item.metadata["brand"]?.stringValue { line += "\"brand\": \(quoted(brand)), " }
      line += "\"asin\": \(quoted(item.rawID))}"
      return line
    }
  }

  /// A JSON string literal.
  static func quoted(_ text: String) -> String { JSONValue.string(text).canonicalText() }

  /// The `reviewTime` field: "MM D, YYYY" in UTC ("09 1, 2016"), as the 2018 files write it.
  static func reviewTime(unixSeconds: Int64) -> String {
    let (year, month, day) = civilDate(daysSinceEpoch: Int(unixSeconds.dividedRoundingDown(by: 86_400)))
    return (month < 10 ? "0" : "") + "\(month) \(day), \(year)"
  }

  /// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
  static func civilDate(daysSinceEpoch: Int) -> (year: Int, month: Int, day: Int) {
    let shifted = daysSinceEpoch + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }

  static let reviewPhrases: [[String]] = [
    ["Broke after two days.", "Not as described, returning it.", "Waste of money."],
    ["Disappointed, the quality is poor.", "Smaller than expected.", "It works, barely."],
    ["It is okay for the price.", "Does the job, nothing special.", "Average quality."],
    ["Good product, would buy again.", "Works well, arrived quickly.", "Nice quality for the price."],
    ["Love it! Exactly what I wanted.", "Excellent, highly recommend.", "Best purchase this year.", "Perfect gift."],
  ]

  static let summaries: [[String]] = [
    ["One Star", "Do not buy"],
    ["Two Stars", "Meh"],
    ["Three Stars", "OK"],
    ["Four Stars", "Good"],
    ["Five Stars", "Love it", "Great"],
  ]
}

extension Int64 {
  /// Floor division (toward negative infinity), for dates before 1970.
  fileprivate func dividedRoundingDown(by divisor: Int64) -> Int64 {
    let quotient = self / divisor
    return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
  }
}
