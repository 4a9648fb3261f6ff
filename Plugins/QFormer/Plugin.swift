// QFormer: the BLIP-2 bridge (Querying Transformer) as a Blip2Lab plugin. Registers `bridge.qformer` and
// makes the Q-Former a `RepresentationLearner`, so the stage-1 trainer can run its ITC / ITM / ITG losses.

import Blip2Core
import Foundation
import HFTokenizers
import Tensor

/// Registration of the Q-Former bridge.
public enum QFormerPlugin {
  /// The presets the `size` key chooses from.
  public static let presets: [String: QFormerConfiguration] = ["paper": .paper, "sandbox": .sandbox]

  /// Registers `bridge.qformer`.
  ///
  /// Config keys (all optional): `size` ("paper" (default) or "sandbox": the preset the others override),
  /// `hidden`, `layers`, `heads`, `intermediate`, `queries`, `crossEvery`, `imageWidth` (default: the image
  /// encoder's feature width from the build context, else the preset's), `vocabularySize` (default: the build
  /// context's tokenizer's, unless weights are loaded), `maxPositions`, `dropout`, `embedDim`, `initStd` (the
  /// random initialization's standard deviation; BERT's 0.02), `decoderTokenId` (default: the last id; with
  /// the build context's word tokenizer, its `[DEC]`), `visionLayerNorm`, `seed` (default: the
  /// build context's). Weights (each a safetensors file or a Hugging Face folder): `bert` (initialize from
  /// BERT, as the paper; a folder's `tokenizer.json` becomes the text side's tokenizer, with `[DEC]` after its
  /// vocabulary), `huggingFace` (a transformers BLIP-2 checkpoint; a folder's config.json gives the sizes, which
  /// the keys above may still override), `lavis` (LAVIS parameter names, e.g. a converted
  /// `blip2_pretrained.pth`, or a Blip2Lab checkpoint).
  public static func register(into registry: inout Registry) throws {
    try registry.register(.bridge, "qformer",
                          summary: "BLIP-2 Q-Former: learned queries, cross-attention to the image, ITC/ITM/ITG") {
      config, context in
      let seed = UInt64(truncatingIfNeeded: try config.int("seed", default: Int(truncatingIfNeeded: context.seed)))
      let qformer = try QFormer(try configuration(config, context: context), seed: seed)
      if !loadsWeights(config), let words = context.tokenizer as? WordTokenizer {
        try qformer.setTokenizer(words)
      }
      if config.contains("bert") {
        let path = try config.string("bert")
        try qformer.initializeFromBERT(try loadTensors(path), source: path)
        if let tokenizer = try HFTokenizer.inCheckpoint(URL(fileURLWithPath: path)), isDirectory(path) {
          try qformer.useBERTTokenizer(tokenizer)
        }
      }
      if config.contains("huggingFace") {
        try qformer.loadHuggingFaceBlip2(try loadTensors(try config.string("huggingFace")))
      }
      if config.contains("lavis") {
        let path = try config.string("lavis")
        try qformer.load(try loadTensors(path), strict: false, source: path)
      }
      return qformer
    }
  }

  /// Reads a configuration from the config keys listed in `register(into:)`.
  public static func configuration(_ config: ConfigReader, context: BuildContext = BuildContext()) throws
    -> QFormerConfiguration
  {
    let size = try config.string("size", default: "paper", allowed: presets.keys.sorted())
    var c = presets[size] ?? .paper
    if config.contains("huggingFace"), case let path = try config.string("huggingFace"), isDirectory(path),
       FileManager.default.fileExists(atPath: URL(fileURLWithPath: path).appendingPathComponent("config.json").path) {
      c = try QFormer.huggingFaceBlip2Configuration(directory: URL(fileURLWithPath: path))
    }
    c.hidden = try config.int("hidden", default: c.hidden, range: 1...16384)
    c.layers = try config.int("layers", default: c.layers, range: 1...128)
    c.heads = try config.int("heads", default: c.heads, range: 1...c.hidden)
    c.intermediate = try config.int("intermediate", default: c.intermediate, range: 1...65536)
    c.queries = try config.int("queries", default: c.queries, range: 1...4096)
    c.crossEvery = try config.int("crossEvery", default: c.crossEvery, range: 1...c.layers)
    c.imageWidth = try config.int("imageWidth", default: context.imageFeatureDim ?? c.imageWidth, range: 1...65536)
    // The build context's tokenizer (the built-in vocabulary) sets the default size, unless weights are loaded
    // (their vocabulary is BERT's).
    let vocabulary = loadsWeights(config) ? c.vocabularySize : (context.tokenizer?.vocabularySize ?? c.vocabularySize)
    c.vocabularySize = try config.int("vocabularySize", default: vocabulary, range: 1...1_000_000)
    c.maxPositions = try config.int("maxPositions", default: c.maxPositions, range: 1...65536)
    c.dropout = Float(try config.double("dropout", default: Double(c.dropout), range: 0...0.99))
    c.embedDim = try config.int("embedDim", default: c.embedDim, range: 1...16384)
    c.initStd = Float(try config.double("initStd", default: Double(c.initStd), range: 1e-6...10))
    c.decoderTokenId = try config.int("decoderTokenId", default: c.vocabularySize - 1, range: 0...(c.vocabularySize - 1))
    c.visionLayerNorm = try config.bool("visionLayerNorm", default: c.visionLayerNorm)
    try c.validate()
    return c
  }

  /// Whether the config loads weights (whose vocabulary, BERT's, then fixes the text side).
  static func loadsWeights(_ config: ConfigReader) -> Bool {
    ["bert", "huggingFace", "lavis"].contains(where: config.contains)
  }

  /// The tensors of a safetensors file, or of a Hugging Face folder (`model.safetensors` or shards).
  static func loadTensors(_ path: String) throws -> [String: Tensor] {
    let url = URL(fileURLWithPath: path)
    return isDirectory(path) ? try SafeTensors.loadDirectory(url) : try SafeTensors.load(url)
  }

  /// Whether `path` is an existing folder.
  static func isDirectory(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
  }
}

// MARK: - Stage 1

extension QFormer: RepresentationLearner {
  /// ITC, ITM and ITG.
  public var objectives: [String] { Objective.allCases.map(\.rawValue) }

  /// ITC similarities [images, texts] for retrieval: the max over queries of the cosine between the projected
  /// query outputs and the projected `[CLS]` outputs (image and text passes separately; no temperature).
  public func contrastiveSimilarity(imageFeatures: Tensor, text: TokenBatch) throws -> Tensor {
    QFormer.maxOverQueries(images: try imageEmbeddings(try imageContext(imageFeatures)), texts: try textEmbeddings(text))
  }

  /// ITM scores of aligned pairs (image i with text i), as LAVIS's `compute_itm`: the "match" logit of
  /// `itm_head` averaged over the query outputs of a joint pass (bidirectional mask + padding).
  public func matchScores(imageFeatures: Tensor, text: TokenBatch) throws -> [Float] {
    let logits = try matchLogits(imageFeatures: imageFeatures, text: text)  // [B, 2]
    return (0..<text.batch).map { logits.data[2 * $0 + 1] }
  }

  /// The stage-1 losses of `batch` with the mix's weights and the schedule's masks at `step` (see
  /// `stageOneLosses(imageFeatures:text:weights:masks:settings:negatives:rng:)`).
  /// - Throws: `QFormerError.unknownObjective` when the mix gives weight to an objective the Q-Former does
  ///   not have; mask and input errors as `stageOneLosses`.
  public func stage1Losses(_ batch: Stage1Batch, mix: LossMix, masks: MaskSchedule, step: Int,
                           rng: inout RandomGenerator) throws -> ObjectiveLosses {
    for name in mix.weights.keys.sorted() where !objectives.contains(name) {
      if try mix.weight(name, step: step) != 0 { throw QFormerError.unknownObjective(name, known: objectives) }
    }
    let weights = LossWeights(itc: Float(try mix.weight("itc", step: step)), itm: Float(try mix.weight("itm", step: step)),
                              itg: Float(try mix.weight("itg", step: step)))
    let losses = try stageOneLosses(imageFeatures: batch.imageFeatures, text: batch.text, weights: weights,
                                    masks: try ObjectiveMasks(masks, step: step, weights: weights), rng: &rng)
    return ObjectiveLosses(total: losses.total, values: losses.values)
  }
}
