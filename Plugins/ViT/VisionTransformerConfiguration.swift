// The sizes and choices of a vision transformer, its presets, and the activations vision towers use.

import Tensor

/// The feed-forward activation of a vision transformer, by the name Hugging Face configs give it.
public enum VisionActivation: String, Sendable, CaseIterable, Codable {
  /// CLIP's x·σ(1.702x) (`quick_gelu`).
  case quickGelu = "quick_gelu"
  /// GELU with erf (`gelu`: ViT, EVA, BLIP-2's vision model).
  case gelu
  /// GELU, tanh approximation (`gelu_new`; `gelu_pytorch_tanh` reads as this too).
  case geluTanh = "gelu_new"
  /// max(x, 0).
  case relu

  /// Reads a config's `hidden_act`, accepting the aliases transformers accepts for the same function.
  public init?(configName: String) {
    switch configName {
    case "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
    default: self.init(rawValue: configName)
    }
  }

  /// Applies the activation elementwise.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    switch self {
    case .quickGelu:
      // x·σ(1.702x) = x / (1 + e^(−1.702x)), composed from primitives (Tensor has no sigmoid op).
      return x / ((x * -1.702).exp() + 1)
    case .gelu: return x.geluErf()
    case .geluTanh: return x.geluTanh()
    case .relu: return x.relu()
    }
  }
}

/// Which checkpoint layout the parameter names follow.
public enum VisionNaming: String, Sendable, CaseIterable, Codable {
  /// Hugging Face `CLIPVisionModel`: `embeddings.patch_embedding` (no bias), `class_embedding`,
  /// `position_embedding.weight`, `pre_layrnorm`, `encoder.layers.{i}.self_attn.q_proj`, ..., `post_layernorm`.
  case clip
  /// Hugging Face `ViTModel`: `embeddings.patch_embeddings.projection` (with bias), `cls_token`,
  /// `position_embeddings`, no pre-norm, `encoder.layer.{i}.attention.attention.query`, ..., `layernorm`.
  case vit
  /// Hugging Face `Blip2VisionModel` (EVA-style): `embeddings.patch_embedding` (with bias),
  /// `class_embedding` [1, 1, D], `position_embedding` [1, T, D], no pre-norm, fused
  /// `encoder.layers.{i}.self_attn.qkv` (weight [3D, D], bias [3D]) and `self_attn.projection`, `post_layernorm`.
  case blip2

  /// Whether the layout has CLIP's norm after the embeddings (`pre_layrnorm`).
  var hasPreNorm: Bool { self == .clip }
  /// Whether the patch projection has a bias (CLIP's convolution has none).
  var hasPatchBias: Bool { self != .clip }
}

/// The sizes and choices of a `VisionTransformer`. Every field has a default (the `tiny` preset).
public struct VisionTransformerConfiguration: Sendable, Equatable, Codable {
  /// Square input size in pixels; must be a multiple of `patchSize`.
  public var imageSize: Int = 64
  /// Side of the square, non-overlapping patches.
  public var patchSize: Int = 8
  /// Token width (`hidden_size`).
  public var width: Int = 192
  /// Transformer blocks (`num_hidden_layers`).
  public var layers: Int = 6
  /// Attention heads; must divide `width`.
  public var heads: Int = 3
  /// Feed-forward width (`intermediate_size`); 4·width by convention.
  public var intermediateSize: Int = 768
  /// Feed-forward activation. The presets use GELU: a fused kernel, while `quick_gelu` is composed from four
  /// elementwise ops (about 10× the time of the fused GELU; checkpoints that need it still get it).
  public var activation: VisionActivation = .gelu
  /// LayerNorm epsilon (CLIP: 1e-5, ViT: 1e-12).
  public var layerNormEpsilon: Float = 1e-5
  /// Which hidden state `encode` returns, indexed as Hugging Face's `hidden_states` tuple: 0 is the
  /// embeddings (after the pre-norm), i the output of block i, negative counts from the end. BLIP-2 uses
  /// −2 (the last block removed, the second-last block's output); −1 is the last block.
  public var featureLayer: Int = -2
  /// Whether `encode` applies `post_layernorm` to the features (CLIP's `last_hidden_state` does not;
  /// HF BLIP-2's vision model does, on a tower whose last block was already removed).
  public var postNormFeatures: Bool = false
  /// Parameter naming (and the small architectural differences that go with it).
  public var naming: VisionNaming = .clip

  /// A configuration; the defaults are the `tiny` preset.
  public init(imageSize: Int = 64, patchSize: Int = 8, width: Int = 192, layers: Int = 6, heads: Int = 3,
              intermediateSize: Int? = nil, activation: VisionActivation = .gelu,
              layerNormEpsilon: Float = 1e-5, featureLayer: Int = -2, postNormFeatures: Bool = false,
              naming: VisionNaming = .clip) {
    self.imageSize = imageSize
    self.patchSize = patchSize
    self.width = width
    self.layers = layers
    self.heads = heads
    self.intermediateSize = intermediateSize ?? 4 * width
    self.activation = activation
    self.layerNormEpsilon = layerNormEpsilon
    self.featureLayer = featureLayer
    self.postNormFeatures = postNormFeatures
    self.naming = naming
  }

  /// 64-px images, patch 8 (64 patches + class token), width 192, 6 blocks, 3 heads: the sandbox default
  /// (≈2.7M parameters; fast enough on a laptop CPU to pre-train in minutes).
  public static let tiny = VisionTransformerConfiguration()
  /// 64-px images, patch 8, width 384, 8 blocks, 6 heads (≈14M parameters).
  public static let small = VisionTransformerConfiguration(width: 384, layers: 8, heads: 6)
  /// ViT-B/16's shape: 224-px images, patch 16 (196 patches + class token), width 768, 12 blocks, 12 heads.
  public static let base = VisionTransformerConfiguration(imageSize: 224, patchSize: 16, width: 768, layers: 12,
                                                          heads: 12)

  /// The presets by name (`size` in the registry config).
  public static let presets: [String: VisionTransformerConfiguration] = ["tiny": tiny, "small": small, "base": base]

  /// Patches per side.
  public var gridSize: Int { imageSize / patchSize }
  /// Tokens per image: the class token and one per patch, 1 + (imageSize/patchSize)².
  public var tokenCount: Int { 1 + gridSize * gridSize }

  /// `featureLayer` as a non-negative index into the hidden states (0...layers).
  public var resolvedFeatureLayer: Int { featureLayer < 0 ? layers + 1 + featureLayer : featureLayer }

  /// Checks the sizes fit together.
  /// - Throws: `VisionTransformerError.invalidConfiguration` naming the field and what is wrong.
  public func validate() throws(VisionTransformerError) {
    func fail(_ field: String, _ reason: String) -> VisionTransformerError {
      .invalidConfiguration(field: field, reason: reason)
    }
    guard patchSize > 0 else { throw fail("patchSize", "must be positive, got \(patchSize)") }
    guard imageSize > 0 && imageSize % patchSize == 0 else {
      throw fail("imageSize", "must be a positive multiple of patchSize \(patchSize), got \(imageSize)")
    }
    guard width > 0, heads > 0, width % heads == 0 else {
      throw fail("heads", "must divide width \(width), got \(heads)")
    }
    guard layers > 0 else { throw fail("layers", "must be positive, got \(layers)") }
    guard intermediateSize > 0 else { throw fail("intermediateSize", "must be positive, got \(intermediateSize)") }
    guard (0...layers).contains(resolvedFeatureLayer) else {
      throw fail("featureLayer", "must be in \(-(layers + 1))...\(layers) for \(layers) layers, got \(featureLayer)")
    }
  }
}
