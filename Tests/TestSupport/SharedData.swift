import PipelineCore
import Testing

/// The real datasets of ../shared/data (see its PROVENANCE.md), found through TCA_SHARED_DATA or
/// relative to the package root. Tests that need them are skipped when they are absent, and fail
/// instead when TCA_REQUIRE_SHARED_DATA=1 (CI).
public enum SharedData {
  public static let root: String = FileSystem.absolute(
    FileSystem.environment("TCA_SHARED_DATA") ?? "../shared/data")

  public static var isRequired: Bool { FileSystem.environment("TCA_REQUIRE_SHARED_DATA") == "1" }

  public static func path(_ relative: String) -> String { FileSystem.join(root, relative) }

  /// Whether a test that needs `relative` should run: the file is there, or its absence must fail.
  /// Use as `@Test(.enabled(if: SharedData.shouldRun("…")))` so an absent file shows as a skip.
  public static func shouldRun(_ relative: String) -> Bool {
    if FileSystem.exists(path(relative)) || isRequired { return true }
    print("skipping: shared data '\(relative)' not found under \(root); set TCA_SHARED_DATA or fetch ../shared/data")
    return false
  }

  /// Whether `relative` is there. When it is not: a recorded failure if the data is required,
  /// else a printed skip note.
  public static func available(_ relative: String) -> Bool {
    if FileSystem.exists(path(relative)) { return true }
    if isRequired {
      Issue.record("shared data '\(relative)' is missing under \(root) and TCA_REQUIRE_SHARED_DATA=1")
    } else {
      print("skipping: shared data '\(relative)' not found under \(root)")
    }
    return false
  }
}
