// `blip2lab attention`: where each query of a trained Q-Former looks in an image. The run's model is rebuilt
// from its folder (`RunRebuild`: the script re-executed up to the run, then the newest finished checkpoint
// loaded), and `AttentionMaps` (LabKit) draws each query's cross-attention over an image of the run's dataset
// or a PNG/JPEG file.

import ArgumentParser
import Blip2Core
import Foundation
import LabKit
import Rendering

/// `blip2lab attention --run DIR [--image shapes:test:3|photo.jpg] [--layer last|all|N] [--phase stage1|stage2] ...`.
struct AttentionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attention",
    abstract: "Draw where each query of a trained run's Q-Former looks in an image (cross-attention maps).",
    discussion: """
      The run folder is one `blip2lab run` wrote (runs/<script>/<run>/seed-<n>/). Its script is re-executed up \
      to the run (the pre-trained frozen parts come from the cache, nothing is trained) and the weights of its \
      newest finished phase are loaded. Runs made before runs recorded their script (run.json) need --script \
      and the --set values they were run with.
      The image is one of the run's dataset, <dataset>:<split>:<index> (splits: train, val, test, heldOut), or a \
      PNG or JPEG file, resized (bicubic, shorter side) and centre-cropped to the encoder's input size.
      Each tile is one query: the image blended with the query's attention over the patches (averaged over the \
      heads, the class token left out), scaled to the query's own maximum, which its caption gives.
      Example: blip2lab attention --run runs/quickstart/paper/seed-1 --image shapes:test:3 --format png --out q.png
      Example: blip2lab attention --run runs/quickstart/paper/seed-1 --image photo.jpg --out photo-queries.svg
      """)

  @OptionGroup var rebuild: RunFolderOptions

  @Option(help: "The image: <dataset>:<split>:<index> from the run's dataset (e.g. shapes:test:3), or a .png/.jpg file.")
  var image: String = "shapes:test:0"

  @Option(help: "The cross-attention layer: last, all (one file each), or the layer's index.")
  var layer: String = "last"

  @Option(help: "svg, png or pdf (default: the --out file's extension, else svg).")
  var format: String?

  @Option(help: "The file to write (default: attention-<run>-seed<n>-<split><index or file name>.<ext>; with --layer all, -layer<k> is added before the extension).")
  var out: String?

  @Option(help: "Tiles per row.")
  var columns: Int = 8

  @Option(help: "The side of a tile, in pixels.")
  var tileSize: Int = 96

  func validate() throws {
    do { _ = try AttentionImage(parsing: image) } catch { throw ValidationError("--\(error.localizedDescription)") }
    do { _ = try AttentionLayer(parsing: layer) } catch { throw ValidationError("--layer: \(error.localizedDescription)") }
    _ = try outputFormat()
    guard (1 ... 64).contains(columns) else { throw ValidationError("--columns must be in 1...64, got \(columns).") }
    guard (16 ... 512).contains(tileSize) else { throw ValidationError("--tile-size must be in 16...512, got \(tileSize).") }
  }

  func run() throws {
    let reference = try AttentionImage(parsing: image)
    let layerChoice = try AttentionLayer(parsing: layer)
    let format = try outputFormat()
    let rebuilt = try RunRebuild.rebuild(directory: rebuild.directory, phase: rebuild.phase, script: rebuild.script,
                                         settings: rebuild.settings, output: rebuild.output)
    let weights = rebuilt.phase.map { " with its \($0.replacingOccurrences(of: "stage", with: "stage-")) weights" } ?? ""
    let drawings = try AttentionMaps.compute(model: rebuilt.model, data: rebuilt.data, image: reference, layer: layerChoice,
                                             runLabel: "run \(rebuilt.name) (seed \(rebuilt.seed))\(weights)")
    for drawing in drawings {
      let url = destination(rebuilt, reference, layer: drawings.count > 1 ? drawing.layer : nil, format: format)
      try RenderOutput.createFolder(url.deletingLastPathComponent())
      try drawing.maps.write(to: url, format: format, tileSize: tileSize, columns: columns)
      print("wrote \(url.path)")
    }
  }

  private func outputFormat() throws -> RenderFormat {
    let format: RenderFormat
    if let name = self.format ?? out.map({ URL(fileURLWithPath: $0).pathExtension }).flatMap({ $0.isEmpty ? nil : $0 }) {
      guard let parsed = try? RenderFormat(parsing: name), parsed != .dot else {
        throw ValidationError("cross-attention maps are drawn as svg, png or pdf, not \"\(name)\" (use --format).")
      }
      format = parsed
    } else {
      format = .svg
    }
    return format
  }

  /// `--out`, or a name made of the run and the image; `-layer<k>` before the extension when several are written.
  private func destination(_ run: RebuiltRun, _ image: AttentionImage, layer: Int?, format: RenderFormat) -> URL {
    let runName = run.name.replacingOccurrences(of: "/", with: "-")
    let base = URL(fileURLWithPath: out ?? "attention-\(runName)-seed\(run.seed)-\(image.slug).\(format.fileExtension)")
    guard let layer else { return base }
    let ext = base.pathExtension.isEmpty ? format.fileExtension : base.pathExtension
    return base.deletingPathExtension().deletingLastPathComponent()
      .appendingPathComponent("\(base.deletingPathExtension().lastPathComponent)-layer\(layer).\(ext)")
  }
}
