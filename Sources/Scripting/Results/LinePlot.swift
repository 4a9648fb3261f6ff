// Line plots as plain SVG text (no library): loss curves and metric curves of sweeps, one line per variant
// with the spread over seeds as a band behind it.

import Foundation

/// A line plot written as SVG.
///
/// ```swift
/// var plot = LinePlot(title: "stage 2: lm loss", xLabel: "step", yLabel: "loss")
/// plot.series.append(.init(name: "with stage 1", points: [(0, 4.1), (100, 2.3)]))
/// try Data(plot.svg().utf8).write(to: url)
/// ```
public struct LinePlot: Sendable {
  /// One line.
  public struct Series: Sendable {
    /// The legend's label.
    public var name: String
    /// The points, in x order.
    public var points: [(x: Double, y: Double)]
    /// A shaded band (the range over seeds, say) drawn behind the line, in x order; empty for none.
    public var band: [(x: Double, low: Double, high: Double)]

    /// A series from its parts.
    public init(name: String, points: [(x: Double, y: Double)], band: [(x: Double, low: Double, high: Double)] = []) {
      self.name = name
      self.points = points
      self.band = band
    }
  }

  /// The title above the plot.
  public var title: String
  /// The x axis' label.
  public var xLabel: String
  /// The y axis' label.
  public var yLabel: String
  /// The lines.
  public var series: [Series] = []
  /// Whether points are marked with dots (for curves of a few evaluations rather than every step).
  public var markers = false

  /// An empty plot.
  public init(title: String, xLabel: String, yLabel: String, markers: Bool = false) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.markers = markers
  }

  /// Tableau's ten colours: distinct, and readable by most colour-blind readers.
  static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                        "#9c755f", "#bab0ac"]

  // The drawing area, in SVG units.
  private static let width = 640.0, left = 70.0, right = 620.0, top = 40.0, bottom = 300.0

  /// The plot as a standalone SVG document.
  public func svg() -> String {
    let xs = series.flatMap { $0.points.map(\.x) + $0.band.map(\.x) }.filter(\.isFinite)
    let ys = series.flatMap { $0.points.map(\.y) + $0.band.flatMap { [$0.low, $0.high] } }.filter(\.isFinite)
    let xTicks = Self.ticks(xs.min() ?? 0, xs.max() ?? 1)
    let yTicks = Self.ticks(ys.min() ?? 0, ys.max() ?? 1)
    let (x0, x1) = (xTicks.first ?? 0, xTicks.last ?? 1)
    let (y0, y1) = (yTicks.first ?? 0, yTicks.last ?? 1)
    func px(_ x: Double) -> Double { Self.left + (x - x0) / (x1 - x0) * (Self.right - Self.left) }
    func py(_ y: Double) -> Double { Self.bottom - (y - y0) / (y1 - y0) * (Self.bottom - Self.top) }
    func number(_ value: Double) -> String { String(format: "%.1f", value) }

    let height = Self.bottom + 60 + 18 * Double(series.count)
    var lines = [
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(Self.width))\" height=\"\(Int(height))\" "
        + "viewBox=\"0 0 \(Int(Self.width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
      "<text x=\"\(number(Self.width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(Self.escape(title))</text>",
    ]
    for tick in xTicks {
      lines.append("<line x1=\"\(number(px(tick)))\" y1=\"\(number(Self.top))\" x2=\"\(number(px(tick)))\" "
        + "y2=\"\(number(Self.bottom))\" stroke=\"#e5e5e5\"/>")
      lines.append("<text x=\"\(number(px(tick)))\" y=\"\(number(Self.bottom + 16))\" text-anchor=\"middle\">\(Self.label(tick))</text>")
    }
    for tick in yTicks {
      lines.append("<line x1=\"\(number(Self.left))\" y1=\"\(number(py(tick)))\" x2=\"\(number(Self.right))\" "
        + "y2=\"\(number(py(tick)))\" stroke=\"#e5e5e5\"/>")
      lines.append("<text x=\"\(number(Self.left - 6))\" y=\"\(number(py(tick) + 4))\" text-anchor=\"end\">\(Self.label(tick))</text>")
    }
    lines.append("<rect x=\"\(number(Self.left))\" y=\"\(number(Self.top))\" width=\"\(number(Self.right - Self.left))\" "
      + "height=\"\(number(Self.bottom - Self.top))\" fill=\"none\" stroke=\"#888\"/>")
    lines.append("<text x=\"\(number((Self.left + Self.right) / 2))\" y=\"\(number(Self.bottom + 36))\" "
      + "text-anchor=\"middle\">\(Self.escape(xLabel))</text>")
    lines.append("<text transform=\"translate(16 \(number((Self.top + Self.bottom) / 2))) rotate(-90)\" "
      + "text-anchor=\"middle\">\(Self.escape(yLabel))</text>")

    for (index, line) in series.enumerated() {
      let colour = Self.palette[index % Self.palette.count]
      let band = line.band.filter { $0.x.isFinite && $0.low.isFinite && $0.high.isFinite }
      if band.count > 1 {
        let outline = band.map { "\(number(px($0.x))),\(number(py($0.high)))" }
          + band.reversed().map { "\(number(px($0.x))),\(number(py($0.low)))" }
        lines.append("<polygon points=\"\(outline.joined(separator: " "))\" fill=\"\(colour)\" fill-opacity=\"0.15\" stroke=\"none\"/>")
      }
      let points = line.points.filter { $0.x.isFinite && $0.y.isFinite }
      if points.count > 1 {
        let path = points.map { "\(number(px($0.x))),\(number(py($0.y)))" }.joined(separator: " ")
        lines.append("<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\"/>")
      }
      if markers || points.count == 1 {
        for point in points {
          lines.append("<circle cx=\"\(number(px(point.x)))\" cy=\"\(number(py(point.y)))\" r=\"3\" fill=\"\(colour)\"/>")
        }
      }
      let y = Self.bottom + 58 + 18 * Double(index)
      lines.append("<rect x=\"\(number(Self.left))\" y=\"\(number(y - 9))\" width=\"14\" height=\"10\" fill=\"\(colour)\"/>")
      lines.append("<text x=\"\(number(Self.left + 20))\" y=\"\(number(y))\">\(Self.escape(line.name))</text>")
    }
    lines.append("</svg>")
    return lines.joined(separator: "\n") + "\n"
  }

  /// Round-number ticks covering `low...high` (1, 2 or 5 times a power of ten apart, about five of them).
  static func ticks(_ low: Double, _ high: Double) -> [Double] {
    var (low, high) = (low, high)
    if high - low < 1e-12 * Swift.max(1, abs(high)) { (low, high) = (low - 0.5, high + 0.5) }
    let rough = (high - low) / 5
    let power = pow(10, floor(log10(rough)))
    let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? 10 * power
    let first = floor(low / step), last = ceil(high / step)
    return stride(from: first, through: last, by: 1).map { $0 * step }
  }

  /// A tick label: `%g` without binary noise (`0.3`, not `0.30000000000000004`).
  static func label(_ value: Double) -> String {
    abs(value) < 1e-12 ? "0" : String(format: "%g", value)
  }

  /// `text` safe inside SVG text.
  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
