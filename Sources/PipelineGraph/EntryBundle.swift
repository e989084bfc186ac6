import ArtifactFormats
import PipelineCore

/// A store entry with the manifests of all its ancestors in one tar file, to share precomputed
/// artifacts: `bundle.json` first (every member's size and sha256, the entries and the lineage
/// keys), then `entries/<key>/<file>` (the entry's files, `manifest.json` included) and
/// `lineage/<key>.json` (each ancestor's manifest), sorted by name, with fixed tar metadata, so the
/// same entries always give the same bytes.
public enum EntryBundle {
  public static let formatIdentifier = "tca.bundle/v1"
  public static let indexName = "bundle.json"

  /// What an import did with each key.
  public struct ImportedKey: Sendable, Equatable {
    public enum Action: String, Sendable {
      /// The entry was installed in the store.
      case installed
      /// The entry was already in the store (nothing written).
      case present
      /// Only the manifest was recorded (an ancestor whose outputs the bundle does not carry).
      case lineage
    }
    public var key: String
    public var stage: String
    public var action: Action
  }

  /// The manifests of `key` and all its ancestors, from the store's entries and lineage records.
  /// - Returns: `key`'s manifest first, then the ancestors sorted by key.
  /// - Throws: when an ancestor is unknown to the store (the lineage would be incomplete).
  public static func lineage(of key: String, in layout: StoreLayout) throws(PipelineError) -> [Manifest] {
    guard let root = layout.anyManifest(key)?.manifest else {
      throw .usage("no entry or lineage record for \(key.prefix(12)) in '\(layout.root)'")
    }
    var found: [String: Manifest] = [key: root]
    var pending = [root]
    while let manifest = pending.popLast() {
      for (input, inputKey) in manifest.inputs.sorted(by: { $0.key < $1.key }) where found[inputKey] == nil {
        guard let ancestor = layout.anyManifest(inputKey)?.manifest else {
          throw .usage(
            "the lineage of \(key.prefix(12)) is incomplete: input '\(input)' of \(manifest.stage) \(manifest.key.prefix(12)) is \(inputKey.prefix(12)), which '\(layout.root)' does not know; run the pipeline that produced it first"
          )
        }
        found[inputKey] = ancestor
        pending.append(ancestor)
      }
    }
    return [root] + found.values.filter { $0.key != key }.sorted { $0.key < $1.key }
  }

  /// Writes the bundle of the stored entry `key` to `path` (through a temporary file beside it).
  /// - Returns: the bundle's member count.
  @discardableResult
  public static func export(key: String, from layout: StoreLayout, to path: String) throws(PipelineError) -> Int {
    guard let manifest = layout.entryManifest(key, diagnostics: nil) else {
      throw .usage("\(key.prefix(12)) is not in the store '\(layout.root)' (only its lineage is); run its stage first")
    }
    let entryDirectory = layout.entryPath(key)
    try manifest.verifyFiles(directory: entryDirectory)
    let ancestors = try lineage(of: key, in: layout).dropFirst()
    // Members: name → (bytes, or a file to stream, with its size and hash).
    var members: [(name: String, source: String?, bytes: [UInt8], size: Int64, sha256: String)] = []
    let manifestBytes = try FileSystem.readFile(FileSystem.join(entryDirectory, Manifest.fileName))
    members.append(
      (
        "entries/\(key)/\(Manifest.fileName)", nil, manifestBytes, Int64(manifestBytes.count),
        ContentHash.sha256(manifestBytes)
      ))
    for file in manifest.files {
      members.append(
        ("entries/\(key)/\(file.path)", FileSystem.join(entryDirectory, file.path), [], file.size, file.sha256))
    }
    for ancestor in ancestors {
      let bytes = Array(ancestor.json.prettyText().utf8)
      members.append(("lineage/\(ancestor.key).json", nil, bytes, Int64(bytes.count), ContentHash.sha256(bytes)))
    }
    members.sort { JSONValue.codePointOrder($0.name, $1.name) }
    let index: JSONValue = .object([
      "format": .string(formatIdentifier),
      "key": .string(key),
      "stage": .string(manifest.stage),
      "entries": .array([.string(key)]),
      "lineage": .array(ancestors.map { .string($0.key) }),
      "files": .array(
        members.map { .object(["path": .string($0.name), "size": .integer($0.size), "sha256": .string($0.sha256)]) }),
    ])
    let temporary = "\(path).tmp.\(ProcessIdentity.current)"
    do {
      let writer = try TarArchive.Writer(path: temporary)
      try writer.add(name: indexName, bytes: Array(index.prettyText().utf8))
      for member in members {
        if let source = member.source {
          try writer.add(name: member.name, file: source, size: member.size)
        } else {
          try writer.add(name: member.name, bytes: member.bytes)
        }
      }
      try writer.finish()
      try FileSystem.rename(temporary, to: path)
    } catch {
      try? FileSystem.removeTree(temporary)
      throw error
    }
    FileSystem.syncDirectory(FileSystem.parentPath(FileSystem.absolute(path)))
    return members.count + 1
  }

  /// The parsed `bundle.json`.
  struct Index {
    var key: String
    var entries: [String]
    var lineage: [String]
    var files: [String: (size: Int64, sha256: String)]

    init(bytes: [UInt8], bundle: String) throws(PipelineError) {
      func bad(_ problem: String) -> PipelineError {
        .invalidInput("'\(bundle)': \(indexName) \(problem); export the bundle again with `tca export`")
      }
      let json: JSONValue
      do { json = try JSONParser.parse(bytes) } catch { throw bad("is not valid JSON (\(error))") }
      guard json["format"]?.stringValue == formatIdentifier else { throw bad("is not '\(formatIdentifier)'") }
      guard let key = json["key"]?.stringValue, let entries = json["entries"]?.arrayValue,
        let lineage = json["lineage"]?.arrayValue, let files = json["files"]?.arrayValue
      else { throw bad("lacks key, entries, lineage or files") }
      self.key = key
      self.entries = entries.compactMap(\.stringValue)
      self.lineage = lineage.compactMap(\.stringValue)
      var records: [String: (size: Int64, sha256: String)] = [:]
      for file in files {
        guard let path = file["path"]?.stringValue, let size = file["size"]?.integerValue,
          let sha256 = file["sha256"]?.stringValue
        else { throw bad("has a file without path, size and sha256") }
        records[path] = (size, sha256)
      }
      self.files = records
      for key in self.entries + self.lineage where !EntryBundle.isKey(key) {
        throw bad("names '\(key)', which is not a 64-digit key")
      }
    }
  }

  static func isKey(_ text: String) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
  }

  /// Unpacks a bundle into a scratch directory of the store, checking every member's size and
  /// sha256 against `bundle.json` as it is read, then installs each entry with the store's one
  /// protocol (verified files, manifest, rename under the key's lock) and records each ancestor's
  /// manifest as lineage. An entry already in the store is left as it is, so importing a bundle
  /// twice changes nothing. A corrupt, altered or incomplete bundle installs nothing and the error
  /// names the member.
  public static func importBundle(
    _ path: String, into store: ArtifactStore, diagnostics: Diagnostics
  ) throws(PipelineError) -> [ImportedKey] {
    let scratch = try store.makeScratchDirectory(label: "import")
    defer { scratch.release() }
    let reader = try TarArchive.Reader(path: path)
    guard let first = try reader.next() else {
      throw .invalidInput("'\(path)' is an empty tar archive, not a bundle; export it with `tca export`")
    }
    guard first.name == indexName, first.size <= 1 << 30 else {
      throw .invalidInput(
        "'\(path)' is not a tca bundle: its first member is '\(first.name)', not \(indexName); export it with `tca export`"
      )
    }
    var indexBytes: [UInt8] = []
    try reader.readContents { (chunk: UnsafeRawBufferPointer) throws(PipelineError) in indexBytes += chunk }
    let index = try Index(bytes: indexBytes, bundle: path)
    var seen: Set<String> = []
    while let member = try reader.next() {
      guard let expected = index.files[member.name] else {
        throw .invalidInput(
          "'\(path)': member '\(member.name)' is not listed in \(indexName) (the bundle was altered); export it again")
      }
      guard isSafeMemberName(member.name, index: index) else {
        throw .invalidInput(
          "'\(path)': member '\(member.name)' is outside the bundle's layout (entries/<key>/…, lineage/<key>.json); export it again"
        )
      }
      guard seen.insert(member.name).inserted else {
        throw .invalidInput(
          "'\(path)': member '\(member.name)' appears twice (the bundle was altered); export it again")
      }
      let destination = FileSystem.join(scratch.path, member.name)
      try FileSystem.createDirectory(FileSystem.parentPath(destination))
      let writer = try OutputFile(path: destination)
      var hasher = StreamingHasher()
      try reader.readContents { (chunk: UnsafeRawBufferPointer) throws(PipelineError) in
        hasher.update(chunk)
        try writer.write(chunk)
      }
      try writer.close()
      let digest = hasher.finalize()
      guard member.size == expected.size, digest == expected.sha256 else {
        throw .invalidInput(
          "'\(path)': member '\(member.name)' has \(member.size) bytes and sha256 \(digest.prefix(12)), \(indexName) says \(expected.size) bytes and \(expected.sha256.prefix(12)) (the bundle is corrupt); copy or export it again"
        )
      }
    }
    if let missing = index.files.keys.filter({ !seen.contains($0) }).sorted().first {
      throw .invalidInput(
        "'\(path)' is incomplete: '\(missing)', listed in \(indexName), is missing; copy or export the bundle again")
    }
    // Every manifest must hash to its key, and its files must be exactly the bundle's members.
    var manifests: [String: Manifest] = [:]
    for key in index.entries {
      let directory = FileSystem.join(scratch.path, "entries", key)
      let manifest = try checkedManifest(
        bytes: try FileSystem.readFile(FileSystem.join(directory, Manifest.fileName)), key: key,
        member: "entries/\(key)/\(Manifest.fileName)", bundle: path)
      for file in manifest.files {
        let record = index.files["entries/\(key)/\(file.path)"]
        guard record?.size == file.size, record?.sha256 == file.sha256 else {
          throw .invalidInput(
            "'\(path)': 'entries/\(key)/\(file.path)' does not match its entry's manifest (missing, or another size or sha256); export the bundle again"
          )
        }
      }
      let declared = Set(manifest.files.map { "entries/\(key)/\($0.path)" } + ["entries/\(key)/\(Manifest.fileName)"])
      let extra = index.files.keys.filter { $0.hasPrefix("entries/\(key)/") && !declared.contains($0) }
      if let extra = extra.sorted().first {
        throw .invalidInput(
          "'\(path)': member '\(extra)' is not in its entry's manifest (the bundle was altered); export it again")
      }
      manifests[key] = manifest
    }
    for key in index.lineage {
      manifests[key] = try checkedManifest(
        bytes: try FileSystem.readFile(FileSystem.join(scratch.path, "lineage", key + ".json")), key: key,
        member: "lineage/\(key).json", bundle: path)
    }
    for (key, manifest) in manifests {
      for (input, inputKey) in manifest.inputs where manifests[inputKey] == nil {
        throw .invalidInput(
          "'\(path)' is incomplete: input '\(input)' of \(manifest.stage) \(key.prefix(12)) is \(inputKey.prefix(12)), which the bundle does not describe; export it again with `tca export`"
        )
      }
    }
    var result: [ImportedKey] = []
    for key in index.entries {
      let lock = try store.lock(key, label: manifests[key]!.stage)
      defer { lock.unlock() }
      if store.hasEntry(key) {
        result.append(ImportedKey(key: key, stage: manifests[key]!.stage, action: .present))
        continue
      }
      let work = try store.makeWorkDirectory(key)
      try FileSystem.rename(FileSystem.join(scratch.path, "entries", key), to: work)
      do {
        try store.layout.install(workDirectory: work, key: key)
      } catch {
        try? FileSystem.removeTree(work)
        throw error
      }
      let manifest = manifests[key]!
      try store.ledger.recordArtifact(
        material: StageKeyMaterial(manifest: manifest), seconds: 0,
        bytes: manifest.files.reduce(0) { $0 + $1.size }, key: key)
      result.append(ImportedKey(key: key, stage: manifest.stage, action: .installed))
    }
    for key in index.lineage {
      try store.layout.recordLineage(manifests[key]!)
      result.append(ImportedKey(key: key, stage: manifests[key]!.stage, action: .lineage))
    }
    diagnostics.detail("imported '\(path)': \(result.count) keys")
    return result
  }

  /// Member names are `entries/<listed key>/<relative path>` or `lineage/<listed key>.json`, with
  /// no `.`/`..` components, so nothing is written outside the scratch directory.
  static func isSafeMemberName(_ name: String, index: Index) -> Bool {
    let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    if parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) { return false }
    if parts.count == 2 && parts[0] == "lineage" && parts[1].hasSuffix(".json") {
      return index.lineage.contains(String(parts[1].dropLast(5)))
    }
    return parts.count >= 3 && parts[0] == "entries" && index.entries.contains(parts[1])
  }

  /// A bundled manifest, checked: valid, for `key`, and its material hashes to `key`.
  static func checkedManifest(bytes: [UInt8], key: String, member: String, bundle: String) throws(PipelineError)
    -> Manifest
  {
    let json: JSONValue
    do { json = try JSONParser.parse(bytes) } catch {
      throw .invalidInput("'\(bundle)': member '\(member)' is not valid JSON; export the bundle again")
    }
    let manifest = try Manifest(json: json, path: "\(bundle):\(member)")
    guard manifest.key == key, manifest.describesItsKey else {
      throw .invalidInput(
        "'\(bundle)': member '\(member)' does not describe key \(key.prefix(12)) (its stage, version, params, inputs and raw files hash to another key); export the bundle again"
      )
    }
    return manifest
  }
}

extension Manifest {
  /// Whether the key material this manifest records hashes to its key (for a partition entry,
  /// with the partition its metrics record): a manifest that says how its key was made.
  public var describesItsKey: Bool {
    let material = StageKeyMaterial(manifest: self)
    if let partition = metrics["partition"], let index = partition["index"]?.integerValue,
      let count = partition["count"]?.integerValue
    {
      guard count >= 1 && index >= 0 && index < count else { return false }
      return material.partitionKey(StagePartition(index: Int(index), count: Int(count))) == key
    }
    return material.key == key
  }
}
