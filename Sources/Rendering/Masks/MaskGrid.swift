// A mask as a grid: one cell per (attending token, attended token), rows attend to columns, as in the paper's
// figure 2. Drawn as an HTML-like table in a single Graphviz node: the table keeps every cell aligned and
// Graphviz turns it into SVG, PNG or PDF without a layout problem to solve.

import Blip2Core

/// An attention mask drawn as a grid: rows are attending tokens, columns attended ones; allowed cells are
/// coloured by their (row segment, column segment) pair, blocked cells white, padded positions rose; segment
/// names and in-segment positions label the rows and columns; a legend explains the colours.
///
/// ```swift
/// let layout = try TokenLayout.queriesAndText(queries: 4, text: 3)
/// let grid = try MaskGrid(.multimodalCausal(layout), title: "ITG", valid: [true, true, true, true, true, true, false])
/// try grid.write(to: URL(fileURLWithPath: "itg.svg"))
/// ```
public struct MaskGrid: GraphvizDrawing, Sendable {
  /// The mask drawn.
  public let mask: AttentionMask
  /// The title above the grid (default: the layout).
  public var title: String
  /// Per position, whether it is a real token (`false` = padding); `nil` when nothing is padded.
  public let valid: [Bool]?
  /// The side of one cell, in points.
  public var cellSize: Int = 14

  /// A grid for `mask`.
  /// - Parameter valid: one flag per token, `false` for padding. Padded columns are drawn rose (no one may
  ///   read padding, whatever the mask says); allowed cells in padded rows are drawn pale.
  /// - Throws: `RenderError.invalidInput` unless `valid` has one entry per token.
  public init(_ mask: AttentionMask, title: String? = nil, valid: [Bool]? = nil) throws {
    if let valid, valid.count != mask.size {
      throw RenderError.invalidInput(
        "The padding flags need one entry per token (\(mask.size) for \(mask.layout)), got \(valid.count).")
    }
    self.mask = mask
    self.title = title ?? "\(mask.layout)"
    self.valid = valid
  }

  /// The grid and its legend, the legend below.
  public var dot: DOTGraph {
    var graph = Self.graph(name: "mask")
    graph.addNode("mask", ["label": .html(tableHTML(colorOrder: mask.layout.segmentNames))])
    graph.addNode("legend", ["label": .html(Self.legendHTML(layouts: [mask.layout], padding: valid != nil))])
    graph.addEdge("mask", "legend", ["style": "invis"])
    return graph
  }

  /// The paper's three stage-1 masks side by side (ITC unimodal, ITM bidirectional, ITG multimodal-causal)
  /// over `[queries | text]`, with one legend below.
  /// - Parameter textValid: how many text tokens are real (the rest drawn as padding); `nil` for all.
  /// - Throws: `MaskError` for negative sizes, `RenderError.invalidInput` for a bad valid length.
  public static func paperMasks(queries: Int, text: Int, textValid: Int? = nil) throws -> DOTGraph {
    try sideBySide(Objective.allCases.map { objective in try paperGrid(objective, queries: queries, text: text, textValid: textValid) })
  }

  /// The grid of one of the paper's masks, titled with the objective and the mask's name.
  /// - Throws: as `paperMasks`.
  public static func paperGrid(_ objective: Objective, queries: Int, text: Int, textValid: Int? = nil) throws -> MaskGrid {
    let layout = try TokenLayout.queriesAndText(queries: queries, text: text)
    var valid: [Bool]?
    if let textValid {
      guard textValid >= 0, textValid <= text else {
        throw RenderError.invalidInput("The valid text length must be in 0...\(text), got \(textValid).")
      }
      valid = (0 ..< layout.count).map { $0 < queries + textValid }
    }
    let spec = objective.paperMask
    return try MaskGrid(spec.mask(for: layout), title: "\(objective.rawValue.uppercased()): \(displayName(spec))", valid: valid)
  }

  /// A mask's name as words: `multimodal causal` for `multimodalCausal`; other names unchanged.
  public static func displayName(_ spec: MaskSpec) -> String {
    spec.name == "multimodalCausal" ? "multimodal causal" : spec.name
  }

  /// Several grids side by side (in order, left to right) with one legend below.
  public static func sideBySide(_ grids: [MaskGrid], title: String? = nil) -> DOTGraph {
    var graph = graph(name: "masks")
    if let title {
      graph.attributes["label"] = .text(title)
      graph.attributes["labelloc"] = "t"
      graph.attributes["fontsize"] = "18"
    }
    let names = segmentNames(grids.map(\.mask.layout))
    var row = DOTGraph(name: "grids", attributes: ["rank": "same"])
    for (index, grid) in grids.enumerated() { row.addNode("mask\(index)", ["label": .html(grid.tableHTML(colorOrder: names))]) }
    graph.addSubgraph(row)
    let padding = grids.contains { $0.valid != nil }
    graph.addNode("legend", ["label": .html(legendHTML(layouts: grids.map(\.mask.layout), padding: padding))])
    if !grids.isEmpty { graph.addEdge("mask\(grids.count / 2)", "legend", ["style": "invis"]) }
    return graph
  }

  // MARK: - Colours

  /// The fill of an allowed cell whose row is in segment `row` and column in segment `column` of `layout`.
  public static func pairColor(row: Int, column: Int, segmentCount: Int) -> String {
    Palette.color(row * max(segmentCount, 1) + column)
  }

  /// The fill of blocked cells.
  public static let blockedColor = "#FFFFFF"
  /// The fill of cells whose column is padding.
  public static let paddingColor = "#F4C7C3"
  /// The grid lines.
  static let lineColor = "#C8C8C8"
  /// Legend entries per row.
  static let legendColumns = 4

  // MARK: - HTML

  static func graph(name: String) -> DOTGraph {
    DOTGraph(
      name: name, attributes: ["fontname": "Helvetica", "nodesep": "0.5", "ranksep": "0.3", "bgcolor": "white"],
      nodeDefaults: ["shape": "plaintext", "fontname": "Helvetica", "margin": "0"])
  }

  /// Every segment name of `layouts`, first appearance first: the order pair colours are assigned in.
  static func segmentNames(_ layouts: [TokenLayout]) -> [String] {
    var names = [String]()
    for layout in layouts { for name in layout.segmentNames where !names.contains(name) { names.append(name) } }
    return names
  }

  /// The grid as an HTML-like `<TABLE>`: title, column headers, then one row per token. Pair colours follow the
  /// segments' positions in `colorOrder`, so several grids and one legend agree.
  func tableHTML(colorOrder: [String]) -> String {
    let blocks = mask.layout.segments.enumerated().compactMap { index, segment -> (index: Int, name: String, range: Range<Int>)? in
      guard let range = mask.layout.range(of: segment.name), !range.isEmpty else { return nil }
      return (index, segment.name, range)
    }
    let segmentCount = colorOrder.count
    let segmentIndex = blocks.reduce(into: [Int](repeating: 0, count: mask.size)) { table, block in
      let colorIndex = colorOrder.firstIndex(of: block.name) ?? block.index
      for position in block.range { table[position] = colorIndex }
    }
    let size = String(cellSize)
    let headerSize = max(cellSize * 4, 56)
    let indexFont = cellSize >= 14 ? "8" : "6"
    func isValid(_ position: Int) -> Bool { valid?[position] ?? true }

    var html = "<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"0\" COLOR=\"\(Self.lineColor)\">\n"
    html += "<TR><TD COLSPAN=\"\(mask.size + 2)\" BORDER=\"0\" CELLPADDING=\"6\"><FONT POINT-SIZE=\"16\"><B>"
      + HTML.escape(title) + "</B></FONT><BR/><FONT POINT-SIZE=\"10\" COLOR=\"#555555\">rows attend to columns; "
      + "\(mask.allowedCount) of \(mask.size * mask.size) allowed</FONT></TD></TR>\n"
    html += "<TR><TD COLSPAN=\"2\" ROWSPAN=\"2\" BORDER=\"0\" ALIGN=\"RIGHT\" VALIGN=\"BOTTOM\">"
      + "<FONT POINT-SIZE=\"9\" COLOR=\"#555555\">row reads<BR ALIGN=\"RIGHT\"/>column →<BR ALIGN=\"RIGHT\"/></FONT></TD>"
    for block in blocks {
      html += "<TD COLSPAN=\"\(block.range.count)\" BORDER=\"0\"><B>\(HTML.escape(block.name))</B></TD>"
    }
    html += "</TR>\n<TR>"
    for block in blocks {
      for position in block.range {
        html += "<TD BORDER=\"0\" WIDTH=\"\(size)\" HEIGHT=\"\(size)\" FIXEDSIZE=\"TRUE\">"
          + indexLabel(position - block.range.lowerBound, valid: isValid(position), font: indexFont) + "</TD>"
      }
    }
    html += "</TR>\n"
    for block in blocks {
      for row in block.range {
        html += "<TR>"
        if row == block.range.lowerBound {
          html += "<TD ROWSPAN=\"\(block.range.count)\" BORDER=\"0\" WIDTH=\"\(headerSize)\" ALIGN=\"RIGHT\">"
            + "<B>\(HTML.escape(block.name))</B> </TD>"
        }
        html += "<TD BORDER=\"0\" WIDTH=\"\(size)\" HEIGHT=\"\(size)\" FIXEDSIZE=\"TRUE\">"
          + indexLabel(row - block.range.lowerBound, valid: isValid(row), font: indexFont) + "</TD>"
        for column in 0 ..< mask.size {
          let fill: String
          if !isValid(column) {
            fill = Self.paddingColor
          } else if mask[row, column] {
            let color = Self.pairColor(row: segmentIndex[row], column: segmentIndex[column], segmentCount: segmentCount)
            fill = isValid(row) ? color : color + "55"
          } else {
            fill = Self.blockedColor
          }
          html += "<TD BGCOLOR=\"\(fill)\" WIDTH=\"\(size)\" HEIGHT=\"\(size)\" FIXEDSIZE=\"TRUE\"></TD>"
        }
        html += "</TR>\n"
      }
    }
    return html + "</TABLE>"
  }

  private func indexLabel(_ offset: Int, valid: Bool, font: String) -> String {
    let color = valid ? "#555555" : "#C0392B"
    return "<FONT POINT-SIZE=\"\(font)\" COLOR=\"\(color)\">\(valid ? String(offset) : "p")</FONT>"
  }

  /// One swatch per (row segment, column segment) pair of the layouts' segments, plus blocked and padding.
  static func legendHTML(layouts: [TokenLayout], padding: Bool) -> String {
    let names = segmentNames(layouts)
    var entries = [(color: String, label: String)]()
    for (rowIndex, row) in names.enumerated() {
      for (columnIndex, column) in names.enumerated() {
        let color = pairColor(row: rowIndex, column: columnIndex, segmentCount: names.count)
        // "queries read text", "text reads queries": segment names are plural nouns or mass nouns.
        entries.append((color, "\(row) \(row.hasSuffix("s") ? "read" : "reads") \(column)"))
      }
    }
    entries.append((blockedColor, "blocked"))
    if padding {
      entries.append((paddingColor, "padding (never read)"))
      entries.append((pairColor(row: 0, column: 0, segmentCount: names.count) + "55", "pale: padded row (output unused)"))
    }
    // At most `legendColumns` swatches a row, so that the legend is no wider than the grids it explains.
    var html = "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"4\" CELLPADDING=\"2\"><TR>"
    for (index, entry) in entries.enumerated() {
      if index > 0 && index % legendColumns == 0 { html += "</TR><TR>" }
      html += "<TD BGCOLOR=\"\(entry.color)\" BORDER=\"1\" COLOR=\"\(lineColor)\" WIDTH=\"14\" HEIGHT=\"14\" "
        + "FIXEDSIZE=\"TRUE\"></TD><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"11\">\(HTML.escape(entry.label))</FONT></TD>"
    }
    return html + "</TR></TABLE>"
  }
}

extension MaskGrid {
  /// The paper's masks for `objectives` printed as text (`AttentionMask.render`), each under its name
  /// (`ITG (multimodal causal):`), as `blip2lab masks --format txt` and `lab.render("itg", "x.txt")` show them.
  /// - Throws: as `paperMasks`.
  public static func paperMasksText(_ objectives: [Objective], queries: Int, text: Int, textValid: Int? = nil,
                                    ascii: Bool = false) throws -> String {
    let layout = try TokenLayout.queriesAndText(queries: queries, text: text)
    return try objectives.map { objective in
      var mask = try objective.paperMask.mask(for: layout)
      if let textValid { mask = try mask.applyingPadding(validLength: textValid) }
      return "\(objective.rawValue.uppercased()) (\(displayName(objective.paperMask))):\n"
        + mask.render(compact: queries + text > 40, ascii: ascii)
    }.joined(separator: "\n\n")
  }
}
