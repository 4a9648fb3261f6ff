// `blip2lab attention`: where each query of a trained Q-Former looks in an image. The run's model is rebuilt
// from its folder (`RunRebuild`: the script re-executed up to the run, then the newest finished checkpoint
// loaded), the image encoded by the frozen encoder, and each query's cross-attention over the image patches,
// averaged over heads, drawn over the image as a grid of tiles (`CrossAttentionMaps`).

import ArgumentParser
import Blip2Core
import Foundation
import LabKit
import QFormer
import Rendering
import Tensor

/// `blip2lab attention --run DIR [--image shapes:test:3] [--layer last|all|N] [--phase stage1|stage2] ...`.
struct AttentionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attention",
    abstract: "Draw where each query of a trained run's Q-Former looks in an image (cross-attention maps).",
    discussion: """
      The run folder is one `blip2lab run` wrote (runs/<script>/<run>/seed-<n>/). Its script is re-executed up \
      to the run (the pre-trained frozen parts come from the cache, nothing is trained) and the weights of its \
      newest finished phase are loaded. Runs made before runs recorded their script (run.json) need --script \
      and the --set values they were run with.
      Images are taken from the run's dataset as <dataset>:<split>:<index> (splits: train, val, test, heldOut). \
      Image files are not read: Blip2Lab has no PNG decoder yet.
      Each tile is one query: the image blended with the query's attention over the patches (averaged over the \
      heads, the class token left out), scaled to the query's own maximum, which its caption gives.
      Example: blip2lab attention --run runs/quickstart/paper/seed-1 --image shapes:test:3 --format png --out q.png
      """)

  @OptionGroup var rebuild: RunFolderOptions

  @Option(help: "The image: <dataset>:<split>:<index> from the run's dataset, e.g. shapes:test:3.")
  var image: String = "shapes:test:0"

  @Option(help: "The cross-attention layer: last, all (one file each), or the layer's index.")
  var layer: String = "last"

  @Option(help: "svg, png or pdf (default: the --out file's extension, else svg).")
  var format: String?

  @Option(help: "The file to write (default: attention-<run>-seed<n>-<split><index>.<ext>; with --layer all, -layer<k> is added before the extension).")
  var out: String?

  @Option(help: "Tiles per row.")
  var columns: Int = 8

  @Option(help: "The side of a tile, in pixels.")
  var tileSize: Int = 96

  func validate() throws {
    _ = try ImageReference(parsing: image)
    _ = try LayerChoice(parsing: layer)
    _ = try outputFormat()
    guard (1 ... 64).contains(columns) else { throw ValidationError("--columns must be in 1...64, got \(columns).") }
    guard (16 ... 512).contains(tileSize) else { throw ValidationError("--tile-size must be in 16...512, got \(tileSize).") }
  }

  func run() throws {
    let reference = try ImageReference(parsing: image)
    let layerChoice = try LayerChoice(parsing: layer)
    let format = try outputFormat()
    let rebuilt = try RunRebuild.rebuild(directory: rebuild.directory, phase: rebuild.phase, script: rebuild.script,
                                         settings: rebuild.settings, output: rebuild.output)
    let drawings = try AttentionMaps.compute(rebuilt, image: reference, layer: layerChoice)
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
  private func destination(_ run: RebuiltRun, _ image: ImageReference, layer: Int?, format: RenderFormat) -> URL {
    let runName = run.name.replacingOccurrences(of: "/", with: "-")
    let base = URL(fileURLWithPath: out ?? "attention-\(runName)-seed\(run.seed)-\(image.split.rawValue)\(image.index).\(format.fileExtension)")
    guard let layer else { return base }
    let ext = base.pathExtension.isEmpty ? format.fileExtension : base.pathExtension
    return base.deletingPathExtension().deletingLastPathComponent()
      .appendingPathComponent("\(base.deletingPathExtension().lastPathComponent)-layer\(layer).\(ext)")
  }
}

/// `<dataset>:<split>:<index>` (or `<split>:<index>`): an image of the run's dataset.
struct ImageReference: Equatable {
  /// The dataset family (`shapes`), if given.
  var dataset: String?
  /// The split.
  var split: Split
  /// The index in the split.
  var index: Int

  init(parsing text: String) throws {
    let lowered = text.lowercased()
    if lowered.hasSuffix(".png") || lowered.hasSuffix(".jpg") || lowered.hasSuffix(".jpeg") || text.contains("/") {
      throw ValidationError("--image \(text): image files cannot be read yet (Blip2Lab has no PNG or JPEG decoder); "
        + "give an image of the run's dataset as <dataset>:<split>:<index>, e.g. shapes:test:3.")
    }
    let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 2 || parts.count == 3, let index = Int(parts[parts.count - 1]) else {
      throw ValidationError("--image must be <dataset>:<split>:<index>, e.g. shapes:test:3; got \"\(text)\".")
    }
    let splitName = parts[parts.count - 2]
    guard let split = Split(rawValue: splitName) else {
      throw ValidationError("--image \(text): \"\(splitName)\" is not a split; use "
        + Split.allCases.map(\.rawValue).joined(separator: ", ") + ".")
    }
    guard index >= 0 else { throw ValidationError("--image \(text): the index must be 0 or more.") }
    dataset = parts.count == 3 ? parts[0] : nil
    self.split = split
    self.index = index
  }
}

/// Which cross-attention layer(s) to draw.
enum LayerChoice: Equatable {
  case last, all
  case index(Int)

  init(parsing text: String) throws {
    switch text {
    case "last": self = .last
    case "all": self = .all
    default:
      guard let index = Int(text), index >= 0 else {
        throw ValidationError("--layer must be last, all or a layer's index (0, 1, ...), got \"\(text)\".")
      }
      self = .index(index)
    }
  }
}

/// What can go wrong between a rebuilt run and its drawing.
enum AttentionError: Error, LocalizedError {
  case notAQFormer(kind: String)
  case wrongDataset(given: String, dataset: String)
  case emptySplit(split: String, dataset: String)
  case indexOutOfRange(index: Int, split: String, count: Int)
  case noCrossAttention(layer: Int, layers: [Int])
  case notAPatchGrid(tokens: Int)

  var errorDescription: String? {
    switch self {
    case let .notAQFormer(kind):
      "the run's bridge is \(kind): cross-attention maps need a Q-Former (bridge = lab.bridge.qformer{...})."
    case let .wrongDataset(given, dataset):
      "--image names the dataset \"\(given)\", but the run was trained on \(dataset): use "
        + "\(AttentionMaps.family(of: dataset)):<split>:<index>."
    case let .emptySplit(split, dataset):
      "the run's dataset \(dataset) has no \(split) images; choose another split."
    case let .indexOutOfRange(index, split, count):
      "--image: there is no \(split) image \(index); the run's \(split) split has \(count) (0...\(count - 1))."
    case let .noCrossAttention(layer, layers):
      "--layer \(layer) has no cross-attention; the Q-Former's cross-attention layers are "
        + layers.map(String.init).joined(separator: ", ") + "."
    case let .notAPatchGrid(tokens):
      "the encoder's \(tokens) image tokens are not a square patch grid (with or without a leading class "
        + "token), so they cannot be placed on the image."
    }
  }
}

/// Cross-attention maps of a rebuilt run over one image of its dataset.
enum AttentionMaps {
  /// The family of a dataset name: `shapes` for `shapes(seed 1, 64px, ...)`.
  static func family(of name: String) -> String {
    String(name.prefix { $0 != "(" && $0 != " " })
  }

  /// One drawing per chosen layer.
  static func compute(_ run: RebuiltRun, image reference: ImageReference, layer choice: LayerChoice) throws
    -> [(layer: Int, maps: CrossAttentionMaps)]
  {
    guard let qformer = run.model.bridge as? QFormer else { throw AttentionError.notAQFormer(kind: run.model.bridge.kind) }
    let family = family(of: run.data.name)
    if let given = reference.dataset, given != family {
      throw AttentionError.wrongDataset(given: given, dataset: run.data.name)
    }
    let count = run.data.count(reference.split)
    guard count > 0 else { throw AttentionError.emptySplit(split: reference.split.rawValue, dataset: run.data.name) }
    guard reference.index < count else {
      throw AttentionError.indexOutOfRange(index: reference.index, split: reference.split.rawValue, count: count)
    }
    let example = try run.data.example(reference.split, reference.index)
    let features = try run.model.imageFeatures([example])  // [1, N, D]
    let maps = try qformer.crossAttentionMaps(features)
    let chosen: [QFormer.CrossAttentionMap]
    switch choice {
    case .last: chosen = maps.last.map { [$0] } ?? []
    case .all: chosen = maps
    case let .index(index):
      guard let map = maps.first(where: { $0.layer == index }) else {
        throw AttentionError.noCrossAttention(layer: index, layers: maps.map(\.layer))
      }
      chosen = [map]
    }
    return try chosen.map { map in
      let (heads, queries, tokens) = (map.shape[1], map.shape[2], map.shape[3])
      guard let side = patchGridSide(tokens) else { throw AttentionError.notAPatchGrid(tokens: tokens) }
      var drawing = try CrossAttentionMaps(probabilities: map.probabilities, heads: heads, queries: queries,
                                           patches: tokens, patchRows: side, patchColumns: side, image: example.image)
      let weights = run.phase.map { " with its \($0.replacingOccurrences(of: "stage", with: "stage-")) weights" } ?? ""
      drawing.title = "Where each query looks: run \(run.name) (seed \(run.seed))\(weights)"
      drawing.subtitle = "\(reference.split.rawValue) image \(reference.index) (\(example.captions.first ?? "")); "
        + "Q-Former layer \(map.layer) (layers with cross-attention: "
        + "\(qformer.configuration.crossAttentionLayers.map(String.init).joined(separator: ", "))), \(heads) heads averaged"
      return (map.layer, drawing)
    }
  }

  /// The side of the square patch grid `tokens` image tokens come from (a leading class token allowed).
  static func patchGridSide(_ tokens: Int) -> Int? {
    for candidate in [tokens, tokens - 1] where candidate > 0 {
      let side = Int(Double(candidate).squareRoot().rounded())
      if side * side == candidate { return side }
    }
    return nil
  }
}
