// The sizes and options of a Q-Former, the settings of its stage-1 objectives, and what can go wrong with
// them. Defaults are LAVIS's `pretrain` Q-Former on EVA-CLIP ViT-g/14 (PAPER.md, "How the reference
// implementation (LAVIS) actually does it").

import Foundation
import Tensor

/// The sizes and options of a `QFormer`.
///
/// Not supported: attention-probability dropout (LAVIS drops 10% of the attention probabilities while
/// training; here only the hidden-state dropouts exist). With `dropout = 0`, or in eval mode, the two agree.
public struct QFormerConfiguration: Codable, Sendable, Equatable {
  /// Width of the hidden states (BERT-base: 768).
  public var hidden = 768
  /// Transformer layers (BERT-base: 12).
  public var layers = 12
  /// Attention heads (must divide `hidden`).
  public var heads = 12
  /// Feed-forward width (BERT-base: 3072).
  public var intermediate = 3072
  /// Learned query tokens (the paper: 32).
  public var queries = 32
  /// Cross-attention to the image in layers 0, crossEvery, 2·crossEvery, ... (LAVIS `cross_attention_freq`).
  public var crossEvery = 2
  /// Width of the frozen image encoder's features (1408 for EVA ViT-g/14, 1024 for ViT-L/14).
  public var imageWidth = 1408
  /// Token ids: BERT's 30522 plus the `[DEC]` token LAVIS adds.
  public var vocabularySize = 30523
  /// Learned text positions (BERT: 512).
  public var maxPositions = 512
  /// Epsilon of the Q-Former's layer norms (BERT: 1e-12).
  public var layerNormEps: Float = 1e-12
  /// Hidden-state dropout (BERT: 0.1) after the embeddings and on every residual branch.
  public var dropout: Float = 0.1
  /// Width of the contrastive space (`vision_proj`, `text_proj`).
  public var embedDim = 256
  /// Standard deviation of the random initialization (BERT: 0.02).
  public var initStd: Float = 0.02
  /// The id that replaces the first text token (`[CLS]`) in ITG's decoder input (LAVIS: `[DEC]` = 30522).
  public var decoderTokenId = 30522
  /// Whether the bridge normalizes the image features with its own `ln_vision` (LAVIS: yes, trained in stage 1).
  /// Turn it off when the encoder already applies that norm (a Hugging Face BLIP-2 vision model applies
  /// `post_layernorm`, which is LAVIS's `ln_vision` under another name).
  public var visionLayerNorm = true
  /// Epsilon of `ln_vision` (LAVIS: PyTorch's default 1e-5; Hugging Face's `post_layernorm`: 1e-6).
  public var visionLayerNormEps: Float = 1e-5

  /// A configuration with the given sizes and LAVIS's other defaults (no arguments: LAVIS's stage-1 Q-Former
  /// for ViT-g/14). `decoderTokenId` defaults to the last id of the vocabulary, where LAVIS adds `[DEC]`.
  public init(hidden: Int = 768, layers: Int = 12, heads: Int = 12, intermediate: Int = 3072, queries: Int = 32,
              crossEvery: Int = 2, imageWidth: Int = 1408, vocabularySize: Int = 30523, maxPositions: Int = 512,
              dropout: Float = 0.1, embedDim: Int = 256, decoderTokenId: Int? = nil) {
    self.hidden = hidden
    self.layers = layers
    self.heads = heads
    self.intermediate = intermediate
    self.queries = queries
    self.crossEvery = crossEvery
    self.imageWidth = imageWidth
    self.vocabularySize = vocabularySize
    self.maxPositions = maxPositions
    self.dropout = dropout
    self.embedDim = embedDim
    // [DEC] is the last id of LAVIS's vocabulary (BERT's 30522 + 1).
    self.decoderTokenId = decoderTokenId ?? vocabularySize - 1
  }

  /// The paper's Q-Former for EVA-CLIP ViT-g/14 features (188M parameters with the text side).
  public static let paper = QFormerConfiguration()

  /// A small Q-Former for CPU experiments on the built-in dataset: hidden 256, 4 layers, 4 heads.
  public static let sandbox = QFormerConfiguration(hidden: 256, layers: 4, heads: 4, intermediate: 1024,
                                                   imageWidth: 384)

  /// The layers that have cross-attention to the image: 0, crossEvery, 2·crossEvery, ...
  public var crossAttentionLayers: [Int] { Array(stride(from: 0, to: layers, by: Swift.max(crossEvery, 1))) }

  /// Whether layer `index` has cross-attention.
  public func hasCrossAttention(_ index: Int) -> Bool { crossEvery > 0 && index % crossEvery == 0 }

  /// Checks that the sizes fit together.
  /// - Throws: `QFormerError.invalidConfiguration` naming the field.
  public func validate() throws(QFormerError) {
    func check(_ ok: Bool, _ field: String, _ reason: String) throws(QFormerError) {
      if !ok { throw .invalidConfiguration(field: field, reason: reason) }
    }
    try check(hidden > 0, "hidden", "must be positive, got \(hidden)")
    try check(layers > 0, "layers", "must be positive, got \(layers)")
    try check(heads > 0 && hidden % heads == 0, "heads", "must divide hidden (\(hidden)), got \(heads)")
    try check(intermediate > 0, "intermediate", "must be positive, got \(intermediate)")
    try check(queries > 0, "queries", "must be positive, got \(queries)")
    try check(crossEvery > 0, "crossEvery", "must be positive, got \(crossEvery)")
    try check(imageWidth > 0, "imageWidth", "must be positive, got \(imageWidth)")
    try check(vocabularySize > 0, "vocabularySize", "must be positive, got \(vocabularySize)")
    try check(maxPositions > 0, "maxPositions", "must be positive, got \(maxPositions)")
    try check(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1), got \(dropout)")
    try check(embedDim > 0, "embedDim", "must be positive, got \(embedDim)")
    try check(initStd >= 0, "initStd", "must not be negative, got \(initStd)")
    try check((0..<vocabularySize).contains(decoderTokenId), "decoderTokenId",
              "must be a token id below vocabularySize (\(vocabularySize)), got \(decoderTokenId)")
  }
}

/// Settings of the stage-1 objectives that are not model sizes. Defaults are LAVIS's.
public struct ObjectiveSettings: Codable, Sendable, Equatable {
  /// Label smoothing of both ITC cross-entropies (LAVIS: 0.1).
  public var itcLabelSmoothing: Float = 0.1
  /// Label smoothing of the ITG cross-entropy (LAVIS: 0.1).
  public var itgLabelSmoothing: Float = 0.1
  /// The learned temperature is clamped into this range, in place, before each use (LAVIS:
  /// `temp.clamp_(0.001, 0.5)` at the start of every forward), so a step can never make it 0 or negative.
  public var temperatureRange: ClosedRange<Float> = 0.001...0.5

  /// LAVIS's settings.
  public init(itcLabelSmoothing: Float = 0.1, itgLabelSmoothing: Float = 0.1,
              temperatureRange: ClosedRange<Float> = 0.001...0.5) {
    self.itcLabelSmoothing = itcLabelSmoothing
    self.itgLabelSmoothing = itgLabelSmoothing
    self.temperatureRange = temperatureRange
  }

  /// LAVIS's settings.
  public static let lavis = ObjectiveSettings()
}

/// What can be wrong with a Q-Former's configuration, inputs or checkpoints.
public enum QFormerError: Error, LocalizedError, Equatable, Sendable {
  /// The sizes do not fit together (`field` is the configuration field).
  case invalidConfiguration(field: String, reason: String)
  /// An input of the wrong shape or content (`what` says which and what was expected).
  case invalidInput(String)
  /// A token id outside the vocabulary.
  case tokenOutOfRange(id: Int, position: Int, vocabularySize: Int)
  /// A text longer than the learned positions cover.
  case textTooLong(length: Int, maxPositions: Int)
  /// A checkpoint whose structure does not match the configuration (layer count, cross-attention layers).
  case checkpointMismatch(source: String, reason: String)
  /// A loss mix or mask schedule names an objective this bridge does not have.
  case unknownObjective(String, known: [String])
  /// A checkpoint's config.json is missing, unreadable or not a JSON object.
  case unreadableConfig(file: String, reason: String)
  /// A config.json field has the wrong type or an unsupported value.
  case invalidConfigValue(file: String, key: String, reason: String)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .invalidConfiguration(field, reason):
      return "Q-Former: \"\(field)\" \(reason)"
    case let .invalidInput(what):
      return "Q-Former: \(what)"
    case let .tokenOutOfRange(id, position, vocabularySize):
      return "Q-Former: token id \(id) at position \(position) is outside the vocabulary of \(vocabularySize); "
        + "the tokenizer and the Q-Former's vocabularySize disagree"
    case let .textTooLong(length, maxPositions):
      return "Q-Former: a text of \(length) tokens is longer than the \(maxPositions) learned positions; "
        + "truncate the captions (LAVIS uses 32 tokens)"
    case let .checkpointMismatch(source, reason):
      return "\(source): \(reason); build the Q-Former with the checkpoint's sizes"
    case let .unknownObjective(name, known):
      return "Q-Former: no objective named \"\(name)\"; it has \(known.joined(separator: ", "))"
    case let .unreadableConfig(file, reason):
      return "\(file): cannot read the model configuration (\(reason)); a Hugging Face BLIP-2 folder needs config.json"
    case let .invalidConfigValue(file, key, reason):
      return "\(file): \"\(key)\" \(reason)"
    }
  }
}
