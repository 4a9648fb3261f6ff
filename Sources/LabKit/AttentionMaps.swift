// Where each query of a Q-Former looks in an image: the image encoded by the model's frozen encoder, each
// query's cross-attention over the image patches averaged over heads, drawn over the image as a grid of tiles
// (`CrossAttentionMaps`). Used by `blip2lab attention` (a run folder's model) and by `lab.render(run, ...)` (a
// script's run, with its current weights). The image is one of the run's dataset or a PNG/JPEG file, resized
// (bicubic) and centre-cropped to the encoder's input size.

import Blip2Core
import Foundation
import ImageIO
import QFormer
import Rendering
import Scripting

/// Which cross-attention layer(s) to draw.
public enum AttentionLayer: Equatable, Sendable {
  /// The last layer with cross-attention.
  case last
  /// Every layer with cross-attention (one drawing each).
  case all
  /// The layer with this index (0-based).
  case index(Int)

  /// `last`, `all` or a layer's index.
  /// - Throws: `AttentionError.badLayer`.
  public init(parsing text: String) throws {
    switch text {
    case "last": self = .last
    case "all": self = .all
    default:
      guard let index = Int(text), index >= 0 else { throw AttentionError.badLayer(text) }
      self = .index(index)
    }
  }
}

/// The image whose maps are drawn: one of the run's dataset, or a file.
public enum AttentionImage: Equatable, Sendable {
  /// `<dataset>:<split>:<index>` (the dataset's family optional).
  case dataset(family: String?, split: Split, index: Int)
  /// A PNG or JPEG file.
  case file(URL)

  /// A path ending in .png/.jpg/.jpeg or holding a `/` is a file; anything else `[<dataset>:]<split>:<index>`.
  /// - Throws: `AttentionError.badImage`.
  public init(parsing text: String) throws {
    let lowered = text.lowercased()
    if [".png", ".jpg", ".jpeg"].contains(where: lowered.hasSuffix) || text.contains("/") {
      self = .file(URL(fileURLWithPath: text))
      return
    }
    let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 2 || parts.count == 3, let index = Int(parts[parts.count - 1]), index >= 0 else {
      throw AttentionError.badImage(text, reason: "give <dataset>:<split>:<index> (e.g. shapes:test:3) or a .png/.jpg file")
    }
    let splitName = parts[parts.count - 2]
    guard let split = Split(rawValue: splitName) else {
      throw AttentionError.badImage(text, reason: "\"\(splitName)\" is not a split; use "
        + Split.allCases.map(\.rawValue).joined(separator: ", "))
    }
    self = .dataset(family: parts.count == 3 ? parts[0] : nil, split: split, index: index)
  }

  /// `test image 3`, or the file's name.
  public var label: String {
    switch self {
    case let .dataset(_, split, index): "\(split.rawValue) image \(index)"
    case let .file(url): url.lastPathComponent
    }
  }

  /// For file names: `test3`, or the file's name without extension.
  public var slug: String {
    switch self {
    case let .dataset(_, split, index): "\(split.rawValue)\(index)"
    case let .file(url): url.deletingPathExtension().lastPathComponent
    }
  }
}

/// What can go wrong between a model and its drawing.
public enum AttentionError: Error, LocalizedError, Equatable {
  case badLayer(String)
  case badImage(String, reason: String)
  case notAQFormer(kind: String)
  case wrongDataset(given: String, dataset: String)
  case emptySplit(split: String, dataset: String)
  case indexOutOfRange(index: Int, split: String, count: Int)
  case noCrossAttention(layer: Int, layers: [Int])
  case notAPatchGrid(tokens: Int)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .badLayer(text):
      "the layer must be last, all or a layer's index (0, 1, ...), got \"\(text)\"."
    case let .badImage(text, reason):
      "image \(text): \(reason)."
    case let .notAQFormer(kind):
      "the run's bridge is \(kind): cross-attention maps need a Q-Former (bridge = lab.bridge.qformer{...})."
    case let .wrongDataset(given, dataset):
      "the image names the dataset \"\(given)\", but the run was trained on \(dataset): use "
        + "\(AttentionMaps.family(of: dataset)):<split>:<index>."
    case let .emptySplit(split, dataset):
      "the run's dataset \(dataset) has no \(split) images; choose another split."
    case let .indexOutOfRange(index, split, count):
      "there is no \(split) image \(index); the run's \(split) split has \(count) (0...\(count - 1))."
    case let .noCrossAttention(layer, layers):
      "layer \(layer) has no cross-attention; the Q-Former's cross-attention layers are "
        + layers.map(String.init).joined(separator: ", ") + "."
    case let .notAPatchGrid(tokens):
      "the encoder's \(tokens) image tokens are not a square patch grid (with or without a leading class "
        + "token), so they cannot be placed on the image."
    }
  }
}

/// Cross-attention maps of a model over one image.
public enum AttentionMaps {
  /// The family of a dataset name: `shapes` for `shapes(seed 1, 64px, ...)`.
  public static func family(of name: String) -> String {
    String(name.prefix { $0 != "(" && $0 != " " })
  }

  /// The example `image` names: from `data`, or the file decoded and resized (bicubic, shorter side then centre
  /// crop) to the encoder's input size.
  /// - Throws: `AttentionError`, `ImageFileError`, or the dataset's error.
  public static func example(_ image: AttentionImage, data: any Dataset, imageSize: Int) throws -> Example {
    switch image {
    case let .file(url):
      let decoded = ImagePreprocessor(size: imageSize)(try ImageFile.read(url))
      return Example(id: "file:\(url.standardizedFileURL.path):\(imageSize)", image: decoded, captions: [])
    case let .dataset(given, split, index):
      if let given, given != family(of: data.name) { throw AttentionError.wrongDataset(given: given, dataset: data.name) }
      let count = data.count(split)
      guard count > 0 else { throw AttentionError.emptySplit(split: split.rawValue, dataset: data.name) }
      guard index < count else { throw AttentionError.indexOutOfRange(index: index, split: split.rawValue, count: count) }
      return try data.example(split, index)
    }
  }

  /// One drawing per chosen layer of `model`'s Q-Former over `image`, titled with `runLabel`.
  public static func compute(model: Blip2Model, data: any Dataset, image: AttentionImage, layer choice: AttentionLayer,
                             runLabel: String) throws -> [(layer: Int, maps: CrossAttentionMaps)] {
    guard let qformer = model.bridge as? QFormer else { throw AttentionError.notAQFormer(kind: model.bridge.kind) }
    let example = try example(image, data: data, imageSize: model.encoder.imageSize)
    let features = try model.imageFeatures([example])  // [1, N, D]
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
      drawing.title = "Where each query looks: \(runLabel)"
      let caption = example.captions.first.map { " (\($0))" } ?? ""
      drawing.subtitle = "\(image.label)\(caption); Q-Former layer \(map.layer) (layers with cross-attention: "
        + "\(qformer.configuration.crossAttentionLayers.map(String.init).joined(separator: ", "))), \(heads) heads averaged"
      return (map.layer, drawing)
    }
  }

  /// The side of the square patch grid `tokens` image tokens come from (a leading class token allowed).
  public static func patchGridSide(_ tokens: Int) -> Int? {
    for candidate in [tokens, tokens - 1] where candidate > 0 {
      let side = Int(Double(candidate).squareRoot().rounded())
      if side * side == candidate { return side }
    }
    return nil
  }

  /// `lab.render(run, file, { image = "test:0", layer = "last", columns = 8, tileSize = 96 })`: the run's
  /// Q-Former, with its current weights, over an image of its dataset or a file (svg, png or pdf).
  public static var renderer: LabRenderer {
    LabRenderer(subject: "a run", keys: ["image", "layer", "columns", "tileSize"], formats: ["svg", "png", "pdf"],
                draw: drawRun)
  }

  private static func drawRun(_ value: Any, _ options: OptionTable, _ format: String) throws -> LabDrawing {
    guard let run = value as? Run else { throw LabError("lab.render: not a run") }
    let image = try AttentionImage(parsing: try options.string("image", default: "test:0"))
    let layer: AttentionLayer
    switch options.value("layer") {
    case .nil: layer = .last
    case let .int(index): layer = try AttentionLayer(parsing: String(index))
    case let .string(text): layer = try AttentionLayer(parsing: text)
    case let other: throw options.mismatch("layer", "'last' or a layer's index", other)
    }
    let columns = try options.int("columns", default: 8, range: 1 ... 64)
    let tileSize = try options.int("tileSize", default: 96, range: 16 ... 512)
    guard layer != .all else { throw LabError("lab.render(a run): layer 'all' writes several files; render each layer") }
    let drawings = try compute(model: run.model, data: run.data, image: image, layer: layer,
                               runLabel: "run \(run.name) (seed \(run.seed))")
    guard let maps = drawings.first?.maps else { throw LabError("lab.render(a run): the Q-Former has no cross-attention layer") }
    return .file { url, format in try maps.write(to: url, format: format, tileSize: tileSize, columns: columns) }
  }
}
