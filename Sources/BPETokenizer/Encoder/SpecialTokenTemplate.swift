import PipelineCore

/// What the post-processor adds around a single sequence when special tokens are requested: the
/// `TemplateProcessing` of `tokenizer.json` (Llama 3: `<|begin_of_text|> $A`), RoBERTa's and BERT's
/// `<s> $A </s>`, or nothing (`ByteLevel`, which only changes offsets).
struct SpecialTokenTemplate: Sendable, Equatable {
  var prefix: [UInt32] = []
  var suffix: [UInt32] = []

  /// Reads a `post_processor` object (or `null`).
  static func parse(_ json: JSONValue?) throws(PipelineError) -> SpecialTokenTemplate {
    guard let json, json != .null else { return SpecialTokenTemplate() }
    let type = json["type"]?.stringValue ?? ""
    switch type {
    case "ByteLevel":
      return SpecialTokenTemplate()
    case "Sequence":
      var combined = SpecialTokenTemplate()
      for processor in json["processors"]?.arrayValue ?? [] {
        let part = try parse(processor)
        combined.prefix = part.prefix + combined.prefix
        combined.suffix += part.suffix
      }
      return combined
    case "TemplateProcessing":
      return try parseTemplate(json)
    case "RobertaProcessing", "BertProcessing":
      guard let cls = json["cls"]?.arrayValue, cls.count == 2, let clsID = cls[1].integerValue,
        let sep = json["sep"]?.arrayValue, sep.count == 2, let sepID = sep[1].integerValue
      else {
        throw PipelineError.invalidInput("post_processor \(type) needs cls and sep as [token, id]")
      }
      return SpecialTokenTemplate(prefix: [UInt32(clsID)], suffix: [UInt32(sepID)])
    default:
      throw PipelineError.invalidInput(
        "post_processor type '\(type)' is not supported (ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence are)"
      )
    }
  }

  private static func parseTemplate(_ json: JSONValue) throws(PipelineError) -> SpecialTokenTemplate {
    guard let single = json["single"]?.arrayValue else {
      throw PipelineError.invalidInput("post_processor TemplateProcessing has no 'single' template")
    }
    let specialTokens = json["special_tokens"]?.objectValue ?? [:]
    var template = SpecialTokenTemplate()
    var seenSequence = false
    for piece in single {
      if piece["Sequence"] != nil {
        seenSequence = true
        continue
      }
      guard let name = piece["SpecialToken"]?["id"]?.stringValue else {
        throw PipelineError.invalidInput("post_processor template piece \(piece.canonicalText()) is not understood")
      }
      guard let ids = specialTokens[name]?["ids"]?.arrayValue else {
        throw PipelineError.invalidInput(
          "post_processor template uses special token '\(name)', which its special_tokens do not define")
      }
      let values = ids.compactMap { $0.integerValue }.map { UInt32($0) }
      if seenSequence { template.suffix += values } else { template.prefix += values }
    }
    return template
  }
}
