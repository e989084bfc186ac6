import PipelineCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// POSIX tar archives (ustar, with a pax extended header only for a name or size ustar cannot
/// hold), written with fixed metadata so that the same members give the same bytes: mode 0644,
/// uid and gid 0, no user or group names, mtime 0. `tar -xf` and Python's `tarfile` read them.
public enum TarArchive {
  static let blockSize = 512
  /// ustar's 11 octal digits.
  static let largestUstarSize: Int64 = 0o77777777777

  /// Streams members into a new archive file.
  public final class Writer {
    public let path: String
    private let output: OutputFile

    /// Creates (truncating) the archive file.
    public init(path: String) throws(PipelineError) {
      self.path = path
      output = try OutputFile(path: path)
    }

    /// Adds a member with the given bytes.
    public func add(name: String, bytes: [UInt8]) throws(PipelineError) {
      try writeHeaders(name: name, size: Int64(bytes.count))
      try write(bytes)
      try pad(Int64(bytes.count))
    }

    /// Adds a member with the contents of the file at `source`, which must have `size` bytes.
    public func add(name: String, file source: String, size: Int64) throws(PipelineError) {
      try writeHeaders(name: name, size: size)
      var total: Int64 = 0
      try FileSystem.forEachChunk(ofFileAt: source) { (chunk: UnsafeRawBufferPointer) throws(PipelineError) in
        total += Int64(chunk.count)
        if total <= size { try output.write(chunk) }
      }
      guard total == size else {
        throw .invalidArtifact("'\(source)' changed size while it was archived (\(size) → \(total) bytes); try again")
      }
      try pad(size)
    }

    /// Writes the two zero blocks that end an archive, fsyncs and closes it.
    public func finish() throws(PipelineError) {
      try write([UInt8](repeating: 0, count: 2 * TarArchive.blockSize))
      try output.close()
    }

    private func writeHeaders(name: String, size: Int64) throws(PipelineError) {
      let split = TarArchive.splitUstarName(name)
      var records: [(String, String)] = []
      if split == nil { records.append(("path", name)) }
      if size > TarArchive.largestUstarSize { records.append(("size", String(size))) }
      if !records.isEmpty {
        let body = TarArchive.paxRecords(records)
        try write(TarArchive.header(name: ("", "PaxHeader"), size: Int64(body.count), typeFlag: UInt8(ascii: "x")))
        try write(body)
        try pad(Int64(body.count))
      }
      // Readers without pax support see the name's last 99 bytes (the pax record has all of it).
      let fallback: (prefix: String, name: String) = ("", String(decoding: name.utf8.suffix(99), as: UTF8.self))
      try write(
        TarArchive.header(
          name: split ?? fallback, size: min(size, TarArchive.largestUstarSize), typeFlag: UInt8(ascii: "0")))
    }

    private func write(_ bytes: [UInt8]) throws(PipelineError) {
      try output.write(bytes)
    }

    private func pad(_ size: Int64) throws(PipelineError) {
      let remainder = Int(size % Int64(TarArchive.blockSize))
      if remainder != 0 { try write([UInt8](repeating: 0, count: TarArchive.blockSize - remainder)) }
    }
  }

  /// One member of an archive being read.
  public struct Member: Sendable {
    public var name: String
    public var size: Int64
    /// Where the member's header starts in the archive.
    public var offset: Int64
  }

  /// Reads an archive's regular-file members in order, streaming their contents.
  public final class Reader {
    public let path: String
    private let descriptor: Int32
    private var position: Int64 = 0
    private var pending: Member?
    private var pendingRead: Int64 = 0

    public init(path: String) throws(PipelineError) {
      self.path = path
      descriptor = open(path, O_RDONLY | O_CLOEXEC)
      guard descriptor >= 0 else { throw .system("open", path: path, errno: errno) }
    }

    deinit { close(descriptor) }

    /// The next regular-file member (directories and pax global headers are skipped), or `nil` at
    /// the archive's end. An archive that stops before its end blocks is an error naming the last
    /// member, so a truncated copy is never taken for a complete one.
    public func next() throws(PipelineError) -> Member? {
      if pending != nil { try skipRest() }
      var paxPath: String?
      var paxSize: Int64?
      while true {
        let offset = position
        guard let block = try readBlock() else {
          throw .invalidInput(
            "'\(path)' ends at byte \(offset) without the end-of-archive blocks (the file is truncated); copy it again")
        }
        if block.allSatisfy({ $0 == 0 }) { return nil }
        guard TarArchive.checksumMatches(block) else {
          throw .invalidInput(
            "'\(path)': the tar header at byte \(offset) is corrupt (checksum mismatch); copy or export the bundle again"
          )
        }
        let type = block[156]
        guard var size = TarArchive.octal(block[124..<136]) else {
          throw .invalidInput("'\(path)': the tar header at byte \(offset) has an unreadable size; export it again")
        }
        if type == UInt8(ascii: "x") || type == UInt8(ascii: "g") {
          let body = try readBytes(size, member: "pax header at byte \(offset)")
          try skipPadding(Member(name: "pax header at byte \(offset)", size: size, offset: offset))
          if type == UInt8(ascii: "x") {
            for (key, value) in TarArchive.parsePaxRecords(body) {
              if key == "path" { paxPath = value }
              if key == "size" { paxSize = Int64(value) }
            }
          }
          continue
        }
        if let paxSize { size = paxSize }
        let name = paxPath ?? TarArchive.ustarName(block)
        if type == UInt8(ascii: "5") {
          paxPath = nil
          paxSize = nil
          continue
        }
        guard type == UInt8(ascii: "0") || type == 0 else {
          throw .invalidInput(
            "'\(path)': member '\(name)' is not a regular file (tar type '\(Character(Unicode.Scalar(type)))'); bundles hold only files"
          )
        }
        let member = Member(name: name, size: size, offset: offset)
        pending = member
        pendingRead = 0
        return member
      }
    }

    /// Streams the rest of the current member's contents to `body` in chunks of up to 1 MiB.
    public func readContents(_ body: (UnsafeRawBufferPointer) throws(PipelineError) -> Void) throws(PipelineError) {
      guard let member = pending else { return }
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
      defer { buffer.deallocate() }
      while pendingRead < member.size {
        let wanted = Int(min(Int64(buffer.count), member.size - pendingRead))
        let count = read(descriptor, buffer.baseAddress!, wanted)
        if count < 0 {
          if errno == EINTR { continue }
          throw .system("read", path: path, errno: errno)
        }
        if count == 0 {
          throw .invalidInput(
            "'\(path)' ends inside member '\(member.name)' (\(pendingRead) of \(member.size) bytes; the file is truncated); copy it again"
          )
        }
        pendingRead += Int64(count)
        position += Int64(count)
        try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
      }
      try skipPadding(member)
      pending = nil
    }

    private func skipRest() throws(PipelineError) {
      try readContents { _ in }
    }

    private func skipPadding(_ member: Member) throws(PipelineError) {
      let remainder = Int(member.size % Int64(TarArchive.blockSize))
      if remainder != 0 { _ = try readBytes(Int64(TarArchive.blockSize - remainder), member: member.name) }
    }

    private func readBlock() throws(PipelineError) -> [UInt8]? {
      let bytes = try readUpTo(TarArchive.blockSize)
      if bytes.isEmpty { return nil }
      guard bytes.count == TarArchive.blockSize else {
        throw .invalidInput(
          "'\(path)' ends inside a tar header at byte \(position - Int64(bytes.count)) (the file is truncated); copy it again"
        )
      }
      return bytes
    }

    private func readBytes(_ count: Int64, member: String) throws(PipelineError) -> [UInt8] {
      let bytes = try readUpTo(Int(count))
      guard bytes.count == count else {
        throw .invalidInput("'\(path)' ends inside \(member) (the file is truncated); copy it again")
      }
      return bytes
    }

    private func readUpTo(_ count: Int) throws(PipelineError) -> [UInt8] {
      var bytes = [UInt8](repeating: 0, count: count)
      var filled = 0
      while filled < count {
        let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, count - filled) }
        if got < 0 {
          if errno == EINTR { continue }
          throw .system("read", path: path, errno: errno)
        }
        if got == 0 { break }
        filled += got
      }
      position += Int64(filled)
      return Array(bytes[0..<filled])
    }
  }

  /// A ustar header block with the fixed metadata of this format.
  static func header(name: (prefix: String, name: String), size: Int64, typeFlag: UInt8) -> [UInt8] {
    var block = [UInt8](repeating: 0, count: blockSize)
    func put(_ text: String, at offset: Int, width: Int) {
      for (index, byte) in text.utf8.prefix(width).enumerated() { block[offset + index] = byte }
    }
    func putOctal(_ value: Int64, at offset: Int, width: Int) {
      let digits = String(value, radix: 8)
      put(String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits, at: offset, width: width - 1)
    }
    put(name.name, at: 0, width: 100)
    putOctal(0o644, at: 100, width: 8)
    putOctal(0, at: 108, width: 8)
    putOctal(0, at: 116, width: 8)
    putOctal(size, at: 124, width: 12)
    putOctal(0, at: 136, width: 12)
    block[156] = typeFlag
    put("ustar", at: 257, width: 6)
    put("00", at: 263, width: 2)
    put(name.prefix, at: 345, width: 155)
    for index in 148..<156 { block[index] = UInt8(ascii: " ") }
    let sum = block.reduce(0) { $0 + Int64($1) }
    putOctal(sum, at: 148, width: 7)
    block[155] = UInt8(ascii: " ")
    return block
  }

  /// Splits a name into ustar's prefix (≤ 155 bytes) and name (≤ 100 bytes) at a slash, or `nil`.
  static func splitUstarName(_ name: String) -> (prefix: String, name: String)? {
    let bytes = Array(name.utf8)
    if bytes.count <= 100 { return ("", name) }
    for index in bytes.indices.reversed() where bytes[index] == UInt8(ascii: "/") {
      let prefix = bytes[..<index]
      let rest = bytes[(index + 1)...]
      if prefix.count <= 155 && rest.count <= 100 && !rest.isEmpty {
        return (String(decoding: prefix, as: UTF8.self), String(decoding: rest, as: UTF8.self))
      }
    }
    return nil
  }

  static func ustarName(_ block: [UInt8]) -> String {
    func field(_ range: Range<Int>) -> String {
      String(decoding: block[range].prefix { $0 != 0 }, as: UTF8.self)
    }
    let name = field(0..<100)
    let prefix = block[257..<262].elementsEqual("ustar".utf8) ? field(345..<500) : ""
    return prefix.isEmpty ? name : prefix + "/" + name
  }

  static func checksumMatches(_ block: [UInt8]) -> Bool {
    guard let recorded = octal(block[148..<156]) else { return false }
    var sum: Int64 = 0
    for (index, byte) in block.enumerated() { sum += (148..<156).contains(index) ? 32 : Int64(byte) }
    return sum == recorded
  }

  static func octal(_ field: ArraySlice<UInt8>) -> Int64? {
    var value: Int64 = 0
    var seen = false
    for byte in field {
      if byte == 0 || byte == UInt8(ascii: " ") {
        if seen { break } else { continue }
      }
      guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte) else { return nil }
      value = value * 8 + Int64(byte - UInt8(ascii: "0"))
      seen = true
    }
    return seen ? value : nil
  }

  /// pax records `"LEN key=value\n"`, where LEN counts the whole record including itself.
  static func paxRecords(_ records: [(String, String)]) -> [UInt8] {
    var output: [UInt8] = []
    for (key, value) in records {
      let body = " \(key)=\(value)\n".utf8.count
      var length = body + 1
      while String(length).utf8.count + body != length { length = String(length).utf8.count + body }
      output += Array("\(length) \(key)=\(value)\n".utf8)
    }
    return output
  }

  static func parsePaxRecords(_ bytes: [UInt8]) -> [(String, String)] {
    var records: [(String, String)] = []
    var index = 0
    while index < bytes.count {
      guard let space = bytes[index...].firstIndex(of: UInt8(ascii: " ")),
        let length = Int(String(decoding: bytes[index..<space], as: UTF8.self)), length > 0,
        index + length <= bytes.count
      else { break }
      let record = bytes[(space + 1)..<(index + length - 1)]
      if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
        records.append(
          (
            String(decoding: record[..<equals], as: UTF8.self),
            String(decoding: record[(equals + 1)...], as: UTF8.self)
          ))
      }
      index += length
    }
    return records
  }
}
