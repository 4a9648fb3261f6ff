// Every script in Experiments/ runs with --dry-run (every phase for 2 steps of 8 examples, evaluation on 8
// examples, sweeps with 2 seeds): a script that a change broke fails here, and a new script is covered by
// being in the folder.

import Foundation
import LabKit
import Scripting
import Testing

@Suite("Experiments/ scripts, dry run", .serialized)
struct ExperimentScriptsTests {
  /// The repository's Experiments folder (from this file's path: Tests/EndToEndTests/<file>).
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Experiments")

  /// The scripts directly in Experiments/ (helpers live in subfolders, such as lib/).
  static var scripts: [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.filter { $0.hasSuffix(".lua") }.sorted()
  }

  @Test func theFolderHasTheScriptsTheReadmePromises() {
    #expect(Set(Self.scripts).isSuperset(of: ["quickstart.lua", "ablation_stage1.lua", "ablation_itg.lua",
                                              "mask_schedules.lua", "pairings.lua", "ablation_capfilt.lua"]), "\(Self.scripts)")
  }

  @Test(arguments: scripts)
  func runsWithDryRun(script: String) throws {
    let runs = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-dry-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: runs) }
    let path = Self.folder.appendingPathComponent(script).path
    let started = Date()
    let engine = try makeExperimentEngine(script: path, runsDirectory: runs, dryRun: true, output: { _ in })
    do {
      try engine.run(file: path)
    } catch let error as ScriptError {
      Issue.record("\(error.errorDescription ?? error.message)")
    }
    let experiment = runs.appendingPathComponent("dry-run/\(URL(fileURLWithPath: script).deletingPathExtension().lastPathComponent)")
    #expect(FileManager.default.fileExists(atPath: experiment.path), "the dry run wrote nothing under \(experiment.path)")
    // Wall time is reported, not asserted: on a machine shared with other jobs it measures the machine. The
    // suite's total time is what CI's limit watches.
    print("\(script): dry run in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
  }
}
