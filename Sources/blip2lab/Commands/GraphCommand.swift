// `blip2lab graph`: the model pipeline (frozen encoder → Q-Former → projection → frozen LLM, with shapes and
// parameter counts) and the Q-Former's inside, for a preset's sizes, for the model a script composes, or for a
// run's model.

import ArgumentParser
import Blip2Core
import Foundation
import LabKit
import QFormer
import Rendering

/// `blip2lab graph [--preset paper|sandbox | --script S.lua [--set k=v] [--name RUN] | --run DIR]
/// [--view pipeline|qformer|both] [--direction LR|TB] [--depth N] [--format dot|svg|png|pdf] [--out FILE]`.
struct GraphCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "graph",
    abstract: "Draw the BLIP-2 pipeline and the Q-Former's inside: for a preset, a script's model or a run's.",
    discussion: """
      Presets: paper = EVA ViT-g/14 (257 tokens × 1408) → Q-Former (768 wide, 12 layers, cross-attention every \
      2, 32 queries) → OPT-2.7B (2560); sandbox = the built-in default: ViT-tiny (64 px, patch 8: 65 tokens × 192) \
      → Q-Former (256 wide, 4 layers, cross-attention every 2, 32 queries) → tiny decoder LM (128).
      --script draws the model of a run the script creates (the first, or --name's), built as the script builds       it but without pre-training or training anything; --run draws the model of a run folder the same way.
      With --view both (the default) two files are written: <out>-pipeline.<ext> and <out>-qformer.<ext>.
      Without --out: dot is printed, other formats go to graph-<preset or run>[-view].<ext>.
      Example: blip2lab graph --preset paper --format png --out docs/paper.png
      Example: blip2lab graph --script Experiments/quickstart.lua --view pipeline --depth 1 --out model.svg
      """)

  @Option(help: "paper or sandbox.")
  var preset: String = "paper"

  @Option(help: "Draw the model of a run this Lua script creates instead of a preset.")
  var script: String?

  @Option(name: .customLong("set"), help: ArgumentHelp("An option of --script's (repeatable).", valueName: "key=value"))
  var settings: [String] = []

  @Option(help: "With --script: the run whose model is drawn (default: the script's first run).")
  var name: String?

  @Option(name: .customLong("run"), help: "Draw the model of this run folder (runs/<script>/<run>/seed-<n>) instead of a preset.")
  var runFolder: String?

  @Option(help: "The pipeline's direction: LR (left to right) or TB (top to bottom, narrower).")
  var direction: String = "LR"

  @Option(help: "With --script or --run: how many levels of each component's parts to draw (0: components only).")
  var depth: Int = 0

  @Option(help: "pipeline, qformer or both.")
  var view: String = "both"

  @Option(help: "dot, svg, png or pdf (default: the --out file's extension, else svg).")
  var format: String?

  @Option(help: "The file to write (for --view both, the name both files are derived from).")
  var out: String?

  func validate() throws {
    if script != nil && runFolder != nil { throw ValidationError("give --script or --run, not both.") }
    if script == nil && (!settings.isEmpty || name != nil) {
      throw ValidationError("--set and --name go with --script.")
    }
    guard ["LR", "TB"].contains(direction) else { throw ValidationError("--direction must be LR or TB, got \"\(direction)\".") }
    guard (0 ... 4).contains(depth) else { throw ValidationError("--depth must be in 0...4, got \(depth).") }
    guard ModelPreset.all[preset] != nil else {
      throw ValidationError("--preset must be one of \(ModelPreset.all.keys.sorted().joined(separator: ", ")), got \"\(preset)\".")
    }
    guard ["pipeline", "qformer", "both"].contains(view) else {
      throw ValidationError("--view must be pipeline, qformer or both, got \"\(view)\".")
    }
    _ = try outputFormat()
  }

  func run() throws {
    let format = try outputFormat()
    var drawings = [(name: String, dot: DOTGraph)]()
    if let built = try builtModel() {
      let model = built.model
      if view != "qformer" {
        var graph = ModelGraph(model: model, depth: depth, title: "\(built.title): " + model.parts.map(\.kind).joined(separator: " → "))
        graph.direction = direction
        drawings.append(("pipeline", graph.dot))
      }
      if view != "pipeline" {
        guard let qformer = model.bridge as? QFormer else {
          throw ValidationError("the model's bridge is \(model.bridge.kind), not a Q-Former: use --view pipeline.")
        }
        let c = qformer.configuration
        let sizes = QFormerDiagram.Configuration(layers: c.layers, crossAttentionEvery: c.crossEvery, queries: c.queries,
                                                 hidden: c.hidden, imageWidth: c.imageWidth, contrastiveWidth: c.embedDim)
        let lm = model.languageModel.map { (name: $0.kind, width: $0.embeddingDim) }
        drawings.append(("qformer", try QFormerDiagram(sizes, imageTokens: model.encoder.tokenCount, languageModel: lm).dot))
      }
    } else {
      guard let preset = ModelPreset.all[preset] else { throw ValidationError("unknown preset \"\(self.preset)\"") }
      if view != "qformer" {
        var graph = ModelGraph(preset: preset)
        graph.direction = direction
        drawings.append(("pipeline", graph.dot))
      }
      if view != "pipeline" { drawings.append(("qformer", try QFormerDiagram(preset: preset).dot)) }
    }

    if format == .dot && out == nil {
      print(drawings.map(\.dot.text).joined(separator: "\n"))
      return
    }
    for drawing in drawings {
      let url = destination(view: drawings.count > 1 ? drawing.name : nil, format: format)
      try RenderOutput.createFolder(url.deletingLastPathComponent())
      try Graphviz.render(dot: drawing.dot.text, format: format, to: url)
      print("wrote \(url.path)")
    }
  }

  /// The model of `--script` or `--run` (nil for a preset), with a title naming where it comes from.
  private func builtModel() throws -> (model: Blip2Model, title: String)? {
    if let script {
      let built = try RunRebuild.capture(script: script, settings: settings, runsDirectory: URL(fileURLWithPath: "runs"),
                                         name: name, skipPretraining: true)
      return (built.model, "\(URL(fileURLWithPath: script).lastPathComponent), run \(built.name)")
    }
    if let runFolder {
      let built = try RunRebuild.untrained(directory: URL(fileURLWithPath: runFolder))
      return (built.model, "run \(built.name) (seed \(built.seed))")
    }
    return nil
  }

  /// The name files are called after: the preset, or the run.
  private var subject: String {
    if let runFolder { return URL(fileURLWithPath: runFolder).deletingLastPathComponent().lastPathComponent }
    if let script { return URL(fileURLWithPath: script).deletingPathExtension().lastPathComponent }
    return preset
  }

  private func outputFormat() throws -> RenderFormat {
    if let format {
      guard let parsed = try? RenderFormat(parsing: format) else {
        throw ValidationError("--format must be dot, svg, png or pdf, got \"\(format)\".")
      }
      return parsed
    }
    if let out, !URL(fileURLWithPath: out).pathExtension.isEmpty { return try RenderFormat(parsing: out) }
    return .svg
  }

  /// `--out` as given, or with `-<view>` before its extension when two views are written.
  private func destination(view: String?, format: RenderFormat) -> URL {
    let base = URL(fileURLWithPath: out ?? "graph-\(subject).\(format.fileExtension)")
    guard let view else { return base }
    let stem = base.deletingPathExtension().lastPathComponent
    let ext = base.pathExtension.isEmpty ? format.fileExtension : base.pathExtension
    return base.deletingLastPathComponent().appendingPathComponent("\(stem)-\(view).\(ext)")
  }
}
