// `blip2lab graph`: the model pipeline (frozen encoder → Q-Former → projection → frozen LLM, with shapes and
// parameter counts) and the Q-Former's inside, for a preset's sizes.

import ArgumentParser
import Foundation
import Rendering

/// `blip2lab graph --preset paper|sandbox [--view pipeline|qformer|both] [--format dot|svg|png|pdf] [--out FILE]`.
struct GraphCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "graph",
    abstract: "Draw the BLIP-2 pipeline and the Q-Former's inside for a preset's sizes.",
    discussion: """
      Presets: paper = EVA ViT-g/14 (257 tokens × 1408) → Q-Former (768 wide, 12 layers, cross-attention every \
      2, 32 queries) → OPT-2.7B (2560); sandbox = the built-in default: ViT-tiny (64 px, patch 8: 65 tokens × 192) \
      → Q-Former (256 wide, 4 layers, cross-attention every 2, 32 queries) → tiny decoder LM (128).
      With --view both (the default) two files are written: <out>-pipeline.<ext> and <out>-qformer.<ext>.
      Without --out: dot is printed, other formats go to graph-<preset>[-view].<ext>.
      Example: blip2lab graph --preset paper --format png --out docs/paper.png
      """)

  @Option(help: "paper or sandbox.")
  var preset: String = "paper"

  @Option(help: "pipeline, qformer or both.")
  var view: String = "both"

  @Option(help: "dot, svg, png or pdf (default: the --out file's extension, else svg).")
  var format: String?

  @Option(help: "The file to write (for --view both, the name both files are derived from).")
  var out: String?

  func validate() throws {
    guard ModelPreset.all[preset] != nil else {
      throw ValidationError("--preset must be one of \(ModelPreset.all.keys.sorted().joined(separator: ", ")), got \"\(preset)\".")
    }
    guard ["pipeline", "qformer", "both"].contains(view) else {
      throw ValidationError("--view must be pipeline, qformer or both, got \"\(view)\".")
    }
    _ = try outputFormat()
  }

  func run() throws {
    guard let preset = ModelPreset.all[preset] else { throw ValidationError("unknown preset \"\(self.preset)\"") }
    let format = try outputFormat()
    var drawings = [(name: String, dot: DOTGraph)]()
    if view != "qformer" { drawings.append(("pipeline", ModelGraph(preset: preset).dot)) }
    if view != "pipeline" { drawings.append(("qformer", try QFormerDiagram(preset: preset).dot)) }

    if format == .dot && out == nil {
      print(drawings.map(\.dot.text).joined(separator: "\n"))
      return
    }
    for drawing in drawings {
      let url = destination(view: drawings.count > 1 ? drawing.name : nil, format: format)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Graphviz.render(dot: drawing.dot.text, format: format, to: url)
      print("wrote \(url.path)")
    }
  }

  private func outputFormat() throws -> RenderFormat {
    if let format { return try RenderFormat(parsing: format) }
    if let out, !URL(fileURLWithPath: out).pathExtension.isEmpty { return try RenderFormat(parsing: out) }
    return .svg
  }

  /// `--out` as given, or with `-<view>` before its extension when two views are written.
  private func destination(view: String?, format: RenderFormat) -> URL {
    let base = URL(fileURLWithPath: out ?? "graph-\(preset).\(format.fileExtension)")
    guard let view else { return base }
    let stem = base.deletingPathExtension().lastPathComponent
    let ext = base.pathExtension.isEmpty ? format.fileExtension : base.pathExtension
    return base.deletingLastPathComponent().appendingPathComponent("\(stem)-\(view).\(ext)")
  }
}
