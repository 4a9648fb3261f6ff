// A mask as text for the terminal: one character per cell, segments labelled and fenced off. For example the
// paper's ITG mask over [queries 2 | text 3]:
//
//   [queries 2 | text 3]: rows attend to columns (█ may attend, · may not)
//             que │ text
//             0 1 │ 0 1 2
//   queries 0 █ █ │ · · ·
//           1 █ █ │ · · ·
//             ────┼──────
//   text    0 █ █ │ █ · ·
//           1 █ █ │ █ █ ·
//           2 █ █ │ █ █ █

extension AttentionMask {
  /// The mask as a text grid: rows are attending tokens, columns attended ones, one character per cell,
  /// with segment names, positions within each segment (last digit) and lines between segments.
  /// Column segment names are cut to the width of their block; the first line spells the layout out in full.
  /// - Parameters:
  ///   - compact: no space between cells (for long sequences); the default spaces cells so the grid looks square.
  ///   - ascii: draw with `#`, `.`, `|`, `-`, `+` instead of block and box-drawing characters.
  public func render(compact: Bool = false, ascii: Bool = false) -> String {
    let allowedMark = ascii ? "#" : "█", blockedMark = ascii ? "." : "·"
    let vertical = ascii ? "|" : "│", horizontal = ascii ? "-" : "─", cross = ascii ? "+" : "┼"
    let cellGap = compact ? "" : " "
    let blockGap = compact ? vertical : " \(vertical) "
    let ruleGap = compact ? cross : "\(horizontal)\(cross)\(horizontal)"

    var lines = ["\(layout): rows attend to columns (\(allowedMark) may attend, \(blockedMark) may not)"]
    let blocks = layout.segments.compactMap { segment in
      layout.range(of: segment.name).flatMap { $0.isEmpty ? nil : (name: segment.name, range: $0) }
    }
    guard !blocks.isEmpty else { return (lines + ["(no tokens)"]).joined(separator: "\n") }

    let nameWidth = blocks.map(\.name.count).max() ?? 0
    let indexWidth = String(blocks.map { $0.range.count - 1 }.max() ?? 0).count
    let margin = String(repeating: " ", count: nameWidth + 1 + indexWidth + 1)
    let widths = blocks.map { compact ? $0.range.count : 2 * $0.range.count - 1 }

    func line(_ text: String) { lines.append(String(text.reversed().drop { $0 == " " }.reversed())) }
    func padded(_ text: String, to width: Int) -> String {
      String(text.prefix(width)) + String(repeating: " ", count: max(width - text.count, 0))
    }

    line(margin + zip(blocks, widths).map { padded($0.name, to: $1) }.joined(separator: blockGap))
    line(margin + blocks.map { block in
      block.range.indices.map { String(($0 - block.range.lowerBound) % 10) }.joined(separator: cellGap)
    }.joined(separator: blockGap))

    for (blockIndex, rowBlock) in blocks.enumerated() {
      if blockIndex > 0 {
        line(margin + widths.map { String(repeating: horizontal, count: $0) }.joined(separator: ruleGap))
      }
      for row in rowBlock.range {
        let offset = row - rowBlock.range.lowerBound
        let label = padded(offset == 0 ? rowBlock.name : "", to: nameWidth) + " "
          + String(repeating: " ", count: indexWidth - String(offset).count) + String(offset) + " "
        let cells = blocks.map { block in
          block.range.map { self[row, $0] ? allowedMark : blockedMark }.joined(separator: cellGap)
        }
        line(label + cells.joined(separator: blockGap))
      }
    }
    return lines.joined(separator: "\n")
  }
}
