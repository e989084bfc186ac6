import PipelineCore
import TestSupport
import Testing

@Suite("Content hashes and file system")
struct ContentHashTests {
  @Test func sha256MatchesTheFIPSExamples() {
    #expect(ContentHash.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(ContentHash.sha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  }

  @Test func streamingFileHashEqualsInMemoryHash() throws {
    let directory = try TemporaryDirectory()
    var generator = SeededGenerator(seed: 3)
    let bytes = (0..<(3 << 20) + 17).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    let path = directory.path + "/blob"
    try FileSystem.writeFile(path, bytes)
    let (digest, size) = try ContentHash.sha256(fileAt: path)
    #expect(size == Int64(bytes.count))
    #expect(digest == ContentHash.sha256(bytes))
  }

  @Test func identityChangesWhenBytesChangeEvenWithMtimeRestored() throws {
    let directory = try TemporaryDirectory()
    let path = directory.path + "/file"
    try FileSystem.writeText(path, "hello")
    let before = try FileSystem.identity(of: path)
    try FileSystem.writeText(path, "jello")
    var after = try FileSystem.identity(of: path)
    after.modificationTimeNanoseconds = before.modificationTimeNanoseconds
    // size and mtime equal, but ctime moved: the memo key differs.
    #expect(after.size == before.size)
    #expect(after != before || after.changeTimeNanoseconds != before.changeTimeNanoseconds)
  }

  @Test func atomicWriteLeavesNoTemporaryFiles() throws {
    let directory = try TemporaryDirectory()
    try FileSystem.writeFileAtomically(directory.path + "/a.json", Array("{}".utf8))
    #expect(try FileSystem.listDirectory(directory.path) == ["a.json"])
  }

  @Test func fileLockIsExclusiveAcrossDescriptors() throws {
    let directory = try TemporaryDirectory()
    let first = try FileLock(path: directory.path + "/k.lock")
    let second = try FileLock(path: directory.path + "/k.lock")
    #expect(first.tryLock())
    #expect(!second.tryLock())
    first.unlock()
    #expect(second.tryLock())
  }
}

@Suite("Seeded generator")
struct SeededGeneratorTests {
  @Test func sameSeedGivesTheSameSequence() {
    var a = SeededGenerator(seed: 42)
    var b = SeededGenerator(seed: 42)
    var c = SeededGenerator(seed: 43)
    let first = (0..<5).map { _ in a.next() }
    #expect(first == (0..<5).map { _ in b.next() })
    #expect(first != (0..<5).map { _ in c.next() })
  }

  @Test func sequenceIsPinnedAcrossReleases() {
    // Golden: outputs depend on this sequence, so it may never change silently.
    var generator = SeededGenerator(seed: 0)
    #expect(generator.next() == 0x99EC_5F36_CB75_F2B4)
  }

  @Test func boundedIntegersStayInRangeAndCoverIt() {
    var generator = SeededGenerator(seed: 9)
    var seen = Set<Int>()
    for _ in 0..<2000 {
      let value = generator.nextInt(below: 7)
      #expect((0..<7).contains(value))
      seen.insert(value)
    }
    #expect(seen.count == 7)
  }
}

@Suite("Formatting")
struct FormattingTests {
  @Test func fixedPointRoundsHalfAwayFromZero() {
    #expect(formatFixed(1.25, digits: 1) == "1.3")
    #expect(formatFixed(-0.04, digits: 1) == "0.0")
    #expect(formatFixed(12.0, digits: 2) == "12.00")
    #expect(formatCount(12_345) == "12.3k")
    #expect(formatDuration(75) == "1m15s")
  }
}
