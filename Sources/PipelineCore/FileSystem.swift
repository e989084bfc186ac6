#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The file-system operations the store's atomic protocol needs, on POSIX calls so that every step
/// (fsync of files and directories, rename, flock) is explicit.
public enum FileSystem {
  /// What identifies a file's current contents without reading it. `changeTime` is included because
  /// a user can restore `mtime` after editing a file, but never `ctime`.
  public struct Identity: Hashable, Sendable {
    public var size: Int64
    public var modificationTimeNanoseconds: Int64
    public var changeTimeNanoseconds: Int64
    public var inode: UInt64
    public var isDirectory: Bool
  }

  public static func identity(of path: String) throws(PipelineError) -> Identity {
    var info = stat()
    guard stat(path, &info) == 0 else { throw .system("stat", path: path, errno: errno) }
    return Identity(
      size: Int64(info.st_size),
      modificationTimeNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
      changeTimeNanoseconds: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec),
      inode: UInt64(info.st_ino),
      isDirectory: (info.st_mode & S_IFMT) == S_IFDIR)
  }

  public static func exists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
  }

  public static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  /// `mkdir -p`.
  public static func createDirectory(_ path: String) throws(PipelineError) {
    if isDirectory(path) { return }
    let parent = parentPath(path)
    if !parent.isEmpty && parent != path { try createDirectory(parent) }
    if mkdir(path, 0o755) != 0 && errno != EEXIST { throw .system("create directory", path: path, errno: errno) }
  }

  public static func parentPath(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "" }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
  }

  public static func baseName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
  }

  public static func join(_ parts: String...) -> String {
    join(parts)
  }

  public static func join(_ parts: [String]) -> String {
    var result = ""
    for part in parts where !part.isEmpty {
      if part.hasPrefix("/") || result.isEmpty {
        result = part
      } else {
        result += (result.hasSuffix("/") ? "" : "/") + part
      }
    }
    return result
  }

  /// The absolute form of a path, against the current directory.
  public static func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    if path == "." || path.isEmpty { return currentDirectory() }
    if path.hasPrefix("./") { return absolute(String(path.dropFirst(2))) }
    return join(currentDirectory(), path)
  }

  public static func readFile(_ path: String) throws(PipelineError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw .system("open", path: path, errno: errno) }
    defer { close(descriptor) }
    var result: [UInt8] = []
    var info = stat()
    if fstat(descriptor, &info) == 0 { result.reserveCapacity(Int(info.st_size)) }
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw .system("read", path: path, errno: errno)
      }
      if count == 0 { break }
      result.append(contentsOf: chunk[0..<count])
    }
    return result
  }

  /// Opens a file for reads at given offsets (a large input's parts straight into the arrays they
  /// belong in, with no copy of the whole file held).
  public static func openForReading(_ path: String) throws(PipelineError) -> ReadableFile {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw .system("open", path: path, errno: errno) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
      let code = errno
      close(descriptor)
      throw .system("stat", path: path, errno: code)
    }
    return ReadableFile(descriptor: descriptor, path: path, size: Int(info.st_size))
  }

  public static func readText(_ path: String) throws(PipelineError) -> String {
    String(decoding: try readFile(path), as: UTF8.self)
  }

  /// Writes a whole file and fsyncs it. The caller makes it visible atomically by renaming its
  /// directory (store entries) or by `writeFileAtomically`.
  public static func writeFile(_ path: String, _ bytes: some Collection<UInt8>) throws(PipelineError) {
    let array = Array(bytes)
    let failure = array.withUnsafeBytes { buffer -> PipelineError? in
      do throws(PipelineError) { try writeFile(path, bytes: buffer) } catch { return error }
      return nil
    }
    if let failure { throw failure }
  }

  /// The same from memory the caller owns (no copy).
  public static func writeFile(_ path: String, bytes: UnsafeRawBufferPointer) throws(PipelineError) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw .system("create", path: path, errno: errno) }
    defer { close(descriptor) }
    try writeAll(descriptor, bytes, path: path)
    guard fsync(descriptor) == 0 else { throw .system("fsync", path: path, errno: errno) }
  }

  public static func writeText(_ path: String, _ text: String) throws(PipelineError) {
    try writeFile(path, Array(text.utf8))
  }

  /// Writes to a sibling temporary file, fsyncs, renames over `path`: readers see the old or the new
  /// file, never half of one.
  public static func writeFileAtomically(_ path: String, _ bytes: some Collection<UInt8>) throws(PipelineError) {
    let temporary = "\(path).tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
    do {
      try writeFile(temporary, bytes)
      try rename(temporary, to: path)
    } catch {
      unlink(temporary)
      throw error
    }
    syncDirectory(parentPath(absolute(path)))
  }

  public static func writeAll(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws(PipelineError)
  {
    var offset = 0
    while offset < buffer.count {
      let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
      if written < 0 {
        if errno == EINTR { continue }
        throw .system("write", path: path, errno: errno)
      }
      offset += written
    }
  }

  public static func rename(_ source: String, to destination: String) throws(PipelineError) {
    guard Glibc.rename(source, destination) == 0 else { throw .system("rename", path: source, errno: errno) }
  }

  /// Renames `source` to `destination` unless `destination` already exists as a non-empty
  /// directory: the first of several concurrent writers wins and the others learn they lost.
  /// - Returns: `true` when renamed, `false` when `destination` was already there.
  public static func renameUnlessPresent(_ source: String, to destination: String) throws(PipelineError) -> Bool {
    if Glibc.rename(source, destination) == 0 { return true }
    let code = errno
    if code == ENOTEMPTY || code == EEXIST { return false }
    throw .system("rename", path: source, errno: code)
  }

  /// Copies a file, hashing what it reads, and fsyncs the copy (one sequential read of the source).
  /// - Returns: the source's sha256 and size.
  public static func copyFile(from source: String, to destination: String) throws(PipelineError) -> (
    digest: String, size: Int64
  ) {
    let output = try OutputFile(path: destination)
    var hasher = StreamingHasher()
    let total = try forEachChunk(ofFileAt: source) { (chunk: UnsafeRawBufferPointer) throws(PipelineError) in
      hasher.update(chunk)
      try output.write(chunk)
    }
    try output.close()
    return (hasher.finalize(), total)
  }

  /// Reads a file in 1 MiB chunks (constant memory), handing each to `body`.
  /// - Returns: the number of bytes read.
  /// - Complexity: O(file size); one sequential read.
  @discardableResult
  public static func forEachChunk(
    ofFileAt path: String, _ body: (UnsafeRawBufferPointer) throws(PipelineError) -> Void
  ) throws(PipelineError) -> Int64 {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw .system("open", path: path, errno: errno) }
    defer { close(descriptor) }
    let bufferSize = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
    defer { buffer.deallocate() }
    var total: Int64 = 0
    while true {
      let count = read(descriptor, buffer.baseAddress!, bufferSize)
      if count < 0 {
        if errno == EINTR { continue }
        throw .system("read", path: path, errno: errno)
      }
      if count == 0 { break }
      try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
      total += Int64(count)
    }
    return total
  }

  /// fsyncs a directory so a rename inside it survives a power cut; failures are ignored because
  /// some file systems refuse to fsync directories.
  public static func syncDirectory(_ path: String) {
    let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    _ = fsync(descriptor)
    close(descriptor)
  }

  public static func syncFile(_ path: String) throws(PipelineError) {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw .system("open", path: path, errno: errno) }
    defer { close(descriptor) }
    guard fsync(descriptor) == 0 else { throw .system("fsync", path: path, errno: errno) }
  }

  /// Names in a directory (not recursive), sorted by code point, without `.` and `..`.
  public static func listDirectory(_ path: String) throws(PipelineError) -> [String] {
    guard let directory = opendir(path) else { throw .system("list", path: path, errno: errno) }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted(by: JSONValue.codePointOrder)
  }

  /// Relative paths of all regular files under a directory, sorted, recursively.
  public static func listFilesRecursively(_ root: String) throws(PipelineError) -> [String] {
    var result: [String] = []
    func walk(_ relative: String) throws(PipelineError) {
      let full = relative.isEmpty ? root : join(root, relative)
      for name in try listDirectory(full) {
        let child = relative.isEmpty ? name : relative + "/" + name
        if isDirectory(join(root, child)) {
          try walk(child)
        } else {
          result.append(child)
        }
      }
    }
    try walk("")
    return result.sorted(by: JSONValue.codePointOrder)
  }

  /// `rm -rf`; a missing path is not an error.
  public static func removeTree(_ path: String) throws(PipelineError) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
      for name in try listDirectory(path) { try removeTree(join(path, name)) }
      guard rmdir(path) == 0 || errno == ENOENT else { throw .system("remove", path: path, errno: errno) }
    } else {
      guard unlink(path) == 0 || errno == ENOENT else { throw .system("remove", path: path, errno: errno) }
    }
  }

  /// Points `link` at `target`, replacing any existing link atomically (symlink then rename).
  public static func replaceSymbolicLink(_ link: String, target: String) throws(PipelineError) {
    let temporary = "\(link).tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
    guard symlink(target, temporary) == 0 else { throw .system("create link", path: temporary, errno: errno) }
    do { try rename(temporary, to: link) } catch {
      unlink(temporary)
      throw error
    }
  }

  public static func readSymbolicLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count >= 0 else { return nil }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  public static func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
  }

  public static func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return "." }
    return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// An exclusive advisory lock on a file (`flock`). The kernel drops it when the process dies, so a
/// `kill -9` never leaves a lock that blocks the next run.
public final class FileLock {
  private let descriptor: Int32
  public let path: String

  /// Opens (creating) the lock file without locking it.
  public init(path: String) throws(PipelineError) {
    self.path = path
    descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw .system("open lock", path: path, errno: errno) }
  }

  deinit { close(descriptor) }

  /// Takes the lock without waiting; `false` when another process holds it.
  public func tryLock() -> Bool {
    flock(descriptor, LOCK_EX | LOCK_NB) == 0
  }

  /// Waits for the lock.
  public func lock() throws(PipelineError) {
    while flock(descriptor, LOCK_EX) != 0 {
      if errno != EINTR { throw .system("lock", path: path, errno: errno) }
    }
  }

  public func unlock() {
    flock(descriptor, LOCK_UN)
  }
}

/// The current process, for naming work directories.
public enum ProcessIdentity {
  public static var current: Int32 { getpid() }
}

/// A file being written in chunks (an archive, a member unpacked from one): created or truncated
/// on open, fsynced by `close()`.
public final class OutputFile {
  public let path: String
  private var descriptor: Int32

  public init(path: String) throws(PipelineError) {
    self.path = path
    descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw .system("create", path: path, errno: errno) }
  }

  deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(PipelineError) {
    try FileSystem.writeAll(descriptor, bytes, path: path)
  }

  public func write(_ bytes: [UInt8]) throws(PipelineError) {
    let failure = bytes.withUnsafeBytes { buffer -> PipelineError? in
      do throws(PipelineError) { try write(buffer) } catch { return error }
      return nil
    }
    if let failure { throw failure }
  }

  /// fsyncs and closes the file.
  public func close() throws(PipelineError) {
    guard descriptor >= 0 else { return }
    defer {
      Glibc.close(descriptor)
      descriptor = -1
    }
    guard fsync(descriptor) == 0 else { throw .system("fsync", path: path, errno: errno) }
  }
}

/// A file open for reading (`FileSystem.openForReading`); closed when released.
public final class ReadableFile {
  let descriptor: Int32
  public let path: String
  /// Its size when opened.
  public let size: Int

  init(descriptor: Int32, path: String, size: Int) {
    self.descriptor = descriptor
    self.path = path
    self.size = size
  }

  deinit { close(descriptor) }

  /// Fills `buffer` with the bytes from `offset` on; an error when the file ends first.
  public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PipelineError) {
    var done = 0
    while done < buffer.count {
      let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
      if count < 0 {
        if errno == EINTR { continue }
        throw .system("read", path: path, errno: errno)
      }
      guard count > 0 else {
        throw PipelineError(
          .system, "cannot read '\(path)': it ends at byte \(offset + done), before byte \(offset + buffer.count)")
      }
      done += count
    }
  }

  /// The `count` bytes from `offset` on.
  public func read(at offset: Int, count: Int) throws(PipelineError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    let failure = bytes.withUnsafeMutableBytes { buffer -> PipelineError? in
      do throws(PipelineError) { try read(at: offset, into: buffer) } catch { return error }
      return nil
    }
    if let failure { throw failure }
    return bytes
  }

  /// `count` values of a trivial type from `offset` on, in the file's byte order.
  public func read<Element: BitwiseCopyable>(_ type: Element.Type, at offset: Int, count: Int) throws(PipelineError)
    -> [Element]
  {
    var failure: PipelineError?
    let values = [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
      do throws(PipelineError) { try read(at: offset, into: UnsafeMutableRawBufferPointer(buffer)) } catch {
        failure = error
        UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
      }
      initialized = count
    }
    if let failure { throw failure }
    return values
  }
}
