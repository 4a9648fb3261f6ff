// `blip2lab bench ops`: speed of the tensor core against raw BLAS and against PyTorch, in one run.

import ArgumentParser
import Foundation
import Tensor

/// `blip2lab bench ...`.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Measure speed against raw BLAS and the PyTorch baselines.",
    subcommands: [BenchOps.self, BenchStage1.self, BenchStage2.self])
}

/// Where the PyTorch figure comes from.
enum TorchSource: String, ExpressibleByArgument, CaseIterable {
  case auto, skip
}

/// `blip2lab bench ops`.
struct BenchOps: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ops",
    abstract: "GFLOP/s of matmul vs raw cblas_sgemm; ms of attention, layer norm and a transformer block "
      + "(forward + backward) vs PyTorch.",
    discussion: "Threads: OPENBLAS_NUM_THREADS when set, else all cores; PyTorch gets the same count.")

  @Option(help: "PyTorch baseline: auto runs Tests/bench/torch_ops_bench.py when torch is importable.")
  var torch: TorchSource = .auto

  @Option(help: "A JSON file of PyTorch figures (as the script prints with --json), instead of running it.")
  var torchJSON: String?

  @Option(help: "Measure only these parts (comma-separated: matmul, attention, layernorm, block).")
  var only: String?

  @Option(help: "Repeats per figure (the median is reported).")
  var repeats: Int = 5

  @Option(help: "Seconds per repeat.")
  var minTime: Double = 0.3

  func run() throws {
    let threads = Threads.count
    print("blip2lab bench ops: \(threads) thread(s) (OPENBLAS_NUM_THREADS or all cores), release build\n")
    let baseline = loadBaseline(threads: threads)
    let results = OpsBenchmark(repeats: repeats, minTime: minTime, parts: Set((only ?? "matmul,attention,layernorm,block").split(separator: ",").map(String.init))).run()
    print(results.table(baseline: baseline))
  }

  private func loadBaseline(threads: Int) -> [String: Any]? {
    if let torchJSON {
      guard let data = FileManager.default.contents(atPath: torchJSON),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else {
        print("warning: could not read PyTorch figures from \(torchJSON); continuing without them\n")
        return nil
      }
      return object
    }
    guard torch == .auto else { return nil }
    print("running the PyTorch baseline (Tests/bench/torch_ops_bench.py) ...")
    switch runPythonBaseline(
      script: "Tests/bench/torch_ops_bench.py",
      arguments: ["--threads", "\(threads)", "--json", "--repeats", "\(repeats)", "--min-time", "\(minTime)"])
    {
    case .success(let object): return object
    case .failure(let error):
      print("\(error); ratios are left out\n")
      return nil
    }
  }
}
