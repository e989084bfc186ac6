import ArtifactFormats
import PipelineCore
import TestSupport
import Testing

@Suite("NumPy .npy files")
struct NumPyArrayTests {
  @Test func headerIsByteIdenticalToNumPys() {
    // numpy.save of np.arange(3, dtype="<u4") writes exactly this 128-byte header in NumPy ≥ 1.x (64-byte aligned).
    let header = NumPyArray.headerBytes(descriptor: "<u4", shape: [3])
    let text = String(decoding: header[10...], as: UTF8.self)
    #expect(header.count % 64 == 0)
    #expect(text.hasPrefix("{'descr': '<u4', 'fortran_order': False, 'shape': (3,), }"))
    #expect(text.hasSuffix(" \n"))
    #expect(Int(header[8]) | Int(header[9]) << 8 == header.count - 10)
  }

  @Test func writeThenReadRoundTripsEveryDtype() throws {
    let directory = try TemporaryDirectory()
    try NumPyArray.write([1, 2, 3] as [UInt32], to: directory.path + "/a.npy")
    try NumPyArray.write([-1, Int64.max] as [Int64], to: directory.path + "/b.npy")
    try NumPyArray.write([0.5, .nan] as [Float], to: directory.path + "/c.npy")
    try NumPyArray.write([1, 2, 3, 4, 5, 6] as [UInt64], shape: [2, 3], to: directory.path + "/d.npy")
    #expect(try NumPyArray.read(UInt32.self, from: directory.path + "/a.npy").values == [1, 2, 3])
    #expect(try NumPyArray.read(Int64.self, from: directory.path + "/b.npy").values == [-1, Int64.max])
    let floats = try NumPyArray.read(Float.self, from: directory.path + "/c.npy").values
    #expect(floats[0] == 0.5 && floats[1].isNaN)
    #expect(try NumPyArray.read(UInt64.self, from: directory.path + "/d.npy").shape == [2, 3])
  }

  @Test func truncatedArrayIsAnErrorNamingTheFile() throws {
    let directory = try TemporaryDirectory()
    let path = directory.path + "/t.npy"
    try NumPyArray.write([1, 2, 3, 4] as [UInt32], to: path)
    var bytes = try FileSystem.readFile(path)
    bytes.removeLast(3)
    try FileSystem.writeFile(path, bytes)
    #expect {
      _ = try NumPyArray.read(UInt32.self, from: path)
    } throws: { error in
      "\(error)".contains("t.npy") && "\(error)".contains("truncated")
    }
  }

  @Test func wrongDtypeIsAnError() throws {
    let directory = try TemporaryDirectory()
    try NumPyArray.write([1] as [UInt64], to: directory.path + "/x.npy")
    #expect(throws: PipelineError.self) { _ = try NumPyArray.read(UInt32.self, from: directory.path + "/x.npy") }
  }
}

@Suite("JSON Lines")
struct JSONLinesTests {
  @Test func writesCanonicalLinesAndReadsThemBack() throws {
    let directory = try TemporaryDirectory()
    let path = directory.path + "/r.jsonl"
    let records: [JSONValue] = [["b": 1, "a": "x"], ["title": "Crème \"brûlée\""]]
    try JSONLines.write(records, to: path)
    #expect(try FileSystem.readText(path) == "{\"a\":\"x\",\"b\":1}\n{\"title\":\"Crème \\\"brûlée\\\"\"}\n")
    #expect(try JSONLines.read(path) == records)
  }

  @Test func badLineNamesFileAndLine() throws {
    let directory = try TemporaryDirectory()
    let path = directory.path + "/bad.jsonl"
    try FileSystem.writeText(path, "{\"a\":1}\n{\"a\":\n")
    #expect {
      _ = try JSONLines.read(path)
    } throws: { error in
      "\(error)".contains("bad.jsonl' line 2")
    }
  }
}

@Suite("NumPy oracle")
struct NumPyOracleTests {
  @Test func writerMatchesTheFileNumPyWrote() throws {
    // Schemas/examples/tiny-uint32.npy was written by numpy.save(np.array([1, 2, 3], dtype="<u4")).
    let directory = try TemporaryDirectory()
    try NumPyArray.write([1, 2, 3] as [UInt32], to: directory.path + "/ours.npy")
    #expect(
      try FileSystem.readFile(directory.path + "/ours.npy")
        == (try FileSystem.readFile("Schemas/examples/tiny-uint32.npy")))
  }
}
