// Loading Hugging Face vision towers from a local folder: config.json (CLIPVisionModel, the vision_config of
// a CLIPModel, ViTModel) and model.safetensors (or a sharded index). Nothing is downloaded.

import Foundation
import Tensor

/// What can be wrong with a vision transformer's configuration, input or checkpoint folder.
public enum VisionTransformerError: Error, LocalizedError, Equatable, Sendable {
  /// The sizes do not fit together (`field` is the configuration field).
  case invalidConfiguration(field: String, reason: String)
  /// `encode` got pixels of another shape.
  case wrongInputShape(expected: String, got: [Int])
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
      return "vision transformer: \"\(field)\" \(reason)"
    case let .wrongInputShape(expected, got):
      return "vision transformer: pixels must be \(expected), got \(got); resize the images to the encoder's size"
    case let .unreadableConfig(file, reason):
      return "\(file): cannot read the model configuration (\(reason)); a Hugging Face model folder needs config.json"
    case let .invalidConfigValue(file, key, reason):
      return "\(file): \"\(key)\" \(reason)"
    case let .unsupportedModel(file, modelType, supported):
      return "\(file): model_type \"\(modelType)\" is not a vision tower this plugin loads; supported: "
        + supported.joined(separator: ", ")
    }
  }
}

extension VisionTransformer {
  /// The `model_type`s `load(directory:)` understands (a top-level one, or the one of a `vision_config`).
  public static let loadableModelTypes = ["clip_vision_model", "clip", "vit", "blip_2_vision_model", "blip-2"]

  /// Loads a Hugging Face vision tower from a local folder: `config.json` of a `CLIPVisionModel`, a `ViTModel`
  /// or a `Blip2VisionModel`, or of a `CLIPModel` / BLIP-2 model (their `vision_config` is used); weights
  /// from `model.safetensors` or a sharded index (F32/F16/BF16). Weights may sit under `vision_model.`
  /// (CLIPModel, BLIP-2, transformers 4 saves), `vit.` (ViTFor... heads) or no prefix; other tensors (text
  /// tower, Q-Former, language model, heads) are ignored. BLIP-2 checkpoints from transformers 4 store the
  /// fused attention bias as `q_bias` and `v_bias`; they are read as `qkv.bias` = [q_bias, 0, v_bias].
  ///
  /// - Parameter featureLayer: which hidden state `encode` returns. Default: −2 for CLIP and ViT (BLIP-2
  ///   removes the last block); for a BLIP-2 vision model, whose last block was already removed, −1 through
  ///   `post_layernorm`, exactly the features transformers' BLIP-2 gives its Q-Former. A layer given here is
  ///   returned as is, without the final norm.
  /// - Throws: `VisionTransformerError` for a missing or malformed config.json (naming the file and key),
  ///   `SafeTensorsError` for missing or corrupt weight files, `ModuleError` for a missing or mis-shaped tensor
  ///   (naming the folder and the tensor).
  public static func load(directory: URL, featureLayer: Int? = nil) throws -> VisionTransformer {
    var configuration = try configuration(directory: directory)
    if let featureLayer {
      configuration.featureLayer = featureLayer
      configuration.postNormFeatures = false
    }
    let model = try VisionTransformer(configuration)
    var tensors = try SafeTensors.loadDirectory(directory)
    let source = directory.path
    let anchor = model.namedParameters().first?.0 ?? ""
    let prefixes = ["", "vision_model.", "vit.", "model.vision_model."]
    guard let prefix = prefixes.first(where: { tensors[$0 + anchor] != nil }) else {
      throw ModuleError.missingParameter(name: anchor, source: source)
    }
    if configuration.naming == .blip2 { fuseLegacyAttentionBiases(&tensors, prefix: prefix, layers: configuration.layers) }
    try model.load(tensors, prefix: prefix, strict: true, source: source)
    return model
  }

  /// transformers 4 kept BLIP-2's `qkv` bias as `q_bias` and `v_bias` (the key bias fixed at 0); transformers
  /// 5 stores `qkv.bias`. Adds the latter where only the former are present.
  private static func fuseLegacyAttentionBiases(_ tensors: inout [String: Tensor], prefix: String, layers: Int) {
    for layer in 0..<layers {
      let base = "\(prefix)encoder.layers.\(layer).self_attn."
      guard tensors[base + "qkv.bias"] == nil, let query = tensors[base + "q_bias"], let value = tensors[base + "v_bias"],
            query.rank == 1, value.shape == query.shape else { continue }
      tensors[base + "qkv.bias"] = Tensor(shape: [3 * query.count],
                                          data: query.data + [Float](repeating: 0, count: query.count) + value.data)
    }
  }

  /// Reads `config.json` of a Hugging Face vision tower into a configuration. Absent fields take
  /// transformers' defaults for that model type. Features: hidden state −2 (CLIP, ViT), or −1 through
  /// `post_layernorm` (BLIP-2's vision model, already one block short).
  /// - Throws: `VisionTransformerError` naming the file and the key.
  public static func configuration(directory: URL) throws(VisionTransformerError) -> VisionTransformerConfiguration {
    let url = directory.appendingPathComponent("config.json")
    let file = url.path
    let root = try JSONValue.readObject(url)
    let fields = HFConfigFields(file: file)
    var table = root
    var modelType = try fields.string(root, "model_type", default: "")
    var path = ""
    if !["clip_vision_model", "vit", "blip_2_vision_model"].contains(modelType), let vision = root["vision_config"] {
      guard case let .object(nested) = vision else {
        throw .invalidConfigValue(file: file, key: "vision_config", reason: "must be a JSON object")
      }
      table = nested
      path = "vision_config."
      let nestedType = try fields.string(nested, "model_type", default: "", path: path)
      let implied = ["clip": "clip_vision_model", "blip-2": "blip_2_vision_model", "blip_2": "blip_2_vision_model"]
      modelType = nestedType.isEmpty ? implied[modelType] ?? "" : nestedType
    }
    // transformers' defaults per family: (naming, patch, activation, layer-norm epsilon, width, MLP, layers, heads).
    let family: (VisionNaming, Int, String, Double, Int, Int, Int, Int)
    switch modelType {
    case "clip_vision_model": family = (.clip, 32, "quick_gelu", 1e-5, 768, 3072, 12, 12)
    case "vit": family = (.vit, 16, "gelu", 1e-12, 768, 3072, 12, 12)
    case "blip_2_vision_model": family = (.blip2, 14, "gelu", 1e-6, 1408, 6144, 39, 16)
    default:
      throw .unsupportedModel(file: file, modelType: modelType.isEmpty ? "(none)" : modelType,
                              supported: loadableModelTypes)
    }
    let naming = family.0
    let channels = try fields.int(table, "num_channels", default: 3, path: path)
    guard channels == 3 else {
      throw .invalidConfigValue(file: file, key: path + "num_channels", reason: "must be 3 (RGB), got \(channels)")
    }
    if naming != .clip, try !fields.bool(table, "qkv_bias", default: true, path: path) {
      throw .invalidConfigValue(file: file, key: path + "qkv_bias", reason: "false is not supported (only true)")
    }
    let activationName = try fields.string(table, "hidden_act", default: family.2, path: path)
    guard let activation = VisionActivation(configName: activationName) else {
      let known = VisionActivation.allCases.map(\.rawValue).joined(separator: ", ")
      throw .invalidConfigValue(file: file, key: path + "hidden_act",
                                reason: "\"\(activationName)\" is not supported; supported: \(known)")
    }
    let configuration = VisionTransformerConfiguration(
      imageSize: try fields.int(table, "image_size", default: 224, path: path),
      patchSize: try fields.int(table, "patch_size", default: family.1, path: path),
      width: try fields.int(table, "hidden_size", default: family.4, path: path),
      layers: try fields.int(table, "num_hidden_layers", default: family.6, path: path),
      heads: try fields.int(table, "num_attention_heads", default: family.7, path: path),
      intermediateSize: try fields.int(table, "intermediate_size", default: family.5, path: path),
      activation: activation,
      layerNormEpsilon: Float(try fields.double(table, "layer_norm_eps", default: family.3, path: path)),
      featureLayer: naming == .blip2 ? -1 : -2,
      postNormFeatures: naming == .blip2,
      naming: naming)
    do {
      try configuration.validate()
    } catch let .invalidConfiguration(field, reason) {
      throw .invalidConfigValue(file: file, key: path + field, reason: reason)
    }
    return configuration
  }
}

/// A JSON value, decoded strictly (a boolean is never a number and a number never a boolean).
enum JSONValue: Decodable, CustomStringConvertible {
  case null, bool(Bool), number(Double), string(String), list([JSONValue]), object([String: JSONValue])

  init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() { self = .null }
    else if let flag = try? container.decode(Bool.self) { self = .bool(flag) }
    else if let number = try? container.decode(Double.self) { self = .number(number) }
    else if let text = try? container.decode(String.self) { self = .string(text) }
    else if let list = try? container.decode([JSONValue].self) { self = .list(list) }
    else { self = .object(try container.decode([String: JSONValue].self)) }
  }

  /// The top-level object of the JSON file at `url`.
  /// - Throws: `VisionTransformerError.unreadableConfig` when the file is missing or not a JSON object.
  static func readObject(_ url: URL) throws(VisionTransformerError) -> [String: JSONValue] {
    do {
      return try JSONDecoder().decode([String: JSONValue].self, from: Data(contentsOf: url))
    } catch {
      throw .unreadableConfig(file: url.path, reason: "\(error)")
    }
  }

  /// The value as JSON text (for messages).
  var description: String {
    switch self {
    case .null: return "null"
    case let .bool(flag): return String(flag)
    case let .number(number): return number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    case let .string(text): return "\"\(text)\""
    case let .list(values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
    case let .object(table): return "{" + table.keys.sorted().map { "\"\($0)\": \(table[$0]?.description ?? "")" }.joined(separator: ", ") + "}"
    }
  }
}

/// Typed reads of config.json fields, with errors naming the file and the (dotted) key.
struct HFConfigFields {
  let file: String

  func int(_ table: [String: JSONValue], _ key: String, default value: Int, path: String = "")
    throws(VisionTransformerError) -> Int
  {
    switch table[key] {
    case nil, .null?: return value
    case let .number(number)? where number > 0 && Int(exactly: number) != nil: return Int(number)
    case let raw?: throw .invalidConfigValue(file: file, key: path + key, reason: "must be a positive integer, got \(raw)")
    }
  }

  func double(_ table: [String: JSONValue], _ key: String, default value: Double, path: String = "")
    throws(VisionTransformerError) -> Double
  {
    switch table[key] {
    case nil, .null?: return value
    case let .number(number)?: return number
    case let raw?: throw .invalidConfigValue(file: file, key: path + key, reason: "must be a number, got \(raw)")
    }
  }

  func bool(_ table: [String: JSONValue], _ key: String, default value: Bool, path: String = "")
    throws(VisionTransformerError) -> Bool
  {
    switch table[key] {
    case nil, .null?: return value
    case let .bool(flag)?: return flag
    case let raw?: throw .invalidConfigValue(file: file, key: path + key, reason: "must be true or false, got \(raw)")
    }
  }

  func string(_ table: [String: JSONValue], _ key: String, default value: String, path: String = "")
    throws(VisionTransformerError) -> String
  {
    switch table[key] {
    case nil, .null?: return value
    case let .string(text)?: return text
    case let raw?: throw .invalidConfigValue(file: file, key: path + key, reason: "must be a string, got \(raw)")
    }
  }
}

extension VisionTransformer {
  /// Writes this model as a Hugging Face folder (`config.json` + `model.safetensors`) that
  /// `load(directory:)` reads back, and that transformers loads as a `CLIPVisionModel`, `ViTModel` or
  /// `Blip2VisionModel` (by `configuration.naming`). Used to cache a pre-trained encoder. `featureLayer` is
  /// not stored (transformers has no such field): pass it again to `load`.
  /// - Throws: `SafeTensorsError.writeFailed` (or a file-system error for config.json) naming the file.
  public func save(directory: URL) throws {
    let c = configuration
    let modelType = ["clip": "clip_vision_model", "vit": "vit", "blip2": "blip_2_vision_model"][c.naming.rawValue] ?? ""
    let architecture = ["clip": "CLIPVisionModel", "vit": "ViTModel", "blip2": "Blip2VisionModel"][c.naming.rawValue] ?? ""
    var fields: [String: JSONValue] = [
      "architectures": .list([.string(architecture)]), "model_type": .string(modelType),
      "hidden_size": .number(Double(c.width)), "intermediate_size": .number(Double(c.intermediateSize)),
      "num_hidden_layers": .number(Double(c.layers)), "num_attention_heads": .number(Double(c.heads)),
      "image_size": .number(Double(c.imageSize)), "patch_size": .number(Double(c.patchSize)),
      "num_channels": .number(3), "hidden_act": .string(c.activation.rawValue),
      "layer_norm_eps": .number(Double(c.layerNormEpsilon)),
    ]
    if c.naming != .clip { fields["qkv_bias"] = .bool(true) }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try Data((JSONValue.object(fields).description + "\n").utf8)
      .write(to: directory.appendingPathComponent("config.json"), options: .atomic)
    try SafeTensors.save(namedParameters(), to: directory.appendingPathComponent(SafeTensors.singleFileName),
                         metadata: ["format": "pt"])
  }
}
