// A table of results (one row per run: text fields such as `variant`, numbers such as metrics), grouped into
// mean and spread per metric, and written as Markdown, CSV or JSON.

import Foundation

/// Result rows with named columns, as `lab.table(rows)` makes them.
///
/// ```swift
/// let table = ResultTable(rows: [["variant": .text("full"), "seed": .number(1), "r1": .number(0.5)], ...])
/// let summary = try table.mean(by: "variant")   // variant | n | r1 (mean ± sample std, min, max)
/// try summary.write(to: "out/ablation.md")
/// ```
public struct ResultTable: Sendable, Equatable {
  /// A group's values summarized: mean and spread.
  public struct Summary: Sendable, Equatable {
    /// The mean.
    public var mean: Double
    /// The sample standard deviation (n - 1 in the denominator); nil for fewer than 2 values.
    public var standardDeviation: Double?
    /// The smallest value.
    public var minimum: Double
    /// The largest value.
    public var maximum: Double
    /// How many values.
    public var count: Int

    /// The summary of `values` (at least one).
    public init(_ values: [Double]) {
      precondition(!values.isEmpty, "Summary of no values")
      count = values.count
      mean = values.reduce(0, +) / Double(count)
      let mean = mean
      standardDeviation = count < 2 ? nil
        : (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)).squareRoot()
      minimum = values.min() ?? mean
      maximum = values.max() ?? mean
    }
  }

  /// One cell.
  public enum Cell: Sendable, Equatable {
    /// Text (`full`, `no-itg`).
    case text(String)
    /// A number (a metric, a seed).
    case number(Double)
    /// A group's mean and spread.
    case summary(Summary)
  }

  /// The column names in display order.
  public var columns: [String]
  /// The rows, by column name (a missing cell is empty).
  public var rows: [[String: Cell]]

  /// A table of `rows`. Without `columns`, text columns come first, then number columns, each alphabetically.
  public init(rows: [[String: Cell]], columns: [String]? = nil) {
    self.rows = rows
    if let columns {
      self.columns = columns
    } else {
      let names = Set(rows.flatMap(\.keys))
      let isText = { (name: String) in rows.contains { if case .text? = $0[name] { true } else { false } } }
      self.columns = names.filter(isText).sorted() + names.filter { !isText($0) }.sorted()
    }
  }

  // MARK: - Grouping

  /// One row per distinct value of `key` (in order of first appearance): `key`, `n` (rows in the group), and
  /// for every other numeric column not in `excluding` the summary of its values (mean, sample standard
  /// deviation, minimum, maximum).
  /// - Throws: `LabError` when no row has `key`.
  public func mean(by key: String, excluding: Set<String> = ["seed"]) throws -> ResultTable {
    guard rows.contains(where: { $0[key] != nil }) else {
      throw LabError("mean_by: no row has a column '\(key)'\(Suggestions.hint(for: key, in: columns)); "
        + "columns are \(columns.joined(separator: ", "))")
    }
    var order = [String]()
    var groups = [String: (label: Cell, rows: [[String: Cell]])]()
    for row in rows {
      guard let label = row[key] else { continue }
      let name = Self.plain(label)
      if groups[name] == nil { order.append(name); groups[name] = (label, []) }
      groups[name]?.rows.append(row)
    }
    let metrics = columns.filter { column in
      column != key && !excluding.contains(column)
        && rows.contains { if case .number? = $0[column] { true } else { false } }
    }
    let summarized: [[String: Cell]] = order.compactMap { groups[$0] }.map { group in
      var row: [String: Cell] = [key: group.label, "n": .number(Double(group.rows.count))]
      for metric in metrics {
        let values = group.rows.compactMap { row -> Double? in if case let .number(value)? = row[metric] { value } else { nil } }
        guard !values.isEmpty else { continue }
        row[metric] = .summary(Summary(values))
      }
      return row
    }
    return ResultTable(rows: summarized, columns: [key, "n"] + metrics)
  }

  // MARK: - Formats

  /// A Markdown table: text left-aligned, numbers right-aligned, summaries as `mean ± std`.
  public func markdown() -> String {
    let numeric = columns.map { column in
      rows.contains { row in if case .text? = row[column] { false } else { row[column] != nil } }
    }
    var lines = ["| " + columns.joined(separator: " | ") + " |",
                 "|" + numeric.map { $0 ? "---:|" : "---|" }.joined()]
    for row in rows {
      lines.append("| " + columns.map { row[$0].map(Self.markdown) ?? "" }.joined(separator: " | ") + " |")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// CSV (RFC 4180): a summary column `c` becomes `c` (the mean), `c_std`, `c_min`, `c_max` and `c_n`.
  public func csv() -> String {
    let summaries = Set(columns.filter { column in
      rows.contains { if case .summary? = $0[column] { true } else { false } }
    })
    let header = columns.flatMap { column in
      summaries.contains(column) ? [column] + ["std", "min", "max", "n"].map { "\(column)_\($0)" } : [column]
    }
    let padding = ["", "", "", ""]
    var lines = [header.map(Self.csvField).joined(separator: ",")]
    for row in rows {
      let fields = columns.flatMap { column -> [String] in
        let extra = summaries.contains(column) ? padding : []
        switch row[column] {
        case let .summary(summary)?:
          return [Self.exact(summary.mean), summary.standardDeviation.map(Self.exact) ?? "", Self.exact(summary.minimum),
                  Self.exact(summary.maximum), String(summary.count)]
        case let .text(text)?: return [Self.csvField(text)] + extra
        case let .number(value)?: return [Self.exact(value)] + extra
        case nil: return [""] + extra
        }
      }
      lines.append(fields.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// JSON: a list of objects in row order, keys in column order; a summary is `{"mean", "std", "min", "max", "n"}`;
  /// numbers JSON cannot hold (NaN, infinity) and missing deviations are `null`.
  public func json() -> String {
    let objects = rows.map { row in
      let fields = columns.compactMap { column -> String? in
        guard let cell = row[column] else { return nil }
        let value: String
        switch cell {
        case let .text(text): value = Self.jsonString(text)
        case let .number(number): value = Self.jsonNumber(number)
        case let .summary(summary):
          value = "{\"mean\": \(Self.jsonNumber(summary.mean)), \"std\": \(summary.standardDeviation.map(Self.jsonNumber) ?? "null"), "
            + "\"min\": \(Self.jsonNumber(summary.minimum)), \"max\": \(Self.jsonNumber(summary.maximum)), \"n\": \(summary.count)}"
        }
        return "\(Self.jsonString(column)): \(value)"
      }
      return "  {" + fields.joined(separator: ", ") + "}"
    }
    return objects.isEmpty ? "[]\n" : "[\n" + objects.joined(separator: ",\n") + "\n]\n"
  }

  /// Writes the table in the format its extension names (`.md`, `.csv`, `.json`), atomically (a temporary
  /// file renamed into place), creating the directory if needed.
  /// - Throws: `LabError` for another extension or a failed write.
  public func write(to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let text: String
    switch url.pathExtension.lowercased() {
    case "md", "markdown": text = markdown()
    case "csv": text = csv()
    case "json": text = json()
    default:
      throw LabError("cannot tell the format of '\(path)' from its extension: use .md, .csv or .json")
    }
    do {
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Data(text.utf8).write(to: url, options: .atomic)
    } catch {
      throw LabError("could not write '\(path)': \(error.localizedDescription)")
    }
  }

  // MARK: - Cell text

  /// Whole numbers without a fraction, others with 4 decimals.
  static func rounded(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return value.isFinite ? String(format: "%.4f", value) : String(value)
  }

  /// A number to 12 significant digits, enough for any metric and free of binary noise
  /// (`0.42`, not `0.42000000000000004`); whole numbers without a fraction (`3000`).
  static func exact(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return value.isFinite ? String(format: "%.12g", value) : String(value)
  }

  private static func markdown(_ cell: Cell) -> String {
    switch cell {
    case let .text(text): text.replacingOccurrences(of: "|", with: "\\|")
    case let .number(value): rounded(value)
    case let .summary(summary):
      // Whole numbers (parameter counts, a spread of 0 over identical counts) without decimals.
      [summary.mean, summary.standardDeviation ?? 0].allSatisfy { $0 == $0.rounded() && abs($0) < 1e15 }
        ? rounded(summary.mean) + (summary.standardDeviation.map { " ± " + rounded($0) } ?? "")
        : String(format: "%.4f", summary.mean) + (summary.standardDeviation.map { String(format: " ± %.4f", $0) } ?? "")
    }
  }

  private static func plain(_ cell: Cell) -> String {
    switch cell {
    case let .text(text): text
    case let .number(value): exact(value)
    case let .summary(summary): exact(summary.mean)
    }
  }

  private static func csvField(_ text: String) -> String {
    guard text.contains(where: { ",\"\n\r".contains($0) }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  private static func jsonNumber(_ value: Double) -> String { value.isFinite ? exact(value) : "null" }

  /// `text` as a JSON string literal (Foundation's escaping).
  private static func jsonString(_ text: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .withoutEscapingSlashes
    guard let data = try? encoder.encode(text) else { return "\"\"" }
    return String(decoding: data, as: UTF8.self)
  }
}
