import BPETokenizer
import PipelineCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension TrieStage {
  /// The tokenizer of a `tokenizer` artifact as a batch encoder of titles: each standalone, no
  /// special tokens added (no BOS; `TitleSequences` appends EOS), on every processor online.
  static func loadEncoder(tokenizer directory: String) throws -> ([String]) -> [[UInt32]] {
    let tokenizer = try TokenizerStage.loadTokenizer(artifact: directory)
    let threads = Parallel.defaultThreadCount
    return { tokenizer.encodeBatch($0, addSpecialTokens: false, threads: threads) }
  }
}
