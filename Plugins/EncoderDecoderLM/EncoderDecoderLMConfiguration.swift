// The sizes and options of a T5-style encoder-decoder LM, and what can go wrong with them.

import Foundation

/// T5's feed-forward: T5.1.0's `relu` (`wi`, `wo`) or T5.1.1 / FlanT5's `gated-gelu` (`wi_0`, `wi_1`, `wo`,
/// GELU with the tanh approximation on the gate).
public enum T5FeedForward: String, Sendable, CaseIterable {
  /// wo(relu(wi x)).
  case relu
  /// wo(gelu_new(wi_0 x) ⊙ wi_1 x).
  case gatedGelu = "gated-gelu"
}

/// The sizes and options of an `EncoderDecoderLM`. Defaults are a small FlanT5-style model.
public struct EncoderDecoderLMConfiguration: Sendable, Equatable {
  /// Token ids (`vocab_size`). 259 fits the byte tokenizer the registry factory uses by default.
  public var vocabularySize = 259
  /// Width of the residual stream (`d_model`).
  public var width = 128
  /// Width of each head (`d_kv`); heads · headWidth need not equal the width.
  public var headWidth = 32
  /// Attention heads (`num_heads`).
  public var heads = 4
  /// Feed-forward hidden width (`d_ff`).
  public var feedForwardWidth = 256
  /// Encoder blocks (`num_layers`).
  public var encoderLayers = 2
  /// Decoder blocks (`num_decoder_layers`).
  public var decoderLayers = 2
  /// Relative-position buckets (`relative_attention_num_buckets`).
  public var relativeBuckets = 32
  /// Distance beyond which relative positions share the last bucket (`relative_attention_max_distance`).
  public var relativeMaxDistance = 128
  /// The feed-forward kind (`feed_forward_proj`).
  public var feedForward: T5FeedForward = .gatedGelu
  /// RMS-norm epsilon (`layer_norm_epsilon`).
  public var layerNormEpsilon: Float = 1e-6
  /// Whether the LM head is the shared embedding (T5.1.0: true, and the decoder output is then scaled by
  /// width^−1/2 before it) or its own `lm_head.weight` (T5.1.1, FlanT5: false, no scaling).
  public var tiedHead = false

  /// The defaults.
  public init() {}

  /// heads · headWidth: the width of queries, keys and values.
  public var innerWidth: Int { heads * headWidth }

  /// Checks that the sizes fit together.
  /// - Throws: `EncoderDecoderLMError.invalidConfiguration` naming the field.
  public func validate() throws(EncoderDecoderLMError) {
    func check(_ ok: Bool, _ field: String, _ reason: String) throws(EncoderDecoderLMError) {
      if !ok { throw .invalidConfiguration(field: field, reason: reason) }
    }
    for (field, value) in [("vocabularySize", vocabularySize), ("width", width), ("headWidth", headWidth),
                           ("heads", heads), ("feedForwardWidth", feedForwardWidth), ("encoderLayers", encoderLayers),
                           ("decoderLayers", decoderLayers), ("relativeMaxDistance", relativeMaxDistance)] {
      try check(value > 0, field, "must be positive, got \(value)")
    }
    try check(relativeBuckets >= 4 && relativeBuckets % 2 == 0, "relativeBuckets",
              "must be an even number ≥ 4, got \(relativeBuckets)")
  }
}

/// What can be wrong with an encoder-decoder LM's configuration, inputs or checkpoint folder.
public enum EncoderDecoderLMError: Error, LocalizedError, Equatable, Sendable {
  /// The sizes do not fit together (`field` is the configuration field).
  case invalidConfiguration(field: String, reason: String)
  /// An input of the wrong shape or content (`what` says which and what was expected).
  case invalidInput(String)
  /// config.json is missing, unreadable or not a JSON object.
  case unreadableConfig(file: String, reason: String)
  /// A config.json field has the wrong type or an unsupported value.
  case invalidConfigValue(file: String, key: String, reason: String)
  /// config.json describes a model this plugin does not load.
  case unsupportedModel(file: String, modelType: String, supported: [String])

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .invalidConfiguration(field, reason):
      return "encoder-decoder LM: \"\(field)\" \(reason)"
    case let .invalidInput(what):
      return "encoder-decoder LM: \(what)"
    case let .unreadableConfig(file, reason):
      return "\(file): cannot read the model configuration (\(reason)); a Hugging Face model folder needs config.json"
    case let .invalidConfigValue(file, key, reason):
      return "\(file): \"\(key)\" \(reason)"
    case let .unsupportedModel(file, modelType, supported):
      return "\(file): model_type \"\(modelType)\" is not an encoder-decoder LM this plugin loads; supported: "
        + supported.joined(separator: ", ")
    }
  }
}
