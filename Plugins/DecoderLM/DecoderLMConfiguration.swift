// The sizes and options of a decoder-only LM (OPT or GPT-2 layout), and what can go wrong with them.

import Foundation
import Tensor

/// Which checkpoint layout (parameter names, position offset, weight orientation) a decoder-only LM uses.
public enum DecoderFamily: String, Sendable, CaseIterable {
  /// OPT (`OPTForCausalLM`): `model.decoder.*`, learned positions offset by 2, `nn.Linear` weights [out, in].
  case opt
  /// GPT-2 (`GPT2LMHeadModel`): `transformer.*`, positions from 0, `Conv1D` weights [in, out], fused `c_attn`.
  case gpt2
}

/// The sizes and options of a `DecoderLM`. Defaults are a small OPT-style model for the built-in setting.
public struct DecoderLMConfiguration: Sendable, Equatable {
  /// Checkpoint layout.
  public var family: DecoderFamily = .opt
  /// Token ids (`vocab_size`). 259 fits the byte tokenizer the registry factory uses by default.
  public var vocabularySize = 259
  /// Width of the residual stream (`hidden_size`, GPT-2's `n_embd`).
  public var width = 128
  /// Width of the token embeddings when it differs from `width` (OPT's `word_embed_proj_dim`, with
  /// `project_in`/`project_out` between them, as OPT-350m); nil = `width`.
  public var embeddingWidth: Int? = nil
  /// Transformer blocks.
  public var layers = 4
  /// Attention heads (must divide `width`).
  public var heads = 4
  /// Feed-forward hidden width (`ffn_dim`, GPT-2's `n_inner`, default 4·width there).
  public var feedForwardWidth = 512
  /// Longest sequence (prefix + text) the learned positions cover (`max_position_embeddings`, `n_positions`).
  public var maxPositions = 128
  /// Feed-forward activation: ReLU for OPT, GELU (tanh) for GPT-2.
  public var activation: Activation = .relu
  /// Layer-norm epsilon (1e-5 for both).
  public var layerNormEpsilon: Float = 1e-5
  /// Pre-LN blocks (OPT's `do_layer_norm_before`; false only for OPT-350m, which is post-LN and has no final norm).
  public var normBefore = true
  /// Biases in the linear layers (OPT's `enable_bias`).
  public var bias = true

  /// The defaults.
  public init() {}

  /// Width of the input embeddings (what a soft prompt must have).
  public var tokenEmbeddingWidth: Int { embeddingWidth ?? width }
  /// Rows of the position table before position 0 (OPT reserves 2, GPT-2 none).
  public var positionOffset: Int { family == .opt ? 2 : 0 }
  /// Whether the stack ends in a layer norm (OPT: only with pre-LN blocks; GPT-2: always).
  public var hasFinalNorm: Bool { family == .gpt2 || normBefore }

  /// Checks that the sizes fit together.
  /// - Throws: `DecoderLMError.invalidConfiguration` naming the field.
  public func validate() throws(DecoderLMError) {
    func check(_ ok: Bool, _ field: String, _ reason: String) throws(DecoderLMError) {
      if !ok { throw .invalidConfiguration(field: field, reason: reason) }
    }
    try check(vocabularySize > 0, "vocabularySize", "must be positive, got \(vocabularySize)")
    try check(width > 0, "width", "must be positive, got \(width)")
    try check(layers > 0, "layers", "must be positive, got \(layers)")
    try check(heads > 0 && width % heads == 0, "heads", "must divide the width \(width), got \(heads)")
    try check(feedForwardWidth > 0, "feedForwardWidth", "must be positive, got \(feedForwardWidth)")
    try check(maxPositions > 0, "maxPositions", "must be positive, got \(maxPositions)")
    try check((embeddingWidth ?? 1) > 0, "embeddingWidth", "must be positive")
    try check(family == .opt || embeddingWidth == nil || embeddingWidth == width, "embeddingWidth",
              "must equal the width for GPT-2")
    try check(family == .opt || normBefore, "normBefore", "must be true for GPT-2")
  }
}

/// What can be wrong with a decoder-only LM's configuration, inputs or checkpoint folder.
public enum DecoderLMError: Error, LocalizedError, Equatable, Sendable {
  /// The sizes do not fit together (`field` is the configuration field).
  case invalidConfiguration(field: String, reason: String)
  /// An input of the wrong shape or content (`what` says which and what was expected).
  case invalidInput(String)
  /// A sequence is longer than the learned positions cover.
  case sequenceTooLong(length: Int, maxPositions: Int)
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
      return "decoder LM: \"\(field)\" \(reason)"
    case let .invalidInput(what):
      return "decoder LM: \(what)"
    case let .sequenceTooLong(length, maxPositions):
      return "decoder LM: a sequence of \(length) tokens (soft prompt included) is longer than the \(maxPositions) "
        + "positions the model has; shorten the text or the prompt"
    case let .unreadableConfig(file, reason):
      return "\(file): cannot read the model configuration (\(reason)); a Hugging Face model folder needs config.json"
    case let .invalidConfigValue(file, key, reason):
      return "\(file): \"\(key)\" \(reason)"
    case let .unsupportedModel(file, modelType, supported):
      return "\(file): model_type \"\(modelType)\" is not a decoder-only LM this plugin loads; supported: "
        + supported.joined(separator: ", ")
    }
  }
}
