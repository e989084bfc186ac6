import Foundation
import PipelineCore
import TestSupport
import Testing

/// A small synthetic pipeline with one cf entry per model family.
func writeCFPipeline(_ directory: String, lambda: Double = 50, extra: String = "") throws -> String {
  let path = directory + "/cf.yaml"
  try FileSystem.writeText(
    path,
    """
    stages:
      ingest:
        params: {source: synthetic, users: 400, items: 150, seed: 9}
      prepare:
        params: {user_k_core: 5, item_k_core: 3}
      cf:
        params: {model: sasrec, hidden: 16, max_epochs: 3, patience: 2, batch_size: 64}
      cf-gru:
        uses: cf
        params: {model: gru4rec, hidden: 16, max_epochs: 3, patience: 2, batch_size: 64}
      cf-pop:
        uses: cf
        params: {model: pop}
      cf-bpr:
        uses: cf
        params: {model: bpr-mf, factors: 16, max_epochs: 3, batch_size: 256}
      cf-ease:
        uses: cf
        params: {model: ease, lambda: \(lambda)}
    \(extra)
    """)
  return path
}

@Suite("The cf stage through the driver", .serialized)
struct CFEndToEndTests {
  @Test func everyModelTrainsValidatesAndHitsTheCacheOnRerun() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeCFPipeline(work.path)
    let environment = ["TCA_HOME": work.path + "/home"]
    let first = try Executables.run("tca", ["run", "-q", pipeline], environment: environment)
    #expect(first.status == 0, "\(first.stderr)")
    for entry in ["cf", "cf-gru", "cf-pop", "cf-bpr", "cf-ease"] {
      let directory = "\(work.path)/home/runs/cf/\(entry)"
      for file in ["model.safetensors", "model.json", "metrics.json", "curve.jsonl", "manifest.json"] {
        #expect(FileSystem.exists("\(directory)/\(file)"), "\(entry) lacks \(file)")
      }
      let metrics = try JSONParser.parse(try FileSystem.readFile("\(directory)/metrics.json"))
      let ndcg = metrics["test"]?["NDCG@10"]?.numberValue ?? -1
      #expect(ndcg >= 0 && ndcg <= 1, "\(entry): test NDCG@10 \(ndcg)")
    }
    let validation = try Executables.run("tca", ["validate", work.path + "/home/runs/cf"])
    #expect(validation.status == 0, "\(validation.stderr)")
    let second = try Executables.run("tca", ["run", pipeline], environment: environment)
    #expect(second.status == 0)
    #expect(!second.stdout.contains("computed"), "\(second.stdout)")

    // A new λ recomputes cf-ease only.
    _ = try writeCFPipeline(work.path, lambda: 80)
    let third = try Executables.run("tca", ["run", pipeline], environment: environment)
    let computed = third.stdout.split(separator: "\n").filter { $0.contains(" computed ") }.map {
      String($0.split(separator: " ").first ?? "")
    }
    #expect(computed == ["cf-ease"], "\(third.stdout)")
  }

  @Test func sameSeedGivesByteIdenticalWeightsInAnotherStore() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeCFPipeline(work.path)
    var hashes: [[String]] = []
    for home in ["a", "b"] {
      let run = try Executables.run(
        "tca", ["run", "-q", pipeline, "--only", "cf", "cf-bpr"], environment: ["TCA_HOME": "\(work.path)/\(home)"])
      #expect(run.status == 0, "\(run.stderr)")
      hashes.append(
        try ["cf", "cf-bpr"].map { entry in
          ContentHash.sha256(try FileSystem.readFile("\(work.path)/\(home)/runs/cf/\(entry)/model.safetensors"))
        })
    }
    #expect(hashes[0] == hashes[1])
  }

  @Test func aHyperparameterOfAnotherModelIsAUsageErrorNamingBoth() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeCFPipeline(
      work.path, extra: "  cf-wrong:\n    uses: cf\n    params: {model: ease, hidden: 32}\n")
    let run = try Executables.run("tca", ["run", pipeline], environment: ["TCA_HOME": work.path + "/home"])
    #expect(run.status == 64)
    #expect(run.stderr.contains("parameter 'hidden' does not apply to model 'ease'"), "\(run.stderr)")
  }

  @Test func scoreWritesScoresRanksAndTheStageMetrics() throws {
    let work = try TemporaryDirectory()
    let pipeline = try writeCFPipeline(work.path)
    let environment = ["TCA_HOME": work.path + "/home"]
    #expect(
      try Executables.run("tca", ["run", "-q", pipeline, "--only", "cf-pop"], environment: environment).status == 0)
    let runs = work.path + "/home/runs/cf"
    let score = try Executables.run(
      "tca",
      [
        "score", "-q", "--cf", runs + "/cf-pop", "--samples", runs + "/prepare", "--split", "test", "-o",
        work.path + "/out",
      ])
    #expect(score.status == 0, "\(score.stderr)")
    let scored = try JSONParser.parse(try FileSystem.readFile(work.path + "/out/metrics.json"))
    let stage = try JSONParser.parse(try FileSystem.readFile(runs + "/cf-pop/metrics.json"))
    #expect(scored["NDCG@10"] == stage["test"]?["NDCG@10"])
    #expect(scored["HR@20"] == stage["test"]?["HR@20"])
    #expect(FileSystem.exists(work.path + "/out/scores.npy") && FileSystem.exists(work.path + "/out/ranks.npy"))
  }
}
