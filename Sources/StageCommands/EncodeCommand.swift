import ArgumentParser
import BPETokenizer
import PipelineCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `tca encode`: token ids of JSON Lines of strings, for checking our tokenizer against other
/// implementations and for benchmarks.
struct EncodeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "encode",
    abstract: "Encodes JSON Lines of strings into token ids with a byte-level BPE tokenizer.",
    discussion: """
      Reads one JSON string per line (stdin or --input) and writes one JSON array of token ids per line.
      The tokenizer is a tokenizer.json (--tokenizer), a vocab.json + merges.txt pair with a pre-tokenizer
      preset (--vocabulary, --merges, --preset), or a tiktoken rank file (--tiktoken, --preset llama3).
      With --decode, reads JSON arrays of ids and writes JSON strings.
      """)

  @Option(name: .long, help: "A tokenizer.json, or a tokenizer artifact directory that holds one.")
  var tokenizer: String?

  @Option(name: .long, help: "A vocab.json (token → id), with --merges and --preset.")
  var vocabulary: String?

  @Option(name: .long, help: "A merges.txt, with --vocabulary and --preset.")
  var merges: String?

  @Option(name: .long, help: "A tiktoken rank file (lines 'base64 rank'), with --preset.")
  var tiktoken: String?

  @Option(name: .long, help: "The pre-tokenizer regex for --vocabulary or --tiktoken: gpt2, llama3 or qwen2.")
  var preset: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Special tokens for --vocabulary or --tiktoken: a tokenizer_config.json (its added_tokens_decoder) or a JSON object of token → id.",
      discussion:
        "Default: tokenizer_config.json beside the vocabulary if there is one; Llama 3's 256 special tokens for --tiktoken with --preset llama3."
    ))
  var specialTokens: String?

  @Option(name: .long, help: "Read the texts from this file instead of stdin.")
  var input: String?

  @Flag(name: .long, help: "Add the post-processor's special tokens (Llama 3: <|begin_of_text|> first).")
  var addSpecialTokens = false

  @Flag(name: .long, help: "Decode: read JSON arrays of ids, write JSON strings.")
  var decode = false

  @Flag(name: .long, help: "With --decode, drop special tokens.")
  var skipSpecialTokens = false

  @Option(name: .long, help: "Also write the loaded tokenizer as a Hugging Face tokenizer.json to this path.")
  var writeTokenizerJSON: String?

  @Option(name: .long, help: "Threads that encode (the output is the same for any number).")
  var threads = 1

  @Flag(name: .long, help: "Print the bytes, seconds and MB/s of the encoding loop (loading excluded) to stderr.")
  var benchmark = false

  @OptionGroup var common: CommonOptions

  func validate() throws {
    let sources = [tokenizer != nil, vocabulary != nil || merges != nil, tiktoken != nil].filter { $0 }.count
    guard sources == 1 else {
      throw ValidationError("give exactly one of --tokenizer, --vocabulary with --merges, or --tiktoken")
    }
    if (vocabulary == nil) != (merges == nil) { throw ValidationError("--vocabulary and --merges go together") }
    if vocabulary != nil || tiktoken != nil {
      guard let preset else { throw ValidationError("--vocabulary and --tiktoken need --preset gpt2, llama3 or qwen2") }
      guard PreTokenizerPreset(rawValue: preset) != nil else {
        throw ValidationError("unknown preset '\(preset)'; use gpt2, llama3 or qwen2")
      }
    } else if preset != nil {
      throw ValidationError("--preset goes with --vocabulary or --tiktoken; a tokenizer.json names its own regex")
    }
    if specialTokens != nil && tokenizer != nil {
      throw ValidationError("--special-tokens goes with --vocabulary or --tiktoken; a tokenizer.json lists its own")
    }
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    if let input, !FileSystem.exists(input) { throw ValidationError("input file '\(input)' does not exist") }
  }

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca encode")
    try reportingErrors(diagnostics) {
      let loadStart = monotonicSeconds()
      let tokenizer = try loadTokenizer()
      diagnostics.detail(
        "loaded \(tokenizer.vocabularySize) ids in \(String(threeDecimals: monotonicSeconds() - loadStart)) s")
      if let writeTokenizerJSON {
        try FileSystem.writeFileAtomically(writeTokenizerJSON, Array(tokenizer.tokenizerJSON().prettyText().utf8))
      }
      let lines = try readLines()
      if decode {
        try decodeLines(lines, tokenizer: tokenizer)
        return
      }
      var texts: [String] = []
      texts.reserveCapacity(lines.count)
      var byteCount = 0
      for (number, line) in lines.enumerated() {
        guard case .string(let text) = try parseLine(line, number: number + 1) else {
          throw PipelineError.invalidInput("\(inputName) line \(number + 1) is not a JSON string")
        }
        byteCount += text.utf8.count
        texts.append(text)
      }
      _ = tokenizer.encode("warm up")  // builds the Unicode class table outside the timed loop
      let start = monotonicSeconds()
      let encoded = tokenizer.encodeBatch(texts, addSpecialTokens: addSpecialTokens, threads: threads)
      let seconds = monotonicSeconds() - start
      if benchmark {
        let rate = seconds > 0 ? Double(byteCount) / seconds / 1e6 : 0
        diagnostics.emit(
          "tca encode: benchmark: \(texts.count) texts, \(byteCount) bytes, \(String(threeDecimals: seconds)) s, \(String(threeDecimals: rate)) MB/s, \(threads) threads\n"
        )
      }
      Self.printIDLines(encoded)
    }
  }

  /// Prints one JSON array of ids per line, formatting digits into bytes (a `String` per number
  /// would cost more than the encoding itself).
  static func printIDLines(_ rows: [[UInt32]]) {
    var buffer: [UInt8] = []
    var digits = [UInt8](repeating: 0, count: 10)
    for (index, ids) in rows.enumerated() {
      if !buffer.isEmpty { buffer.append(0x0A) }
      buffer.append(UInt8(ascii: "["))
      for (position, id) in ids.enumerated() {
        if position > 0 { buffer.append(UInt8(ascii: ",")) }
        var value = id
        var count = 0
        repeat {
          digits[count] = UInt8(ascii: "0") + UInt8(value % 10)
          value /= 10
          count += 1
        } while value > 0
        while count > 0 {
          count -= 1
          buffer.append(digits[count])
        }
      }
      buffer.append(UInt8(ascii: "]"))
      if buffer.count >= 1 << 20 || index == rows.count - 1 {
        printData(String(decoding: buffer, as: UTF8.self))
        buffer.removeAll(keepingCapacity: true)
      }
    }
  }

  private var inputName: String { input.map { "'\($0)'" } ?? "stdin" }

  private func loadTokenizer() throws -> Tokenizer {
    if let tokenizer {
      let path = FileSystem.isDirectory(tokenizer) ? FileSystem.join(tokenizer, "tokenizer.json") : tokenizer
      return try Tokenizer.load(tokenizerJSON: path)
    }
    let preset = PreTokenizerPreset(rawValue: preset ?? "")!
    if let vocabulary, let merges {
      var special: [String: Int] = [:]
      if let specialTokens {
        special = try Self.readSpecialTokens(specialTokens)
      } else {
        let beside = FileSystem.join(FileSystem.parentPath(vocabulary), "tokenizer_config.json")
        if FileSystem.exists(beside) { special = try Self.readSpecialTokens(beside) }
      }
      return try Tokenizer.load(vocabulary: vocabulary, merges: merges, preset: preset, specialTokens: special)
    }
    let special =
      try specialTokens.map(Self.readSpecialTokens) ?? (preset == .llama3 ? Tokenizer.llama3SpecialTokens : [:])
    return try Tokenizer.load(tiktokenRanks: tiktoken!, preset: preset, specialTokens: special)
  }

  /// Token → id from a `tokenizer_config.json` (`added_tokens_decoder`: id → {content…}) or a plain object.
  static func readSpecialTokens(_ path: String) throws -> [String: Int] {
    let json: JSONValue
    do {
      json = try JSONParser.parse(try FileSystem.readFile(path))
    } catch let error as PipelineError {
      throw error
    } catch {
      throw PipelineError.usage("'\(path)' is not valid JSON: \(error)")
    }
    if let decoder = json["added_tokens_decoder"]?.objectValue {
      var tokens: [String: Int] = [:]
      for (id, entry) in decoder {
        guard let number = Int(id), let content = entry["content"]?.stringValue else {
          throw PipelineError.usage("'\(path)': added_tokens_decoder entry '\(id)' needs an integer key and a content")
        }
        tokens[content] = number
      }
      return tokens
    }
    guard let object = json.objectValue else {
      throw PipelineError.usage("'\(path)' must be a tokenizer_config.json or a JSON object of token → id")
    }
    var tokens: [String: Int] = [:]
    for (token, id) in object {
      guard let number = id.integerValue else {
        throw PipelineError.usage("'\(path)': special token '\(token)' needs an integer id")
      }
      tokens[token] = Int(number)
    }
    return tokens
  }

  private func readLines() throws -> [[UInt8]] {
    let bytes: [UInt8]
    if let input {
      bytes = try FileSystem.readFile(input)
    } else {
      bytes = Self.readStandardInput()
    }
    var lines: [[UInt8]] = []
    var start = 0
    while start < bytes.count {
      var end = start
      while end < bytes.count && bytes[end] != 0x0A { end += 1 }
      var line = bytes[start..<end]
      if line.last == 0x0D { line = line.dropLast() }
      if !line.isEmpty { lines.append(Array(line)) }
      start = end + 1
    }
    return lines
  }

  private func parseLine(_ line: [UInt8], number: Int) throws -> JSONValue {
    do {
      return try JSONParser.parse(line)
    } catch {
      throw PipelineError.invalidInput("\(inputName) line \(number) is not valid JSON: \(error)")
    }
  }

  private func decodeLines(_ lines: [[UInt8]], tokenizer: Tokenizer) throws {
    for (number, line) in lines.enumerated() {
      guard let array = try parseLine(line, number: number + 1).arrayValue else {
        throw PipelineError.invalidInput("\(inputName) line \(number + 1) is not a JSON array of ids")
      }
      var ids: [UInt32] = []
      for value in array {
        guard let id = value.integerValue, id >= 0, id <= Int64(UInt32.max) else {
          throw PipelineError.invalidInput("\(inputName) line \(number + 1) holds \(value.canonicalText()), not an id")
        }
        ids.append(UInt32(id))
      }
      printData(JSONValue.string(tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)).canonicalText())
    }
  }

  private static func readStandardInput() -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
      if count <= 0 { break }
      bytes += chunk[0..<count]
    }
    return bytes
  }
}

extension String {
  /// A number with three decimals, without Foundation.
  fileprivate init(threeDecimals value: Double) {
    let scaled = (value * 1000).rounded()
    let whole = Int(scaled / 1000)
    let fraction = Int(abs(scaled).truncatingRemainder(dividingBy: 1000))
    let digits = String(fraction)
    self = "\(whole).\(String(repeating: "0", count: 3 - digits.count))\(digits)"
  }
}
