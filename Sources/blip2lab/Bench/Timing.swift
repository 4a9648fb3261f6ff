// Timing helpers for the benchmarks: warm-up, then the median over repeats of the mean time per call.

import Foundation

/// Seconds per call of `body`: after `warmup` calls, the median over `repeats` of the mean time of
/// enough back-to-back calls to fill `minTime` seconds (the same method as the PyTorch scripts).
func secondsPerCall(repeats: Int = 5, minTime: Double = 0.3, warmup: Int = 2, _ body: () -> Void) -> Double {
  for _ in 0..<warmup { body() }
  let first = now()
  body()
  let one = max(now() - first, 1e-6)
  let iterations = max(1, Int((minTime / one).rounded(.up)))
  var samples: [Double] = []
  for _ in 0..<repeats {
    let start = now()
    for _ in 0..<iterations { body() }
    samples.append((now() - start) / Double(iterations))
  }
  samples.sort()
  return samples[samples.count / 2]
}

/// Monotonic time in seconds.
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Runs the PyTorch baseline script and returns its JSON (the last line), or an explanation of why not.
func runPythonBaseline(script: String, arguments: [String]) -> Result<[String: Any], BenchError> {
  guard FileManager.default.fileExists(atPath: script) else {
    return .failure(.baselineUnavailable("\(script) not found (run from the repository root)"))
  }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["python3", script] + arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = Pipe()
  do { try process.run() } catch {
    return .failure(.baselineUnavailable("could not start python3: \(error.localizedDescription)"))
  }
  let output = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    return .failure(.baselineUnavailable("python3 \(script) failed (is torch installed? `pip install torch`)"))
  }
  let lastLine = String(decoding: output, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
  guard let object = try? JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any] else {
    return .failure(.baselineUnavailable("\(script) printed no JSON on its last line"))
  }
  return .success(object)
}

/// Why a baseline figure is missing.
enum BenchError: Error, CustomStringConvertible {
  case baselineUnavailable(String)
  var description: String {
    switch self {
    case .baselineUnavailable(let why): return "PyTorch baseline unavailable: \(why)"
    }
  }
}
