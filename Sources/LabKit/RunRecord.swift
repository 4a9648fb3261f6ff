// What a run folder needs in order to be rebuilt later (`blip2lab attention --run DIR`, `blip2lab graph --run`):
// the script that made it, the `--set` values and the dry-run flag. Checkpoints hold only the trainable weights,
// and the frozen parts come from the pre-training cache under the script's settings, so the way back to a run's
// whole model is to re-execute its script (see `RunRebuild`). The record is `run.json` in the run folder,
// written by `lab.run` until the run has a checkpoint, then kept: it describes the invocation that trained the
// run. (A later invocation whose settings change the model is refused by the trainer, and must not leave a
// record that no longer describes the weights; one that failed before training, say on a misspelt --set,
// must not leave its settings behind either.)

import Blip2Core
import Foundation
import Scripting

/// How a run folder was made: enough to re-execute the script up to the run.
public struct RunRecord: Codable, Equatable, Sendable {
  /// The file name inside the run folder.
  public static let fileName = "run.json"

  /// The script, as an absolute path.
  public var script: String
  /// The `--set` assignments it ran with, as typed (`key=value`).
  public var settings: [String]
  /// Whether it was a `--dry-run`.
  public var dryRun: Bool
  /// The experiment (the script's file name without extension).
  public var experiment: String
  /// The run's name (`lab.run{ name = ... }`).
  public var name: String
  /// The run's seed.
  public var seed: Int

  /// A record from its parts.
  public init(script: String, settings: [String], dryRun: Bool, experiment: String, name: String, seed: Int) {
    self.script = script
    self.settings = settings
    self.dryRun = dryRun
    self.experiment = experiment
    self.name = name
    self.seed = seed
  }

  /// The folder `lab.run` writes a run to: `<runs>/<experiment>/<name>/seed-<n>/`, under `dry-run/` for a
  /// dry run (the layout of `ScriptEngine.installRunFunctions`).
  public static func runDirectory(runsDirectory: URL, experiment: String, dryRun: Bool, name: String, seed: Int) -> URL {
    runsDirectory.appendingPathComponent(dryRun ? "dry-run/\(experiment)" : experiment)
      .appendingPathComponent(name).appendingPathComponent("seed-\(seed)")
  }

  /// The record in `directory`, or nil when there is none.
  /// - Throws: `RunRebuildError.unreadableRecord` for a file that is not a record.
  public static func read(from directory: URL) throws -> RunRecord? {
    let url = directory.appendingPathComponent(fileName)
    guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
    do {
      return try JSONDecoder().decode(RunRecord.self, from: data)
    } catch {
      throw RunRebuildError.unreadableRecord(path: url.path, reason: "\(error)")
    }
  }

  /// Writes the record into `directory` (created if missing), unless a phase has already checkpointed there.
  public func writeUnlessTrained(to directory: URL) throws {
    let url = directory.appendingPathComponent(Self.fileName)
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    guard !files.contains(where: { $0.hasSuffix(".state.json") }) else { return }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try writeAtomically(try encoder.encode(self), to: url)
  }
}

extension ScriptEngine {
  /// Makes `lab.run` write a `RunRecord` into each run's folder until the run has trained. The record
  /// is written before the real `lab.run` runs, which is called as a Lua tail call so that its errors still
  /// point at the script's line; a failure to record is never an error of the script (the run works without
  /// its record; only rebuilding it later needs `--script`).
  func recordRuns(script: String, runsDirectory: URL, experiment: String, settings: [String]) throws {
    let scriptPath = URL(fileURLWithPath: script).standardizedFileURL.path
    let dryRun = self.dryRun
    let record = try lua.function(named: "lab.run") { arguments in
      // Only a table `lab.run` will accept gets a record; anything else is left to `lab.run` to report.
      guard case let .table(options)? = try? arguments.value(1), Set(options.keys).isSubset(of: ["name", "model", "data", "seed"]),
        case let .string(name)? = options["name"], case .object? = options["model"], case .object? = options["data"]
      else { return [] }
      let seed: Int
      switch options["seed"] {
      case nil: seed = 1
      case let .int(value)?: seed = value
      case let .double(value)? where value == value.rounded() && abs(value) < 1e15: seed = Int(value)
      default: return []
      }
      let directory = RunRecord.runDirectory(runsDirectory: runsDirectory, experiment: experiment, dryRun: dryRun,
                                             name: name, seed: seed)
      try? RunRecord(script: scriptPath, settings: settings, dryRun: dryRun, experiment: experiment, name: name, seed: seed)
        .writeUnlessTrained(to: directory)
      return []
    }
    try lua.setGlobal("__blip2lab_record_run", record)
    try run("""
      local record, original = __blip2lab_record_run, rawget(lab, "run")
      __blip2lab_record_run = nil
      rawset(lab, "run", function(options) record(options) return original(options) end)
      """, chunkName: "blip2lab-record-runs")
  }
}
