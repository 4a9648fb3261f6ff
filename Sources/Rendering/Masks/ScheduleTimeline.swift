// A mask schedule as a timeline: one row per objective, one bar per stretch of steps with one mask, bar
// widths proportional to the steps they cover.

import Blip2Core

/// A `MaskSchedule` drawn as a timeline: a row per objective, a coloured bar per phase (the mask's name and
/// its steps), default masks in a lighter style, widths proportional to steps.
public struct ScheduleTimeline: GraphvizDrawing, Sendable {
  /// The schedule drawn.
  public let schedule: MaskSchedule
  /// The steps shown: `0 ..< totalSteps`.
  public let totalSteps: Int
  /// The title above the timeline.
  public var title: String
  /// The width of the bars' area, in points.
  public var width: Int = 640

  /// A timeline of `schedule` over `0 ..< totalSteps`.
  /// - Throws: `RenderError.invalidInput` unless `totalSteps` is at least 1.
  public init(_ schedule: MaskSchedule, totalSteps: Int, title: String = "Mask schedule") throws {
    guard totalSteps >= 1 else {
      throw RenderError.invalidInput("A timeline needs at least 1 step, got \(totalSteps).")
    }
    self.schedule = schedule
    self.totalSteps = totalSteps
    self.title = title
  }

  /// The colour of the mask called `name`: the paper's masks keep fixed colours, others get a stable one.
  public static func color(mask name: String) -> String {
    switch name {
    case "unimodal": Palette.color(0)
    case "bidirectional": Palette.color(2)
    case "multimodalCausal": Palette.color(3)
    case "causal": Palette.color(4)
    default: Palette.color(named: name)
    }
  }

  /// One node holding the timeline as an HTML-like table.
  public var dot: DOTGraph {
    var graph = MaskGrid.graph(name: "schedule")
    graph.addNode("timeline", ["label": .html(tableHTML())])
    return graph
  }

  func tableHTML() -> String {
    var html = "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"4\" CELLPADDING=\"0\">"
    html += "<TR><TD COLSPAN=\"2\" CELLPADDING=\"6\"><FONT POINT-SIZE=\"16\"><B>\(HTML.escape(title))</B></FONT></TD></TR>"
    for objective in schedule.objectives {
      let phases = schedule.phases(for: objective, totalSteps: totalSteps)
      html += "<TR><TD ALIGN=\"RIGHT\" WIDTH=\"60\"><B>\(HTML.escape(objective))</B> </TD><TD>"
      html += "<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"3\" COLOR=\"white\"><TR>"
      let widths = Self.widths(phases.map(\.steps.count), total: width)
      for (phase, cellWidth) in zip(phases, widths) {
        let name = phase.mask?.name ?? "no mask"
        let fill = phase.mask == nil ? "#EEEEEE" : Self.color(mask: name) + (phase.isDefault ? "88" : "")
        let note = phase.isDefault && phase.mask != nil ? " (default)" : ""
        html += "<TD BGCOLOR=\"\(fill)\" WIDTH=\"\(cellWidth)\" HEIGHT=\"34\" FIXEDSIZE=\"TRUE\">"
          + "<FONT POINT-SIZE=\"10\"><B>\(HTML.escape(name))</B>\(note)<BR/>"
          + "steps \(phase.steps.lowerBound)..&lt;\(phase.steps.upperBound)</FONT></TD>"
      }
      html += "</TR></TABLE></TD></TR>"
    }
    html += "<TR><TD></TD><TD><TABLE BORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"0\"><TR>"
      + "<TD ALIGN=\"LEFT\" WIDTH=\"\(width / 2)\"><FONT POINT-SIZE=\"9\">step 0</FONT></TD>"
      + "<TD ALIGN=\"RIGHT\" WIDTH=\"\(width / 2)\"><FONT POINT-SIZE=\"9\">step \(totalSteps)</FONT></TD>"
      + "</TR></TABLE></TD></TR>"
    return html + "</TABLE>"
  }

  /// Widths proportional to `counts` summing to `total`, except that each is at least `minimum` points so its
  /// text fits (then the row is wider than `total`).
  static func widths(_ counts: [Int], total: Int, minimum: Int = 110) -> [Int] {
    let sum = max(counts.reduce(0, +), 1)
    var widths = counts.map { $0 * total / sum }
    if let last = widths.indices.last { widths[last] = total - widths.dropLast().reduce(0, +) }
    return widths.map { max(minimum, $0) }
  }
}
