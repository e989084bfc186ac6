import ArgumentParser
import PipelineCore

/// Options every command shares.
public struct CommonOptions: ParsableArguments {
  @Flag(name: .shortAndLong, help: "Silence progress and notes; print only results and errors.")
  public var quiet = false

  @Flag(name: .shortAndLong, help: "Add reasons and timings.")
  public var verbose = false

  public init() {}

  func diagnostics(tool: String) -> Diagnostics {
    Diagnostics(toolName: tool, verbosity: quiet ? .quiet : (verbose ? .verbose : .normal))
  }
}

/// Runs a command body, turning errors into one clear line on stderr and the exit codes of
/// CONVENTIONS.md §2: usage errors 64, failures 1.
func reportingErrors(_ diagnostics: Diagnostics, _ body: () throws -> Void) throws {
  do {
    try body()
  } catch let error as PipelineError {
    diagnostics.error(error.description)
    throw ExitCode(error.code.exitCode)
  } catch let error as ExitCode {
    throw error
  } catch {
    diagnostics.error("\(error)")
    throw ExitCode(1)
  }
}

/// Writes data to stdout (diagnostics go to stderr).
func printData(_ line: String) {
  print(line)
}

func padded(_ text: String, _ width: Int) -> String {
  text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
