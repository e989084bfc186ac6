import ArgumentParser
import Foundation
import PipelineCore
import PipelineGraph

/// `tca fetch PIPELINE`: downloads the raw files a pipeline reads that are not under `$TCA_DATA` yet,
/// from the official locations listed in `Pipelines/downloads.json` (or `$TCA_DOWNLOADS`).
///
/// Each file is downloaded with `curl` into a temporary file beside its destination, unpacked when it
/// is a member of a zip archive (`unzip`, else Python's `zipfile`), checked against the catalogue's
/// size and sha256 where they are known, and only then renamed into place, so an interrupted fetch
/// leaves nothing a later run would trust. Without a network the first download fails at once and the
/// command lists every missing file with where it comes from and where it goes.
struct FetchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fetch",
    abstract: "Downloads a pipeline's missing raw files from their official locations into $TCA_DATA.")

  @Argument(help: "A pipeline name from Pipelines/ or a path to a .yaml file.")
  var pipeline: String

  @Flag(name: .long, help: "List what would be downloaded, and download nothing.")
  var dryRun = false

  @OptionGroup var common: CommonOptions

  func run() throws {
    let diagnostics = common.diagnostics(tool: "tca")
    try reportingErrors(diagnostics) {
      let graph = try loadGraph(pipeline)
      let dataRoot = PipelineRunner.defaultDataRoot()
      let catalogue = try DownloadCatalogue.load()
      var wanted: [String] = []
      for node in graph.nodes {
        for relative in node.rawFiles.values.sorted() where !wanted.contains(relative) { wanted.append(relative) }
      }
      let missing = wanted.filter { !FileSystem.exists(FileSystem.join(dataRoot, $0)) }
      guard !missing.isEmpty else {
        diagnostics.note("fetch: every raw file of '\(pipeline)' is under \(dataRoot)")
        return
      }
      let unknown = missing.filter { catalogue.entries[$0] == nil }
      let plan = missing.compactMap { catalogue.entries[$0] }
      for entry in plan {
        printData("\(entry.path)  ←  \(entry.url)\(entry.member.map { " (member \($0))" } ?? "")")
      }
      for path in unknown { printData("\(path)  ←  no known download") }
      if dryRun { return }
      do {
        for entry in plan {
          try entry.fetch(into: dataRoot, diagnostics: diagnostics)
        }
      } catch let error as PipelineError {
        throw PipelineError.invalidInput(
          "\(error.description)\n"
            + Self.manualInstructions(missing: missing, catalogue: catalogue, dataRoot: dataRoot))
      }
      if !unknown.isEmpty {
        throw PipelineError.invalidInput(
          "no download is known for \(unknown.count) file(s) of '\(pipeline)'\n"
            + Self.manualInstructions(missing: unknown, catalogue: catalogue, dataRoot: dataRoot))
      }
    }
  }

  /// What to put where, for a user without a network from here.
  static func manualInstructions(missing: [String], catalogue: DownloadCatalogue, dataRoot: String) -> String {
    var lines = ["put these files in place by hand (\(missing.count)), then rerun:"]
    for path in missing {
      let destination = FileSystem.join(dataRoot, path)
      if let entry = catalogue.entries[path] {
        let member = entry.member.map { ", member '\($0)' of the archive" } ?? ""
        let known = [entry.size.map { "\($0) bytes" }, entry.sha256.map { "sha256 \($0)" }].compactMap { $0 }
        lines.append(
          "  \(destination): from \(entry.url)\(member)\(known.isEmpty ? "" : " (\(known.joined(separator: ", ")))")")
      } else {
        lines.append("  \(destination): no known download (see the pipeline file's comments)")
      }
    }
    return lines.joined(separator: "\n")
  }
}

/// `Pipelines/downloads.json`: raw file paths (relative to `$TCA_DATA`) and where they come from.
struct DownloadCatalogue {
  struct Entry {
    var path: String
    var url: String
    /// The file's path inside the zip archive at `url`; nil when `url` is the file itself.
    var member: String?
    var size: Int64?
    var sha256: String?

    /// Downloads (and unpacks) into a temporary file beside the destination, checks it, renames.
    func fetch(into dataRoot: String, diagnostics: Diagnostics) throws {
      let destination = FileSystem.join(dataRoot, path)
      try FileSystem.createDirectory(FileSystem.parentPath(destination))
      let temporary = destination + ".part-\(ProcessInfo.processInfo.processIdentifier)"
      let archive = temporary + ".zip"
      defer {
        try? FileSystem.removeTree(temporary)
        try? FileSystem.removeTree(archive)
      }
      diagnostics.note("fetch: \(url) → \(destination)")
      try Self.execute(
        [
          "curl", "--fail", "--location", "--silent", "--show-error", "--connect-timeout", "15", "--retry", "2",
          "--output", member == nil ? temporary : archive, url,
        ],
        what: "downloading \(url)")
      if let member {
        if Self.available("unzip") {
          try Self.execute(
            ["sh", "-c", "unzip -p \"$0\" \"$1\" > \"$2\"", archive, member, temporary], what: "unpacking")
        } else {
          let script =
            "import sys, zipfile, shutil; shutil.copyfileobj(zipfile.ZipFile(sys.argv[1]).open(sys.argv[2]), open(sys.argv[3], 'wb'))"
          try Self.execute(["python3", "-c", script, archive, member, temporary], what: "unpacking \(member)")
        }
      }
      let (digest, bytes) = try ContentHash.sha256(fileAt: temporary)
      if let size, size != bytes {
        throw PipelineError.invalidInput(
          "'\(url)' gave \(bytes) bytes for '\(path)', expected \(size); the download is incomplete or changed upstream"
        )
      }
      if let sha256, sha256 != digest {
        throw PipelineError.invalidInput(
          "'\(url)' gave '\(path)' with sha256 \(digest), expected \(sha256); the file changed upstream or was corrupted"
        )
      }
      try FileSystem.rename(temporary, to: destination)
    }

    static func available(_ tool: String) -> Bool {
      (try? execute(["sh", "-c", "command -v \"$0\" >/dev/null", tool], what: tool)) != nil
    }

    /// Runs a command through `/usr/bin/env`; throws with its stderr when it fails.
    static func execute(_ arguments: [String], what: String) throws {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = arguments
      let errors = Pipe()
      process.standardError = errors
      do {
        try process.run()
      } catch {
        throw PipelineError.invalidInput("\(what): cannot run '\(arguments[0])' (\(error)); install it")
      }
      let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      guard process.terminationStatus == 0 else {
        let detail = message.trimmingCharacters(in: .whitespacesAndNewlines)
        throw PipelineError.invalidInput(
          "\(what) failed (\(arguments[0]) exit \(process.terminationStatus)\(detail.isEmpty ? "" : ": \(detail)"))")
      }
    }
  }

  var entries: [String: Entry] = [:]

  /// The catalogue at `$TCA_DOWNLOADS`, else `downloads.json` in the pipelines folder.
  static func load() throws -> DownloadCatalogue {
    let path =
      FileSystem.environment("TCA_DOWNLOADS")
      ?? FileSystem.join(FileSystem.environment("TCA_PIPELINES") ?? "Pipelines", "downloads.json")
    guard FileSystem.exists(path) else { return DownloadCatalogue() }
    let value = try JSONParser.parse(try FileSystem.readFile(path))
    guard let files = value["files"]?.arrayValue else {
      throw PipelineError.invalidInput("'\(path)': expected an object with a 'files' array")
    }
    var catalogue = DownloadCatalogue()
    for (index, file) in files.enumerated() {
      guard let relative = file["path"]?.stringValue, let url = file["url"]?.stringValue else {
        throw PipelineError.invalidInput("'\(path)': files[\(index)] needs string fields 'path' and 'url'")
      }
      catalogue.entries[relative] = Entry(
        path: relative, url: url, member: file["member"]?.stringValue,
        size: file["size"]?.integerValue, sha256: file["sha256"]?.stringValue)
    }
    return catalogue
  }
}
