import Foundation
import LogIngest
import PipelineCore
import Testing

/// `PythonLiteral.repr` (list columns of the official CSV layout) against Python's own `repr`.
@Suite struct PythonReprTests {
  static let values: [JSONValue] = [
    "abc", "it's", "say \"hi\"", "both ' and \"", "back\\slash", "tab\tnew\nret\r", "\u{7F}\u{01}\u{1F}",
    "é ü 中文 😀", "\u{A0}nbsp", "\u{AD}soft hyphen", "\u{200B}zero width", "line\u{2028}separator",
    "\u{E000}private", "\u{85}next line", "\u{378}unassigned", "\u{3000}ideographic space", "",
    ["Sports & Outdoors", "it's"], [5.0, 4.5, 0.00001, 1e16, 3, -2], [.null, true, false], [[], ["nested"]],
  ]

  @Test func reprEqualsPython() throws {
    let input = JSONValue.array(Self.values).canonicalText()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "python3", "-c", "import json, sys; print(json.dumps([repr(v) for v in json.load(sys.stdin)]))",
    ]
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let expected = try JSONParser.parse(Array(output)).arrayValue?.compactMap(\.stringValue) ?? []
    #expect(expected.count == Self.values.count)
    for (value, python) in zip(Self.values, expected) {
      #expect(PythonLiteral.repr(value) == python, "\(value.canonicalText())")
    }
  }
}
