// Rebuilding a trained run from its folder (what `blip2lab attention` and `blip2lab graph --run` stand on): the
// record `lab.run` leaves, the script re-executed up to the run without training anything, the checkpoint loaded
// name by name, and a clear error for every way it can fail.

import Blip2Core
import Foundation
import LabKit
import QFormer
import Scripting
import Tensor
import Testing

@Suite("Rebuilding runs", .serialized)
struct RunRebuildTests {
  static let script = """
    local data = lab.data.shapes{ train = 64, val = 8, test = 8 }
    local encoder = lab.encoder.vit{ size = "tiny", width = 32, layers = 1, heads = 2 }
    local steps = lab.option("steps", 6)
    local model = lab.compose{
      encoder = encoder,
      bridge = lab.bridge.qformer{ size = "sandbox", hidden = 32, layers = 3, heads = 2, intermediate = 64,
                                   queries = 4, embedDim = 16, imageWidth = 32, dropout = 0 },
    }
    local other = lab.run{ name = "other", model = model, data = data, seed = 2 }
    other:stage1{ steps = 2, batch = 4 }
    local run = lab.run{ name = "small", model = model, data = data, seed = 5 }
    run:stage1{ steps = steps, batch = 4, lr = 1e-3 }
    """

  /// A folder with the script, trained once (`settings` as `--set`); returns the script and the runs folder.
  static func trained(settings: [String] = ["steps=5"]) throws -> (script: URL, runs: URL) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-rebuild-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    let script = root.appendingPathComponent("small.lua")
    try Self.script.write(to: script, atomically: true, encoding: .utf8)
    let runs = root.appendingPathComponent("runs")
    let engine = try makeExperimentEngine(script: script.path, runsDirectory: runs, settings: settings, output: { _ in })
    try engine.run(file: script.path)
    return (script, runs)
  }

  static func expectError(_ expected: (RunRebuildError) -> Bool, _ body: () throws -> Void,
                          sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(sourceLocation: sourceLocation) {
      try body()
    } throws: { error in
      guard let error = error as? RunRebuildError, expected(error) else { return false }
      return !(error.errorDescription ?? "").isEmpty
    }
  }

  @Test func aTrainedRunComesBackWithItsWeightsAndWithoutTraining() throws {
    let (script, runs) = try Self.trained()
    defer { try? FileManager.default.removeItem(at: script.deletingLastPathComponent()) }
    let directory = runs.appendingPathComponent("small/small/seed-5")
    let record = try #require(try RunRecord.read(from: directory))
    #expect(record == RunRecord(script: script.standardizedFileURL.path, settings: ["steps=5"], dryRun: false,
                                experiment: "small", name: "small", seed: 5))
    let metrics = try Data(contentsOf: directory.appendingPathComponent("stage1.metrics.jsonl"))

    let rebuilt = try RunRebuild.rebuild(directory: directory)
    #expect(rebuilt.name == "small" && rebuilt.seed == 5 && rebuilt.phase == "stage1" && rebuilt.step == 5)
    let saved = try SafeTensors.load(directory.appendingPathComponent("stage1.safetensors"))
    for (name, parameter) in rebuilt.model.bridge.module.namedParameters() where parameter.requiresGrad {
      #expect(saved["param." + name]?.data == parameter.data, "\(name) differs from the checkpoint")
    }
    // Nothing was trained or evaluated again, and the other run of the script was left alone.
    #expect(try Data(contentsOf: directory.appendingPathComponent("stage1.metrics.jsonl")) == metrics)
    #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("eval-test.json").path))

    // Its Q-Former's cross-attention over one test image: [1, heads, queries, tokens], rows summing to 1.
    let qformer = try #require(rebuilt.model.bridge as? QFormer)
    let features = try rebuilt.model.imageFeatures([try rebuilt.data.example(.test, 3)])
    let maps = try qformer.crossAttentionMaps(features)
    #expect(maps.map(\.layer) == [0, 2])
    let tokens = rebuilt.model.encoder.tokenCount
    #expect(maps.last?.shape == [1, 2, 4, tokens])
    let first = try #require(maps.last?.probabilities.prefix(tokens))
    #expect(abs(first.reduce(0, +) - 1) < 1e-4)
  }

  @Test func theRecordDescribesTheInvocationThatTrained() throws {
    let (script, runs) = try Self.trained(settings: ["steps=3"])
    defer { try? FileManager.default.removeItem(at: script.deletingLastPathComponent()) }
    let directory = runs.appendingPathComponent("small/small/seed-5")
    // Another invocation with other settings is refused by the trainer and must not rewrite the record.
    #expect(throws: (any Error).self) { _ = try Self.trainAgain(script, runs, ["steps=4"]) }
    #expect(try RunRecord.read(from: directory)?.settings == ["steps=3"])
    // Before any checkpoint, the record follows the latest invocation (a failed first attempt leaves nothing stale).
    try FileManager.default.removeItem(at: directory.appendingPathComponent("stage1.state.json"))
    try RunRecord(script: script.path, settings: ["steps=9"], dryRun: false, experiment: "small", name: "small", seed: 5)
      .writeUnlessTrained(to: directory)
    #expect(try RunRecord.read(from: directory)?.settings == ["steps=9"])
  }

  static func trainAgain(_ script: URL, _ runs: URL, _ settings: [String]) throws {
    let engine = try makeExperimentEngine(script: script.path, runsDirectory: runs, settings: settings, output: { _ in })
    try engine.run(file: script.path)
  }

  @Test func aRunWithoutRecordIsRebuiltFromTheScriptGiven() throws {
    let (script, runs) = try Self.trained()
    defer { try? FileManager.default.removeItem(at: script.deletingLastPathComponent()) }
    let directory = runs.appendingPathComponent("small/small/seed-5")
    try FileManager.default.removeItem(at: directory.appendingPathComponent(RunRecord.fileName))
    Self.expectError({ if case .noRecord = $0 { true } else { false } }) { _ = try RunRebuild.rebuild(directory: directory) }
    let rebuilt = try RunRebuild.rebuild(directory: directory, script: script.path, settings: ["steps=5"])
    #expect(rebuilt.phase == "stage1" && rebuilt.name == "small")
    // The script's runs live under its own name: another script's folder is refused.
    let elsewhere = script.deletingLastPathComponent().appendingPathComponent("other.lua")
    try Self.script.write(to: elsewhere, atomically: true, encoding: .utf8)
    Self.expectError({ if case .notARunFolder = $0 { true } else { false } }) {
      _ = try RunRebuild.rebuild(directory: directory, script: elsewhere.path)
    }
  }

  @Test func everyFailureIsAClearError() throws {
    let (script, runs) = try Self.trained()
    let root = script.deletingLastPathComponent()
    defer { try? FileManager.default.removeItem(at: root) }
    let directory = runs.appendingPathComponent("small/small/seed-5")

    Self.expectError({ if case .noSuchRun = $0 { true } else { false } }) {
      _ = try RunRebuild.rebuild(directory: runs.appendingPathComponent("small/nothing/seed-1"))
    }
    Self.expectError({ if case .unknownPhase("stage3") = $0 { true } else { false } }) {
      _ = try RunRebuild.rebuild(directory: directory, phase: "stage3")
    }
    Self.expectError({ error in
      guard case .noCheckpoint(_, "stage2", ["stage1"]) = error else { return false }
      return error.errorDescription?.contains("has no stage2 checkpoint; it has stage1") == true
    }) { _ = try RunRebuild.rebuild(directory: directory, phase: "stage2") }
    Self.expectError({ if case .notARunFolder = $0 { true } else { false } }) {
      _ = try RunRebuild.rebuild(directory: runs.appendingPathComponent("small"))
    }
    let empty = runs.appendingPathComponent("small/empty/seed-1")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    Self.expectError({ if case .noCheckpoint = $0 { true } else { false } }) { _ = try RunRebuild.rebuild(directory: empty) }

    // A script that no longer creates the run.
    let renamed = Self.script.replacingOccurrences(of: "name = \"small\"", with: "name = \"renamed\"")
    try renamed.write(to: script, atomically: true, encoding: .utf8)
    Self.expectError({ error in
      guard case let .runNotInScript(_, name, seed, seen) = error else { return false }
      return name == "small" && seed == 5 && seen == ["other (seed 2)", "renamed (seed 5)"]
    }) { _ = try RunRebuild.rebuild(directory: directory) }

    // A script whose Q-Former has another size: the checkpoint does not fit.
    let wider = Self.script.replacingOccurrences(of: "queries = 4", with: "queries = 6")
    try wider.write(to: script, atomically: true, encoding: .utf8)
    Self.expectError({ error in
      guard case let .checkpointMismatch(_, reason) = error else { return false }
      return reason.contains("query_tokens")
    }) { _ = try RunRebuild.rebuild(directory: directory) }

    // A script that fails before reaching the run: its error, with its line.
    try (Self.script + "\n").replacingOccurrences(of: "local steps", with: "lab.nothing()\nlocal steps")
      .write(to: script, atomically: true, encoding: .utf8)
    Self.expectError({ error in
      guard case let .scriptFailed(_, message) = error else { return false }
      return message.contains("small.lua:3:") && message.contains("nothing")
    }) { _ = try RunRebuild.rebuild(directory: directory) }

    // An interrupted phase is not silently used.
    try Self.script.write(to: script, atomically: true, encoding: .utf8)
    let stateURL = directory.appendingPathComponent("stage1.state.json")
    var state = try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: stateURL))
    state.finished = false
    state.step = 3
    try JSONEncoder().encode(state).write(to: stateURL)
    Self.expectError({ if case .unfinished(_, "stage1", 3, 5) = $0 { true } else { false } }) {
      _ = try RunRebuild.rebuild(directory: directory)
    }
  }

  @Test func aScriptsModelIsCapturedWithoutPretrainingOrTraining() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-capture-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let script = root.appendingPathComponent("small.lua")
    let pretraining = Self.script.replacingOccurrences(
      of: "local steps", with: "lab.pretrain.encoder{ encoder = encoder, data = data, steps = 1000 }\nlocal steps")
    try pretraining.write(to: script, atomically: true, encoding: .utf8)
    let runs = root.appendingPathComponent("runs")
    let first = try RunRebuild.capture(script: script.path, runsDirectory: runs, skipPretraining: true)
    #expect(first.name == "other" && first.seed == 2 && first.phase == nil)
    let named = try RunRebuild.capture(script: script.path, runsDirectory: runs, name: "small", skipPretraining: true)
    #expect(named.name == "small" && named.model.bridge.kind == "qformer")
    #expect(!FileManager.default.fileExists(atPath: runs.path))   // nothing pre-trained, trained or recorded
  }

  @Test func recordingRunsKeepsTheScriptsErrorLines() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-record-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let script = root.appendingPathComponent("typo.lua")
    try Self.script.replacingOccurrences(of: "lab.run{ name = \"other\"", with: "lab.run{ nme = \"other\"")
      .write(to: script, atomically: true, encoding: .utf8)
    let runs = root.appendingPathComponent("runs")
    let engine = try makeExperimentEngine(script: script.path, runsDirectory: runs, output: { _ in })
    #expect {
      try engine.run(file: script.path)
    } throws: { error in
      let message = (error as? ScriptError)?.errorDescription ?? "\(error)"
      return message.contains("typo.lua:9:") && message.contains("unknown key 'nme'")
    }
    #expect(!FileManager.default.fileExists(atPath: runs.path))   // no record for a call lab.run refuses
  }
}
