// Checkpoint layouts other than LAVIS's own (which is the Q-Former's parameter naming, so `load(_:strict:)`
// reads it directly): a Hugging Face BERT (the paper's initialization) and a Hugging Face BLIP-2. Each is a
// table of names, checkpoint key → parameter, built per layer; one function applies any table.

import Blip2Core
import Tensor

/// One row of a checkpoint-name table: which checkpoint tensor fills which Q-Former parameter.
public struct CheckpointKeyMapping: Sendable, Equatable {
  /// The checkpoint key, then older spellings tried in order (BERT's `LayerNorm.gamma` for `LayerNorm.weight`).
  public let sources: [String]
  /// The Q-Former parameter (LAVIS name).
  public let target: String
  /// Whether a checkpoint without it is an error (else the parameter keeps its value and is reported missing).
  public let required: Bool
  /// Whether the checkpoint may hold fewer rows than the parameter: a vocabulary that grew (BERT's 30522
  /// rows into 30523 with `[DEC]`). The extra rows keep their initialization.
  public let growsRows: Bool

  /// A row of a table.
  public init(_ source: String, _ target: String, required: Bool = true, growsRows: Bool = false,
              legacy: [String] = []) {
    sources = [source] + legacy
    self.target = target
    self.required = required
    self.growsRows = growsRows
  }
}

/// Rows for a linear layer (`weight`, `bias`).
private func linear(_ source: String, _ target: String, required: Bool = true) -> [CheckpointKeyMapping] {
  ["weight", "bias"].map { CheckpointKeyMapping("\(source).\($0)", "\(target).\($0)", required: required) }
}

/// Rows for a layer norm (`weight`, `bias`; BERT's original checkpoints spell them `gamma`, `beta`).
private func norm(_ source: String, _ target: String, required: Bool = true) -> [CheckpointKeyMapping] {
  [("weight", "gamma"), ("bias", "beta")].map { name, old in
    CheckpointKeyMapping("\(source).\(name)", "\(target).\(name)", required: required, legacy: ["\(source).\(old)"])
  }
}

/// Rows for an attention block whose projections are under `source` + `self`-part and output under `.output`.
private func attention(_ source: String, selfPart: String, _ target: String,
                       required: Bool = true) -> [CheckpointKeyMapping] {
  ["query", "key", "value"].flatMap { linear("\(source).\(selfPart).\($0)", "\(target).self.\($0)", required: required) }
    + linear("\(source).output.dense", "\(target).output.dense", required: required)
    + norm("\(source).output.LayerNorm", "\(target).output.LayerNorm", required: required)
}

extension QFormer {
  /// The table from a Hugging Face BERT checkpoint (`BertModel`, `BertForPreTraining`, `BertForMaskedLM`:
  /// keys with or without the `bert.` prefix, given as `prefix`): embeddings, and per layer the self-attention
  /// and the feed-forward, the latter into both the text and the query copy (LAVIS copies `intermediate` into
  /// `intermediate_query`, `output` into `output_query`). The LM head's transform and bias come too when the
  /// checkpoint has them (LAVIS's `BertLMHeadModel.from_pretrained` loads them). BERT's token-type embeddings
  /// are not used (LAVIS's Q-Former has none).
  public func bertMappings(prefix: String = "bert.") -> [CheckpointKeyMapping] {
    var rows = [CheckpointKeyMapping("\(prefix)embeddings.word_embeddings.weight",
                                     "Qformer.bert.embeddings.word_embeddings.weight", growsRows: true),
                CheckpointKeyMapping("\(prefix)embeddings.position_embeddings.weight",
                                     "Qformer.bert.embeddings.position_embeddings.weight")]
    rows += norm("\(prefix)embeddings.LayerNorm", "Qformer.bert.embeddings.LayerNorm")
    for i in 0..<configuration.layers {
      let (source, target) = ("\(prefix)encoder.layer.\(i)", "Qformer.bert.encoder.layer.\(i)")
      rows += attention("\(source).attention", selfPart: "self", "\(target).attention")
      for suffix in ["", "_query"] {
        rows += linear("\(source).intermediate.dense", "\(target).intermediate\(suffix).dense")
        rows += linear("\(source).output.dense", "\(target).output\(suffix).dense")
        rows += norm("\(source).output.LayerNorm", "\(target).output\(suffix).LayerNorm")
      }
    }
    rows += linear("cls.predictions.transform.dense", "Qformer.cls.predictions.transform.dense", required: false)
    rows += norm("cls.predictions.transform.LayerNorm", "Qformer.cls.predictions.transform.LayerNorm", required: false)
    rows.append(CheckpointKeyMapping("cls.predictions.bias", "Qformer.cls.predictions.bias", required: false,
                                     growsRows: true))
    return rows
  }

  /// The table from a Hugging Face BLIP-2 checkpoint (`Blip2ForConditionalGeneration`, `Blip2Model`,
  /// `Blip2ForImageTextRetrieval`): `query_tokens`; `qformer.layernorm` (the embeddings' norm, which
  /// transformers applies to `[queries | text]` embeddings); per layer `attention.attention.*` →
  /// `attention.self.*`, `crossattention.attention.*` → `crossattention.self.*`, the query feed-forward and,
  /// when present (`use_qformer_text_input`, retrieval models), the text one; the retrieval models' text
  /// embeddings, `vision_projection` → `vision_proj`, `text_projection` → `text_proj`, `itm_head`; and
  /// `vision_model.post_layernorm` → `ln_vision` (the conversion from LAVIS renamed `ln_vision` so).
  /// transformers has no temperature and no LM head: those keep their values.
  public func huggingFaceBlip2Mappings() -> [CheckpointKeyMapping] {
    var rows = [CheckpointKeyMapping("query_tokens", "query_tokens")]
    rows += norm("qformer.layernorm", "Qformer.bert.embeddings.LayerNorm")
    rows += [CheckpointKeyMapping("embeddings.word_embeddings.weight", "Qformer.bert.embeddings.word_embeddings.weight",
                                  required: false, growsRows: true),
             CheckpointKeyMapping("embeddings.position_embeddings.weight",
                                  "Qformer.bert.embeddings.position_embeddings.weight", required: false)]
    for i in 0..<configuration.layers {
      let (source, target) = ("qformer.encoder.layer.\(i)", "Qformer.bert.encoder.layer.\(i)")
      rows += attention("\(source).attention", selfPart: "attention", "\(target).attention")
      if configuration.hasCrossAttention(i) {
        rows += attention("\(source).crossattention", selfPart: "attention", "\(target).crossattention")
      }
      for (suffix, required) in [("_query", true), ("", false)] {
        rows += linear("\(source).intermediate\(suffix).dense", "\(target).intermediate\(suffix).dense",
                       required: required)
        rows += linear("\(source).output\(suffix).dense", "\(target).output\(suffix).dense", required: required)
        rows += norm("\(source).output\(suffix).LayerNorm", "\(target).output\(suffix).LayerNorm", required: required)
      }
    }
    rows += linear("vision_projection", "vision_proj", required: false)
    rows += linear("text_projection", "text_proj", required: false)
    rows += linear("itm_head", "itm_head", required: false)
    rows += norm("vision_model.post_layernorm", "ln_vision", required: false)
    return rows
  }

  /// Initializes from a Hugging Face BERT checkpoint, as LAVIS builds its Q-Former from `bert-base-uncased`:
  /// embeddings, self-attention and feed-forward (into both copies) from BERT; cross-attention, queries and
  /// heads keep their random initialization; the vocabulary grows by BERT's missing rows (the `[DEC]` row
  /// stays N(0, initStd²)). A checkpoint with more layers gives its first `layers`.
  /// - Returns: what was loaded, which Q-Former parameters kept their initialization (`missing`), and which
  ///   checkpoint tensors were not used (token types, pooler, next-sentence head, extra layers).
  /// - Throws: `ModuleError` for a missing or mis-shaped tensor; `QFormerError.checkpointMismatch` when the
  ///   checkpoint has fewer layers than the configuration.
  @discardableResult
  public func initializeFromBERT(_ tensors: [String: Tensor], source: String = "BERT checkpoint") throws -> LoadReport {
    let prefix = tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
    let available = Set(tensors.keys.compactMap { layerIndex(in: $0, under: "\(prefix)encoder.layer.") })
    if !available.isEmpty && available.count < configuration.layers {
      throw QFormerError.checkpointMismatch(
        source: source, reason: "it has \(available.count) layers, the configuration \(configuration.layers)")
    }
    return try apply(bertMappings(prefix: prefix), from: tensors, source: source)
  }

  /// Loads a Hugging Face BLIP-2 checkpoint's Q-Former (see `huggingFaceBlip2Mappings()`). Parts that
  /// generation checkpoints do not have (the text embeddings and feed-forward, the stage-1 heads) keep their
  /// values and are listed in `missing`; the vision model and the LM are listed in `unused`.
  ///
  /// transformers' BLIP-2 vision model applies `post_layernorm` (this `ln_vision`) to its own output: give
  /// the Q-Former the encoder's features before that norm, or turn `visionLayerNorm` off.
  /// - Throws: `QFormerError.checkpointMismatch` when the layer count or the cross-attention layers differ
  ///   from the configuration; `ModuleError` for a missing or mis-shaped tensor.
  @discardableResult
  public func loadHuggingFaceBlip2(_ tensors: [String: Tensor], source: String = "BLIP-2 checkpoint") throws -> LoadReport {
    let layerKeys = tensors.keys.filter { $0.hasPrefix("qformer.encoder.layer.") }
    let found = Set(layerKeys.compactMap { layerIndex(in: $0, under: "qformer.encoder.layer.") })
    let cross = Set(layerKeys.filter { $0.contains(".crossattention.") }
      .compactMap { layerIndex(in: $0, under: "qformer.encoder.layer.") })
    if found.count != configuration.layers {
      throw QFormerError.checkpointMismatch(
        source: source, reason: "its Q-Former has \(found.count) layers, the configuration \(configuration.layers)")
    }
    if cross != Set(configuration.crossAttentionLayers) {
      throw QFormerError.checkpointMismatch(
        source: source, reason: "cross-attention is in layers \(cross.sorted()), the configuration has it in "
          + "\(configuration.crossAttentionLayers) (crossEvery \(configuration.crossEvery))")
    }
    return try apply(huggingFaceBlip2Mappings(), from: tensors, source: source)
  }

  /// Copies every row of `table` found in `tensors` into its parameter (rows whose target this configuration
  /// does not have, e.g. `ln_vision` when it is off, are skipped).
  func apply(_ table: [CheckpointKeyMapping], from tensors: [String: Tensor], source: String) throws -> LoadReport {
    let parameters = stateDictionary()
    // LoadReport's initializer is internal to Tensor; an empty module's load returns an empty report.
    var report = try Module().load([:], source: source)
    var used = Set<String>()
    for row in table {
      guard let parameter = parameters[row.target] else { continue }
      guard let key = row.sources.first(where: { tensors[$0] != nil }), let tensor = tensors[key] else {
        if row.required { throw ModuleError.missingParameter(name: row.sources[0], source: source) }
        continue
      }
      let fitsRows = row.growsRows && tensor.rank == parameter.rank && tensor.rank > 0
        && tensor.shape.dropFirst() == parameter.shape.dropFirst() && tensor.shape[0] <= parameter.shape[0]
      if fitsRows && tensor.shape != parameter.shape {
        parameter.data.replaceSubrange(0..<tensor.count, with: tensor.data)
      } else {
        guard tensor.shape == parameter.shape else {
          throw ModuleError.shapeMismatch(name: key, expected: parameter.shape, found: tensor.shape, source: source)
        }
        parameter.data = tensor.data
      }
      used.insert(key)
      report.loaded.append(row.target)
    }
    let loaded = Set(report.loaded)
    report.missing = namedParameters().map(\.0).filter { !loaded.contains($0) }
    report.unused = tensors.keys.filter { !used.contains($0) }.sorted()
    return report
  }
}

/// The layer number in `key` right after `prefix` (`bert.encoder.layer.7.output...` → 7).
private func layerIndex(in key: String, under prefix: String) -> Int? {
  guard key.hasPrefix(prefix) else { return nil }
  return Int(key.dropFirst(prefix.count).prefix { $0 != "." })
}
