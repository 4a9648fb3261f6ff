// Real checkpoints from the command line and from Lua: `blip2lab export --run DIR --out DIR` and `run:export{...}`
// (a trained run's model written in transformers' BLIP-2 layout), `lab.checkpoints(folder)` (the Hugging Face
// folders found in a folder, by kind) and `lab.blip2{ checkpoint = DIR }` (a whole BLIP-2 folder as a Model that
// `lab.run` can evaluate). They live here because Scripting does not depend on the checkpoint plugins.

import Blip2Checkpoints
import Blip2Core
import DecoderLM
import EncoderDecoderLM
import Foundation
import Scripting
import ViT

/// Exports of trained runs.
public enum RunExport {
  /// Rebuilds the run in `directory` (its script re-executed, the weights of `phase` or of its newest finished
  /// phase loaded: `RunRebuild.rebuild`) and writes its model to `out` with `Blip2Checkpoint.export`.
  /// - Throws: `RunRebuildError`, `Blip2CheckpointError.notExportable`, file errors naming the file.
  @discardableResult
  public static func export(run directory: URL, to out: URL, phase: String? = nil, imageTokenId: Int? = nil,
                            script: String? = nil, settings: [String] = [],
                            output: @escaping (String) -> Void = { _ in }) throws -> (RebuiltRun, Blip2ExportReport) {
    let rebuilt = try RunRebuild.rebuild(directory: directory, phase: phase, script: script, settings: settings,
                                         output: output)
    return (rebuilt, try Blip2Checkpoint.export(rebuilt.model, imageTokenId: imageTokenId, to: out))
  }

  /// `run:export{ out = DIR, imageTokenId = n }`: the run's model as it is now (trained in this script, or restored
  /// from its checkpoints) in transformers' BLIP-2 layout; `out` defaults to `<run folder>/hf`. Returns a table
  /// `{ out = ..., tensors = n, omitted = { ... } }`.
  public static func luaMethod(_ run: Run, _ arguments: LuaArguments) throws -> [LuaValue] {
    var given: [String: LuaValue] = [:]
    if case .nil = try arguments.value(1) {} else { given = try arguments.table(1, "the export options") }
    let options = try OptionTable(given, function: "Run:export", keys: ["out", "imageTokenId"])
    let defaultOut = run.directory?.appendingPathComponent("hf").path
    guard options.contains("out") || defaultOut != nil else { throw LabError("Run:export: give 'out', the folder to write") }
    let out = URL(fileURLWithPath: try options.string("out", default: defaultOut))
    let imageTokenId = options.contains("imageTokenId") ? try options.int("imageTokenId", range: 0...Int(Int32.max)) : nil
    let report = try Blip2Checkpoint.export(run.model, imageTokenId: imageTokenId, to: out)
    return [.table(["out": .string(out.path), "tensors": .int(report.tensors.count),
                    "omitted": .list(report.omitted.map { .string($0) })])]
  }
}

/// A Hugging Face checkpoint folder found by `CheckpointScan`.
public struct FoundCheckpoint: Equatable, Sendable {
  /// What it holds.
  public enum Kind: String, Sendable {
    /// A whole BLIP-2 model (`lab.blip2`).
    case blip2
    /// A vision tower (`lab.encoder.vit`).
    case vision
    /// A decoder-only language model (`lab.lm.decoder`).
    case decoder
    /// An encoder-decoder language model (`lab.lm.encoderDecoder`).
    case encoderDecoder
  }

  public var path: String, name: String, kind: Kind, modelType: String
  /// The vision tower's image size (vision and BLIP-2 folders).
  public var imageSize: Int?
  /// The language model's kind (BLIP-2 folders): `.decoder` or `.encoderDecoder`.
  public var languageModel: Kind?
}

/// The checkpoint folders directly inside a folder.
public enum CheckpointScan {
  /// The subfolders of `folder` (and `folder` itself) whose config.json names a model type Blip2Lab loads, by
  /// name; others are left out. A missing folder gives none.
  public static func scan(_ folder: URL) -> [FoundCheckpoint] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    let candidates = [folder] + names.sorted().map { folder.appendingPathComponent($0) }
    return candidates.compactMap(checkpoint(in:))
  }

  /// The checkpoint in `directory`, if its config.json has a model type Blip2Lab loads.
  public static func checkpoint(in directory: URL) -> FoundCheckpoint? {
    guard let data = try? Data(contentsOf: directory.appendingPathComponent("config.json")),
          let table = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
          let type = table["model_type"] as? String else { return nil }
    let kind: FoundCheckpoint.Kind
    if Blip2Checkpoint.modelTypes.contains(type) {
      kind = .blip2
    } else if VisionTransformer.loadableModelTypes.contains(type) {
      kind = .vision
    } else if DecoderLM.loadableModelTypes.contains(type) {
      kind = .decoder
    } else if EncoderDecoderLM.loadableModelTypes.contains(type) {
      kind = .encoderDecoder
    } else {
      return nil
    }
    var found = FoundCheckpoint(path: directory.path, name: directory.lastPathComponent, kind: kind, modelType: type)
    if kind == .blip2 || kind == .vision {
      found.imageSize = try? VisionTransformer.configuration(directory: directory).imageSize
    }
    if kind == .blip2 {
      let text = (table["text_config"] as? [String: Any])?["model_type"] as? String ?? "opt"
      found.languageModel = EncoderDecoderLM.loadableModelTypes.contains(text) ? .encoderDecoder : .decoder
    }
    return found
  }
}

extension ScriptEngine {
  /// Installs `lab.checkpoints(folder)` (a list of `{ path, name, kind, modelType, imageSize, lm }`, kind "blip2",
  /// "vision", "decoder" or "encoderDecoder"; `imageSize` for towers and BLIP-2 folders, `lm` for BLIP-2 folders) and `lab.blip2{ checkpoint = DIR }` (a whole BLIP-2 folder as a Model).
  public func installCheckpointFunctions() throws {
    try addFunction("checkpoints") { _, arguments in
      let found = CheckpointScan.scan(URL(fileURLWithPath: try arguments.string(1, "the folder to scan")))
      return [.list(found.map { item in
        var fields: [String: LuaValue] = ["path": .string(item.path), "name": .string(item.name),
                                          "kind": .string(item.kind.rawValue), "modelType": .string(item.modelType)]
        if let size = item.imageSize { fields["imageSize"] = .int(size) }
        if let lm = item.languageModel { fields["lm"] = .string(lm.rawValue) }
        return .table(fields)
      })]
    }
    try addFunction("blip2") { _, arguments in
      let options = try OptionTable(try arguments.table(1, "the options"), function: "lab.blip2", keys: ["checkpoint"])
      let checkpoint = try Blip2Checkpoint.load(directory: URL(fileURLWithPath: try options.string("checkpoint")))
      return [.object(LuaObject(checkpoint.model, typeName: LabTypeName.model))]
    }
  }
}
