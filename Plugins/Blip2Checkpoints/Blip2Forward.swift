// Running one part of a checkpoint (the vision tower, the Q-Former, the language model) or the whole BLIP-2 model
// on tensors stored in a safetensors file, and storing what it computes: `blip2lab forward`, for inspecting a
// checkpoint and comparing it with transformers. Inputs and outputs use transformers' names, and each part's
// outputs are the next part's inputs (vision → `image_features` → qformer → `language_model_inputs` → lm).

import Blip2Core
import DecoderLM
import EncoderDecoderLM
import Foundation
import QFormer
import Tensor
import ViT

/// What `Blip2Forward` can run.
public enum ForwardPart: String, CaseIterable, Sendable {
  case vision, qformer, lm, model

  /// The tensors each part reads (required, then optional) and writes, for help texts and errors.
  public var reads: (required: [String], optional: [String]) {
    switch self {
    case .vision: return (["pixel_values"], [])
    case .qformer: return (["image_features"], [])
    case .lm: return (["input_ids"], ["attention_mask", "language_model_inputs", "decoder_input_ids",
                                      "decoder_attention_mask"])
    case .model: return (["pixel_values", "input_ids"], ["attention_mask", "decoder_input_ids", "decoder_attention_mask"])
    }
  }
}

/// A checkpoint folder loaded for `Blip2Forward`: a whole BLIP-2 model, or a vision tower or language model alone.
public enum ForwardTarget {
  case blip2(Blip2Checkpoint)
  case vision(any ImageEncoder)
  case languageModel(any LanguageModel)

  /// Loads `directory` by its config.json's `model_type`: a whole BLIP-2 model (`blip-2`), a vision tower
  /// (`clip_vision_model`, `clip`, `vit`, `blip_2_vision_model`; features of its default layer) or a language model
  /// (`opt`, `gpt2`, `t5`).
  /// - Throws: `Blip2CheckpointError` for an unreadable config.json or another `model_type`; the loaders' errors.
  public static func load(directory: URL) throws -> ForwardTarget {
    let config = try Blip2Checkpoint.configFile(directory)
    let type = try config.string("model_type", default: "")
    if Blip2Checkpoint.modelTypes.contains(type) { return .blip2(try Blip2Checkpoint.load(directory: directory)) }
    if VisionTransformer.loadableModelTypes.contains(type) { return .vision(try VisionTransformer.load(directory: directory)) }
    if DecoderLM.loadableModelTypes.contains(type) { return .languageModel(try DecoderLM.load(directory: directory)) }
    if EncoderDecoderLM.loadableModelTypes.contains(type) {
      return .languageModel(try EncoderDecoderLM.load(directory: directory))
    }
    let known = Blip2Checkpoint.modelTypes.prefix(1) + VisionTransformer.loadableModelTypes.dropLast()
      + DecoderLM.loadableModelTypes + EncoderDecoderLM.loadableModelTypes
    throw config.fail("model_type", "is \"\(type)\": forward runs \(known.joined(separator: ", ")) checkpoints")
  }

  /// The parts this checkpoint has.
  public var parts: [ForwardPart] {
    switch self {
    case .blip2: return ForwardPart.allCases
    case .vision: return [.vision]
    case .languageModel: return [.lm]
    }
  }
}

/// Runs a part of a loaded checkpoint on stored inputs (see the file comment).
///
/// Inputs (a safetensors file; floats as F32/F16/BF16/F64, ids and masks as an integer type or BOOL):
/// - `pixel_values` [B, 3, S, S]: images of the tower's size, already normalized (as transformers' image processor
///   gives them).
/// - `image_features` [B, N, width]: the tower's last hidden state before `post_layernorm` (the Q-Former applies that
///   norm itself, as LAVIS's `ln_vision`); what the `vision` part writes.
/// - `input_ids` [B, T] with their special tokens (OPT's `</s>` first; T5's `</s>` last), right-padded, and
///   `attention_mask` [B, T] (1 then 0; default all 1). With `model`, rows may start with the checkpoint's
///   `num_query_tokens` image tokens (`image_token_index`), as transformers' processor writes them: they are dropped,
///   since the soft prompt takes their place.
/// - `language_model_inputs` [B, P, LM width] (lm only, optional): a soft prompt put before the text's embeddings.
/// - `decoder_input_ids` [B, T'] (T5 only, required; start token first) and `decoder_attention_mask`.
///
/// Outputs: `image_features` (vision, model), `query_output` [B, queries, hidden] and `language_model_inputs`
/// [B, queries, LM width] (qformer, model), `logits` (lm, model: a decoder's over [soft prompt | input_ids], T5's over
/// `decoder_input_ids`) and, for T5, `encoder_last_hidden_state`.
public enum Blip2Forward {
  /// The part run when none is named: the whole model of a BLIP-2 folder, else the component it holds.
  public static func defaultPart(_ target: ForwardTarget) -> ForwardPart { target.parts.last ?? .model }

  /// Runs `part` of `target` on `inputs`; the outputs in a fixed order.
  /// - Throws: `Blip2CheckpointError` (`.partUnavailable`, `.missingInput`, `.unexpectedInput`,
  ///   `.inputDTypeMismatch`, `.inputShapeMismatch`, `.invalidInput`), each naming the input file and tensor.
  public static func run(_ target: ForwardTarget, part: ForwardPart, inputs: ForwardInputs) throws -> [(String, Tensor)] {
    guard target.parts.contains(part) else {
      throw Blip2CheckpointError.partUnavailable(part: part.rawValue, available: target.parts.map(\.rawValue))
    }
    let outputs: [(String, Tensor)] = try GradMode.noGrad {
      switch (target, part) {
      case let (.vision(encoder), _):
        return [("image_features", try encoder.encode(try pixels(inputs, encoder)))]
      case let (.languageModel(lm), _):
        return try languageModel(lm, prefix: try softPrompt(inputs, lm), inputs: inputs, imageToken: nil)
      case let (.blip2(checkpoint), .vision):
        return [("image_features", try checkpoint.imageFeatures(try pixels(inputs, checkpoint.model.encoder)))]
      case let (.blip2(checkpoint), .qformer):
        let width = checkpoint.model.bridge.imageFeatureDim
        return try bridge(checkpoint.model, features: try inputs.floats(
          "image_features", shape: [nil, nil, width], dims: ["batch", "image tokens", "\(width)"]))
      case let (.blip2(checkpoint), .lm):
        let lm = checkpoint.languageModel
        return try languageModel(lm, prefix: try softPrompt(inputs, lm), inputs: inputs, imageToken: nil)
      case let (.blip2(checkpoint), .model):
        let model = checkpoint.model
        let features = try model.encoder.encode(try pixels(inputs, model.encoder))
        let bridged = try bridge(model, features: features)
        let queries = checkpoint.imageTokenId.map { ($0, model.bridge.outputTokens) }
        return [("image_features", features)] + bridged
          + (try languageModel(checkpoint.languageModel, prefix: bridged.last?.1, inputs: inputs, imageToken: queries))
      }
    }
    try inputs.checkAllRead(by: part)
    return outputs
  }

  /// Loads the checkpoint, reads `input`, runs `part` (nil: `defaultPart`) and writes the outputs to `output`
  /// (atomically, F32, with the checkpoint and part in the metadata). Returns the outputs written.
  /// - Throws: `Blip2CheckpointError.unknownPart`, the errors of `ForwardTarget.load`, `ForwardInputs.init` and
  ///   `run`, `SafeTensorsError.writeFailed` naming the output file.
  @discardableResult
  public static func run(checkpoint directory: URL, part name: String?, input: URL, output: URL) throws
    -> [(String, Tensor)]
  {
    if let name, ForwardPart(rawValue: name) == nil {
      throw Blip2CheckpointError.unknownPart(part: name, available: ForwardPart.allCases.map(\.rawValue))
    }
    let inputs = try ForwardInputs(file: input)  // before the (possibly large) checkpoint: a bad input fails fast
    let target = try ForwardTarget.load(directory: directory)
    let part = name.flatMap(ForwardPart.init(rawValue:)) ?? defaultPart(target)
    let outputs = try run(target, part: part, inputs: inputs)
    try SafeTensors.save(outputs, to: output, metadata: ["format": "pt", "checkpoint": directory.path, "part": part.rawValue])
    return outputs
  }

  /// `pixel_values`, checked against the tower's image size.
  static func pixels(_ inputs: ForwardInputs, _ encoder: any ImageEncoder) throws -> Tensor {
    let size = encoder.imageSize
    return try inputs.floats("pixel_values", shape: [nil, 3, size, size], dims: ["batch", "3", "\(size)", "\(size)"])
  }

  /// The optional `language_model_inputs` of the lm part.
  static func softPrompt(_ inputs: ForwardInputs, _ lm: any LanguageModel) throws -> Tensor? {
    try inputs.optionalFloats("language_model_inputs", shape: [nil, nil, lm.embeddingDim],
                              dims: ["batch", "prompt length", "\(lm.embeddingDim)"])
  }

  /// The Q-Former's query outputs and, with a language model, their projection.
  static func bridge(_ model: Blip2Model, features: Tensor) throws -> [(String, Tensor)] {
    let queries = try model.bridge.bridge(features)
    guard let projection = model.projection else { return [("query_output", queries)] }
    return [("query_output", queries), ("language_model_inputs", projection(queries))]
  }

  /// The language model's logits (and T5's encoder output) for `input_ids` after `prefix` [B, P, width].
  /// `imageToken`: (id, count) of leading image tokens to drop from `input_ids`.
  static func languageModel(_ lm: any LanguageModel, prefix: Tensor?, inputs: ForwardInputs,
                            imageToken: (id: Int, count: Int)?) throws -> [(String, Tensor)] {
    let vocabulary: Int
    switch lm {
    case let decoder as DecoderLM: vocabulary = decoder.configuration.vocabularySize
    case let t5 as EncoderDecoderLM: vocabulary = t5.configuration.vocabularySize
    default:
      throw Blip2CheckpointError.unsupported(reason: "forward runs OPT, GPT-2 and T5 language models, not a \(lm.kind)")
    }
    var text = try inputs.tokens("input_ids", mask: "attention_mask", vocabulary: vocabulary)
    if let (id, count) = imageToken { text = text.droppingLeading(id, count: count) }
    let prefixLength = prefix?.shape[1] ?? 0
    let lengths = text.lengths.map { $0 + prefixLength }
    if let lm = lm as? DecoderLM {
      let embedded = lm.tokenEmbedding(text.ids, shape: [text.batch, text.length])
      let x = prefix.map { Tensor.concat([$0, embedded], axis: 1) } ?? embedded
      return [("logits", try lm.logits(embeddings: x, validLengths: lengths))]
    }
    guard let lm = lm as? EncoderDecoderLM else { return [] }
    let embedded = lm.shared(text.ids, shape: [text.batch, text.length])
    let x = prefix.map { Tensor.concat([$0, embedded], axis: 1) } ?? embedded
    let encoded = try lm.encode(embeddings: x, validLengths: lengths)
    guard inputs.has("decoder_input_ids") else {
      throw Blip2CheckpointError.missingInput(file: inputs.file, name: "decoder_input_ids",
                                              expected: "[batch, length] for T5's decoder (its start token "
                                                + "\(lm.decoderStartTokenId) first)" + inputs.holds)
    }
    let decoder = try inputs.tokens("decoder_input_ids", mask: "decoder_attention_mask", vocabulary: vocabulary)
    let logits = try lm.decode(ids: decoder.ids, decoderLengths: decoder.lengths, encoded: encoded, encoderLengths: lengths)
    return [("logits", logits), ("encoder_last_hidden_state", encoded)]
  }
}

/// Token ids [batch, length] (row-major) with each row's real length (the rest is right padding).
struct TokenRows {
  var ids: [Int], lengths: [Int], batch: Int, length: Int

  /// The rows without `count` leading `id`s, when every row starts with them.
  func droppingLeading(_ id: Int, count: Int) -> TokenRows {
    guard count > 0, length >= count, lengths.allSatisfy({ $0 >= count }),
          (0..<batch).allSatisfy({ b in ids[(b * length)..<(b * length + count)].allSatisfy { $0 == id } }) else { return self }
    let kept = (0..<batch).flatMap { b in ids[(b * length + count)..<((b + 1) * length)] }
    return TokenRows(ids: kept, lengths: lengths.map { $0 - count }, batch: batch, length: length - count)
  }
}

/// The tensors of a forward input file, with their stored types, checked as each part reads them.
public final class ForwardInputs {
  /// The file's path, for messages.
  public let file: String
  private let tensors: [String: Tensor]
  private let types: [String: SafeTensorsDType]
  private var read: Set<String> = []
  private var batch: (size: Int, from: String)?

  /// Reads `file`.
  /// - Throws: `SafeTensorsError` naming the file.
  public init(file url: URL) throws {
    file = url.path
    let header = try SafeTensors.readHeader(url)
    types = Dictionary(uniqueKeysWithValues: header.entries.map { ($0.name, $0.dtype) })
    tensors = try SafeTensors.load(url)
  }

  /// Whether the file has `name`.
  public func has(_ name: String) -> Bool { tensors[name] != nil }

  private static let floatTypes: Set<SafeTensorsDType> = [.float32, .float16, .bfloat16, .float64]

  /// The float tensor `name` of `shape` (nil: any size; `dims` names each axis in messages), whose first axis is the
  /// batch every input shares.
  func floats(_ name: String, shape: [Int?], dims: [String]) throws -> Tensor {
    guard let tensor = try optionalFloats(name, shape: shape, dims: dims) else {
      throw Blip2CheckpointError.missingInput(file: file, name: name, expected: Self.describe(shape, dims) + holds)
    }
    return tensor
  }

  /// `floats`, or nil when the file has no `name`.
  func optionalFloats(_ name: String, shape: [Int?], dims: [String]) throws -> Tensor? {
    guard let tensor = tensors[name] else { return nil }
    read.insert(name)
    if let type = types[name], !Self.floatTypes.contains(type) {
      throw Blip2CheckpointError.inputDTypeMismatch(file: file, name: name, expected: "a float type (F32, F16, BF16)",
                                                    found: type.rawValue)
    }
    try check(name, tensor.shape, shape, dims)
    return tensor
  }

  /// The ids `name` [batch, length] (an integer type, each in 0..<vocabulary) with the lengths `mask` gives (1s
  /// then 0s; absent: every position).
  func tokens(_ name: String, mask maskName: String, vocabulary: Int) throws -> TokenRows {
    guard let tensor = tensors[name] else {
      throw Blip2CheckpointError.missingInput(file: file, name: name, expected: "token ids [batch, length] (I64)" + holds)
    }
    read.insert(name)
    try requireInteger(name, what: "token ids")
    try check(name, tensor.shape, [nil, nil], ["batch", "length"])
    let (rows, length) = (tensor.shape[0], tensor.shape[1])
    var ids: [Int] = []
    ids.reserveCapacity(tensor.count)
    for value in tensor.data {
      guard value >= 0, value < Float(vocabulary) else {
        throw Blip2CheckpointError.invalidInput(file: file, name: name,
                                                reason: "holds the id \(value), outside the vocabulary 0..<\(vocabulary)")
      }
      ids.append(Int(value))
    }
    var lengths = [Int](repeating: length, count: rows)
    if let mask = tensors[maskName] {
      read.insert(maskName)
      try requireInteger(maskName, what: "a 0/1 mask", allowBool: true)
      try check(maskName, mask.shape, [rows, length], ["batch", "length of \(name)"])
      for b in 0..<rows {
        let row = mask.data[(b * length)..<((b + 1) * length)]
        let valid = row.prefix { $0 == 1 }.count
        guard row.dropFirst(valid).allSatisfy({ $0 == 0 }) else {
          throw Blip2CheckpointError.invalidInput(file: file, name: maskName, reason: "row \(b) is not 1s then 0s: "
            + "only right padding is supported (tokenize with padding_side=\"right\")")
        }
        lengths[b] = valid
      }
    }
    return TokenRows(ids: ids, lengths: lengths, batch: rows, length: length)
  }

  /// "; the file holds a, b" for messages about a missing tensor.
  var holds: String {
    "; the file holds " + (tensors.isEmpty ? "no tensor" : tensors.keys.sorted().joined(separator: ", "))
  }

  /// Throws `unexpectedInput` for a tensor `part` did not read (a misspelt name would otherwise be ignored).
  func checkAllRead(by part: ForwardPart) throws {
    if let extra = tensors.keys.sorted().first(where: { !read.contains($0) }) {
      throw Blip2CheckpointError.unexpectedInput(file: file, name: extra, part: part.rawValue,
                                                 reads: part.reads.required + part.reads.optional)
    }
  }

  private func requireInteger(_ name: String, what: String, allowBool: Bool = false) throws {
    guard let type = types[name], Self.floatTypes.contains(type) || (type == .bool && !allowBool) else { return }
    throw Blip2CheckpointError.inputDTypeMismatch(file: file, name: name,
                                                  expected: "\(what) as an integer type (I64, as torch.long)"
                                                    + (allowBool ? " or BOOL" : ""), found: type.rawValue)
  }

  /// Checks `actual` against `expected` (nil: any), and its first axis against the batch of the inputs read so far.
  private func check(_ name: String, _ actual: [Int], _ expected: [Int?], _ dims: [String]) throws {
    var expected = expected
    if let batch, !expected.isEmpty { expected[0] = batch.size }
    guard actual.count == expected.count, zip(actual, expected).allSatisfy({ $1 == nil || $0 == $1 }) else {
      var description = Self.describe(expected, dims)
      if let batch, batch.from != name { description += " (the batch of \(batch.from) is \(batch.size))" }
      throw Blip2CheckpointError.inputShapeMismatch(file: file, name: name, expected: description, found: actual)
    }
    if batch == nil, let first = actual.first { batch = (first, name) }
  }

  /// `[batch, 3, 30, 30]`.
  private static func describe(_ shape: [Int?], _ dims: [String]) -> String {
    "[" + zip(shape, dims).map { $0.map(String.init) ?? $1 }.joined(separator: ", ") + "]"
  }
}
