// A composed BLIP-2 model: frozen image encoder → trainable bridge → trainable projection → frozen LM.

import Foundation
import Synchronization
import Tensor

/// One part of a composed model, for listings and model graphs.
public struct ModelPart: Sendable, Equatable {
  /// Role in the pipeline: `encoder`, `bridge`, `projection`, `lm`.
  public var role: String
  /// The registry kind (e.g. `vit`, `qformer`).
  public var kind: String
  /// The component's one-line description.
  public var summary: String
  /// Whether every parameter is frozen.
  public var frozen: Bool
  /// Parameter elements.
  public var parameters: Int
  /// Trainable parameter elements.
  public var trainable: Int
}

/// Frozen image encoder + bridge + projection + frozen language model.
public final class Blip2Model {
  /// The frozen image encoder.
  public let encoder: any ImageEncoder
  /// The trainable bridge.
  public let bridge: any Bridge
  /// The frozen language model (nil for a stage-1-only model).
  public let languageModel: (any LanguageModel)?
  /// bridge.outputDim → lm.embeddingDim (LAVIS: `opt_proj` / `t5_proj`); nil without an LM.
  public let projection: Linear?
  /// Frozen image features by example id (the encoder is frozen, so each image is encoded once), shared by every
  /// model composed with an encoder of the same kind and weights (e.g. the runs of a sweep).
  public let featureCache: FeatureCache

  /// Composes the parts; the encoder and the LM are frozen here (BLIP-2's premise).
  public init(encoder: any ImageEncoder, bridge: any Bridge, languageModel: (any LanguageModel)?, seed: UInt64 = 0) {
    self.encoder = encoder
    self.bridge = bridge
    self.languageModel = languageModel
    encoder.module.freeze()
    encoder.module.eval()
    featureCache = FeatureCache.shared(for: encoder)
    if let languageModel {
      languageModel.module.freeze()
      languageModel.module.eval()
      var rng = RandomGenerator(seed: mixSeed(seed, 17))
      projection = Linear(bridge.outputDim, languageModel.embeddingDim, rng: &rng)
    } else {
      projection = nil
    }
  }

  /// The parts, in pipeline order.
  public var parts: [ModelPart] {
    var result = [
      part("encoder", encoder.kind, encoder.summary, encoder.module),
      part("bridge", bridge.kind, bridge.summary, bridge.module),
    ]
    if let projection {
      result.append(part("projection", "linear", "Linear(\(projection.inFeatures) → \(projection.outFeatures))", projection))
    }
    if let languageModel {
      result.append(part("lm", languageModel.kind, languageModel.summary, languageModel.module))
    }
    return result
  }

  private func part(_ role: String, _ kind: String, _ summary: String, _ module: Module) -> ModelPart {
    ModelPart(role: role, kind: kind, summary: summary, frozen: module.isFrozen, parameters: module.parameterCount,
              trainable: module.trainableParameterCount)
  }

  /// A table of the parts with frozen/trainable status and parameter counts.
  public var summary: String {
    var lines = ["BLIP-2 model: " + parts.map(\.kind).joined(separator: " → ")]
    for p in parts {
      let status = p.frozen ? "frozen   " : "trainable"
      lines.append("  \(p.role.padding(toLength: 10, withPad: " ", startingAt: 0)) \(status) "
        + "\(formatCount(p.parameters).padding(toLength: 8, withPad: " ", startingAt: 0)) \(p.summary)")
    }
    let total = parts.reduce(0) { $0 + $1.parameters }, trainable = parts.reduce(0) { $0 + $1.trainable }
    lines.append("  trainable \(formatCount(trainable)) of \(formatCount(total)) parameters")
    return lines.joined(separator: "\n")
  }

  /// Trainable parameters of stage 2 (bridge + projection), with role prefixes.
  public var stage2Parameters: [(String, Tensor)] {
    bridge.module.namedParameters(prefix: "bridge.") + (projection?.namedParameters(prefix: "projection.") ?? [])
  }

  /// Frozen features [B, N, featureDim] of `examples`, encoding (under no-grad) only those not cached.
  public func imageFeatures(_ examples: [Example]) throws -> Tensor {
    try featureCache.features(examples, encoder: encoder)
  }

  /// The soft visual prompt [B, outputTokens, lm.embeddingDim] for image features.
  public func softPrompt(_ features: Tensor) throws -> Tensor {
    guard let projection else {
      throw TrainingError.invalidSetting("this model has no language model, so there is no soft prompt (compose it with an lm)")
    }
    return projection(try bridge.bridge(features))
  }

  /// Stage-2 loss: the LM's loss of `target` after the soft prompt and `input` (see `LanguageModel.loss`).
  public func stage2Loss(features: Tensor, input: TokenBatch, target: TokenBatch) throws -> Tensor {
    guard let languageModel else {
      throw TrainingError.invalidSetting("stage 2 needs a language model: compose the model with an lm")
    }
    return try languageModel.loss(prefix: try softPrompt(features), input: input, target: target)
  }

  /// Generates text for each image after the soft prompt and `prompt` (e.g. "Question: ... Answer:").
  public func generate(features: Tensor, prompts: [String], options: GenerationOptions = GenerationOptions(),
                       rng: inout RandomGenerator) throws -> [String] {
    guard let languageModel else {
      throw TrainingError.invalidSetting("generation needs a language model: compose the model with an lm")
    }
    let tokenizer = languageModel.tokenizer
    let promptBatch = TokenBatch(prompts.map { tokenizer.encode($0) }, padId: tokenizer.padId)
    let prefix = try GradMode.noGrad { try softPrompt(features) }
    let ids = try GradMode.noGrad {
      try languageModel.generate(prefix: prefix, prompt: promptBatch, options: options, rng: &rng)
    }
    return ids.map { tokenizer.decode($0) }
  }
}

/// Frozen image features by example id, in memory.
public final class FeatureCache: @unchecked Sendable {
  private var stored: [String: [Float]] = [:]
  private var tokenShape: [Int]?
  private let lock = NSLock()

  /// An empty cache.
  public init() {}

  private static let registry = Mutex<[String: FeatureCache]>([:])

  /// The process's cache for the features of `encoder` as its weights are now (one per kind, summary and weights).
  public static func shared(for encoder: any ImageEncoder) -> FeatureCache {
    let key = stableHash([encoder.kind, encoder.summary, encoder.module.contentFingerprint])
    return registry.withLock { caches in
      if let cache = caches[key] { return cache }
      let cache = FeatureCache()
      caches[key] = cache
      return cache
    }
  }

  /// How many images are cached.
  public var count: Int { lock.withLock { stored.count } }

  /// The key of an example's image: its id and a hash of its pixels (a shared cache sees many datasets, and two
  /// of them may reuse an id for different pictures).
  static func key(_ example: Example) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    example.image.pixels.withUnsafeBufferPointer { pixels in
      for value in pixels { hash = (hash ^ UInt64(value.bitPattern)) &* 0x0000_0100_0000_01B3 }
    }
    return example.id + "#" + String(hash, radix: 16)
  }

  /// [B, N, D] features of `examples`, running `encoder` (no-grad, eval) on the missing ones only.
  public func features(_ examples: [Example], encoder: any ImageEncoder) throws -> Tensor {
    let keys = examples.map(Self.key)
    let missingIndices = lock.withLock { keys.indices.filter { stored[keys[$0]] == nil } }
    let missing = missingIndices.map { examples[$0] }
    if !missing.isEmpty {
      let size = encoder.imageSize
      for example in missing where example.image.width != size || example.image.height != size {
        throw TrainingError.invalidSetting(
          "image \(example.id) is \(example.image.width)x\(example.image.height) but the encoder expects \(size)x\(size)")
      }
      let pixels = Tensor(shape: [missing.count, 3, size, size], data: missing.flatMap(\.image.pixels))
      let encoded = try GradMode.noGrad { try encoder.encode(pixels) }  // [M, N, D]
      let perImage = encoded.count / missing.count
      lock.withLock {
        tokenShape = Array(encoded.shape.dropFirst())
        for (i, index) in missingIndices.enumerated() {
          stored[keys[index]] = Array(encoded.data[(i * perImage)..<((i + 1) * perImage)])
        }
      }
    }
    return lock.withLock {
      let shape = tokenShape ?? [0, 0]
      return Tensor(shape: [examples.count] + shape, data: keys.flatMap { stored[$0]! })
    }
  }
}

/// 1234 → "1.2K", 188_000_000 → "188M".
public func formatCount(_ value: Int) -> String {
  switch value {
  case ..<1000: return "\(value)"
  case ..<1_000_000: return String(format: "%.1fK", Double(value) / 1e3)
  case ..<1_000_000_000: return String(format: "%.1fM", Double(value) / 1e6)
  default: return String(format: "%.2fB", Double(value) / 1e9)
  }
}
