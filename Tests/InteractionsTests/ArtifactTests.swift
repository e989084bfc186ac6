import ArtifactFormats
import Interactions
import LogIngest
import PipelineCore
import TestSupport
import Testing

@Suite struct ArtifactTests {
  let log: InteractionLog = {
    var builder = LogBuilder()
    var generator = SeededGenerator(seed: 7)
    for index in 0..<400 {
      builder.add(
        "u\(generator.nextInt(below: 30))", "i\(generator.nextInt(below: 40))", Int64(generator.nextInt(below: 500)),
        rating: Float(1 + index % 5))
    }
    return builder.log
  }()

  func options() -> PrepareOptions { makeOptions(kCore: 3, maximumHistory: 5) }

  @Test func writeThenReadGivesTheSameSamples() throws {
    let directory = try TemporaryDirectory()
    let output = try PrepareStage.prepare(log, options: options())
    try writeArtifact(output, to: directory.path)
    let read = try PreparedSamples.read(from: directory.path)
    #expect(read == output.samples)
    try PrepareStage.validate(artifact: directory.path, manifest: testManifest(params: ["max_history": 5]))
    let items = try JSONLines.read(directory.file("items.jsonl"))
    #expect(
      items[0] == [
        "id": 1, "raw_id": .string(output.samples.items[0].rawID),
        "title": .string("Title \(output.samples.items[0].rawID)"),
        "brand": .string("Brand \(output.samples.items[0].rawID)"),
      ])
    let users = try JSONLines.read(directory.file("users.jsonl"))
    #expect(users.last == ["id": JSONValue(output.samples.users.count), "raw_id": .string(output.samples.users.last!)])
  }

  @Test func runWritesEveryDeclaredOutputAndReturnsMetrics() throws {
    let input = try TemporaryDirectory()
    let output = try TemporaryDirectory()
    try log.write(to: input.path)
    let parameters = try PrepareStage.resolveParameters(
      ["user_k_core": 3, "item_k_core": 3, "max_history": 5], entry: "prepare", file: "test.yaml")
    let context = StageContext(
      parameters: parameters, inputs: ["interactions": input.path], rawFiles: [:], outputDirectory: output.path,
      diagnostics: Diagnostics(toolName: "tca-prepare", verbosity: .quiet))
    let metrics = try PrepareStage.run(context)
    let expected = try PrepareStage.prepare(log, options: options())
    #expect(metrics == expected.metrics)
    #expect(
      try FileSystem.listFilesRecursively(output.path)
        == PrepareStage.declaredOutputs.sorted(by: JSONValue.codePointOrder))
    #expect(try FileSystem.readText(output.file("report.json")) == expected.report.json.prettyText())
    try PrepareStage.validate(
      artifact: output.path, manifest: testManifest(params: PrepareStage.keyParameters(parameters)))
  }

  @Test func preparingTwiceGivesByteIdenticalFiles() throws {
    let first = try TemporaryDirectory()
    let second = try TemporaryDirectory()
    try writeArtifact(try PrepareStage.prepare(log, options: options()), to: first.path)
    try writeArtifact(try PrepareStage.prepare(log, options: options()), to: second.path)
    for name in PreparedSamples.fileNames {
      #expect(try FileSystem.readFile(first.file(name)) == FileSystem.readFile(second.file(name)), "\(name)")
    }
  }

  /// Writes a valid artifact, lets `corrupt` damage it, and returns the validation error.
  func validationError(_ corrupt: (TemporaryDirectory) throws -> Void) throws -> PipelineError? {
    let directory = try TemporaryDirectory()
    try writeArtifact(try PrepareStage.prepare(log, options: options()), to: directory.path)
    try corrupt(directory)
    return #expect(throws: PipelineError.self) {
      try PrepareStage.validate(artifact: directory.path, manifest: testManifest(params: ["max_history": 5]))
    }
  }

  @Test func flippedOffsetsFailValidationNamingTheFile() throws {
    let error = try validationError { directory in
      let path = directory.file("train.history.offsets.npy")
      var offsets = try NumPyArray.read(UInt64.self, from: path).values
      offsets.swapAt(2, 3)
      try NumPyArray.write(offsets, to: path)
    }
    #expect(error?.code == .invalidArtifact)
    #expect(error?.message.contains("train.history.offsets.npy' decreases at element") == true)
  }

  @Test func paddingIDZeroFailsValidationNamingTheFile() throws {
    let error = try validationError { directory in
      let path = directory.file("test.target.npy")
      var targets = try NumPyArray.read(UInt32.self, from: path).values
      targets[0] = 0
      try NumPyArray.write(targets, to: path)
    }
    #expect(error?.message.contains("test.target.npy' element 0 is item id 0, outside 1...") == true)
  }

  @Test func mismatchedLengthsFailValidationNamingTheFile() throws {
    let error = try validationError { directory in
      let path = directory.file("valid.timestamp.npy")
      let times = try NumPyArray.read(Int64.self, from: path).values
      try NumPyArray.write(Array(times.dropLast()), to: path)
    }
    #expect(error?.message.contains("valid.timestamp.npy' has") == true)
  }

  @Test func itemLineIDsMustFollowLineOrder() throws {
    let error = try validationError { directory in
      var lines = try FileSystem.readText(directory.file("items.jsonl")).split(separator: "\n").map(String.init)
      lines.swapAt(0, 1)
      try FileSystem.writeText(directory.file("items.jsonl"), lines.joined(separator: "\n") + "\n")
    }
    #expect(error?.message.contains("items.jsonl' line 1 has id 2, expected 1") == true)
  }

  @Test func reportCountsMustMatchTheArrays() throws {
    let error = try validationError { directory in
      let text = try FileSystem.readText(directory.file("report.json"))
      var report = try JSONParser.parse(text).objectValue!
      var samples = report["samples"]!.objectValue!
      samples["valid"] = 1
      report["samples"] = .object(samples)
      try FileSystem.writeText(directory.file("report.json"), JSONValue.object(report).prettyText())
    }
    #expect(error?.message.contains("report.json' says samples.valid is 1, but 'valid.user.npy' has") == true)
  }

  @Test func historiesLongerThanMaxHistoryFailValidation() throws {
    let directory = try TemporaryDirectory()
    try writeArtifact(try PrepareStage.prepare(log, options: options()), to: directory.path)
    let error = #expect(throws: PipelineError.self) {
      try PrepareStage.validate(artifact: directory.path, manifest: testManifest(params: ["max_history": 2]))
    }
    #expect(error?.message.contains("more than max_history 2") == true)
  }
}

@Suite struct ParameterTests {
  @Test func defaultsResolveToTheDocumentedOptions() throws {
    let parameters = try PrepareStage.resolveParameters([:], entry: "prepare", file: "test.yaml")
    #expect(try PrepareOptions(parameters) == PrepareOptions())
    #expect(PrepareOptions().downsample.values.allSatisfy { $0 == 0 })
  }

  @Test func parametersMapToOptions() throws {
    let parameters = try PrepareStage.resolveParameters(
      [
        "protocol": "sliding-window", "user_k_core": 10, "item_k_core": 3, "deduplicate": "last", "min_rating": 3.5,
        "max_history": 10, "min_history": 10, "train_ratio": 0.7, "valid_ratio": 0.2, "downsample_train": 10000,
        "downsample_valid": 5000, "downsample_test": 5000, "seed": 7,
      ], entry: "prepare", file: "test.yaml")
    let options = try PrepareOptions(parameters)
    #expect(options.sampleProtocol == .slidingWindow)
    #expect(options.userKCore == 10 && options.itemKCore == 3)
    #expect(options.deduplication == .last)
    #expect(options.minimumRating == 3.5)
    #expect(options.maximumHistory == 10 && options.minimumHistory == 10)
    #expect(options.downsample == [.train: 10000, .valid: 5000, .test: 5000])
    #expect(options.seed == 7)
  }

  @Test func ratiosAboveOneAreAUsageError() throws {
    let parameters = try PrepareStage.resolveParameters(
      ["train_ratio": 0.8, "valid_ratio": 0.3], entry: "prepare", file: "test.yaml")
    let error = #expect(throws: PipelineError.self) { try PrepareOptions(parameters) }
    #expect(error?.code == .usage)
    #expect(error?.message.contains("'valid_ratio' plus train_ratio must be at most 1") == true)
  }

  @Test func unknownProtocolIsRejectedWhenResolving() throws {
    let error = #expect(throws: PipelineError.self) {
      try PrepareStage.resolveParameters(["protocol": "random"], entry: "prepare", file: "test.yaml")
    }
    #expect(error?.message.contains("expected one of leave-one-out, sliding-window, predefined") == true)
  }
}
