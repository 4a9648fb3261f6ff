// What a sweep gathers: one row of metrics per (variant, seed), the curves of its runs (training losses per
// step; metrics a run evaluated at several steps of a phase), and what is made of them: a summary with mean
// and spread per metric, a table of the metric curves, and plots. `lab.sweep` (Lab/LabSweeps.swift) fills it;
// this file knows nothing of Lua.

import Foundation

/// The results of a sweep over variants and seeds.
///
/// ```swift
/// var results = SweepResults(name: "figure5", variants: ["with stage 1", "without"])
/// results.add(SweepResults.Cell(variant: "with stage 1", seed: 1, metrics: ["vqa.accuracy": 31.5]))
/// let files = try results.write(to: directory)   // summary.md/.csv/.json, runs.csv/.json, *.svg
/// ```
public struct SweepResults: Sendable {
  /// One variant run with one seed.
  public struct Cell: Sendable {
    /// The variant's name.
    public var variant: String
    /// The seed.
    public var seed: Int
    /// What the run function returned, plus `wallSeconds`.
    public var metrics: [String: Double]
    /// Training curves: `"stage1 itc"` -> one series of (step, value) per run of the cell.
    public var curves: [String: [[(step: Int, value: Double)]]]
    /// Metric curves: `"stage2 vqa.accuracy"` -> one series of (step, value) per run of the cell that evaluated
    /// the metric at two or more steps of the phase.
    public var metricCurves: [String: [[(step: Int, value: Double)]]] = [:]
    /// Whether the cell's runs restored every phase and evaluation from their files (computed nothing).
    public var restored = false

    /// A cell from its parts.
    public init(variant: String, seed: Int, metrics: [String: Double], curves: [String: [[(step: Int, value: Double)]]] = [:],
                metricCurves: [String: [[(step: Int, value: Double)]]] = [:]) {
      self.variant = variant
      self.seed = seed
      self.metrics = metrics
      self.curves = curves
      self.metricCurves = metricCurves
    }
  }

  /// The sweep's name (its folder).
  public var name: String
  /// The variants in the order they were given.
  public var variants: [String]
  /// The cells in the order they ran.
  public private(set) var cells: [Cell] = []

  /// Results with no cells yet.
  public init(name: String, variants: [String]) {
    self.name = name
    self.variants = variants
  }

  /// Adds a cell.
  public mutating func add(_ cell: Cell) { cells.append(cell) }

  // MARK: - Tables

  /// Every metric name, alphabetically, `wallSeconds` last.
  public var metricNames: [String] {
    let names = Set(cells.flatMap(\.metrics.keys)).subtracting(["wallSeconds"]).sorted()
    return cells.contains { $0.metrics["wallSeconds"] != nil } ? names + ["wallSeconds"] : names
  }

  /// One row per cell: `variant`, `seed`, then every metric.
  public var runs: ResultTable {
    ResultTable(rows: cells.map { cell in
      var row: [String: ResultTable.Cell] = ["variant": .text(cell.variant), "seed": .number(Double(cell.seed))]
      for (name, value) in cell.metrics { row[name] = .number(value) }
      return row
    }, columns: ["variant", "seed"] + metricNames)
  }

  /// One row per variant: `variant`, `n` (seeds), and each metric's mean, standard deviation, min and max.
  public var summary: ResultTable {
    guard !cells.isEmpty, let table = try? runs.mean(by: "variant") else {
      return ResultTable(rows: [], columns: ["variant", "n"])
    }
    return table
  }

  /// One row per variant and evaluated step: `variant`, `step`, and per metric curve (`stage2 vqa.accuracy`)
  /// the mean, standard deviation, minimum and maximum over the seeds. Nil when no run evaluated a metric at
  /// several steps.
  public var curveTable: ResultTable? {
    let names = Set(cells.flatMap(\.metricCurves.keys)).sorted()
    guard !names.isEmpty else { return nil }
    var rows = [[String: ResultTable.Cell]]()
    for variant in variants {
      let mine = cells.filter { $0.variant == variant }
      var byStep = [Int: [String: [Double]]]()
      for cell in mine {
        for (name, series) in cell.metricCurves {
          for run in series { for point in run where point.value.isFinite { byStep[point.step, default: [:]][name, default: []].append(point.value) } }
        }
      }
      for step in byStep.keys.sorted() {
        var row: [String: ResultTable.Cell] = ["variant": .text(variant), "step": .number(Double(step))]
        for (name, values) in byStep[step] ?? [:] where !values.isEmpty { row[name] = .summary(ResultTable.Summary(values)) }
        rows.append(row)
      }
    }
    return ResultTable(rows: rows, columns: ["variant", "step"] + names)
  }

  // MARK: - Plots

  /// The plots: each metric curve (mean over seeds with dots at the evaluated steps, band from min to max)
  /// and each training curve (mean over seeds, smoothed, band from min to max), one line per variant.
  public func plots() -> [(file: String, plot: LinePlot)] {
    var result = [(file: String, plot: LinePlot)]()
    for (kind, key, markers) in [("curve", \Cell.metricCurves, true), ("loss", \Cell.curves, false)] {
      for name in Set(cells.flatMap { $0[keyPath: key].keys }).sorted() {
        let title = kind == "loss" ? "\(self.name): \(name) loss" : "\(self.name): \(name)"
        var plot = LinePlot(title: title, xLabel: "step", yLabel: kind == "loss" ? "loss" : name, markers: markers)
        for variant in variants {
          let series = cells.filter { $0.variant == variant }.flatMap { $0[keyPath: key][name] ?? [] }
          guard let (points, band) = Self.aggregate(series, smoothing: !markers) else { continue }
          plot.series.append(.init(name: variant, points: points, band: band))
        }
        if !plot.series.isEmpty { result.append(("\(kind)-\(Self.fileName(name)).svg", plot)) }
      }
    }
    return result
  }

  /// Several runs' (step, value) series as a mean and a min–max band, over the steps any of them logged.
  /// With `smoothing`, both are trailing means over 1/50 of the steps, so a curve of a few thousand noisy
  /// steps reads as a trend.
  static func aggregate(_ series: [[(step: Int, value: Double)]], smoothing: Bool = true)
    -> ([(x: Double, y: Double)], [(x: Double, low: Double, high: Double)])? {
    var byStep = [Int: [Double]]()
    for run in series { for point in run where point.value.isFinite { byStep[point.step, default: []].append(point.value) } }
    let steps = byStep.keys.sorted()
    guard !steps.isEmpty else { return nil }
    let stats = steps.map { ResultTable.Summary(byStep[$0] ?? []) }
    let window = smoothing ? Swift.max(1, steps.count / 50) : 1
    func smooth(_ values: [Double]) -> [Double] {
      var sums = [0.0]
      for value in values { sums.append(sums[sums.count - 1] + value) }
      return values.indices.map { index in
        let start = Swift.max(0, index - window + 1)
        return (sums[index + 1] - sums[start]) / Double(index + 1 - start)
      }
    }
    let (mean, low, high) = (smooth(stats.map(\.mean)), smooth(stats.map(\.minimum)), smooth(stats.map(\.maximum)))
    let xs = steps.map(Double.init)
    return (zip(xs, mean).map { ($0, $1) }, xs.indices.map { (xs[$0], low[$0], high[$0]) })
  }

  /// `text` as a file name: letters, digits, `.`, `-` and `_` kept, anything else a `-`.
  static func fileName(_ text: String) -> String {
    String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "-" })
  }

  // MARK: - Files

  /// Writes `summary.md`, `summary.csv`, `summary.json`, `runs.csv`, `runs.json`, `curves.md`/`.csv`/`.json`
  /// (when there are metric curves) and the plots into `directory`, each atomically.
  /// - Returns: the names of the files written.
  /// - Throws: `LabError` naming a file that could not be written.
  @discardableResult
  public func write(to directory: URL) throws -> [String] {
    var files = [String]()
    for format in ["md", "csv", "json"] {
      try summary.write(to: directory.appendingPathComponent("summary.\(format)").path)
      files.append("summary.\(format)")
    }
    for format in ["csv", "json"] {
      try runs.write(to: directory.appendingPathComponent("runs.\(format)").path)
      files.append("runs.\(format)")
    }
    if let curves = curveTable {
      for format in ["md", "csv", "json"] {
        try curves.write(to: directory.appendingPathComponent("curves.\(format)").path)
        files.append("curves.\(format)")
      }
    }
    for (file, plot) in plots() {
      let url = directory.appendingPathComponent(file)
      do {
        try Data(plot.svg().utf8).write(to: url, options: .atomic)
      } catch {
        throw LabError("could not write '\(url.path)': \(error.localizedDescription)")
      }
      files.append(file)
    }
    return files
  }
}
