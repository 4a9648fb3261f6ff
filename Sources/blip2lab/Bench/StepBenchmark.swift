// The table `bench stage1` and `bench stage2` print: per configuration, ms per training step and samples/s of
// Blip2Lab and of the PyTorch script doing the same step, measured in the same run with the same threads.

import ArgumentParser
import Foundation
import Tensor

/// The options of `bench stage1` and `bench stage2`.
struct StepBenchOptions: ParsableArguments {
  @Option(help: "Configurations to measure (comma-separated: sandbox, paper).")
  var config: String = "sandbox,paper"

  @Option(help: "Timed steps per configuration (after 2 warm-up steps; the median is reported).")
  var steps: Int = 5

  @Option(help: "PyTorch baseline: auto runs the script of the same step in Tests/bench/ when torch is importable.")
  var torch: TorchSource = .auto

  @Flag(help: "After timing, profile the timed steps again op by op (forward and backward ms per op and shape).")
  var profile = false
}

/// Measures each configuration in `names` (comma-separated) with `measure` (nil: no such configuration; else
/// the batch and the median ms per step), runs `script --config NAME` for the PyTorch figure when `torch` is
/// auto, and prints the table.
func runStepBenchmark(phase: String, names: String, known: [String], steps: Int, torch: TorchSource, script: String,
                      measure: (String) throws -> (batch: Int, ms: Double)?) throws {
  let threads = Threads.count
  print("blip2lab bench \(phase): \(threads) thread(s), release build\n")
  var rows: [[String]] = []
  for name in names.split(separator: ",").map(String.init) {
    guard let (batch, ours) = try measure(name) else {
      throw ValidationError("no \(phase) bench config '\(name)'; configs are \(known.joined(separator: ", "))")
    }
    var baseline: Double?
    if torch == .auto {
      switch runPythonBaseline(script: script,
                               arguments: ["--threads", "\(threads)", "--config", name, "--steps", "\(steps)", "--json"]) {
      case .success(let object): baseline = object["ms_per_step"] as? Double
      case .failure(let error): print("\(error); the ratio is left out")
      }
    }
    rows.append([name, "\(batch)", String(format: "%.1f ms", ours), String(format: "%.1f", Double(batch) / ours * 1000),
                 baseline.map { String(format: "%.1f ms", $0) } ?? "-",
                 baseline.map { String(format: "%.1f", Double(batch) / $0 * 1000) } ?? "-",
                 baseline.map { String(format: "%.2fx", $0 / ours) } ?? "-"])
  }
  let header = ["config", "batch", "Blip2Lab", "samples/s", "PyTorch", "samples/s", "speed-up"]
  print("| " + header.joined(separator: " | ") + " |")
  print("|" + header.map { _ in "---" }.joined(separator: "|") + "|")
  for row in rows { print("| " + row.joined(separator: " | ") + " |") }
}

/// The median of `steps` timed calls of `step` (ms), after 2 warm-up calls. With `profile`, the steps are
/// then run again under the op profiler and its per-step report is printed.
func medianStepMilliseconds(steps: Int, profile: Bool = false, _ step: () throws -> Void) rethrows -> Double {
  for _ in 0..<2 { try step() }
  var times: [Double] = []
  for _ in 0..<max(1, steps) {
    let start = now()
    try step()
    times.append((now() - start) * 1000)
  }
  if profile {
    let (_, report) = try OpProfiler.profile { for _ in 0..<max(1, steps) { try step() } }
    print(report.report(divideBy: max(1, steps)) + "\n")
  }
  return times.sorted()[times.count / 2]
}
