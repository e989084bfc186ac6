import ArtifactFormats
import PipelineCore
import PipelineGraph
import StageCommands
import TestSupport
import Testing

/// Writes pipeline files into a temporary folder and loads them with the real stage registry.
struct PipelineFixture {
  let directory: TemporaryDirectory

  init(_ files: [String: String]) throws {
    directory = try TemporaryDirectory()
    for (name, text) in files { try FileSystem.writeText(directory.path + "/" + name, text) }
  }

  func load(_ name: String) throws -> PipelineGraph {
    let definition = try PipelineDefinition.load(path: directory.path + "/" + name)
    return try PipelineGraph(definition: definition, registry: stageRegistry)
  }

  func error(_ name: String) -> String {
    do {
      _ = try load(name)
      return "no error"
    } catch let error as PipelineError {
      #expect(error.code == .usage)
      return error.message
    } catch {
      return "\(error)"
    }
  }
}

@Suite("Pipeline files are validated before anything runs")
struct PipelineValidationTests {
  static let base = """
    stages:
      ingest:
        params: {source: synthetic, users: 50, items: 30}
      prepare:
        params: {user_k_core: 2, item_k_core: 2}
    """

  @Test func validPipelineResolvesDefaultsAndOrder() throws {
    let fixture = try PipelineFixture(["p.yaml": Self.base])
    let graph = try fixture.load("p.yaml")
    #expect(graph.nodes.map(\.entry.name) == ["ingest", "prepare"])
    #expect(graph.node("prepare")?.inputs == ["interactions": "ingest"])
    #expect(graph.node("prepare")?.parameters.values["protocol"] == "leave-one-out")
    #expect(graph.node("ingest")?.parameters.values["users"] == 50)
  }

  @Test func extendsMergesParametersKeyByKey() throws {
    let fixture = try PipelineFixture([
      "base.yaml": Self.base,
      "child.yaml": "extends: base.yaml\nstages:\n  prepare:\n    params: {item_k_core: 3}\n",
    ])
    let graph = try fixture.load("child.yaml")
    #expect(graph.name == "child")
    #expect(graph.node("prepare")?.parameters.values["item_k_core"] == 3)
    #expect(graph.node("prepare")?.parameters.values["user_k_core"] == 2)
  }

  @Test func errorsNameTheFileTheStageAndTheKey() throws {
    let fixture = try PipelineFixture([
      "unknown-param.yaml": "stages:\n  ingest:\n    params: {source: synthetic, sede: 1}\n",
      "wrong-type.yaml": "stages:\n  ingest:\n    params: {source: synthetic, users: many}\n",
      "unknown-stage.yaml": "stages:\n  ingest: {params: {source: synthetic}}\n  train:\n    uses: trainer\n",
      "missing-input.yaml": "stages:\n  prepare: {}\n",
      "cycle.yaml":
        "stages:\n  a:\n    uses: prepare\n    inputs: {interactions: b}\n  b:\n    uses: prepare\n    inputs: {interactions: a}\n",
      "unknown-key.yaml": "stages:\n  ingest:\n    param: {}\n",
      "top.yaml": "stage: {}\n",
      "loop-a.yaml": "extends: loop-b.yaml\nstages: {}\n",
      "loop-b.yaml": "extends: loop-a.yaml\nstages: {}\n",
      "bad-choice.yaml": "stages:\n  ingest:\n    params: {source: netflix}\n",
    ])
    #expect(
      fixture.error("unknown-param.yaml").contains("unknown-param.yaml:2: stage 'ingest': unknown parameter 'sede'"))
    #expect(
      fixture.error("wrong-type.yaml").contains("stage 'ingest': parameter 'users' expected an integer, found string"))
    #expect(fixture.error("unknown-stage.yaml").contains("stage 'train' uses unknown stage 'trainer'"))
    #expect(
      fixture.error("missing-input.yaml").contains(
        "input 'interactions' needs stage 'ingest', which the pipeline does not define"))
    #expect(fixture.error("cycle.yaml").contains("form a cycle"))
    #expect(fixture.error("unknown-key.yaml").contains("stage 'ingest': unknown key 'param'"))
    #expect(fixture.error("top.yaml").contains("unknown top-level key 'stage'"))
    #expect(fixture.error("loop-a.yaml").contains("'extends' forms a cycle"))
    #expect(fixture.error("bad-choice.yaml").contains("parameter 'source' expected one of"))
  }

  @Test func everyShippedPipelineValidates() throws {
    let directory = FileSystem.absolute("Pipelines")
    let names = try FileSystem.listDirectory(directory).filter { $0.hasSuffix(".yaml") }
    #expect(names.count >= 6)
    for name in names {
      let definition = try PipelineDefinition.load(path: directory + "/" + name)
      if name.hasPrefix("_") { continue }
      _ = try PipelineGraph(definition: definition, registry: stageRegistry)
    }
  }
}

@Suite("Stage keys")
struct StageKeyTests {
  static let material = StageKeyMaterial(
    stage: "prepare", version: 1, params: ["user_k_core": 5, "item_k_core": 5, "protocol": "leave-one-out"],
    inputs: ["interactions": String(repeating: "a", count: 64)],
    rawFiles: ["ratings": String(repeating: "b", count: 64)])

  @Test func reorderingParamsOrInputsLeavesTheKeyUnchanged() {
    var reordered = StageKeyMaterial(
      stage: "prepare", version: 1, params: [:], inputs: [:], rawFiles: [:])
    for (name, value) in Self.material.params.sorted(by: { $0.key > $1.key }) { reordered.params[name] = value }
    reordered.inputs = Self.material.inputs
    reordered.rawFiles = Self.material.rawFiles
    #expect(reordered.key == Self.material.key)
    #expect(Self.material.json.canonicalText().hasPrefix("{\"inputs\":{\"interactions\":"))
  }

  @Test func changingAnyOnePartChangesTheKey() {
    var variants: [StageKeyMaterial] = []
    var copy = Self.material
    copy.params["user_k_core"] = 6
    variants.append(copy)
    copy = Self.material
    copy.params["user_k_core"] = .number(5)  // 5.0 is not 5
    variants.append(copy)
    copy = Self.material
    copy.version = 2
    variants.append(copy)
    copy = Self.material
    copy.inputs["interactions"] = String(repeating: "c", count: 64)
    variants.append(copy)
    copy = Self.material
    copy.rawFiles["ratings"] = String(repeating: "d", count: 64)
    variants.append(copy)
    copy = Self.material
    copy.stage = "ingest"
    variants.append(copy)
    let keys = Set(variants.map(\.key) + [Self.material.key])
    #expect(keys.count == variants.count + 1)
  }

  @Test func differencesExplainWhatChanged() {
    var changed = Self.material
    changed.params["user_k_core"] = 10
    changed.rawFiles["ratings"] = String(repeating: "e", count: 64)
    let reasons = changed.differences(from: Self.material, inputEntries: ["interactions": "ingest"])
    #expect(reasons.contains("param prepare.user_k_core changed 5 → 10"))
    #expect(reasons.contains { $0.hasPrefix("input file 'ratings' changed") })
  }
}
