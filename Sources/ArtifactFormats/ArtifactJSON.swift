import PipelineCore

/// Reads the JSON files of an artifact (reports, special tokens) for validation, with the errors every
/// stage gives: the file is missing, or is not valid JSON, and the stage to rerun.
public enum ArtifactJSON {
  /// - Parameter stage: the stage whose rerun fixes the artifact ("prepare").
  public static func read(_ path: String, stage: String) throws(PipelineError) -> JSONValue {
    guard FileSystem.exists(path) else {
      throw .invalidArtifact("'\(path)' is missing; rerun the \(stage) stage with --force")
    }
    let bytes = try FileSystem.readFile(path)
    do {
      return try JSONParser.parse(bytes)
    } catch {
      throw .invalidArtifact("'\(path)' is not valid JSON: \(error); rerun the \(stage) stage with --force")
    }
  }
}
