// Writing a composed model in transformers' `Blip2ForConditionalGeneration` layout (config.json +
// model.safetensors, and tokenizer.json when the LM has one), so that `from_pretrained` loads it: our trained
// Q-Former, query tokens and projection, with the vision tower and the LM when they have that layout.

import Blip2Core
import DecoderLM
import EncoderDecoderLM
import Foundation
import HFTokenizers
import QFormer
import Tensor
import ViT

/// What an export wrote.
public struct Blip2ExportReport: Sendable, Equatable {
  /// Tensors written, by checkpoint name.
  public var tensors: [String] = []
  /// Parts not written, each with the reason (transformers initializes them randomly on load).
  public var omitted: [String] = []
}

extension Blip2Checkpoint {
  /// Writes `model` to `directory` in the `Blip2ForConditionalGeneration` layout: `query_tokens`, `qformer.*`
  /// (the query path; the text side and the stage-1 heads have no place there), `language_projection.*`; the
  /// vision tower when it is a BLIP-2-named ViT (its layers up to the feature layer; `post_layernorm` is the
  /// Q-Former's `ln_vision`, or the tower's own final norm); the language model (OPT, GPT-2 or T5 layout) and
  /// its tokenizer.json when it has one. Each file is written atomically.
  ///
  /// - Parameter imageTokenId: `image_token_index` (the id transformers' processor puts where the query outputs
  ///   go; it must be in the LM's vocabulary). Default: none, then transformers' `generate` needs `inputs_embeds`.
  /// - Throws: `Blip2CheckpointError.notExportable` when the bridge is not a Q-Former, there is no language model,
  ///   or the image-feature norm cannot be expressed (both or neither of `ln_vision` and the tower's final norm);
  ///   file-system and `SafeTensorsError` errors naming the file.
  @discardableResult
  public static func export(_ model: Blip2Model, imageTokenId: Int? = nil, to directory: URL) throws -> Blip2ExportReport {
    guard let qformer = model.bridge as? QFormer else {
      throw Blip2CheckpointError.notExportable(reason: "the bridge is a \(model.bridge.kind), not a Q-Former")
    }
    guard let projection = model.projection, let languageModel = model.languageModel else {
      throw Blip2CheckpointError.notExportable(reason: "the model has no language model (compose it with an lm)")
    }
    var report = Blip2ExportReport()
    var tensors = qformer.huggingFaceBlip2Tensors()
    tensors += projection.namedParameters(prefix: "language_projection.")
    let vision = try visionPart(model.encoder, qformer: qformer, into: &tensors, report: &report)
    let text = try textPart(languageModel, into: &tensors, report: &report)
    let c = qformer.configuration
    var config: [String: Any] = [
      "architectures": ["Blip2ForConditionalGeneration"], "model_type": "blip-2", "num_query_tokens": c.queries,
      "use_decoder_only_language_model": languageModel.architecture == .decoderOnly,
      "qformer_config": qformer.huggingFaceBlip2Config, "vision_config": vision, "text_config": text,
      "image_token_index": imageTokenId.map { $0 as Any } ?? NSNull(),
    ]
    if !report.omitted.isEmpty { config["blip2lab_omitted"] = report.omitted }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
    try (json + Data("\n".utf8)).write(to: directory.appendingPathComponent("config.json"), options: .atomic)
    try SafeTensors.save(tensors, to: directory.appendingPathComponent(SafeTensors.singleFileName),
                         metadata: ["format": "pt"])
    if let tokenizer = languageModel.tokenizer as? HFTokenizer {
      try Data(contentsOf: URL(fileURLWithPath: tokenizer.file))
        .write(to: directory.appendingPathComponent("tokenizer.json"), options: .atomic)
    } else {
      report.omitted.append("tokenizer.json: the language model's tokenizer (\(type(of: languageModel.tokenizer))) "
        + "has no tokenizer.json form")
    }
    report.tensors = tensors.map(\.0)
    return report
  }

  /// The vision tower's tensors (into `tensors`) and its `vision_config`.
  private static func visionPart(_ encoder: any ImageEncoder, qformer: QFormer, into tensors: inout [(String, Tensor)],
                                 report: inout Blip2ExportReport) throws -> [String: Any] {
    let hasLnVision = qformer.configuration.visionLayerNorm
    var config: [String: Any] = ["model_type": "blip_2_vision_model", "hidden_size": encoder.featureDim,
                                 "image_size": encoder.imageSize]
    guard let vit = encoder as? VisionTransformer, vit.configuration.naming == .blip2 else {
      report.omitted.append("vision_model: a \(encoder.kind) encoder has no Blip2VisionModel layout; give the "
        + "Q-Former your own features")
      return config
    }
    let v = vit.configuration
    let kept = v.resolvedFeatureLayer  // blocks before the features (BLIP-2 drops the last one of CLIP/EVA)
    if hasLnVision == v.postNormFeatures || (v.postNormFeatures && kept != v.layers) {
      throw Blip2CheckpointError.notExportable(reason: "transformers applies exactly one norm (post_layernorm) to the "
        + "last kept block; this model has \(hasLnVision ? "the Q-Former's ln_vision" : "no ln_vision") and "
        + "\(v.postNormFeatures ? "the tower's final norm" : "no final norm on the tower")")
    }
    for (name, tensor) in vit.namedParameters() {
      if hasLnVision && name.hasPrefix("post_layernorm.") { continue }  // the Q-Former's ln_vision goes there
      if let layer = blockIndex(name), layer >= kept { continue }
      tensors.append(("vision_model." + name, tensor))
    }
    config.merge(["hidden_size": v.width, "intermediate_size": v.intermediateSize, "num_hidden_layers": kept,
                  "num_attention_heads": v.heads, "patch_size": v.patchSize, "hidden_act": v.activation.rawValue,
                  "layer_norm_eps": Double(v.layerNormEpsilon), "qkv_bias": true]) { $1 }
    return config
  }

  /// `encoder.layers.7.mlp...` → 7.
  private static func blockIndex(_ name: String) -> Int? {
    guard name.hasPrefix("encoder.layers.") else { return nil }
    return Int(name.dropFirst("encoder.layers.".count).prefix { $0 != "." })
  }

  /// The language model's tensors (into `tensors`) and its `text_config`.
  private static func textPart(_ languageModel: any LanguageModel, into tensors: inout [(String, Tensor)],
                               report: inout Blip2ExportReport) throws -> [String: Any] {
    let tokenizer = languageModel.tokenizer
    var ids: [String: Any] = ["pad_token_id": tokenizer.padId]
    if let eos = tokenizer.eosId { ids["eos_token_id"] = eos }
    if let bos = tokenizer.bosId { ids["bos_token_id"] = bos }
    if let lm = languageModel as? DecoderLM {
      tensors += lm.namedParameters(prefix: "language_model.")
      return ids.merging(decoderConfig(lm.configuration)) { $1 }
    }
    if let lm = languageModel as? EncoderDecoderLM {
      let c = lm.configuration
      tensors += lm.namedParameters(prefix: "language_model.")
      ids["decoder_start_token_id"] = lm.decoderStartTokenId
      return ids.merging([
        "model_type": "t5", "vocab_size": c.vocabularySize, "d_model": c.width, "d_kv": c.headWidth,
        "num_heads": c.heads, "d_ff": c.feedForwardWidth, "num_layers": c.encoderLayers,
        "num_decoder_layers": c.decoderLayers, "relative_attention_num_buckets": c.relativeBuckets,
        "relative_attention_max_distance": c.relativeMaxDistance, "layer_norm_epsilon": Double(c.layerNormEpsilon),
        "feed_forward_proj": c.feedForward.rawValue, "tie_word_embeddings": c.tiedHead,
        "scale_decoder_outputs": c.tiedHead, "is_encoder_decoder": true,
      ]) { $1 }
    }
    throw Blip2CheckpointError.notExportable(reason: "the language model is a \(languageModel.kind), which has no "
      + "transformers layout here (OPT, GPT-2 and T5 do)")
  }

  /// An OPT or GPT-2 `text_config`.
  private static func decoderConfig(_ c: DecoderLMConfiguration) -> [String: Any] {
    let names: [Activation: String] = [.relu: "relu", .gelu: "gelu", .geluTanh: "gelu_new"]
    let activation = names[c.activation] ?? "relu"
    switch c.family {
    case .opt:
      return ["model_type": "opt", "vocab_size": c.vocabularySize, "hidden_size": c.width,
              "word_embed_proj_dim": c.tokenEmbeddingWidth, "num_hidden_layers": c.layers, "num_attention_heads": c.heads,
              "ffn_dim": c.feedForwardWidth, "max_position_embeddings": c.maxPositions,
              "do_layer_norm_before": c.normBefore, "enable_bias": c.bias, "activation_function": activation,
              "tie_word_embeddings": true]
    case .gpt2:
      return ["model_type": "gpt2", "vocab_size": c.vocabularySize, "n_embd": c.width, "n_layer": c.layers,
              "n_head": c.heads, "n_inner": c.feedForwardWidth, "n_positions": c.maxPositions,
              "layer_norm_epsilon": Double(c.layerNormEpsilon), "activation_function": activation,
              "tie_word_embeddings": true]
    }
  }
}
