import Foundation
import PipelineCore
import Yams

/// One entry of a pipeline file: a named use of a stage with its inputs and parameters.
public struct PipelineEntry: Equatable, Sendable {
  public var name: String
  /// The stage it runs (`uses:`, default: the entry's name).
  public var stage: String
  /// Input name → the entry that produces it.
  public var inputs: [String: String]
  public var params: [String: JSONValue]
  /// The file and line that last defined the entry, for errors.
  public var file: String
  public var line: Int
}

/// A pipeline file after `extends:` is merged: its entries in file order.
public struct PipelineDefinition: Sendable {
  public var name: String
  public var file: String
  public var description: String?
  public var entries: [PipelineEntry]

  /// Where pipeline names are looked up: `$TCA_PIPELINES`, else `Pipelines/` in the working directory.
  public static func locate(_ nameOrPath: String) throws(PipelineError) -> String {
    if nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml") || nameOrPath.contains("/") {
      guard FileSystem.exists(nameOrPath) else {
        throw .usage(
          "pipeline file '\(nameOrPath)' does not exist; pass a name from Pipelines/ or a path to a .yaml file")
      }
      return nameOrPath
    }
    let directory = FileSystem.environment("TCA_PIPELINES") ?? "Pipelines"
    let path = FileSystem.join(directory, nameOrPath + ".yaml")
    guard FileSystem.exists(path) else {
      let available =
        (try? FileSystem.listDirectory(directory))?.filter { $0.hasSuffix(".yaml") && !$0.hasPrefix("_") }
        .map { String($0.dropLast(5)) } ?? []
      throw .usage(
        "no pipeline named '\(nameOrPath)' in '\(directory)/'; available: \(available.joined(separator: ", "))")
    }
    return path
  }

  /// Loads a pipeline file, following `extends:` (relative to the file's directory); the child
  /// overrides the parent key by key, parameters merged one by one.
  public static func load(path: String) throws(PipelineError) -> PipelineDefinition {
    var seen: [String] = []
    let stem = FileSystem.baseName(path).replacingOccurrences(of: ".yaml", with: "").replacingOccurrences(
      of: ".yml", with: "")
    var definition = try loadMerged(path: path, seen: &seen)
    definition.name = stem
    return definition
  }

  private static func loadMerged(path: String, seen: inout [String]) throws(PipelineError) -> PipelineDefinition {
    let absolute = FileSystem.absolute(path)
    if seen.contains(absolute) {
      throw .usage(
        "\(path): 'extends' forms a cycle: \((seen + [absolute]).map(FileSystem.baseName).joined(separator: " → "))")
    }
    seen.append(absolute)
    let text: String
    do { text = try FileSystem.readText(path) } catch {
      throw .usage("cannot read pipeline file '\(path)': \(error.message)")
    }
    let root: Node
    do {
      guard let node = try Yams.compose(yaml: text) else { throw PipelineError.usage("\(path): the file is empty") }
      root = node
    } catch let error as PipelineError {
      throw error
    } catch {
      throw .usage("\(path): not valid YAML: \(error)")
    }
    guard let mapping = root.mapping else { throw .usage("\(path): the top level must be a mapping with 'stages'") }
    let allowedTop: Set<String> = ["extends", "description", "stages"]
    var base = PipelineDefinition(name: "", file: path, description: nil, entries: [])
    var stagesNode: Node?
    for (keyNode, valueNode) in mapping {
      let key = keyNode.string ?? ""
      let line = keyNode.mark?.line ?? 0
      guard allowedTop.contains(key) else {
        throw .usage("\(path):\(line): unknown top-level key '\(key)' (allowed: description, extends, stages)")
      }
      switch key {
      case "extends":
        guard let parent = valueNode.string, valueNode.scalar != nil else {
          throw .usage("\(path):\(line): 'extends' must be a file name")
        }
        let parentPath = FileSystem.join(FileSystem.parentPath(path), parent)
        guard FileSystem.exists(parentPath) else {
          throw .usage("\(path):\(line): 'extends' names '\(parent)', which does not exist next to the file")
        }
        base = try loadMerged(path: parentPath, seen: &seen)
      case "description":
        base.description = valueNode.string
      default:
        stagesNode = valueNode
      }
    }
    var entries = base.entries
    if let stagesNode {
      guard let stages = stagesNode.mapping else {
        throw .usage("\(path):\(stagesNode.mark?.line ?? 0): 'stages' must be a mapping of entry name → stage")
      }
      for (nameNode, entryNode) in stages {
        let name = nameNode.string ?? ""
        let line = nameNode.mark?.line ?? 0
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
          throw .usage("\(path):\(line): stage name '\(name)' must be letters, digits, '-' or '_'")
        }
        let existingIndex = entries.firstIndex { $0.name == name }
        var entry =
          existingIndex.map { entries[$0] }
          ?? PipelineEntry(name: name, stage: name, inputs: [:], params: [:], file: path, line: line)
        entry.file = path
        entry.line = line
        if entryNode.null != nil {
          // `stage:` with no body: all defaults.
        } else {
          guard let body = entryNode.mapping else {
            throw .usage("\(path):\(line): stage '\(name)' must be a mapping (uses, inputs, params)")
          }
          for (fieldNode, valueNode) in body {
            let field = fieldNode.string ?? ""
            let fieldLine = fieldNode.mark?.line ?? line
            switch field {
            case "uses":
              guard let stage = valueNode.string, valueNode.scalar != nil else {
                throw .usage("\(path):\(fieldLine): stage '\(name)': 'uses' must be a stage name")
              }
              entry.stage = stage
            case "inputs":
              guard let inputs = valueNode.mapping else {
                throw .usage("\(path):\(fieldLine): stage '\(name)': 'inputs' must map input names to stage names")
              }
              for (inputName, producer) in inputs {
                guard let key = inputName.string, let value = producer.string, producer.scalar != nil else {
                  throw .usage(
                    "\(path):\(inputName.mark?.line ?? fieldLine): stage '\(name)': each input must name a stage")
                }
                entry.inputs[key] = value
              }
            case "params":
              if valueNode.null != nil { continue }
              guard let params = valueNode.mapping else {
                throw .usage("\(path):\(fieldLine): stage '\(name)': 'params' must be a mapping")
              }
              for (paramName, paramValue) in params {
                guard let key = paramName.string else { continue }
                entry.params[key] = try json(paramValue, path: path, context: "stage '\(name)': parameter '\(key)'")
              }
            default:
              throw .usage(
                "\(path):\(fieldLine): stage '\(name)': unknown key '\(field)' (allowed: inputs, params, uses)")
            }
          }
        }
        if let existingIndex { entries[existingIndex] = entry } else { entries.append(entry) }
      }
    }
    seen.removeLast()
    return PipelineDefinition(name: "", file: path, description: base.description, entries: entries)
  }

  /// Converts a YAML node to JSON with YAML 1.2 core-schema typing (ints stay ints).
  static func json(_ node: Node, path: String, context: String) throws(PipelineError) -> JSONValue {
    switch node {
    case .scalar(let scalar):
      if scalar.style == .plain {
        switch node.tag.description {
        case "tag:yaml.org,2002:null": return .null
        case "tag:yaml.org,2002:bool": if let flag = node.bool { return .bool(flag) }
        case "tag:yaml.org,2002:int": if let number = node.int { return .integer(Int64(number)) }
        case "tag:yaml.org,2002:float":
          if let number = node.float, number.isFinite { return .number(number) }
          throw .usage("\(path):\(node.mark?.line ?? 0): \(context): '\(scalar.string)' is not a finite number")
        default: break
        }
      }
      return .string(scalar.string)
    case .sequence(let sequence):
      var elements: [JSONValue] = []
      for element in sequence { elements.append(try json(element, path: path, context: context)) }
      return .array(elements)
    case .mapping(let mapping):
      var members: [String: JSONValue] = [:]
      for (key, value) in mapping {
        members[key.string ?? ""] = try json(value, path: path, context: context)
      }
      return .object(members)
    case .alias:
      throw .usage("\(path):\(node.mark?.line ?? 0): \(context): YAML aliases are not supported")
    }
  }
}

extension PipelineDefinition {
  /// Reads a stage parameter file (JSON or YAML mapping) for a standalone stage executable.
  public static func loadParameters(path: String) throws(PipelineError) -> [String: JSONValue] {
    let text: String
    do { text = try FileSystem.readText(path) } catch { throw .usage("cannot read parameter file '\(path)'") }
    let node: Node?
    do { node = try Yams.compose(yaml: text) } catch { throw .usage("\(path): not valid YAML or JSON: \(error)") }
    guard let node else { return [:] }
    guard node.mapping != nil, case .object(let members) = try json(node, path: path, context: "parameters") else {
      throw .usage("\(path): the parameter file must be a mapping of name → value")
    }
    return members
  }
}
