import ArtifactFormats
import PipelineCore

/// What the `trie` stage does with the titles before it builds the trie.
///
/// The defaults are the stage's parameter defaults. Build it from resolved stage parameters with
/// `init(_:)`, or directly in code and tests.
public struct TrieOptions: Equatable, Sendable {
  /// What to do with an item that has no title (a null title, or one that is empty after stripping).
  public enum MissingTitle: String, CaseIterable, Sendable {
    /// Stop with an error naming the first such item.
    case error
    /// Encode the item's raw id instead (its ASIN or MovieLens id), so it still has a path.
    case rawID = "raw-id"
  }

  /// Append the tokenizer's EOS id to every title's tokens (the TCA4Rec target: title ++ [EOS]).
  public var addEOS = true
  /// Trim leading and trailing whitespace (Unicode `White_Space`, line breaks included) before
  /// encoding. An LLM's target title starts right after the prompt, so a title's stray surrounding
  /// spaces would otherwise become tokens (`" Lego"` is not `"Lego"` to a byte-level BPE) and split
  /// otherwise identical titles into different paths. Inner whitespace is left as it is.
  public var stripTitles = true
  public var missingTitle: MissingTitle = .error

  public init() {}

  /// Reads the options from resolved stage parameters.
  public init(_ parameters: StageParameters) throws(PipelineError) {
    addEOS = try parameters.boolean("add_eos")
    stripTitles = try parameters.boolean("strip_titles")
    let policy = try parameters.string("missing_title")
    guard let missingTitle = MissingTitle(rawValue: policy) else {
      let names = MissingTitle.allCases.map(\.rawValue).joined(separator: ", ")
      throw .usage("stage '\(parameters.stage)': parameter 'missing_title' must be one of \(names), found '\(policy)'")
    }
    self.missingTitle = missingTitle
  }
}
