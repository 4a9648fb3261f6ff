// A Hugging Face BLIP-2 checkpoint folder's Q-Former: its configuration from config.json (`qformer_config`,
// `num_query_tokens`, the vision tower's norm), its weights from model.safetensors, and the way back (the tensors
// and config fields transformers' `Blip2ForConditionalGeneration` reads). A BERT folder's tokenizer.json becomes
// the text side's tokenizer.

import Blip2Core
import Foundation
import HFTokenizers
import Tensor

extension QFormer {
  /// The Q-Former of a BLIP-2 `config.json`: sizes from `qformer_config` (transformers' defaults for absent
  /// fields), `num_query_tokens`, `ln_vision` (transformers' `vision_model.post_layernorm`) with the vision
  /// config's `layer_norm_eps`. The text side keeps LAVIS's vocabulary (BERT's 30522 + `[DEC]`); dropout is 0
  /// (the checkpoint is for inference; set it to train).
  /// - Throws: `QFormerError.unreadableConfig` / `.invalidConfigValue` naming the file and the key.
  public static func huggingFaceBlip2Configuration(directory: URL) throws -> QFormerConfiguration {
    let file = directory.appendingPathComponent("config.json").path
    let root = try HFConfigFile(directory: directory, unreadable: { QFormerError.unreadableConfig(file: $0, reason: $1) },
                                fail: { QFormerError.invalidConfigValue(file: file, key: $0, reason: $1) })
    let modelType = try root.string("model_type", default: "")
    guard ["blip-2", "blip_2"].contains(modelType) else {
      throw root.fail("model_type", "is \"\(modelType)\"; a Q-Former is read from a BLIP-2 checkpoint (\"blip-2\")")
    }
    let empty = HFConfigFile(table: [:], file: file, fail: root.fail)
    let q = try root.nested("qformer_config")
    let vision = try root.nested("vision_config")
    return try configuration(root: root, qformer: q ?? empty, vision: vision ?? empty)
  }

  /// The configuration from a BLIP-2 config's parts (see `huggingFaceBlip2Configuration(directory:)`).
  private static func configuration(root: HFConfigFile, qformer q: HFConfigFile, vision: HFConfigFile) throws
    -> QFormerConfiguration
  {
    var c = QFormerConfiguration()
    c.hidden = try q.int("hidden_size", default: 768)
    c.layers = try q.int("num_hidden_layers", default: 12)
    c.heads = try q.int("num_attention_heads", default: 12)
    c.intermediate = try q.int("intermediate_size", default: 3072)
    c.crossEvery = try q.int("cross_attention_frequency", default: 2)
    c.maxPositions = try q.int("max_position_embeddings", default: 512)
    c.layerNormEps = Float(try q.double("layer_norm_eps", default: 1e-12))
    c.queries = try root.int("num_query_tokens", default: 32)
    // transformers sets the Q-Former's encoder width from the vision tower's.
    c.imageWidth = try vision.int("hidden_size", default: 1408)
    c.visionLayerNorm = true
    c.visionLayerNormEps = Float(try vision.double("layer_norm_eps", default: 1e-6))
    c.dropout = 0
    let activation = try q.string("hidden_act", default: "gelu")
    guard activation == "gelu" else {
      throw q.fail("hidden_act", "\"\(activation)\" is not supported (only gelu, the erf form)")
    }
    do {
      try c.validate()
    } catch {
      throw root.fail("qformer_config", "gives an invalid Q-Former: \(error.localizedDescription)")
    }
    return c
  }

  /// Loads the Q-Former of a Hugging Face BLIP-2 checkpoint folder (config.json + model.safetensors or shards),
  /// with `ln_vision` from `vision_model.post_layernorm`: give it the vision tower's last hidden state before that
  /// norm (`VisionTransformer.load(directory:featureLayer: -1)`).
  /// - Throws: as `huggingFaceBlip2Configuration(directory:)` and `loadHuggingFaceBlip2(_:source:)`;
  ///   `SafeTensorsError` for missing or corrupt weight files.
  public static func loadHuggingFaceBlip2(directory: URL, seed: UInt64 = 0) throws -> QFormer {
    let qformer = try QFormer(try huggingFaceBlip2Configuration(directory: directory), seed: seed)
    try qformer.loadHuggingFaceBlip2(try SafeTensors.loadDirectory(directory), source: directory.path)
    return qformer
  }

  /// The tensors a `Blip2ForConditionalGeneration` checkpoint holds for this Q-Former, by checkpoint name:
  /// `query_tokens`, `qformer.*` (the query path: embeddings norm, self- and cross-attention, the query
  /// feed-forward) and, when the Q-Former has `ln_vision`, `vision_model.post_layernorm.*`. The text side, the
  /// stage-1 heads and the temperature have no place in that layout and are not written.
  public func huggingFaceBlip2Tensors() -> [(String, Tensor)] {
    let parameters = stateDictionary()
    // The optional rows are the text side and the retrieval heads, except `ln_vision`.
    return huggingFaceBlip2Mappings().compactMap { row in
      let key = row.sources[0]
      guard row.required || key.hasPrefix("vision_model."), let parameter = parameters[row.target] else { return nil }
      return (key, parameter)
    }
  }

  /// The `qformer_config` of transformers' `Blip2QFormerConfig` for this Q-Former.
  public var huggingFaceBlip2Config: [String: Any] {
    let c = configuration
    return ["model_type": "blip_2_qformer", "hidden_size": c.hidden, "num_hidden_layers": c.layers,
            "num_attention_heads": c.heads, "intermediate_size": c.intermediate, "hidden_act": "gelu",
            "cross_attention_frequency": c.crossEvery, "encoder_hidden_size": c.imageWidth,
            "max_position_embeddings": c.maxPositions, "layer_norm_eps": Double(c.layerNormEps),
            "vocab_size": c.vocabularySize, "hidden_dropout_prob": Double(c.dropout),
            "attention_probs_dropout_prob": Double(c.dropout)]
  }

  /// Uses a BERT `tokenizer.json` for the text side, as LAVIS uses `bert-base-uncased`'s: `[CLS]`, `[SEP]` and
  /// `[MASK]` from its vocabulary, and `[DEC]` the first id past it (LAVIS adds it there: 30522).
  /// - Throws: `QFormerError.invalidConfiguration` when the tokenizer has no `[CLS]` or leaves no room for `[DEC]`.
  public func useBERTTokenizer(_ tokenizer: HFTokenizer) throws(QFormerError) {
    guard let classId = tokenizer.id(of: "[CLS]") else {
      throw .invalidConfiguration(field: "tokenizer", reason: "\(tokenizer.file) has no [CLS] token (not a BERT tokenizer)")
    }
    guard tokenizer.vocabularySize < configuration.vocabularySize else {
      throw .invalidConfiguration(field: "vocabularySize", reason: "is \(configuration.vocabularySize): no room for [DEC] "
        + "after the \(tokenizer.vocabularySize) ids of \(tokenizer.file); use \(tokenizer.vocabularySize + 1)")
    }
    try setTokenizer(tokenizer, classTokenId: classId, separatorTokenId: tokenizer.id(of: "[SEP]"),
                     decoderTokenId: tokenizer.vocabularySize, maskTokenId: tokenizer.id(of: "[MASK]"))
  }
}
