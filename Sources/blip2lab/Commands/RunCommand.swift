// `blip2lab run SCRIPT.lua [--set key=value ...] [--dry-run]`: runs a Lua experiment script.

import ArgumentParser
import Blip2Core
import Foundation
import LabKit
import Scripting

/// `blip2lab run`.
struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a Lua experiment script (the `lab` module: components, masks, loss mixes, results).",
    discussion: """
      Options a script reads with lab.option(name, default, help) can be overridden with --set name=value; the \
      value must have the default's type, and a --set key the script never reads is an error. --dry-run sets \
      lab.dry_run so that a script can check itself in seconds. Errors print as SCRIPT:LINE: message.
      """)

  @Argument(help: "The Lua script to run.")
  var script: String

  @Option(name: .customLong("set"), help: ArgumentHelp("Override an option the script reads (repeatable).",
                                                       valueName: "key=value"))
  var settings: [String] = []

  @Flag(help: "Run every phase for a step or two on a tiny subset (scripts read lab.dry_run).")
  var dryRun = false

  @Flag(help: "Show Lua's stack traceback with an error.")
  var verbose = false

  @Option(help: ArgumentHelp("Profile the last N steps of every training phase op by op; the report is printed and written to <phase>.profile.txt in the run's folder.", valueName: "N"))
  var profile: Int = 0

  @Option(help: "Where runs are written (runs/<script name>/<run>/seed-<n>/).")
  var runs: String = "runs"

  func run() throws {
    guard profile >= 0 else { throw ValidationError("--profile takes a number of steps ≥ 0, got \(profile)") }
    Trainer.profileSteps = profile
    do {
      let engine = try makeExperimentEngine(script: script, runsDirectory: URL(fileURLWithPath: runs),
                                            settings: settings, dryRun: dryRun)
      try engine.run(file: script)
    } catch let error as ScriptError {
      var lines = [error.file == nil ? "\(script): \(error.message)" : (error.errorDescription ?? error.message)]
      if verbose, let traceback = error.traceback { lines.append(traceback) }
      FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
      throw ExitCode.failure
    }
  }
}
