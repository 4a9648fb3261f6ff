// Loading Hugging Face T5 / FlanT5 models from a local folder: config.json and model.safetensors (or a sharded
// index). Nothing is downloaded.

import Blip2Core
import Foundation
import HFTokenizers
import Tensor

extension EncoderDecoderLM {
  /// The `model_type`s `load(directory:)` understands.
  public static let loadableModelTypes = ["t5"]

  /// Loads a `T5ForConditionalGeneration` folder (T5, T5.1.1, FlanT5), or the language model of a whole BLIP-2
  /// checkpoint (its `text_config`): `config.json` and `model.safetensors` or a sharded index (F32/F16/BF16). Weights may sit with or without the `language_model.` prefix of a whole BLIP-2
  /// checkpoint; `encoder.embed_tokens` / `decoder.embed_tokens` (copies of `shared`) are not read. The head is
  /// `lm_head.weight` when `tie_word_embeddings` is false (T5.1.1, FlanT5), else `shared` with T5's rescaling.
  ///
  /// - Parameter tokenizer: the tokenizer to use. Default: the folder's `tokenizer.json`; without one, a byte
  ///   tokenizer (fine for tests only).
  /// - Throws: `EncoderDecoderLMError` for a missing or malformed config.json (naming the file and key),
  ///   `HFTokenizerError` for an unusable tokenizer.json, `SafeTensorsError` for missing or corrupt weight files,
  ///   `ModuleError` for a missing or mis-shaped tensor.
  public static func load(directory: URL, tokenizer: (any Tokenizer)? = nil) throws -> EncoderDecoderLM {
    let (configuration, startId) = try configuration(directory: directory)
    let chosen = try tokenizer ?? HFTokenizer.inCheckpoint(directory) ?? ByteTokenizer(padId: 0, bosId: nil, eosId: 1)
    let model = try EncoderDecoderLM(configuration, tokenizer: chosen)
    if let startId { model.decoderStartTokenId = startId }
    var tensors = try SafeTensors.loadDirectory(directory)
    let prefix = ["", "language_model."].first { tensors[$0 + "shared.weight"] != nil } ?? ""
    // transformers 5 saves no lm_head (it ties it to `shared`) and says with `scale_decoder_outputs` whether to
    // rescale: an unscaled head without its own tensor is `shared`.
    if !configuration.tiedHead, tensors[prefix + "lm_head.weight"] == nil, let shared = tensors[prefix + "shared.weight"] {
      tensors[prefix + "lm_head.weight"] = shared
    }
    try model.load(tensors, prefix: prefix, strict: true, source: directory.path)
    return model
  }

  /// Reads `config.json` of a T5 model (or the `text_config` of a BLIP-2 checkpoint; absent fields take
  /// transformers' defaults) and its `decoder_start_token_id`, if given.
  /// - Throws: `EncoderDecoderLMError` naming the file and the key.
  public static func configuration(directory: URL) throws -> (EncoderDecoderLMConfiguration, decoderStartTokenId: Int?) {
    let file = try HFConfigFile(
      directory: directory, unreadable: { EncoderDecoderLMError.unreadableConfig(file: $0, reason: $1) },
      fail: { [file = directory.appendingPathComponent("config.json").path] in
        EncoderDecoderLMError.invalidConfigValue(file: file, key: $0, reason: $1)
      })
    return try configuration(file.section("text_config"))
  }

  /// Reads the fields of a T5 config (a whole file, or a BLIP-2 checkpoint's `text_config`) and its
  /// `decoder_start_token_id`.
  /// - Throws: `EncoderDecoderLMError` naming the file and the key.
  public static func configuration(_ config: HFConfigFile) throws
    -> (EncoderDecoderLMConfiguration, decoderStartTokenId: Int?)
  {
    let modelType = try config.string("model_type", default: "")
    guard modelType == "t5" else {
      throw EncoderDecoderLMError.unsupportedModel(file: config.file, modelType: modelType.isEmpty ? "(none)" : modelType,
                                                   supported: loadableModelTypes)
    }
    var c = EncoderDecoderLMConfiguration()
    c.vocabularySize = try config.int("vocab_size", default: 32128)
    c.width = try config.int("d_model", default: 512)
    c.headWidth = try config.int("d_kv", default: 64)
    c.heads = try config.int("num_heads", default: 8)
    c.feedForwardWidth = try config.int("d_ff", default: 2048)
    c.encoderLayers = try config.int("num_layers", default: 6)
    c.decoderLayers = try config.int("num_decoder_layers", default: c.encoderLayers)
    c.relativeBuckets = try config.int("relative_attention_num_buckets", default: 32)
    c.relativeMaxDistance = try config.int("relative_attention_max_distance", default: 128)
    c.layerNormEpsilon = Float(try config.double("layer_norm_epsilon", default: 1e-6))
    // The head is `shared` rescaled by d_model^-0.5 (T5.1.0) or its own (T5.1.1, FlanT5); transformers 5 states the
    // rescaling as `scale_decoder_outputs` (and always writes tie_word_embeddings true), older configs through
    // tie_word_embeddings.
    c.tiedHead = try config.bool("scale_decoder_outputs", default: try config.bool("tie_word_embeddings", default: true))
    let projection = try config.string("feed_forward_proj", default: "relu")
    guard let feedForward = T5FeedForward(rawValue: projection) else {
      throw config.fail("feed_forward_proj", "\"\(projection)\" is not supported; supported: relu, gated-gelu")
    }
    c.feedForward = feedForward
    if try config.bool("is_encoder_decoder", default: true) == false {
      throw config.fail("is_encoder_decoder", "false is not supported (an encoder-only T5 has no decoder)")
    }
    do {
      try c.validate()
    } catch let .invalidConfiguration(field, reason) {
      throw config.fail(field, reason)
    }
    return (c, try config.tokenId("decoder_start_token_id"))
  }
}
