// Rebuilding a trained run's model from its folder, for drawings (`blip2lab attention`, `blip2lab graph --run`).
//
// A checkpoint holds only the weights a phase trained (the bridge, and in stage 2 the projection); the frozen
// encoder and LM come from the pre-training cache under the script's own settings. So the run's script is
// re-executed, with two changes to the `lab` module: `lab.run` builds nothing for the other runs of the script
// (their `:stage1`, `:stage2` and `:evaluate` do nothing) and stops the script when it reaches the run asked
// for, handing over its model and data; optionally `lab.pretrain.*` leave the parts as they are (enough to draw
// a model graph). Then the newest finished phase's weights are loaded into the model, checked name by name and
// shape by shape against the checkpoint.

import Blip2Core
import Foundation
import Scripting
import Tensor

/// Why a run could not be rebuilt: each message says what was wrong and what to do.
public enum RunRebuildError: Error, LocalizedError, Equatable, Sendable {
  /// The folder does not exist.
  case noSuchRun(path: String)
  /// The folder is not `<runs>/<experiment>/<name>/seed-<n>`.
  case notARunFolder(path: String, reason: String)
  /// No record and no `--script`.
  case noRecord(path: String)
  /// `run.json` is not a record.
  case unreadableRecord(path: String, reason: String)
  /// No phase has a checkpoint (or not the one asked for; `available` lists those there are).
  case noCheckpoint(path: String, phase: String?, available: [String])
  /// The phase asked for (or every phase) has not finished.
  case unfinished(path: String, phase: String, step: Int, totalSteps: Int)
  /// A phase name other than stage1 / stage2.
  case unknownPhase(String)
  /// The script failed before reaching the run.
  case scriptFailed(script: String, message: String)
  /// The script ran to its end without creating the run.
  case runNotInScript(script: String, name: String, seed: Int?, seen: [String])
  /// The checkpoint's tensors do not fit the model the script builds.
  case checkpointMismatch(path: String, reason: String)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .noSuchRun(path):
      return "\(path): no such run folder. Runs are written to runs/<script>/<run>/seed-<n>/ by `blip2lab run`."
    case let .notARunFolder(path, reason):
      return "\(path) is not a run folder (\(reason)); give runs/<script>/<run>/seed-<n>."
    case let .noRecord(path):
      return "\(path) has no \(RunRecord.fileName) (it was made before runs recorded their script, or not by "
        + "`blip2lab run`): pass the script that made it with --script FILE, and its --set values."
    case let .unreadableRecord(path, reason):
      return "\(path) is not a run record (\(reason)); delete it and pass --script FILE instead."
    case let .noCheckpoint(path, phase?, available) where !available.isEmpty:
      return "\(path) has no \(phase) checkpoint; it has \(available.joined(separator: " and ")): choose that phase, "
        + "or train \(phase) with `blip2lab run`."
    case let .noCheckpoint(path, _, _):
      return "\(path) holds no checkpoint (no stage1 or stage2 .safetensors with its .state.json): train the run "
        + "first with `blip2lab run`."
    case let .unfinished(path, phase, step, total):
      return "\(path): \(phase) stopped at step \(step) of \(total); finish it with `blip2lab run` (it resumes), or "
        + "choose a finished phase."
    case let .unknownPhase(name):
      return "\"\(name)\" is not a training phase: use stage1 or stage2."
    case let .scriptFailed(script, message):
      return "running \(script) to build the run's model failed: \(message)"
    case let .runNotInScript(script, name, seed, seen):
      let runs = seen.isEmpty ? "it creates no run" : "it creates " + seen.joined(separator: ", ")
      let which = name == "(any)" ? "a run" : "the run \(name)" + (seed.map { " with seed \($0)" } ?? "")
      return "\(script) never creates \(which) (\(runs)); check the script, the run's name and seed, and the --set values."
    case let .checkpointMismatch(path, reason):
      return "\(path) does not fit the model the script builds now (\(reason)): the script or its settings changed "
        + "since the run was trained."
    }
  }
}

/// A run's model rebuilt from its script and checkpoint.
public struct RebuiltRun {
  /// The run's name and seed.
  public var name: String, seed: Int
  /// The model, with the weights of `phase` loaded (`phase` nil: freshly built, as for a model graph).
  public var model: Blip2Model
  /// The run's dataset.
  public var data: any Dataset
  /// The phase whose weights were loaded and its step.
  public var phase: String?, step: Int?
}

/// Rebuilds runs (see the file comment).
public enum RunRebuild {
  /// The phases, newest first.
  public static let phases = ["stage2", "stage1"]

  /// The run in `directory` with the weights of `phase` (nil: the newest finished phase).
  /// - Parameters:
  ///   - script: the script to re-execute instead of the one the run's `run.json` names (with `settings`; the
  ///     name, seed, experiment and dry-run flag then come from the folder's path).
  ///   - settings: `--set` values for `script` (ignored without it).
  ///   - output: where the script's `print` and progress lines go.
  /// - Throws: `RunRebuildError`.
  public static func rebuild(directory: URL, phase: String? = nil, script: String? = nil, settings: [String] = [],
                             output: @escaping (String) -> Void = { _ in }) throws -> RebuiltRun {
    let directory = try runFolder(directory)
    let (phase, state) = try checkpoint(in: directory, phase: phase)
    var run = try capture(directory, script: script, settings: settings, skipPretraining: false, output: output)
    try load(CheckpointStore(directory: directory, phase: phase), into: run.model, phase: phase)
    run.phase = phase
    run.step = state.step
    return run
  }

  /// The model of the run in `directory` as its script builds it, without pre-training or loading anything (for
  /// a model graph: the structure and parameter counts, not the weights).
  /// - Throws: `RunRebuildError`.
  public static func untrained(directory: URL, script: String? = nil, settings: [String] = [],
                               output: @escaping (String) -> Void = { _ in }) throws -> RebuiltRun {
    try capture(try runFolder(directory), script: script, settings: settings, skipPretraining: true, output: output)
  }

  /// `directory`, standardized, when it is an existing folder named `seed-<n>`.
  /// - Throws: `RunRebuildError.noSuchRun`, `.notARunFolder`.
  static func runFolder(_ directory: URL) throws -> URL {
    let directory = directory.standardizedFileURL
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw RunRebuildError.noSuchRun(path: directory.path)
    }
    _ = try nameAndSeed(directory)
    return directory
  }

  /// The run in the run folder `directory`, built by its script (`script` or its record's) up to the run.
  static func capture(_ directory: URL, script: String?, settings: [String], skipPretraining: Bool,
                      output: @escaping (String) -> Void) throws -> RebuiltRun {
    let record = try self.record(for: directory, script: script, settings: settings)
    return try capture(script: record.script, settings: record.settings, dryRun: record.dryRun,
                       runsDirectory: try runsDirectory(of: directory, record: record), name: record.name,
                       seed: record.seed, skipPretraining: skipPretraining, output: output)
  }

  /// The phase to load and its state: `phase` when it has finished, else the newest finished one.
  /// - Throws: `RunRebuildError.noCheckpoint`, `.unfinished`, `.unknownPhase`.
  public static func checkpoint(in directory: URL, phase: String?) throws -> (phase: String, state: TrainingState) {
    if let phase, !phases.contains(phase) { throw RunRebuildError.unknownPhase(phase) }
    var states: [(String, TrainingState)] = []
    for name in phase.map({ [$0] }) ?? phases {
      let store = CheckpointStore(directory: directory, phase: name)
      guard FileManager.default.fileExists(atPath: store.tensorsURL.path), let state = try store.loadState() else { continue }
      if state.finished { return (name, state) }
      states.append((name, state))
    }
    if let (name, state) = states.first {
      throw RunRebuildError.unfinished(path: directory.path, phase: name, step: state.step, totalSteps: state.totalSteps)
    }
    let available = phases.filter { FileManager.default.fileExists(atPath: CheckpointStore(directory: directory, phase: $0).stateURL.path) }
    throw RunRebuildError.noCheckpoint(path: directory.path, phase: phase, available: available)
  }

  /// The record of the run in `directory`: its `run.json`, or one made from `script`, `settings` and the path.
  static func record(for directory: URL, script: String?, settings: [String]) throws -> RunRecord {
    guard let script else {
      guard let record = try RunRecord.read(from: directory) else { throw RunRebuildError.noRecord(path: directory.path) }
      return record
    }
    let (name, seed) = try nameAndSeed(directory)
    let experiment = URL(fileURLWithPath: script).deletingPathExtension().lastPathComponent
    let experimentFolder = directory.deletingLastPathComponent().deletingLastPathComponent()
    guard experimentFolder.lastPathComponent == experiment else {
      throw RunRebuildError.notARunFolder(
        path: directory.path, reason: "the script \(script) writes its runs under \(experiment)/, not \(experimentFolder.lastPathComponent)/")
    }
    let dryRun = experimentFolder.deletingLastPathComponent().lastPathComponent == "dry-run"
    return RunRecord(script: script, settings: settings, dryRun: dryRun, experiment: experiment, name: name, seed: seed)
  }

  /// `<name>/seed-<n>` at the end of `directory`.
  static func nameAndSeed(_ directory: URL) throws -> (String, Int) {
    let last = directory.lastPathComponent
    guard last.hasPrefix("seed-"), let seed = Int(last.dropFirst(5)) else {
      throw RunRebuildError.notARunFolder(path: directory.path, reason: "its name is not seed-<n>")
    }
    return (directory.deletingLastPathComponent().lastPathComponent, seed)
  }

  /// The runs folder `directory` sits in, as the record places it (`<runs>/[dry-run/]<experiment>/<name>/seed-<n>`).
  static func runsDirectory(of directory: URL, record: RunRecord) throws -> URL {
    var runs = directory.deletingLastPathComponent()  // <name>
    for _ in record.name.split(separator: "/") { runs = runs.deletingLastPathComponent() }  // <experiment>
    runs = runs.deletingLastPathComponent()
    if record.dryRun { runs = runs.deletingLastPathComponent() }
    let expected = RunRecord.runDirectory(runsDirectory: runs, experiment: record.experiment, dryRun: record.dryRun,
                                          name: record.name, seed: record.seed).standardizedFileURL
    guard expected.path == directory.path else {
      throw RunRebuildError.notARunFolder(path: directory.path, reason: "its record says \(record.experiment)/\(record.name)/seed-\(record.seed)")
    }
    return runs
  }

  /// Re-executes `script` up to the run `name` with `seed` (nil: the first run it creates, with any seed) and
  /// returns the run's model and data, untrained.
  /// - Parameters:
  ///   - runsDirectory: the runs folder the script's runs and pre-training cache live in.
  ///   - skipPretraining: leave `lab.pretrain.*` out (the frozen parts keep their random weights: enough for a
  ///     model graph, and nothing is trained or cached).
  /// - Throws: `RunRebuildError.scriptFailed`, `.runNotInScript`.
  public static func capture(script: String, settings: [String] = [], dryRun: Bool = false, runsDirectory: URL,
                             name: String? = nil, seed: Int? = nil, skipPretraining: Bool,
                             output: @escaping (String) -> Void = { _ in }) throws -> RebuiltRun {
    let engine: ScriptEngine
    do {
      engine = try makeExperimentEngine(script: script, runsDirectory: runsDirectory, settings: settings,
                                        dryRun: dryRun, recordRuns: false, output: output)
    } catch {
      throw RunRebuildError.scriptFailed(script: script, message: error.localizedDescription)
    }
    let probe = Probe(name: name, seed: seed)
    do {
      try probe.install(in: engine, skipPretraining: skipPretraining)
      try engine.run(file: script)
    } catch {
      if let captured = probe.captured { return captured }
      throw RunRebuildError.scriptFailed(script: script, message: error.localizedDescription)
    }
    if let captured = probe.captured { return captured }
    throw RunRebuildError.runNotInScript(script: script, name: name ?? "(any)", seed: seed, seen: probe.seen)
  }

  /// Loads the parameters `store` saved into `model`: the bridge's (stage 1) or the bridge's and the
  /// projection's (stage 2), every trainable one present with its shape.
  /// - Throws: `RunRebuildError.checkpointMismatch`.
  public static func load(_ store: CheckpointStore, into model: Blip2Model, phase: String) throws {
    let tensors: [String: Tensor]
    do {
      tensors = try SafeTensors.load(store.tensorsURL)
    } catch {
      throw RunRebuildError.checkpointMismatch(path: store.tensorsURL.path, reason: "unreadable: \(error.localizedDescription)")
    }
    let parameters = (phase == "stage1" ? model.bridge.module.namedParameters() : model.stage2Parameters)
      .filter { $0.1.requiresGrad }
    let saved = Set(tensors.keys.filter { $0.hasPrefix("param.") }.map { String($0.dropFirst(6)) })
    for (name, parameter) in parameters {
      guard let tensor = tensors["param." + name] else {
        throw RunRebuildError.checkpointMismatch(path: store.tensorsURL.path, reason: "it has no \(name)")
      }
      guard tensor.shape == parameter.shape else {
        throw RunRebuildError.checkpointMismatch(
          path: store.tensorsURL.path, reason: "\(name) is \(tensor.shape) there, \(parameter.shape) in the model")
      }
      parameter.data = tensor.data
    }
    if let extra = saved.subtracting(parameters.map(\.0)).sorted().first {
      throw RunRebuildError.checkpointMismatch(path: store.tensorsURL.path, reason: "the model has no \(extra)")
    }
  }

  /// The `lab.run` (and optionally `lab.pretrain.*`) replacements of a rebuild.
  final class Probe {
    let name: String?, seed: Int?
    /// The run asked for, once the script has created it.
    var captured: RebuiltRun?
    /// The runs the script created, as `name (seed n)`.
    var seen: [String] = []

    init(name: String?, seed: Int?) {
      self.name = name
      self.seed = seed
    }

    /// A run of the script other than the one asked for: its phases and evaluation do nothing.
    struct SkippedRun {
      let name: String, seed: Int
    }

    func install(in engine: ScriptEngine, skipPretraining: Bool) throws {
      let nothing: (SkippedRun, LuaArguments) throws -> [LuaValue] = { _, _ in [.table([:])] }
      try engine.lua.defineType(SkippedRun.self, name: "SkippedRun", describe: { "Run \($0.name) (seed \($0.seed), not rebuilt)" },
                                methods: ["stage1": nothing, "stage2": nothing, "evaluate": nothing, "export": nothing,
                                          "directory": { _, _ in [.string("")] }])
      try engine.addFunction("run") { [self] _, arguments in
        let options = try OptionTable(try arguments.table(1, "the run options"), function: "lab.run",
                                      keys: ["name", "model", "data", "seed"])
        let name = try options.string("name")
        let seed = try options.int("seed", default: 1)
        seen.append("\(name) (seed \(seed))")
        guard captured == nil, self.name.map({ $0 == name }) ?? true, self.seed.map({ $0 == seed }) ?? true else {
          return [.object(LuaObject(SkippedRun(name: name, seed: seed), typeName: "SkippedRun"))]
        }
        guard case let .object(object) = options.value("model"), let model = object.value as? Blip2Model else {
          throw LabError("lab.run: 'model' must be a Model from lab.compose")
        }
        guard case let .object(dataObject) = options.value("data"), let data = dataObject.value as? any Dataset else {
          throw LabError("lab.run: 'data' must be a dataset from lab.data.<name>{...}")
        }
        captured = RebuiltRun(name: name, seed: seed, model: model, data: data)
        throw LabError("lab.run: stopped here: the run \(name) is rebuilt")  // ends the script
      }
      guard skipPretraining else { return }
      for (function, key) in [("encoder", "encoder"), ("lm", "lm")] {
        try engine.addFunction("pretrain.\(function)") { _, arguments in
          [try arguments.table(1, "the pre-training options")[key] ?? .nil]
        }
      }
    }
  }
}
