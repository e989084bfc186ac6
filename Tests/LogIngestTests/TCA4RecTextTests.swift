import Foundation
import LogIngest
import PipelineCore
import TestSupport
import Testing

/// `TCA4RecText` against Python itself: `html.unescape` and the official `filter_title` /
/// `convert_brand` restated on it (Tests/python/tca4rec_text_oracle.py), on hand-made references and
/// edge cases and on every title and brand of the real Amazon 2018 meta files.
@Suite struct TCA4RecTextTests {
  /// Python's answers for `requests` (kind, text), in order.
  func oracle(_ requests: [(String, String)]) throws -> [String] {
    let input =
      requests.map { JSONValue.object(["kind": .string($0.0), "text": .string($0.1)]).canonicalText() }
      .joined(separator: "\n") + "\n"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "Tests/python/tca4rec_text_oracle.py"]
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    try process.run()
    let writer = stdin.fileHandleForWriting
    let bytes = Data(input.utf8)
    DispatchQueue.global().async {
      writer.write(bytes)
      try? writer.close()
    }
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return try String(decoding: output, as: UTF8.self).split(separator: "\n").map { line in
      try JSONParser.parse(Array(line.utf8)).stringValue ?? ""
    }
  }

  /// Our answer to one request.
  static func ours(_ kind: String, _ text: String) -> String {
    switch kind {
    case "unescape": return TCA4RecText.htmlUnescape(text)
    case "title": return TCA4RecText.filterTitle(text)
    default: return TCA4RecText.convertBrand(text)
    }
  }

  static let edgeCases = [
    "", "&", "&&", "a & b", "&amp;", "&amp", "&AMP", "&ampxyz", "&amp;amp;", "&notit;", "&notin;", "&notin",
    "&AElig", "&AElig;x", "&#;", "&#x;", "&#65;", "&#65", "&#x41;", "&#X41", "&#0;", "&#13;", "&#128;", "&#150;",
    "&#x9F;", "&#xD800;", "&#x110000;", "&#99999999999999999999999;", "&#1;", "&#xFFFE;", "&#8217;s",
    "&#x2019;", "caf&eacute;", "&Eacute&eacute", "&lt;tag&gt;", "&nbsp;&nbsp;x", "&copy;2020", "&thinsp;",
    "&zwnj;", "&Afr;", "&fjlig;", "&nsubE;", "&abcdefghijklmnopqrstuvwxyzabcdefghij;", "x&y;z", "&#\n", "&#x\t1",
    "Kids “Fun” – Toys…", "Rock ‘n’ Roll", "A\nB\rC", "  spaced   out  ", "\u{A0}nbsp\u{3000}", "ABCDEFG set",
    "abcdefg", "Café", "日本", "ok", "12", "!!!", "a1", "Lego® Set™ ½", "x" + String(repeating: "word ", count: 40),
    String(repeating: "a", count: 200), "\u{2028}line sep\u{2029}", "tab\there", "\u{1C}x\u{1F}", "e\u{301}",
  ]

  @Test func unescapeTitleAndBrandEqualPythonOnEdgeCases() throws {
    let kinds = ["unescape", "title", "brand"]
    let requests = kinds.flatMap { kind in Self.edgeCases.map { (kind, $0) } }
    let expected = try oracle(requests)
    #expect(expected.count == requests.count)
    for ((kind, text), python) in zip(requests, expected) {
      let ours = Self.ours(kind, text)
      #expect(Array(ours.unicodeScalars) == Array(python.unicodeScalars), "\(kind) of \(text.debugDescription)")
    }
  }

  @Test(
    arguments: [
      "amazon-2018/Gift_Cards/meta_Gift_Cards.json.gz",
      "amazon-2018/Magazine_Subscriptions/meta_Magazine_Subscriptions.json.gz",
    ])
  func everyRealTitleAndBrandEqualsPython(_ file: String) throws {
    guard SharedData.shouldRun(file) else { return }
    let unzip = Process()
    unzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    unzip.arguments = ["gzip", "-dc", SharedData.path(file)]
    let pipe = Pipe()
    unzip.standardOutput = pipe
    try unzip.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    unzip.waitUntilExit()
    var requests: [(String, String)] = []
    for line in data.split(separator: UInt8(ascii: "\n")) {
      let object = try JSONParser.parse(Array(line))
      if let title = object["title"]?.stringValue {
        requests.append(("title", String(String.UnicodeScalarView(title.unicodeScalars.prefix(50)))))
        requests.append(("title", title))
        requests.append(("unescape", title))
      }
      if let brand = object["brand"]?.stringValue { requests.append(("brand", brand)) }
    }
    #expect(requests.count > 1000)
    let expected = try oracle(requests)
    #expect(expected.count == requests.count)
    var differences = 0
    for ((kind, text), python) in zip(requests, expected) {
      let ours = Self.ours(kind, text)
      if Array(ours.unicodeScalars) != Array(python.unicodeScalars) {
        differences += 1
        if differences <= 5 {
          Issue.record(
            "\(kind) of \(text.debugDescription): ours \(ours.debugDescription), Python \(python.debugDescription)")
        }
      }
    }
    #expect(differences == 0, "\(differences) of \(requests.count) differ")
  }
}
