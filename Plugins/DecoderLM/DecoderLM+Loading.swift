// Loading Hugging Face decoder-only LMs from a local folder: config.json (OPT, GPT-2) and model.safetensors (or a
// sharded index). Nothing is downloaded.

import Blip2Core
import Foundation
import HFTokenizers
import Tensor

extension DecoderLM {
  /// The `model_type`s `load(directory:)` understands.
  public static let loadableModelTypes = ["opt", "gpt2"]

  /// Loads an `OPTForCausalLM` or `GPT2LMHeadModel` folder, or the language model of a whole BLIP-2 checkpoint
  /// (its `text_config`): `config.json` and `model.safetensors` or a sharded index (F32/F16/BF16). Weights may sit
  /// with or without the `language_model.` prefix of a whole BLIP-2 checkpoint; `lm_head.weight` is not read (the
  /// head is tied to the token embeddings, as both families tie it).
  ///
  /// - Parameter tokenizer: the tokenizer to use. Default: the folder's `tokenizer.json`; without one, a byte
  ///   tokenizer (fine for tests only).
  /// - Throws: `DecoderLMError` for a missing or malformed config.json (naming the file and key),
  ///   `HFTokenizerError` for an unusable tokenizer.json, `SafeTensorsError` for missing or corrupt weight files,
  ///   `ModuleError` for a missing or mis-shaped tensor (naming the folder and the tensor).
  public static func load(directory: URL, tokenizer: (any Tokenizer)? = nil) throws -> DecoderLM {
    let configuration = try configuration(directory: directory)
    let chosen = try tokenizer ?? HFTokenizer.inCheckpoint(directory) ?? ByteTokenizer(padId: 1, bosId: 2, eosId: 2)
    let model = try DecoderLM(configuration, tokenizer: chosen, kind: "decoder")
    let tensors = try SafeTensors.loadDirectory(directory)
    let anchor = model.namedParameters().first?.0 ?? ""
    let prefix = ["", "language_model."].first { tensors[$0 + anchor] != nil } ?? ""
    try model.load(tensors, prefix: prefix, strict: true, source: directory.path)
    return model
  }

  /// Reads `config.json` of an OPT or GPT-2 model (or the `text_config` of a BLIP-2 checkpoint). Absent fields
  /// take transformers' defaults for that type.
  /// - Throws: `DecoderLMError` naming the file and the key.
  public static func configuration(directory: URL) throws -> DecoderLMConfiguration {
    let file = try HFConfigFile(
      directory: directory, unreadable: { DecoderLMError.unreadableConfig(file: $0, reason: $1) },
      fail: { [file = directory.appendingPathComponent("config.json").path] in
        DecoderLMError.invalidConfigValue(file: file, key: $0, reason: $1)
      })
    return try configuration(file.section("text_config"))
  }

  /// Reads the fields of an OPT or GPT-2 config (a whole file, or a BLIP-2 checkpoint's `text_config`).
  /// - Throws: `DecoderLMError` naming the file and the key.
  public static func configuration(_ config: HFConfigFile) throws -> DecoderLMConfiguration {
    var c = DecoderLMConfiguration()
    let modelType = try config.string("model_type", default: "")
    switch modelType {
    case "opt":
      c.family = .opt
      c.vocabularySize = try config.int("vocab_size", default: 50272)
      c.width = try config.int("hidden_size", default: 768)
      let projected = try config.int("word_embed_proj_dim", default: c.width)
      c.embeddingWidth = projected == c.width ? nil : projected
      c.layers = try config.int("num_hidden_layers", default: 12)
      c.heads = try config.int("num_attention_heads", default: 12)
      c.feedForwardWidth = try config.int("ffn_dim", default: 3072)
      c.maxPositions = try config.int("max_position_embeddings", default: 2048)
      c.normBefore = try config.bool("do_layer_norm_before", default: true)
      c.bias = try config.bool("enable_bias", default: true)
      if try !config.bool("layer_norm_elementwise_affine", default: true) {
        throw config.fail("layer_norm_elementwise_affine", "false is not supported (only true)")
      }
      if try config.bool("_remove_final_layer_norm", default: false) {
        throw config.fail("_remove_final_layer_norm", "true is not supported (only false)")
      }
      c.activation = try activation(config, key: "activation_function", default: "relu")
    case "gpt2":
      c.family = .gpt2
      c.vocabularySize = try config.int("vocab_size", default: 50257)
      c.width = try config.int("n_embd", default: 768)
      c.layers = try config.int("n_layer", default: 12)
      c.heads = try config.int("n_head", default: 12)
      c.feedForwardWidth = try config.int("n_inner", default: 4 * c.width)
      c.maxPositions = try config.int("n_positions", default: 1024)
      c.layerNormEpsilon = Float(try config.double("layer_norm_epsilon", default: 1e-5))
      c.activation = try activation(config, key: "activation_function", default: "gelu_new")
      for flag in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"]
      where try config.bool(flag, default: false) {
        throw config.fail(flag, "true is not supported (only false)")
      }
      if try !config.bool("scale_attn_weights", default: true) {
        throw config.fail("scale_attn_weights", "false is not supported (only true)")
      }
    default:
      throw DecoderLMError.unsupportedModel(file: config.file, modelType: modelType.isEmpty ? "(none)" : modelType,
                                            supported: loadableModelTypes)
    }
    do {
      try c.validate()
    } catch let .invalidConfiguration(field, reason) {
      throw config.fail(field, reason)
    }
    return c
  }

  /// An activation by its config name.
  private static func activation(_ config: HFConfigFile, key: String, default value: String) throws -> Activation {
    let name = try config.string(key, default: value)
    switch name {
    case "relu": return .relu
    case "gelu": return .gelu
    case "gelu_new", "gelu_pytorch_tanh": return .geluTanh
    default: throw config.fail(key, "\"\(name)\" is not supported; supported: relu, gelu, gelu_new, gelu_pytorch_tanh")
    }
  }
}
