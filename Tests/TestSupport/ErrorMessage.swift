import PipelineCore
import Testing

/// The message of the `PipelineError` that `body` throws, or a recorded issue.
public func errorMessage(_ body: () throws -> Void) -> String {
  do {
    try body()
    Issue.record("expected an error")
    return ""
  } catch let error as PipelineError {
    return error.message
  } catch {
    Issue.record("expected a PipelineError, got \(error)")
    return ""
  }
}
