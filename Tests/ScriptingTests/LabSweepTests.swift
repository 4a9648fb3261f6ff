// lab.sweep without training: the run function returns known numbers, so the aggregation (mean, sample
// standard deviation, min, max, n), the files and every error about the sweep's options can be checked exactly.

import Foundation
import Testing
@testable import Scripting

@Suite struct LabSweepTests {
  /// An engine with `lab.run` and `lab.sweep` writing under a fresh folder.
  static func sweepEngine() throws -> (ScriptEngine, OutputBuffer, URL) {
    let (engine, output) = try makeEngine()
    let runs = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-sweep-\(UUID())")
    try engine.installRunFunctions(runsDirectory: runs, experiment: "exp")
    return (engine, output, runs)
  }

  static let sweep = """
    local values = { a = { 10, 20, 30 }, b = { 1, 2, 4 } }
    return lab.sweep{
      name = "known",
      seeds = { 1, 2, 3 },
      variants = { { name = "a", scale = 1 }, { name = "b", scale = 2 } },
      run = function(variant, seed)
        return { r1 = values[variant.name][seed], doubled = variant.scale * seed }
      end,
    }
    """

  @Test func summaryHasMeanSpreadMinMaxAndCount() throws {
    let (engine, output, runs) = try Self.sweepEngine()
    defer { try? FileManager.default.removeItem(at: runs) }
    let sweep = try returnedObject(engine, Self.sweep, as: SweepHandle.self)
    let summary = sweep.results.summary
    #expect(summary.columns == ["variant", "n", "doubled", "r1", "wallSeconds"])
    guard case let .summary(a)? = summary.rows[0]["r1"], case let .summary(b)? = summary.rows[1]["r1"],
          case let .summary(doubled)? = summary.rows[1]["doubled"] else {
      Issue.record("\(summary.rows)")
      return
    }
    #expect(a == ResultTable.Summary([10, 20, 30]))
    #expect(a.mean == 20 && a.standardDeviation == 10 && a.minimum == 10 && a.maximum == 30 && a.count == 3)
    // b: mean 7/3, sample std sqrt(((1 - 7/3)^2 + (2 - 7/3)^2 + (4 - 7/3)^2) / 2) = sqrt(7/3).
    #expect(abs(b.mean - 7.0 / 3) < 1e-12)
    #expect(abs((b.standardDeviation ?? 0) - (7.0 / 3).squareRoot()) < 1e-12)
    #expect(b.minimum == 1 && b.maximum == 4)
    #expect(doubled.mean == 4 && doubled.standardDeviation == 2)   // the variant table reached the function
    #expect(output.text.contains("lab.sweep 'known' [6/6] b, seed 3: doubled 6, r1 4 ("))

    let directory = runs.appendingPathComponent("exp/known")
    #expect(sweep.directory.path == directory.path)
    for file in ["summary.md", "summary.csv", "summary.json", "runs.csv", "runs.json"] {
      #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path), "no \(file)")
    }
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("summary.json")))
    let first = try #require((json as? [[String: Any]])?.first)
    #expect(first["variant"] as? String == "a")
    #expect(first["n"] as? Int == 3)
    let r1 = try #require(first["r1"] as? [String: Any])
    #expect(r1["mean"] as? Int == 20 && r1["std"] as? Int == 10 && r1["min"] as? Int == 10 && r1["max"] as? Int == 30)
    let csv = try String(contentsOf: directory.appendingPathComponent("runs.csv"), encoding: .utf8)
    #expect(csv.hasPrefix("variant,seed,doubled,r1,wallSeconds\na,1,1,10,"))
    let markdown = try String(contentsOf: directory.appendingPathComponent("summary.md"), encoding: .utf8)
    #expect(markdown.hasPrefix("| variant | n | doubled | r1 | wallSeconds |\n|---|---:|---:|---:|---:|\n| a | 3 | 2 ± 1 | 20 ± 10 |"))
  }

  @Test func theSweepPrintsItsSummaryAndGivesItsTables() throws {
    let (engine, output, runs) = try Self.sweepEngine()
    defer { try? FileManager.default.removeItem(at: runs) }
    try engine.run(Self.sweep + "\n", chunkName: "s.lua")
    let results = try engine.run("""
      local sweep = lab.sweep{ variants = { { name = "x" } }, seeds = { 4 }, run = function(v, seed) return { m = seed } end }
      print(sweep)
      return sweep:runs():rows()[1].seed, sweep:summary():rows()[1].m.mean, sweep:directory()
      """, chunkName: "t.lua")
    guard case .double(4) = results[0], case .double(4) = results[1], case let .string(path) = results[2] else {
      Issue.record("got \(results)")
      return
    }
    #expect(path.hasSuffix("exp/sweep"))   // the default name
    #expect(output.text.contains("| variant | n | m | wallSeconds |"))
    #expect(output.text.contains("(1 run; files in "))
  }

  @Test func aDryRunKeepsTwoSeeds() throws {
    let (engine, _) = try makeEngine(dryRun: true)
    let runs = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-sweep-\(UUID())")
    defer { try? FileManager.default.removeItem(at: runs) }
    try engine.installRunFunctions(runsDirectory: runs, experiment: "exp")
    let sweep = try returnedObject(engine, Self.sweep, as: SweepHandle.self)
    #expect(sweep.results.cells.map(\.seed) == [1, 2, 1, 2])
    #expect(sweep.directory.path.hasSuffix("dry-run/exp/known"))
  }

  @Test(arguments: [
    ("lab.sweep{ run = f, seed = { 1 } }", "lab.sweep: unknown key 'seed' (did you mean 'seeds'?); known keys: name, variants, seeds, run"),
    ("lab.sweep{ seeds = { 1 } }", "lab.sweep: 'run' must be a function(variant, seed) returning a table of metrics, got nil"),
    ("lab.sweep{ run = f, seeds = { 1, 1 } }", "lab.sweep: 'seeds' must be a list of distinct integers >= 0 such as { 1, 2, 3 }, got a seed twice"),
    ("lab.sweep{ run = f, seeds = { 1.5 } }", "lab.sweep: 'seeds' must be a list of distinct integers >= 0 such as { 1, 2, 3 }, got a number"),
    ("lab.sweep{ run = f, seeds = 3 }", "lab.sweep: 'seeds' must be a list of distinct integers >= 0 such as { 1, 2, 3 }, got an integer"),
    ("lab.sweep{ run = f, variants = { { nom = 'x' } } }", "lab.sweep: variants[1] needs a name (a string), as in { name = \"full\", ... }"),
    ("lab.sweep{ run = f, variants = { { name = 'x' }, { name = 'x' } } }", "lab.sweep: two variants are named 'x'; give each a different name"),
    ("lab.sweep{ run = f, variants = { { name = 'a/b' } } }", "lab.sweep: variants[1].name names a folder, so it cannot be 'a/b'"),
    ("lab.sweep{ run = f, name = '..' }", "lab.sweep: 'name' names a folder, so it cannot be '..'"),
    ("lab.sweep{ run = function() return 3 end }",
     "lab.sweep: the run function (variant 'default', seed 1) must return a table of metrics such as { [\"vqa.accuracy\"] = 31.5 }, got an integer"),
    ("lab.sweep{ run = function() return { r1 = 'high' } end }",
     "lab.sweep: the run function (variant 'default', seed 1) returned a string for 'r1'; metrics are numbers"),
    ("lab.sweep{ run = function() return { seed = 1 } end }",
     "lab.sweep: the run function (variant 'default', seed 1) returned 'seed', a column the sweep adds itself"),
    ("lab.sweep{ run = function() return lab.sweep{ run = f } end }", "lab.sweep: a sweep cannot run inside another sweep's run function"),
  ])
  func sweepErrorsNameTheProblem(code: String, expected: String) throws {
    let (engine, _, runs) = try Self.sweepEngine()
    defer { try? FileManager.default.removeItem(at: runs) }
    let error = try #require(throws: ScriptError.self) {
      try engine.run("local f = function() return {} end\n" + code, chunkName: "e.lua")
    }
    #expect(error.file == "e.lua")
    #expect(error.line == 2)
    #expect(error.message.hasPrefix(expected), "\(error.message)")
  }

  @Test func anErrorInTheRunFunctionPointsAtItsLineAndNamesTheCell() throws {
    let (engine, _, runs) = try Self.sweepEngine()
    defer { try? FileManager.default.removeItem(at: runs) }
    let error = try #require(throws: ScriptError.self) {
      try engine.run("""
        lab.sweep{ variants = { { name = "ok" }, { name = "broken" } }, run = function(variant, seed)
          if variant.name == "broken" then
            local missing = nil
            return { r1 = missing.value }
          end
          return { r1 = 1 }
        end }
        """, chunkName: "experiments/sweep.lua")
    }
    #expect(error.file == "experiments/sweep.lua")
    #expect(error.line == 4)
    #expect(error.message.contains("attempt to index a nil value"))
    #expect(error.message.hasSuffix("(in lab.sweep 'sweep', variant 'broken', seed 1)"), "\(error.message)")
  }
}

@Suite struct SweepResultsTests {
  @Test func metricCurvesBecomeATableAndPlots() throws {
    var results = SweepResults(name: "curves", variants: ["a", "b"])
    results.add(.init(variant: "a", seed: 1, metrics: ["acc": 2], metricCurves: ["stage2 acc": [[(5, 1), (10, 2)]]]))
    results.add(.init(variant: "a", seed: 2, metrics: ["acc": 4], metricCurves: ["stage2 acc": [[(5, 3), (10, 4)]]]))
    results.add(.init(variant: "b", seed: 1, metrics: ["acc": 0], curves: ["stage2 lm": [[(0, 5), (1, 4), (2, 3)]]]))
    let table = try #require(results.curveTable)
    #expect(table.columns == ["variant", "step", "stage2 acc"])
    #expect(table.rows.count == 2)
    #expect(table.rows[0]["step"] == .number(5) && table.rows[0]["stage2 acc"] == .summary(.init([1, 3])))
    #expect(table.rows[1]["stage2 acc"] == .summary(.init([2, 4])))
    let plots = results.plots()
    #expect(plots.map(\.file) == ["curve-stage2-acc.svg", "loss-stage2-lm.svg"])
    #expect(plots[0].plot.series.map(\.name) == ["a"])
    #expect(plots[0].plot.series[0].points.map(\.y) == [2, 3])       // the mean over seeds at each step
    #expect(plots[0].plot.series[0].band.map(\.low) == [1, 2])
    let svg = plots[0].plot.svg()
    #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    #expect(svg.contains("<polyline") && svg.contains("<polygon") && svg.contains(">a</text>"))

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-curves-\(UUID())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let files = try results.write(to: directory)
    #expect(files == ["summary.md", "summary.csv", "summary.json", "runs.csv", "runs.json", "curves.md", "curves.csv",
                      "curves.json", "curve-stage2-acc.svg", "loss-stage2-lm.svg"])
    let curves = try String(contentsOf: directory.appendingPathComponent("curves.md"), encoding: .utf8)
    #expect(curves.contains("| a | 5 | 2.0000 ± 1.4142 |"), "\(curves)")
  }

  @Test(arguments: [
    (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (3.0, 3.0, [2.4, 2.6, 2.8, 3.0, 3.2, 3.4, 3.6]),   // a flat line gets a unit-wide range
    (0.0, 250.0, [0.0, 50, 100, 150, 200, 250]),
    (1.7, 4.2, [1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]),
  ])
  func plotTicksAreRoundNumbersCoveringTheData(low: Double, high: Double, expected: [Double]) {
    let ticks = LinePlot.ticks(low, high)
    #expect(ticks.count == expected.count)
    #expect(zip(ticks, expected).allSatisfy { abs($0 - $1) < 1e-9 }, "\(ticks)")
  }
}
