// `lab.sweep{ name, variants, seeds, run }`: runs `run(variant, seed)` for every variant and seed, gathers the
// metrics tables it returns, and writes a summary (mean, std, min, max per metric) as Markdown, CSV and JSON
// with SVG plots of the training and metric curves, into `runs/<experiment>/<sweep>/`.
//
// Nothing is cached at this level: every phase of a run is (a finished phase is restored from its files, an
// evaluation of the same weights is read back), so re-running a sweep recomputes only what changed, and a
// cell whose code changed cannot return stale numbers.

import Blip2Core
import Foundation

extension LabTypeName {
  /// The results of `lab.sweep`.
  public static let sweep = "Sweep"
}

/// Which sweep cell is running, and the runs `lab.run` made inside it.
final class SweepRecorder {
  /// The running cell's sweep folder, or nil outside a sweep.
  var directory: URL?
  /// The runs made in the running cell.
  var runs: [Run] = []
}

/// What `lab.sweep` returns to Lua.
struct SweepHandle {
  let results: SweepResults
  let directory: URL
  let files: [String]
}

extension ScriptEngine {
  /// Installs `lab.sweep`, writing under `root/<sweep name>`.
  func installSweepFunction(root: URL, recorder: SweepRecorder) throws {
    func table(_ table: ResultTable) -> LuaValue { .object(LuaObject(table, typeName: LabTypeName.resultTable)) }
    try lua.defineType(SweepHandle.self, name: LabTypeName.sweep, describe: Self.describe(sweep:), methods: [
      "summary": { sweep, _ in [table(sweep.results.summary)] },
      "runs": { sweep, _ in [table(sweep.results.runs)] },
      "directory": { sweep, _ in [.string(sweep.directory.path)] },
    ])
    try addFunction("sweep") { engine, arguments in
      let options = try OptionTable(try arguments.table(1, "the sweep"), function: "lab.sweep",
                                    keys: ["name", "variants", "seeds", "run"])
      guard recorder.directory == nil else {
        throw LabError("lab.sweep: a sweep cannot run inside another sweep's run function")
      }
      let name = try Self.folderName(try options.string("name", default: "sweep"), what: "'name'")
      let variants = try Self.variants(options)
      var seeds = try Self.seeds(options)
      // A dry run checks every variant; two seeds are enough to check the aggregation.
      if engine.dryRun { seeds = Array(seeds.prefix(2)) }
      guard case let .function(run) = options.value("run") else {
        throw options.mismatch("run", "a function(variant, seed) returning a table of metrics", options.value("run"))
      }
      let directory = root.appendingPathComponent(name)
      var results = SweepResults(name: name, variants: variants.map(\.name))
      let total = variants.count * seeds.count
      engine.output("lab.sweep '\(name)': \(variants.count) variants x \(seeds.count) seeds = \(total) runs, in \(directory.path)")
      for variant in variants {
        for seed in seeds {
          let cell = try engine.sweepCell(run, variant: variant, seed: seed, sweep: name, directory: directory, recorder: recorder)
          results.add(cell)
          engine.output("lab.sweep '\(name)' [\(results.cells.count)/\(total)] \(variant.name), seed \(seed): "
            + Self.brief(cell))
        }
      }
      let files = try results.write(to: directory)
      engine.output("lab.sweep '\(name)': wrote \(files.joined(separator: ", ")) to \(directory.path)")
      return [.object(LuaObject(SweepHandle(results: results, directory: directory, files: files), typeName: LabTypeName.sweep))]
    }
  }

  /// Runs one cell: `run(variant, seed)` with `lab.run` recording its runs, timed. A cell that recomputed
  /// nothing (every phase restored, every evaluation read back) keeps the wall time of the cell that did
  /// the work, so a re-run's table still says what the runs cost.
  private func sweepCell(_ run: LuaFunction, variant: (name: String, value: LuaValue), seed: Int, sweep: String,
                         directory: URL, recorder: SweepRecorder) throws -> SweepResults.Cell {
    recorder.directory = directory
    recorder.runs = []
    defer {
      recorder.directory = nil
      recorder.runs = []
    }
    let start = Date()
    let returned: [LuaValue]
    do {
      returned = try run.call([variant.value, .int(seed)])
    } catch var error as ScriptError {
      error.message += " (in lab.sweep '\(sweep)', variant '\(variant.name)', seed \(seed))"
      throw error
    }
    var seconds = Date().timeIntervalSince(start)
    var metrics = try Self.metrics(returned.first ?? .nil, variant: variant.name, seed: seed)
    let record = directory.appendingPathComponent("cells/\(variant.name)/seed-\(seed).json")
    let recomputed = recorder.runs.contains { $0.stepsTrained > 0 || $0.evaluationsComputed > 0 }
    if !recorder.runs.isEmpty, !recomputed, let data = try? Data(contentsOf: record),
       let previous = try? JSONDecoder().decode([String: Double].self, from: data), let earlier = previous["wallSeconds"] {
      seconds = earlier
    }
    metrics["wallSeconds"] = seconds
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try writeAtomically(try encoder.encode(metrics.filter { $0.value.isFinite }), to: record)
    var curves = [String: [[(step: Int, value: Double)]]](), metricCurves = curves
    for made in recorder.runs {
      for (name, series) in Self.trainingCurves(made) { curves[name, default: []].append(series) }
      for (name, series) in Self.metricCurves(made) { metricCurves[name, default: []].append(series) }
    }
    var cell = SweepResults.Cell(variant: variant.name, seed: seed, metrics: metrics, curves: curves, metricCurves: metricCurves)
    cell.restored = !recorder.runs.isEmpty && !recomputed
    return cell
  }

  // MARK: - Reading the options

  /// The variants: a list of tables, each with a unique `name` usable as a folder name.
  static func variants(_ options: OptionTable) throws -> [(name: String, value: LuaValue)] {
    let expected = "a list of tables such as { { name = \"full\" }, { name = \"no-itg\", itg = 0 } }"
    let list: [LuaValue]
    switch options.value("variants") {
    case .nil: return [("default", .table(["name": .string("default")]))]
    case let .list(items): list = items
    case let other: throw options.mismatch("variants", expected, other)
    }
    var seen = Set<String>()
    return try list.enumerated().map { index, item in
      guard case let .table(fields) = item else {
        throw LabError("lab.sweep: variants[\(index + 1)] must be a table such as { name = \"full\", ... }, got \(item.kindName)")
      }
      guard case let .string(name)? = fields["name"] else {
        throw LabError("lab.sweep: variants[\(index + 1)] needs a name (a string), as in { name = \"full\", ... }")
      }
      let checked = try folderName(name, what: "variants[\(index + 1)].name")
      guard seen.insert(checked).inserted else {
        throw LabError("lab.sweep: two variants are named '\(name)'; give each a different name")
      }
      return (checked, item)
    }
  }

  /// The seeds: a non-empty list of distinct integers >= 0 (default { 1 }).
  static func seeds(_ options: OptionTable) throws -> [Int] {
    let expected = "a list of distinct integers >= 0 such as { 1, 2, 3 }"
    switch options.value("seeds") {
    case .nil: return [1]
    case let .list(items):
      let seeds = try items.map { item -> Int in
        guard case let .int(seed) = item, seed >= 0 else { throw options.mismatch("seeds", expected, item) }
        return seed
      }
      guard Set(seeds).count == seeds.count else {
        throw LabError("lab.sweep: 'seeds' must be \(expected), got a seed twice")
      }
      return seeds
    case let other: throw options.mismatch("seeds", expected, other)
    }
  }

  /// `name` if it can name a folder (not empty, no `/`, not `.` or `..`).
  static func folderName(_ name: String, what: String, function: String = "lab.sweep") throws -> String {
    guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
      throw LabError("\(function): \(what) names a folder, so it cannot be '\(name)': use letters, digits, spaces, - or _")
    }
    return name
  }

  /// The run function's result: a table of metric names to numbers.
  static func metrics(_ value: LuaValue, variant: String, seed: Int) throws -> [String: Double] {
    let place = "lab.sweep: the run function (variant '\(variant)', seed \(seed))"
    switch value {
    case let .list(items) where items.isEmpty: return [:]
    case let .table(fields):
      var metrics = [String: Double]()
      for (key, value) in fields {
        guard let number = value.number else {
          throw LabError("\(place) returned \(value.kindName) for '\(key)'; metrics are numbers")
        }
        guard !["variant", "seed", "n", "wallSeconds"].contains(key) else {
          throw LabError("\(place) returned '\(key)', a column the sweep adds itself; name the metric otherwise")
        }
        metrics[key] = number
      }
      return metrics
    default:
      throw LabError("\(place) must return a table of metrics such as { [\"vqa.accuracy\"] = 31.5 }, got \(value.kindName)")
    }
  }

  /// The loss curves a run logged: `"stage1 itc"` -> (step, value), from `<phase>.metrics.jsonl` (`total` only
  /// where a phase logs nothing else).
  static func trainingCurves(_ run: Run) -> [String: [(step: Int, value: Double)]] {
    guard let directory = run.directory else { return [:] }
    var curves = [String: [(step: Int, value: Double)]]()
    for phase in ["stage1", "stage2"] {
      guard let text = try? String(contentsOf: directory.appendingPathComponent("\(phase).metrics.jsonl"), encoding: .utf8) else {
        continue
      }
      for line in text.split(separator: "\n") {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let step = object["step"] as? Int else { continue }
        let losses = object.compactMapValues { $0 as? Double }.filter { !["step", "lr", "gradNorm"].contains($0.key) }
        for (key, value) in losses where key != "total" || losses.count == 1 {
          curves["\(phase) \(key)", default: []].append((step, value))
        }
      }
    }
    return curves.mapValues { $0.sorted { $0.step < $1.step } }
  }

  /// The metrics a run evaluated at two or more steps of one phase: `"stage2 vqa.accuracy"` -> (step, value).
  static func metricCurves(_ run: Run) -> [String: [(step: Int, value: Double)]] {
    var curves = [String: [(step: Int, value: Double)]]()
    for evaluation in run.evaluations {
      guard let phase = evaluation.phase else { continue }
      for (metric, value) in evaluation.result {
        let name = "\(phase) \(metric)"
        // Evaluating twice at one step (a repeated call) keeps the later value.
        curves[name, default: []].removeAll { $0.step == evaluation.step }
        curves[name, default: []].append((evaluation.step, value))
      }
    }
    return curves.filter { $0.value.count >= 2 }.mapValues { $0.sorted { $0.step < $1.step } }
  }

  // MARK: - Printing

  /// A cell's metrics on one line, with its time.
  static func brief(_ cell: SweepResults.Cell) -> String {
    let values = cell.metrics.keys.sorted().filter { $0 != "wallSeconds" }
      .map { "\($0) \(ResultTable.rounded(cell.metrics[$0] ?? .nan))" }
    let time = String(format: "%.1f s", cell.metrics["wallSeconds"] ?? 0)
    return (values.isEmpty ? "no metrics" : values.joined(separator: ", "))
      + (cell.restored ? " (restored from its files, nothing recomputed; \(time) when computed)" : " (\(time))")
  }

  /// The summary table, then where the files are.
  static func describe(sweep: SweepHandle) -> String {
    let count = sweep.results.cells.count
    return sweep.results.summary.markdown() + "(\(count) run\(count == 1 ? "" : "s"); files in \(sweep.directory.path))"
  }
}
