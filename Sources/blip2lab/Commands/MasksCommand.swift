// `blip2lab masks`: the paper's three stage-1 masks (ITC unimodal, ITM bidirectional, ITG multimodal-causal)
// printed as text or drawn as grids (and, for small sizes, token graphs).

import ArgumentParser
import Blip2Core
import Foundation
import Rendering

/// `blip2lab masks [--queries N] [--text N] [--format txt|dot|svg|png|pdf] [--out DIR] [--mask itc|itm|itg|all]`.
struct MasksCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "masks",
    abstract: "Print or draw the paper's stage-1 attention masks (ITC, ITM, ITG) over [queries | text].",
    discussion: """
      txt prints the masks to the terminal. The other formats write files to --out: one grid per mask \
      (itc.svg, itm.svg, itg.svg) and, for --mask all, the three side by side (masks.svg); with --tokens, also a \
      token graph per mask (itg-tokens.svg, ...) when there are at most 16 tokens.
      Example: blip2lab masks --queries 8 --text 6 --format png --out docs/masks
      """)

  @Option(help: "Learned queries (32 in the paper).")
  var queries: Int = 32

  @Option(name: [.customLong("text"), .customLong("text-length")], help: "Text tokens.")
  var text: Int = 8

  @Option(help: "Real text tokens; the rest are drawn as padding (default: all real).")
  var textValid: Int?

  @Option(help: "txt (terminal), dot, svg, png or pdf.")
  var format: String = "txt"

  @Option(help: "The folder files are written to (created if missing).")
  var out: String = "."

  @Option(help: "itc, itm, itg or all.")
  var mask: String = "all"

  @Flag(help: "Also draw token graphs (a node per token, an edge per allowed attention) for at most 16 tokens.")
  var tokens = false

  @Flag(help: "Plain ASCII in txt output (no block characters).")
  var ascii = false

  func validate() throws {
    guard queries >= 1 else { throw ValidationError("--queries must be at least 1, got \(queries).") }
    guard text >= 0 else { throw ValidationError("--text must be 0 or more, got \(text).") }
    if let textValid, !(0 ... text).contains(textValid) {
      throw ValidationError("--text-valid must be in 0...\(text), got \(textValid).")
    }
    _ = try objectives()
    if format != "txt" && (try? RenderFormat(parsing: format)) == nil {
      throw ValidationError("--format must be txt, dot, svg, png or pdf, got \"\(format)\".")
    }
  }

  func run() throws {
    let objectives = try objectives()
    if format == "txt" {
      try printMasks(objectives)
      return
    }
    let format = try RenderFormat(parsing: format)
    let folder = URL(fileURLWithPath: out)
    try RenderOutput.createFolder(folder)
    func file(_ name: String) -> URL { folder.appendingPathComponent("\(name).\(format.fileExtension)") }

    var written = [URL]()
    for objective in objectives {
      let grid = try MaskGrid.paperGrid(objective, queries: queries, text: text, textValid: textValid)
      try grid.write(to: file(objective.rawValue), format: format)
      written.append(file(objective.rawValue))
      if tokens && queries + text <= TokenGraph.defaultMaxTokens {
        let graph = try TokenGraph(grid.mask, title: grid.title)
        try graph.write(to: file("\(objective.rawValue)-tokens"), format: format)
        written.append(file("\(objective.rawValue)-tokens"))
      }
    }
    if objectives.count > 1 {
      let sideBySide = try MaskGrid.paperMasks(queries: queries, text: text, textValid: textValid)
      try Graphviz.render(dot: sideBySide.text, format: format, to: file("masks"))
      written.append(file("masks"))
    }
    if tokens && queries + text > TokenGraph.defaultMaxTokens {
      print("note: token graphs are drawn for at most \(TokenGraph.defaultMaxTokens) tokens; "
        + "\(queries + text) is too many, so only grids were written")
    }
    for url in written { print("wrote \(url.path)") }
  }

  private func printMasks(_ objectives: [Objective]) throws {
    print(try MaskGrid.paperMasksText(objectives, queries: queries, text: text, textValid: textValid, ascii: ascii))
  }

  private func objectives() throws -> [Objective] {
    if mask == "all" { return Objective.allCases }
    guard let objective = Objective(rawValue: mask.lowercased()) else {
      throw ValidationError("--mask must be itc, itm, itg or all, got \"\(mask)\".")
    }
    return [objective]
  }
}
