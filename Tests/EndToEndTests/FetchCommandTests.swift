import Foundation
import PipelineCore
import TestSupport
import Testing

/// `tca fetch`: downloads through `curl` from a catalogue, here with `file://` URLs of the shared
/// data (the only "server" a machine without a network has), plus a zip archive made in the test.
@Suite(.serialized) struct FetchCommandTests {
  static let files = ["item.csv", "train_10000.csv", "valid_5000.csv", "test_5000.csv"]
  static let folder = "tca4rec-official/Toys_and_Games"

  /// A catalogue for the toys-official pipeline's four files, optionally with a wrong digest.
  func catalogue(_ directory: TemporaryDirectory, corrupt: String? = nil, host: String? = nil) throws -> String {
    var entries: [JSONValue] = []
    for name in Self.files {
      let source = SharedData.path("\(Self.folder)/\(name)")
      var (digest, size) = try ContentHash.sha256(fileAt: source)
      if name == corrupt { digest = String(repeating: "0", count: 64) }
      let url = host.map { "\($0)/\(name)" } ?? "file://" + FileSystem.absolute(source)
      entries.append([
        "path": .string("\(Self.folder)/\(name)"), "url": .string(url), "size": .integer(size),
        "sha256": .string(digest),
      ])
    }
    let path = directory.file("downloads.json")
    try FileSystem.writeText(path, JSONValue.object(["files": .array(entries)]).prettyText())
    return path
  }

  @Test(.enabled(if: SharedData.shouldRun("tca4rec-official/Toys_and_Games/item.csv")))
  func fetchDownloadsChecksAndPlacesEveryMissingFile() throws {
    let work = try TemporaryDirectory()
    let data = work.file("data")
    let environment = [
      "TCA_DATA": data, "TCA_DOWNLOADS": try catalogue(work), "TCA_PIPELINES": FileSystem.absolute("Pipelines"),
    ]
    let run = try Executables.run("tca", ["fetch", "toys-official"], environment: environment)
    #expect(run.status == 0, "\(run.stderr)")
    for name in Self.files {
      let fetched = try FileSystem.readFile(FileSystem.join(data, Self.folder, name))
      #expect(fetched == (try FileSystem.readFile(SharedData.path("\(Self.folder)/\(name)"))))
    }
    #expect(try FileSystem.listDirectory(FileSystem.join(data, Self.folder)).sorted() == Self.files.sorted())
    let again = try Executables.run("tca", ["fetch", "toys-official"], environment: environment)
    #expect(again.status == 0 && again.stderr.contains("every raw file"), "\(again.stderr)")
  }

  @Test(.enabled(if: SharedData.shouldRun("tca4rec-official/Toys_and_Games/item.csv")))
  func aWrongDigestLeavesNothingAndSaysWhatItGot() throws {
    let work = try TemporaryDirectory()
    let data = work.file("data")
    let environment = [
      "TCA_DATA": data, "TCA_DOWNLOADS": try catalogue(work, corrupt: "train_10000.csv"),
      "TCA_PIPELINES": FileSystem.absolute("Pipelines"),
    ]
    let run = try Executables.run("tca", ["fetch", "toys-official"], environment: environment)
    #expect(run.status == 1)
    #expect(run.stderr.contains("train_10000.csv") && run.stderr.contains("expected 0000"), "\(run.stderr)")
    #expect(run.stderr.contains("put these files in place by hand"))
    #expect(!FileSystem.exists(FileSystem.join(data, Self.folder, "train_10000.csv")))
    let left = try FileSystem.listDirectory(FileSystem.join(data, Self.folder))
    #expect(!left.contains { $0.contains(".part") }, "\(left)")
  }

  @Test(.enabled(if: SharedData.shouldRun("tca4rec-official/Toys_and_Games/item.csv")))
  func withoutANetworkItFailsAtOnceListingWhatGoesWhere() throws {
    let work = try TemporaryDirectory()
    let data = work.file("data")
    let environment = [
      "TCA_DATA": data, "TCA_DOWNLOADS": try catalogue(work, host: "http://tca-no-such-host.invalid"),
      "TCA_PIPELINES": FileSystem.absolute("Pipelines"),
    ]
    let run = try Executables.run("tca", ["fetch", "toys-official"], environment: environment)
    #expect(run.status == 1)
    for name in Self.files {
      #expect(run.stderr.contains(FileSystem.join(data, Self.folder, name)), "\(name): \(run.stderr)")
    }
    #expect(!FileSystem.exists(FileSystem.join(data, Self.folder, "item.csv")))
  }

  @Test(.enabled(if: SharedData.shouldRun("movielens/ml-100k/u.item")))
  func aZipMemberIsUnpacked() throws {
    let work = try TemporaryDirectory()
    let data = work.file("data")
    let archive = work.file("ml-100k.zip")
    // A zip made here with Python's zipfile (the official archive has the same layout).
    let make = Process()
    make.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    make.arguments = [
      "python3", "-c",
      "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n for a in sys.argv[2:]: z.write(a, 'ml-100k/' + a.split('/')[-1])",
      archive, SharedData.path("movielens/ml-100k/u.data"), SharedData.path("movielens/ml-100k/u.item"),
    ]
    try make.run()
    make.waitUntilExit()
    #expect(make.terminationStatus == 0)
    let entries: [JSONValue] = ["u.data", "u.item"].map { name in
      [
        "path": .string("movielens/ml-100k/\(name)"), "url": .string("file://\(archive)"),
        "member": .string("ml-100k/\(name)"),
      ]
    }
    let catalogue = work.file("downloads.json")
    try FileSystem.writeText(catalogue, JSONValue.object(["files": .array(entries)]).prettyText())
    let environment = [
      "TCA_DATA": data, "TCA_DOWNLOADS": catalogue, "TCA_PIPELINES": FileSystem.absolute("Pipelines"),
    ]
    let run = try Executables.run("tca", ["fetch", "ml-100k"], environment: environment)
    #expect(run.status == 0, "\(run.stderr)")
    for name in ["u.data", "u.item"] {
      #expect(
        try FileSystem.readFile(FileSystem.join(data, "movielens/ml-100k", name))
          == (try FileSystem.readFile(SharedData.path("movielens/ml-100k/\(name)"))))
    }
  }
}
