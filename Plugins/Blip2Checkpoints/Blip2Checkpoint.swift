// Whole Hugging Face BLIP-2 checkpoints (`Blip2ForConditionalGeneration`: `vision_model`, `qformer`,
// `query_tokens`, `language_projection`, `language_model` with OPT or T5) loaded from a local folder into the
// composed `Blip2Model`, and run as transformers runs them: caption an image, answer a question zero-shot.

import Blip2Core
import DecoderLM
import EncoderDecoderLM
import Foundation
import HFTokenizers
import QFormer
import Tensor
import ViT

/// What can be wrong with a whole BLIP-2 checkpoint, an export, or the inputs of a forward run.
public enum Blip2CheckpointError: Error, LocalizedError, Equatable, Sendable {
  /// config.json is missing, unreadable or not a JSON object.
  case unreadableConfig(file: String, reason: String)
  /// A config.json field is missing, of the wrong type, or names something not supported.
  case invalidConfigValue(file: String, key: String, reason: String)
  /// The model cannot be written in transformers' BLIP-2 layout (`reason` says which part and why).
  case notExportable(reason: String)
  /// An input file lacks a tensor the component needs.
  case missingInput(file: String, name: String, expected: String)
  /// An input tensor has the wrong shape.
  case inputShapeMismatch(file: String, name: String, expected: String, found: [Int])
  /// An input tensor is stored with the wrong element type (floats for ids, or ids as floats).
  case inputDTypeMismatch(file: String, name: String, expected: String, found: String)
  /// An input tensor's values are not usable (an id outside the vocabulary, a mask that is not right padding).
  case invalidInput(file: String, name: String, reason: String)
  /// An input file holds a tensor the part does not read (a misspelt name would otherwise go unnoticed).
  case unexpectedInput(file: String, name: String, part: String, reads: [String])
  /// A part name that `forward` does not know.
  case unknownPart(part: String, available: [String])
  /// The checkpoint has no such part (a vision tower alone has no language model).
  case partUnavailable(part: String, available: [String])
  /// A component this code cannot run.
  case unsupported(reason: String)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .unreadableConfig(file, reason):
      return "\(file): cannot read the model configuration (\(reason)); a Hugging Face BLIP-2 folder needs config.json"
    case let .invalidConfigValue(file, key, reason):
      return "\(file): \"\(key)\" \(reason)"
    case let .notExportable(reason):
      return "cannot export in transformers' BLIP-2 layout: \(reason)"
    case let .missingInput(file, name, expected):
      return "\(file): no tensor \"\(name)\"; this component needs \(expected)"
    case let .inputShapeMismatch(file, name, expected, found):
      return "\(file): tensor \"\(name)\" is \(found), expected \(expected)"
    case let .inputDTypeMismatch(file, name, expected, found):
      return "\(file): tensor \"\(name)\" is stored as \(found); it must be \(expected)"
    case let .invalidInput(file, name, reason):
      return "\(file): tensor \"\(name)\" \(reason)"
    case let .unexpectedInput(file, name, part, reads):
      return "\(file): tensor \"\(name)\" is not an input of the \(part) part; it reads \(reads.joined(separator: ", "))"
    case let .unknownPart(part, available):
      return "no part \"\(part)\"; the parts are \(available.joined(separator: ", "))"
    case let .partUnavailable(part, available):
      return "this checkpoint has no \(part) part; it has \(available.joined(separator: ", ")) (the vision, qformer and "
        + "model parts need a whole BLIP-2 folder)"
    case let .unsupported(reason):
      return reason
    }
  }
}

/// A whole BLIP-2 checkpoint, loaded: the composed model (the vision tower frozen, the Q-Former and projection
/// as loaded, the language model frozen with the folder's tokenizer) and the checkpoint's image token.
public struct Blip2Checkpoint {
  /// The `model_type`s of whole BLIP-2 configs.
  public static let modelTypes = ["blip-2", "blip_2"]
  /// The folder it was read from.
  public let directory: URL
  /// Vision tower (last hidden state before `post_layernorm`) → Q-Former (with `ln_vision` =
  /// `post_layernorm`) → `language_projection` → language model.
  public let model: Blip2Model
  /// The model's language model, with the checkpoint's tokenizer.
  public let languageModel: any LanguageModel
  /// The id transformers' processor puts where the query outputs go (`image_token_index`), if the config has one.
  public let imageTokenId: Int?

  /// Whether `directory/config.json` describes a whole BLIP-2 model (a cheap check, for folder scans).
  public static func isBlip2(directory: URL) -> Bool {
    guard let data = try? Data(contentsOf: directory.appendingPathComponent("config.json")),
          let table = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
          let type = table["model_type"] as? String else { return false }
    return modelTypes.contains(type)
  }

  /// Loads a `Blip2ForConditionalGeneration` folder: config.json, model.safetensors (or a sharded index;
  /// F32/F16/BF16), and tokenizer.json for the language model (without one, a byte tokenizer: fine for tests only).
  /// - Throws: `Blip2CheckpointError` for a config that is not a BLIP-2 one or names an unsupported language
  ///   model (naming the file and key); the component loaders' errors (`VisionTransformerError`, `QFormerError`,
  ///   `DecoderLMError`, `EncoderDecoderLMError`, `HFTokenizerError`, `SafeTensorsError` for a missing shard,
  ///   `ModuleError` for a missing or mis-shaped tensor, each naming the file and the key).
  public static func load(directory: URL) throws -> Blip2Checkpoint {
    let config = try configFile(directory)
    let modelType = try config.string("model_type", default: "")
    guard modelTypes.contains(modelType) else {
      throw config.fail("model_type", "is \"\(modelType)\", not a whole BLIP-2 model (\"blip-2\"); load a vision tower, "
        + "Q-Former or language model folder with its own component")
    }
    guard let text = try config.nested("text_config") else { throw config.fail("text_config", "is required") }
    let textType = try text.string("model_type", default: "opt")
    let decoderOnly = try config.bool("use_decoder_only_language_model", default: textType != "t5")
    let languageModel: any LanguageModel
    switch (textType, decoderOnly) {
    case ("opt", true), ("gpt2", true): languageModel = try DecoderLM.load(directory: directory)
    case ("t5", false): languageModel = try EncoderDecoderLM.load(directory: directory)
    default:
      throw text.fail("model_type", "\"\(textType)\" (decoder-only: \(decoderOnly)) is not supported; supported: opt, "
        + "gpt2 (decoder-only), t5 (encoder-decoder)")
    }
    // transformers feeds the Q-Former post_layernorm(last hidden state); the Q-Former applies that norm itself
    // (LAVIS's ln_vision), so the tower returns the state before it.
    let encoder = try VisionTransformer.load(directory: directory, featureLayer: -1)
    let bridge = try QFormer.loadHuggingFaceBlip2(directory: directory)
    guard bridge.configuration.imageWidth == encoder.featureDim else {
      throw config.fail("qformer_config.encoder_hidden_size", "is \(bridge.configuration.imageWidth) but the vision "
        + "tower's width is \(encoder.featureDim)")
    }
    let model = Blip2Model(encoder: encoder, bridge: bridge, languageModel: languageModel)
    if let projection = model.projection {
      try projection.load(try SafeTensors.loadDirectory(directory), prefix: "language_projection.", strict: true,
                          source: directory.path)
    }
    return Blip2Checkpoint(directory: directory, model: model, languageModel: languageModel,
                           imageTokenId: try config.tokenId("image_token_index"))
  }

  /// `directory/config.json`, whose failures are `Blip2CheckpointError`s naming the file and key.
  static func configFile(_ directory: URL) throws -> HFConfigFile {
    let file = directory.appendingPathComponent("config.json").path
    return try HFConfigFile(
      directory: directory, unreadable: { Blip2CheckpointError.unreadableConfig(file: $0, reason: $1) },
      fail: { Blip2CheckpointError.invalidConfigValue(file: file, key: $0, reason: $1) })
  }

  /// The vision tower's features [B, N, width] of pixels [B, 3, H, W] (normalized as the preprocessor says).
  public func imageFeatures(_ pixels: Tensor) throws -> Tensor {
    try GradMode.noGrad { try model.encoder.encode(pixels) }
  }

  /// The soft visual prompt [B, queries, LM width] of pixels: `language_projection(qformer(...))`.
  public func softPrompt(_ pixels: Tensor) throws -> Tensor {
    try GradMode.noGrad { try model.softPrompt(try imageFeatures(pixels)) }
  }

  /// New token ids after each image's soft prompt and its prompt (tokenized as the checkpoint's tokenizer does;
  /// the LM adds its own special tokens), greedy or beam as `options` says.
  public func generate(pixels: Tensor, prompts: [String], options: GenerationOptions = GenerationOptions()) throws
    -> [[Int]]
  {
    let tokenizer = languageModel.tokenizer
    let prefix = try softPrompt(pixels)
    guard prefix.shape[0] == prompts.count else {
      throw Blip2CheckpointError.inputShapeMismatch(file: directory.path, name: "pixels",
                                                    expected: "one image per prompt (\(prompts.count))", found: pixels.shape)
    }
    var rng = RandomGenerator(seed: 0)
    return try GradMode.noGrad {
      try languageModel.generate(prefix: prefix, prompt: TokenBatch(prompts.map { tokenizer.encode($0) },
                                                                     padId: tokenizer.padId),
                                 options: options, rng: &rng)
    }
  }

  /// A caption per image (transformers' default: no prompt).
  public func caption(pixels: Tensor, prompt: String = "", options: GenerationOptions = GenerationOptions()) throws
    -> [String]
  {
    let count = pixels.rank == 4 ? pixels.shape[0] : 0
    return try generate(pixels: pixels, prompts: [String](repeating: prompt, count: count), options: options)
      .map { languageModel.tokenizer.decode($0) }
  }

  /// Zero-shot answers, one question per image, with the paper's prompt "Question: {} Answer:".
  public func answer(pixels: Tensor, questions: [String], options: GenerationOptions = GenerationOptions()) throws
    -> [String]
  {
    try generate(pixels: pixels, prompts: questions.map(ZeroShotPrompt.prompt), options: options)
      .map { languageModel.tokenizer.decode($0) }
  }
}
