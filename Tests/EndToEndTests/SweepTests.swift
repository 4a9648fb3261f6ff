// lab.sweep over real (tiny) runs: the files it writes, stage 2 stopped along the way (stopAt) ending exactly
// where an uninterrupted stage 2 ends, and a second run of the same sweep recomputing nothing.

import Foundation
import LabKit
import Scripting
import Testing

@Suite("Sweeps end to end", .serialized)
struct SweepTests {
  static let script = """
    local data = lab.data.shapes{ train = 200, val = 8, test = 8 }
    local encoder = lab.encoder.vit{ size = "tiny", width = 64, layers = 2, heads = 2 }
    local lm = lab.lm.decoder{ width = 64, layers = 2, heads = 2, feedForwardWidth = 128 }
    return lab.sweep{
      name = "tiny",
      seeds = { 1, 2 },
      variants = { { name = "chained", stops = { 4, 8 } }, { name = "one go", stops = { 8 } } },
      run = function(variant, seed)
        local model = lab.compose{ encoder = encoder, lm = lm, seed = seed,
          bridge = lab.bridge.qformer{ size = "sandbox", hidden = 64, layers = 2, heads = 2, intermediate = 128,
                                       queries = 8, embedDim = 32, imageWidth = 64, dropout = 0, seed = seed } }
        local run = lab.run{ name = variant.name, model = model, data = data, seed = seed }
        run:stage1{ steps = 4, batch = 8, lr = 1e-3 }
        local result
        for _, stop in ipairs(variant.stops) do
          run:stage2{ steps = 8, batch = 8, lr = 1e-3, stopAt = stop }
          result = run:evaluate{ tasks = { "caption", "vqa" } }
        end
        return { cider = result["caption.cider"], vqa = result["vqa.accuracy"] }
      end,
    }
    """

  static func run(_ script: URL, runs: URL) throws -> [String] {
    var lines: [String] = []
    let engine = try makeExperimentEngine(script: script.path, runsDirectory: runs, output: { lines.append($0) })
    try engine.run(file: script.path)
    return lines
  }

  @Test func writesResultsStopsExactlyAndReRunsWithoutRecomputing() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-sweep-e2e-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let script = root.appendingPathComponent("sweeps.lua"), runs = root.appendingPathComponent("runs")
    try Self.script.write(to: script, atomically: true, encoding: .utf8)

    let first = try Self.run(script, runs: runs)
    let sweep = runs.appendingPathComponent("sweeps/tiny")
    for file in ["summary.md", "summary.csv", "summary.json", "runs.csv", "runs.json", "curves.md", "curves.csv",
                 "curves.json", "curve-stage2-vqa.accuracy.svg", "curve-stage2-caption.cider.svg", "loss-stage1-itc.svg",
                 "loss-stage2-lm.svg"] {
      #expect(FileManager.default.fileExists(atPath: sweep.appendingPathComponent(file).path), "no \(file)")
    }
    #expect(!first.contains { $0.contains("nothing recomputed") })
    // Only the chained variant evaluated at two steps, so only it has a curve.
    let curves = try String(contentsOf: sweep.appendingPathComponent("curves.csv"), encoding: .utf8)
    #expect(curves.split(separator: "\n").dropFirst().map { $0.split(separator: ",").prefix(2).joined(separator: ",") }
      == ["chained,4", "chained,8"], "\(curves)")

    // Stopping at step 4 and going on ends exactly where stage 2 in one go ends.
    for seed in [1, 2] {
      let log = { (variant: String) in
        try Data(contentsOf: sweep.appendingPathComponent("\(variant)/seed-\(seed)/stage2.metrics.jsonl"))
      }
      #expect(try log("chained") == log("one go"), "seed \(seed): the chained stage 2 differs")
      #expect(FileManager.default.fileExists(atPath: sweep.appendingPathComponent("chained/seed-\(seed)/stage2-step4.safetensors").path))
    }
    let runsTable = try Data(contentsOf: sweep.appendingPathComponent("runs.json"))
    let rows = try #require(try JSONSerialization.jsonObject(with: runsTable) as? [[String: Any]])
    #expect(rows.count == 4)
    #expect(rows[0]["vqa"] as? NSNumber == rows[2]["vqa"] as? NSNumber)
    #expect(rows[0]["cider"] as? NSNumber == rows[2]["cider"] as? NSNumber)

    // The same sweep again: every phase restored (the stop at step 4 from its snapshot), every evaluation read
    // back, the same table to the byte (a restored cell keeps the wall time of the cell that computed it).
    let logs = try Data(contentsOf: sweep.appendingPathComponent("chained/seed-1/stage2.metrics.jsonl"))
    let second = try Self.run(script, runs: runs)
    #expect(second.filter { $0.contains("(restored from its files, nothing recomputed;") }.count == 4, "\(second)")
    #expect(try Data(contentsOf: sweep.appendingPathComponent("runs.json")) == runsTable)
    #expect(try Data(contentsOf: sweep.appendingPathComponent("chained/seed-1/stage2.metrics.jsonl")) == logs)
    #expect(try String(contentsOf: sweep.appendingPathComponent("curves.csv"), encoding: .utf8) == curves)
  }

  @Test func aSwiftErrorFromARunIsALuaErrorTheScriptCanCatch() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-sweep-e2e-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let engine = try makeExperimentEngine(script: "catch.lua", runsDirectory: root, output: { _ in })
    let setup = """
      local data = lab.data.shapes{ train = 16, val = 4, test = 4 }
      local encoder = lab.encoder.vit{ size = "tiny", width = 64, layers = 1, heads = 2 }
      local model = lab.compose{ encoder = encoder, bridge = lab.bridge.qformer{ size = "sandbox", hidden = 32, layers = 1,
        heads = 2, intermediate = 64, queries = 4, embedDim = 16, imageWidth = 64 } }
      local run = lab.run{ name = "no lm", model = model, data = data }
      """
    let results = try engine.run(setup + "\nreturn pcall(function() return run:stage2{ steps = 1 } end)", chunkName: "catch.lua")
    guard case .bool(false) = results[0], case let .string(message) = results[1] else { Issue.record("got \(results)"); return }
    #expect(message.hasSuffix("Run:stage2: stage 2 needs a language model: compose the model with an lm"), "\(message)")
    let error = try #require(throws: ScriptError.self) {
      try engine.run(setup + "\nrun:stage2{ steps = 1, stopAt = 0 }", chunkName: "catch.lua")
    }
    #expect(error.line == 6)
    #expect(error.message == "Run:stage2: 'stopAt' must be an integer in 1...10000000, got 0")
  }
}
