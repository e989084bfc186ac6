import Foundation
import Testing

/// Runs the program at `arguments[0]` with the rest as its arguments, records an issue when it
/// exits with a non-zero status, and returns its standard output (standard error passes through).
@discardableResult
public func runCommand(_ arguments: [String]) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: arguments[0])
  process.arguments = Array(arguments.dropFirst())
  let output = Pipe()
  process.standardOutput = output
  try process.run()
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  #expect(process.terminationStatus == 0, "\(arguments) exited with \(process.terminationStatus)")
  return String(decoding: data, as: UTF8.self)
}
