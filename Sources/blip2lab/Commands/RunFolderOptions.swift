// The options of the commands that rebuild a trained run from its folder (`attention`, `export`): the folder, the
// phase whose weights to load, and the script and --set values for a folder without run.json.

import ArgumentParser
import Foundation
import LabKit

/// `--run DIR [--phase stage1|stage2] [--script S.lua --set k=v ...] [--verbose]`.
struct RunFolderOptions: ParsableArguments {
  @Option(name: .customLong("run"), help: "The run folder (runs/<script>/<run>/seed-<n>).")
  var runFolder: String

  @Option(help: "The weights: stage1 or stage2 (default: the newest finished phase).")
  var phase: String?

  @Option(help: "The script that made the run, for a run folder without run.json.")
  var script: String?

  @Option(name: .customLong("set"), help: ArgumentHelp("A --set value the run was made with (with --script; repeatable).",
                                                       valueName: "key=value"))
  var settings: [String] = []

  @Flag(help: "Show what the script prints while the run is rebuilt.")
  var verbose = false

  func validate() throws {
    if let phase, !RunRebuild.phases.contains(phase) {
      throw ValidationError("--phase must be stage1 or stage2, got \"\(phase)\".")
    }
    if !settings.isEmpty && script == nil {
      throw ValidationError("--set needs --script (a run with run.json is rebuilt with the settings it recorded).")
    }
  }

  /// Where the script's output goes while the run is rebuilt: standard error with --verbose, else nowhere.
  var output: (String) -> Void {
    verbose ? { FileHandle.standardError.write(Data(($0 + "\n").utf8)) } : { _ in }
  }

  /// The run folder's URL.
  var directory: URL { URL(fileURLWithPath: runFolder) }
}
