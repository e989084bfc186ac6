import Dispatch
import PipelineCore

/// A byte-level BPE tokenizer whose token ids are identical to those of Hugging Face `tokenizers`
/// (GPT-2, Llama 3, Qwen 2 and tokenizers trained like them), and to tiktoken's for tiktoken rank
/// files.
///
/// Encoding runs the pipeline of `tokenizers`: added tokens are split off first (leftmost-longest),
/// the rest is pre-tokenized by the preset's regex (a hand-written scanner that behaves exactly
/// like the Oniguruma regex), each piece is mapped to bytes and merged by rank, and the
/// post-processor's special tokens are added on request. The tokenizer is immutable after loading
/// and safe to share between threads.
public final class Tokenizer: Sendable {
  let model: BytePairModel
  let preTokenizer: PreTokenizerConfiguration
  /// Added tokens with the ids they resolved to, in the order they were added.
  public let addedTokens: [AddedToken]
  /// Tokens matched in the raw text (`normalized: false`), then in what is left (`normalized: true`).
  let rawTokenMatcher: AddedTokenMatcher
  let normalizedTokenMatcher: AddedTokenMatcher
  let addedTokenIDs: [String: UInt32]
  let template: SpecialTokenTemplate
  /// The `post_processor` written back by `tokenizerJSON()`.
  let postProcessorJSON: JSONValue
  /// Per id: the bytes `decode` writes (`decodedBytes[decodedOffsets[id]..<decodedOffsets[id + 1]]`).
  let decodedOffsets: [UInt32]
  let decodedBytes: [UInt8]
  /// Per id: its token (an added token's content, else the vocabulary's byte-level string; `nil` for
  /// an unused id) and whether it is a special token.
  let tokenTexts: [String?]
  let specialIDs: [Bool]
  let pool = WorkspacePool()

  /// The number of ids: one more than the largest id of the vocabulary and the added tokens.
  public let vocabularySize: Int
  /// The beginning-of-sequence token: the special token the post-processor puts first, else a
  /// known name (`<|begin_of_text|>`, `<s>`, `<|startoftext|>`), else as given when building.
  public let bosID: UInt32?
  /// The end-of-sequence token: the special token the post-processor puts last, else a known name
  /// (`<|end_of_text|>`, `<|endoftext|>`, `</s>`, `<|im_end|>`), else as given when building.
  public let eosID: UInt32?

  /// The regex that splits words, or `nil` when pieces are not split (ByteLevel without regex).
  public var preset: PreTokenizerPreset? { preTokenizer.effectivePreset }

  // MARK: - Building

  /// Everything a tokenizer is made of, validated.
  struct Parts {
    var model: BytePairModel
    var preTokenizer: PreTokenizerConfiguration
    var addedTokens: [AddedToken]
    var postProcessorJSON: JSONValue
    var template: SpecialTokenTemplate
    var bosToken: String?
    var eosToken: String?
  }

  init(_ parts: Parts) {
    model = parts.model
    preTokenizer = parts.preTokenizer
    addedTokens = parts.addedTokens
    postProcessorJSON = parts.postProcessorJSON
    template = parts.template
    var addedTokenIDs: [String: UInt32] = [:]
    for token in parts.addedTokens { addedTokenIDs[token.content] = UInt32(token.id) }
    self.addedTokenIDs = addedTokenIDs
    func matcher(normalized: Bool) -> AddedTokenMatcher {
      AddedTokenMatcher(
        parts.addedTokens.filter { $0.normalized == normalized }.map {
          (
            $0.content,
            AddedTokenMatcher.Entry(id: UInt32($0.id), lstrip: $0.lstrip, rstrip: $0.rstrip, singleWord: $0.singleWord)
          )
        })
    }
    rawTokenMatcher = matcher(normalized: false)
    normalizedTokenMatcher = matcher(normalized: true)

    let largestID = max(
      parts.model.vocabulary.values.max().map(Int.init) ?? -1, parts.addedTokens.map(\.id).max() ?? -1)
    vocabularySize = largestID + 1
    var texts = [String?](repeating: nil, count: vocabularySize)
    for (token, id) in parts.model.vocabulary { texts[Int(id)] = token }
    var specialContents = Set<String>()
    // An added token shadows the model's token of the same id, as in `tokenizers`.
    for token in parts.addedTokens {
      texts[token.id] = token.content
      if token.special { specialContents.insert(token.content) }
    }
    tokenTexts = texts
    specialIDs = texts.map { $0.map { specialContents.contains($0) } ?? false }
    var offsets: [UInt32] = [0]
    var bytes: [UInt8] = []
    offsets.reserveCapacity(vocabularySize + 1)
    for text in texts {
      if let text { bytes += ByteLevelAlphabet.decode(text) }
      offsets.append(UInt32(bytes.count))
    }
    decodedOffsets = offsets
    decodedBytes = bytes

    func id(named names: [String]) -> UInt32? {
      for name in names {
        if let id = addedTokenIDs[name] ?? parts.model.vocabulary[name] { return id }
      }
      return nil
    }
    bosID =
      parts.template.prefix.first ?? parts.bosToken.flatMap { id(named: [$0]) }
      ?? id(named: ["<|begin_of_text|>", "<s>", "<|startoftext|>"])
    eosID =
      parts.template.suffix.last ?? parts.eosToken.flatMap { id(named: [$0]) }
      ?? id(named: ["<|end_of_text|>", "<|endoftext|>", "</s>", "<|im_end|>"])
  }

  /// A tokenizer from a vocabulary and merges in byte-level spelling (what a BPE trainer learns).
  ///
  /// The merges must only use tokens of the vocabulary (a programming error otherwise).
  /// - Parameters:
  ///   - vocabulary: byte-level token strings (`Ġthe`) → id.
  ///   - merges: pairs of token strings in rank order.
  ///   - preset: the pre-tokenizer regex, configured as the preset's tokenizer files do.
  ///   - addedTokens: special and other added tokens, with their ids.
  ///   - ignoreMerges: emit a piece that is itself a token as that token (`ignore_merges`).
  ///   - addsBOS, addsEOS: whether `encode(_:addSpecialTokens: true)` adds `bosToken`/`eosToken`.
  public convenience init(
    vocabulary: [String: Int], merges: [(String, String)], preset: PreTokenizerPreset,
    addedTokens: [AddedToken] = [], ignoreMerges: Bool = false, addPrefixSpace: Bool = false,
    byteFallback: Bool = false, unknownToken: String? = nil, bosToken: String? = nil, eosToken: String? = nil,
    addsBOS: Bool = false, addsEOS: Bool = false
  ) {
    let parts: Parts
    do {
      parts = try Self.makeParts(
        vocabulary: vocabulary, merges: merges, preTokenizer: .standard(preset, addPrefixSpace: addPrefixSpace),
        addedTokens: addedTokens, ignoreMerges: ignoreMerges, byteFallback: byteFallback, unknownToken: unknownToken,
        bosToken: bosToken, eosToken: eosToken, addsBOS: addsBOS, addsEOS: addsEOS)
    } catch {
      preconditionFailure("inconsistent BPE vocabulary and merges: \(error)")
    }
    self.init(parts)
  }

  static func makeParts(
    vocabulary: [String: Int], merges: [(String, String)], preTokenizer: PreTokenizerConfiguration,
    addedTokens: [AddedToken], ignoreMerges: Bool, byteFallback: Bool, unknownToken: String?, bosToken: String?,
    eosToken: String?, addsBOS: Bool, addsEOS: Bool
  ) throws(PipelineError) -> Parts {
    var vocabularyIDs: [String: UInt32] = [:]
    vocabularyIDs.reserveCapacity(vocabulary.count)
    for (token, id) in vocabulary {
      guard id >= 0 && id <= Int(UInt32.max) - 1 else {
        throw PipelineError.invalidInput("token '\(token)' has id \(id), outside 0..<2^32-1")
      }
      vocabularyIDs[token] = UInt32(id)
    }
    let model = try BytePairModel(
      vocabulary: vocabularyIDs, merges: merges, ignoreMerges: ignoreMerges, byteFallback: byteFallback,
      unknownToken: unknownToken, fuseUnknown: false, continuingSubwordPrefix: nil, endOfWordSuffix: nil)
    let (json, template) = try templateProcessing(
      bos: addsBOS ? bosToken : nil, eos: addsEOS ? eosToken : nil, addedTokens: addedTokens, vocabulary: vocabularyIDs)
    return Parts(
      model: model, preTokenizer: preTokenizer, addedTokens: addedTokens, postProcessorJSON: json, template: template,
      bosToken: bosToken, eosToken: eosToken)
  }

  /// A `TemplateProcessing` post-processor that puts `bos` before and `eos` after each sequence (in
  /// a `Sequence` after `ByteLevel`, as Llama 3 has it), or a plain `ByteLevel` one when neither is given.
  static func templateProcessing(
    bos: String?, eos: String?, addedTokens: [AddedToken], vocabulary: [String: UInt32]
  ) throws(PipelineError) -> (JSONValue, SpecialTokenTemplate) {
    let byteLevel: JSONValue = [
      "type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true,
    ]
    if bos == nil && eos == nil { return (byteLevel, SpecialTokenTemplate()) }
    var specialTokens: [String: JSONValue] = [:]
    func piece(_ token: String, typeID: Int) throws(PipelineError) -> JSONValue {
      guard let id = addedTokens.first(where: { $0.content == token }).map({ UInt32($0.id) }) ?? vocabulary[token]
      else {
        throw PipelineError.invalidInput("special token '\(token)' is neither an added token nor in the vocabulary")
      }
      specialTokens[token] = ["id": .string(token), "ids": [.integer(Int64(id))], "tokens": [.string(token)]]
      return ["SpecialToken": ["id": .string(token), "type_id": .integer(Int64(typeID))]]
    }
    var single: [JSONValue] = []
    var pair: [JSONValue] = []
    if let bos { single.append(try piece(bos, typeID: 0)) }
    single.append(["Sequence": ["id": "A", "type_id": 0]])
    if let eos { single.append(try piece(eos, typeID: 0)) }
    if let bos { pair.append(try piece(bos, typeID: 0)) }
    pair.append(["Sequence": ["id": "A", "type_id": 0]])
    if let eos { pair.append(try piece(eos, typeID: 0)) }
    if let bos { pair.append(try piece(bos, typeID: 1)) }
    pair.append(["Sequence": ["id": "B", "type_id": 1]])
    if let eos { pair.append(try piece(eos, typeID: 1)) }
    let template: JSONValue = [
      "type": "TemplateProcessing", "single": .array(single), "pair": .array(pair),
      "special_tokens": .object(specialTokens),
    ]
    let json: JSONValue = ["type": "Sequence", "processors": [byteLevel, template]]
    return (json, try SpecialTokenTemplate.parse(json))
  }

  // MARK: - Looking up

  /// The id of a token: an added token's content, or a byte-level vocabulary string (`Ġthe`).
  public func id(of token: String) -> UInt32? {
    addedTokenIDs[token] ?? model.vocabulary[token]
  }

  /// The token string of an id (byte-level spelling for vocabulary tokens), or `nil` for an unused id.
  public func token(of id: UInt32) -> String? {
    Int(id) < tokenTexts.count ? tokenTexts[Int(id)] : nil
  }

  /// Whether an id is a special added token (dropped by `decode(_:skipSpecialTokens: true)`).
  public func isSpecial(_ id: UInt32) -> Bool {
    Int(id) < specialIDs.count && specialIDs[Int(id)]
  }

  // MARK: - Encoding

  /// The token ids of a text.
  ///
  /// - Parameter addSpecialTokens: add the post-processor's special tokens (Llama 3: BOS first).
  /// - Complexity: O(n) in the text's bytes for the pre-tokenizer; merging a piece of k bytes is
  ///   O(k²) worst case for short pieces and O(k log k) for long ones; repeated pieces hit a cache.
  public func encode(_ text: String, addSpecialTokens: Bool = false) -> [UInt32] {
    pool.withWorkspace { workspace in encode(text, addSpecialTokens: addSpecialTokens, workspace: workspace) }
  }

  /// The token ids of many texts, encoded on `threads` threads; the result is the same for any
  /// thread count.
  public func encodeBatch(_ texts: [String], addSpecialTokens: Bool = false, threads: Int) -> [[UInt32]] {
    let threads = max(1, min(threads, texts.count))
    if threads == 1 {
      return pool.withWorkspace { workspace in
        texts.map { encode($0, addSpecialTokens: addSpecialTokens, workspace: workspace) }
      }
    }
    let results = BatchResults(count: texts.count)
    // Chunks of texts handed out in order: balances uneven texts, and each chunk keeps its thread's cache warm.
    let chunkSize = max(1, min(256, texts.count / (threads * 16)))
    let next = ChunkCounter()
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
      pool.withWorkspace { workspace in
        while true {
          let start = next.take(chunkSize)
          if start >= texts.count { break }
          for index in start..<min(start + chunkSize, texts.count) {
            results.store(encode(texts[index], addSpecialTokens: addSpecialTokens, workspace: workspace), at: index)
          }
        }
      }
    }
    return results.array()
  }

  func encode(_ text: String, addSpecialTokens: Bool, workspace: EncodingWorkspace) -> [UInt32] {
    var output: [UInt32] = []
    if addSpecialTokens { output += template.prefix }
    var text = text
    text.withUTF8 { bytes in
      guard !bytes.isEmpty else { return }
      if rawTokenMatcher.isEmpty && normalizedTokenMatcher.isEmpty {
        encodeText(bytes, workspace: workspace, into: &output)
        return
      }
      forEachPart(bytes, rawTokenMatcher) { range, id in
        if let id {
          output.append(id)
          return
        }
        let gap = UnsafeBufferPointer(rebasing: bytes[range])
        forEachPart(gap, normalizedTokenMatcher) { range, id in
          if let id {
            output.append(id)
          } else {
            encodeText(UnsafeBufferPointer(rebasing: gap[range]), workspace: workspace, into: &output)
          }
        }
      }
    }
    if addSpecialTokens { output += template.suffix }
    return output
  }

  private func forEachPart(
    _ bytes: UnsafeBufferPointer<UInt8>, _ matcher: AddedTokenMatcher, _ body: (Range<Int>, UInt32?) -> Void
  ) {
    if matcher.isEmpty {
      body(0..<bytes.count, nil)
    } else {
      matcher.forEachPart(bytes, body)
    }
  }

  /// Pre-tokenizes text that holds no added token and encodes each piece.
  @inline(__always)
  func encodeText(_ bytes: UnsafeBufferPointer<UInt8>, workspace: EncodingWorkspace, into output: inout [UInt32]) {
    guard !bytes.isEmpty else { return }
    if let split = preTokenizer.split {
      split.forEachPiece(in: bytes) { piece in encodeByteLevel(piece, workspace: workspace, into: &output) }
    } else {
      encodeByteLevel(bytes, workspace: workspace, into: &output)
    }
  }

  /// The `ByteLevel` step for one piece: the prefix space, GPT-2's regex when it splits, then BPE.
  @inline(__always)
  private func encodeByteLevel(
    _ piece: UnsafeBufferPointer<UInt8>, workspace: EncodingWorkspace, into output: inout [UInt32]
  ) {
    if preTokenizer.addPrefixSpace && piece[0] != UInt8(ascii: " ") {
      workspace.prefixed.removeAll(keepingCapacity: true)
      workspace.prefixed.append(UInt8(ascii: " "))
      workspace.prefixed.append(contentsOf: piece)
      let prefixed = workspace.prefixed
      prefixed.withUnsafeBufferPointer { buffer in splitByteLevel(buffer, workspace: workspace, into: &output) }
    } else {
      splitByteLevel(piece, workspace: workspace, into: &output)
    }
  }

  @inline(__always)
  private func splitByteLevel(
    _ piece: UnsafeBufferPointer<UInt8>, workspace: EncodingWorkspace, into output: inout [UInt32]
  ) {
    if preTokenizer.useRegex {
      PreTokenizerPreset.gpt2.forEachPiece(in: piece) { word in
        model.encode(piece: word, workspace: workspace, into: &output)
      }
    } else {
      model.encode(piece: piece, workspace: workspace, into: &output)
    }
  }

  // MARK: - Decoding

  /// The text of token ids, as the `ByteLevel` decoder of `tokenizers` writes it: the bytes of all
  /// tokens, read as UTF-8 with U+FFFD for invalid sequences. Unknown ids are skipped.
  ///
  /// `decode(encode(s)) == s` for every string `s`.
  public func decode(_ ids: [UInt32], skipSpecialTokens: Bool = false) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(ids.count * 4)
    decodedBytes.withUnsafeBufferPointer { table in
      for id in ids where Int(id) < vocabularySize {
        if skipSpecialTokens && specialIDs[Int(id)] { continue }
        bytes.append(contentsOf: table[Int(decodedOffsets[Int(id)])..<Int(decodedOffsets[Int(id) + 1])])
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The bytes of token ids (what `decode` reads as UTF-8); a prefix of a text's ids may end inside a
  /// character.
  public func decodeBytes(_ ids: [UInt32], skipSpecialTokens: Bool = false) -> [UInt8] {
    var bytes: [UInt8] = []
    for id in ids where Int(id) < vocabularySize {
      if skipSpecialTokens && specialIDs[Int(id)] { continue }
      bytes += decodedBytes[Int(decodedOffsets[Int(id)])..<Int(decodedOffsets[Int(id) + 1])]
    }
    return bytes
  }
}

/// One result slot per text, each written by exactly one thread before `array()` reads them all.
private final class BatchResults: @unchecked Sendable {
  private let slots: UnsafeMutableBufferPointer<[UInt32]>

  init(count: Int) {
    slots = .allocate(capacity: count)
    slots.initialize(repeating: [])
  }

  deinit {
    slots.deinitialize()
    slots.deallocate()
  }

  func store(_ value: [UInt32], at index: Int) { slots[index] = value }

  func array() -> [[UInt32]] { Array(slots) }
}

/// Hands out the start of the next chunk of texts.
private final class ChunkCounter: @unchecked Sendable {  // guarded by `lock`
  private let lock = Mutex()
  private var next = 0

  func take(_ count: Int) -> Int {
    lock.withLock {
      let start = next
      next += count
      return start
    }
  }
}
