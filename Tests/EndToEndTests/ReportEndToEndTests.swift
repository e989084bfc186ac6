import Foundation
import PipelineCore
import TestSupport
import Testing

/// `tca report` on real runs: the demo pipeline, a definition with one more CF model that is not in
/// the store, MovieLens 100K's data stages, and a bad pipeline file.
@Suite("tca report, end to end", .serialized)
struct ReportEndToEndTests {
  static let sections = [
    "id=\"overview\"", "id=\"data\"", "id=\"titles\"", "id=\"models\"", "id=\"soft-labels\"",
  ]

  /// Writes the report of `pipeline` and returns the page.
  func report(_ pipeline: String, to path: String, environment: [String: String]) throws -> String {
    let result = try Executables.run("tca", ["report", pipeline, "-o", path], environment: environment)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout == path + "\n")
    return try FileSystem.readText(path)
  }

  @Test func demoReportIsDeterministicSelfContainedAndComplete() throws {
    let work = try TemporaryDirectory()
    let environment = ["TCA_HOME": work.path + "/home"]
    let run = try Executables.run("tca", ["run", "-q", "demo"], environment: environment)
    #expect(run.status == 0, "\(run.stderr)")
    let first = try report("demo", to: work.path + "/first.html", environment: environment)
    let second = try report("demo", to: work.path + "/second.html", environment: environment)
    #expect(first == second, "two reports of one store and ledger differ")
    for section in Self.sections { #expect(first.contains(section), "no \(section)") }
    #expect(!first.contains("http://") && !first.contains("https://"), "the page refers to the network")
    #expect(!first.contains("<script") && !first.contains("<img") && !first.contains("<link"))
    #expect(!first.contains("Not computed."))
    #expect(first.contains("<h1>demo</h1>"))
    #expect(first.contains("top 20% of items hold"))
    // The keys tca status computes, and the ledger's outcome of the run.
    let status = try Executables.run("tca", ["status", "demo"], environment: environment)
    for line in status.stdout.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      if fields.count == 3 { #expect(first.contains("key \(fields[2])"), "no key of \(fields[0])") }
    }
    #expect(first.contains("<span class=\"badge computed\">computed</span>"))
    // Charts: the DAG and the data, trie, model and soft-label charts.
    #expect(first.components(separatedBy: "<svg class=\"chart").count - 1 == 12)

    // The default file is $TCA_HOME/reports/<pipeline>.html.
    let standard = try Executables.run("tca", ["report", "-q", "demo"], environment: environment)
    #expect(standard.status == 0, "\(standard.stderr)")
    #expect(try FileSystem.readText(work.path + "/home/reports/demo.html") == first)

    // One more CF model in the definition: reported as not computed, with the command that computes it.
    let pipelines = work.path + "/pipelines"
    try FileSystem.createDirectory(pipelines)
    for name in ["_defaults.yaml", "demo.yaml"] {
      try FileSystem.writeText(pipelines + "/" + name, try FileSystem.readText("Pipelines/" + name))
    }
    try FileSystem.writeText(
      pipelines + "/demo-two-models.yaml",
      "extends: demo.yaml\ndescription: The demo <with> a popularity model & SASRec.\nstages:\n  cf-pop:\n    uses: cf\n    params: {model: pop}\n"
    )
    let twoModels = pipelines + "/demo-two-models.yaml"
    let page = try report(twoModels, to: work.path + "/two.html", environment: environment)
    #expect(page.contains("The demo &lt;with&gt; a popularity model &amp; SASRec."))
    #expect(page.components(separatedBy: "Not computed.").count - 1 == 1)
    #expect(page.contains("<code>tca run \(twoModels) --only cf-pop</code>"))
    #expect(page.contains("The pipeline&#39;s CF models compared"))
    #expect(page.contains("<span class=\"badge missing\">missing</span>"))

    // Computed, the popularity model (closed form, one curve record without a loss) gets its card and
    // metrics but no training-curve charts.
    let pop = try Executables.run("tca", ["run", "-q", twoModels, "--only", "cf-pop"], environment: environment)
    #expect(pop.status == 0, "\(pop.stderr)")
    let computed = try report(twoModels, to: work.path + "/two-computed.html", environment: environment)
    #expect(!computed.contains("Not computed."))
    #expect(computed.components(separatedBy: "solved in closed form").count - 1 == 1)
    #expect(computed.components(separatedBy: "<svg class=\"chart").count - 1 == 12)
  }

  @Test(.enabled(if: SharedData.shouldRun("movielens/ml-100k/u.data"), "needs ../shared/data/movielens/ml-100k"))
  func realDataReportShowsTheDataStagesAndTheMissingOnes() throws {
    guard SharedData.available("movielens/ml-100k/u.data") else { return }
    let work = try TemporaryDirectory()
    let environment = ["TCA_HOME": work.path + "/home", "TCA_DATA": SharedData.root]
    let run = try Executables.run("tca", ["run", "-q", "ml-100k", "--only", "trie"], environment: environment)
    #expect(run.status == 0, "\(run.stderr)")
    let page = try report("ml-100k", to: work.path + "/ml-100k.html", environment: environment)
    #expect(page == (try report("ml-100k", to: work.path + "/again.html", environment: environment)))
    // 943 users after filtering, every one of them in the degree histogram.
    #expect(page.contains("<b>943</b><span>users</span>"))
    #expect(page.contains("degree distributions") && page.contains("popularity long tail"))
    for entry in ["cf", "soft-labels"] {
      #expect(page.contains("<code>tca run ml-100k --only \(entry)</code>"), "\(entry) not reported as missing")
    }
    #expect(page.components(separatedBy: "Not computed.").count - 1 == 2)
    #expect(!page.contains("http://") && !page.contains("https://"))
  }

  @Test func badPipelineFileOrOutputFolderIsAUsageError() throws {
    let work = try TemporaryDirectory()
    let environment = ["TCA_HOME": work.path + "/home"]
    let broken = work.path + "/broken.yaml"
    try FileSystem.writeText(broken, "stages:\n  cf:\n    params: {hidden: 32}\n")
    let result = try Executables.run("tca", ["report", broken, "-o", work.path + "/r.html"], environment: environment)
    #expect(result.status == 64)
    #expect(result.stderr.contains("broken.yaml") && result.stderr.contains("'cf'"), "\(result.stderr)")
    #expect(!FileSystem.exists(work.path + "/r.html"))
    let folder = try Executables.run(
      "tca", ["report", "demo", "-o", work.path + "/no/such/folder/r.html"], environment: environment)
    #expect(folder.status == 64)
    #expect(folder.stderr.contains("does not exist; create it or choose another -o"), "\(folder.stderr)")
  }
}
