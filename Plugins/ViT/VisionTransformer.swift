// A vision transformer in the CLIP / ViT style: patch embedding, class token, learned positions, pre-norm
// blocks. As BLIP-2's frozen image encoder it returns the tokens of a chosen hidden state (by default the
// second-last block's output: the paper removes the last block).

import Blip2Core
import Tensor

/// Patch embedding, class token and learned positions (`embeddings.*`).
public final class VisionEmbeddings: Module, @unchecked Sendable {
  /// Patch projection, stored as the convolution kernel [width, 3, patch, patch] of the checkpoints.
  public let patchWeight: Tensor
  /// Patch projection bias [width] (ViT and BLIP-2 have one; CLIP's convolution has none).
  public let patchBias: Tensor?
  /// The class token: [width] (CLIP) or [1, 1, width] (ViT, BLIP-2).
  public let classToken: Tensor
  /// Learned positions: [tokens, width] (CLIP) or [1, tokens, width] (ViT, BLIP-2).
  public let positions: Tensor
  /// Side of a patch.
  public let patchSize: Int
  /// Checkpoint layout.
  public let naming: VisionNaming

  /// Embeddings for `configuration`, N(0, 0.02²) initialized.
  public init(_ configuration: VisionTransformerConfiguration, rng: inout RandomGenerator) {
    let (width, patch) = (configuration.width, configuration.patchSize)
    let clip = configuration.naming == .clip
    patchWeight = Tensor.randn([width, 3, patch, patch], std: 0.02, rng: &rng, requiresGrad: true)
    patchBias = configuration.naming.hasPatchBias ? Tensor.zeros([width], requiresGrad: true) : nil
    classToken = Tensor.randn(clip ? [width] : [1, 1, width], std: 0.02, rng: &rng, requiresGrad: true)
    let tokens = configuration.tokenCount
    positions = Tensor.randn(clip ? [tokens, width] : [1, tokens, width], std: 0.02, rng: &rng, requiresGrad: true)
    patchSize = patch
    naming = configuration.naming
    super.init()
  }

  public override func ownParameters() -> [(String, Tensor)] {
    switch naming {
    case .clip:
      return [("patch_embedding.weight", patchWeight), ("class_embedding", classToken),
              ("position_embedding.weight", positions)]
    case .vit:
      return [("patch_embeddings.projection.weight", patchWeight)]
        + (patchBias.map { [("patch_embeddings.projection.bias", $0)] } ?? [])
        + [("cls_token", classToken), ("position_embeddings", positions)]
    case .blip2:
      return [("patch_embedding.weight", patchWeight)] + (patchBias.map { [("patch_embedding.bias", $0)] } ?? [])
        + [("class_embedding", classToken), ("position_embedding", positions)]
    }
  }

  /// The patch tokens alone, without class token or positions: [B, 3, H, W] → [B, (H/P)·(W/P), width].
  /// A stride = kernel convolution is exactly a linear map of each patch's pixels (im2col + matmul).
  public func patchTokens(_ pixels: Tensor) -> Tensor {
    let width = patchWeight.shape[0]
    let kernel = patchWeight.reshaped([width, -1])  // [width, 3·P·P], PyTorch's (channel, row, column) order
    return patchify(pixels, patchSize: patchSize).linear(weight: kernel, bias: patchBias)
  }

  /// [B, 1, width] class tokens followed by `tokens` [B, N, width] (the patch tokens, possibly a subset).
  public func prependClassToken(_ tokens: Tensor) -> Tensor {
    let (batch, width) = (tokens.shape[0], tokens.shape[2])
    let cls = classToken.reshaped([1, 1, width]) + Tensor.zeros([batch, 1, width])  // [B, 1, width]
    return Tensor.concat([cls, tokens], axis: 1)  // [B, 1 + N, width]
  }

  /// The learned positions as [1, tokens, width].
  public var positionTable: Tensor { positions.reshaped([1, positions.shape[positions.rank - 2], -1]) }

  /// [B, 3, H, W] → [B, 1 + N, width]: class token, patch tokens, plus positions.
  public func callAsFunction(_ pixels: Tensor) -> Tensor {
    prependClassToken(patchTokens(pixels)) + positionTable  // [B, 1 + N, width]
  }
}

/// Cuts [B, C, H, W] images into non-overlapping P×P patches: [B, (H/P)·(W/P), C·P·P], patches in row-major
/// grid order, each patch's values in (channel, row, column) order, as a PyTorch convolution kernel reads them.
public func patchify(_ pixels: Tensor, patchSize: Int) -> Tensor {
  let (batch, channels, height, width) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], pixels.shape[3])
  let (rows, columns) = (height / patchSize, width / patchSize)
  return pixels.reshaped([batch, channels, rows, patchSize, columns, patchSize])
    .permuted([0, 2, 4, 1, 3, 5])  // [B, rows, columns, C, P, P]
    .reshaped([batch, rows * columns, channels * patchSize * patchSize])  // [B, N, C·P·P]
}

/// Self-attention over [B, T, width] tokens, whichever way its projections are stored.
public protocol VisionSelfAttention: Module {
  /// [B, T, width] → [B, T, width], every token attending to every token.
  func attend(_ x: Tensor) -> Tensor
}

extension MultiHeadAttention: VisionSelfAttention {
  /// Self-attention without a mask.
  public func attend(_ x: Tensor) -> Tensor { self(x) }
}

/// BLIP-2's (EVA's) self-attention: one fused `qkv` projection (weight [3·width, width], bias [3·width]:
/// queries, keys, values in that order) and an output `projection`.
public final class FusedSelfAttention: Module, VisionSelfAttention, @unchecked Sendable {
  /// width → 3·width.
  public let qkv: Linear
  /// width → width.
  public let projection: Linear
  /// The number of heads.
  public let heads: Int

  /// Attention over `width` features with `heads` heads, N(0, 0.02²) weights.
  public init(width: Int, heads: Int, rng: inout RandomGenerator) {
    qkv = Linear(width, 3 * width, std: 0.02, rng: &rng)
    projection = Linear(width, width, std: 0.02, rng: &rng)
    self.heads = heads
    super.init()
  }

  public override func children() -> [(String, Module)] { [("qkv", qkv), ("projection", projection)] }

  public func attend(_ x: Tensor) -> Tensor {
    let width = projection.inFeatures
    let mixed = qkv(x)  // [B, T, 3·width]
    let (query, key, value) = (mixed.sliced(axis: 2, 0..<width), mixed.sliced(axis: 2, width..<(2 * width)),
                               mixed.sliced(axis: 2, (2 * width)..<(3 * width)))  // each [B, T, width]
    return projection(Tensor.attention(query: query, key: key, value: value, heads: heads))
  }
}

/// A pre-norm transformer block: h = x + Attn(LN₁(x)); y = h + MLP(LN₂(h)).
public final class VisionTransformerLayer: Module, @unchecked Sendable {
  /// Norm before attention (`layer_norm1` / `layernorm_before`).
  public let attentionNorm: LayerNorm
  /// Self-attention (separate or fused projections, by layout).
  public let attention: any VisionSelfAttention
  /// Norm before the feed-forward (`layer_norm2` / `layernorm_after`).
  public let feedForwardNorm: LayerNorm
  /// Feed-forward in (`mlp.fc1` / `intermediate.dense`).
  public let fc1: Linear
  /// Feed-forward out (`mlp.fc2` / `output.dense`).
  public let fc2: Linear
  /// Feed-forward activation.
  public let activation: VisionActivation
  /// Checkpoint layout.
  public let naming: VisionNaming

  /// A block for `configuration`, N(0, 0.02²) weights and zero biases.
  public init(_ configuration: VisionTransformerConfiguration, rng: inout RandomGenerator) {
    let c = configuration
    attentionNorm = LayerNorm(c.width, eps: c.layerNormEpsilon)
    switch c.naming {
    case .clip:
      attention = MultiHeadAttention(width: c.width, heads: c.heads, names: .projections, std: 0.02, rng: &rng)
    case .vit:
      let names = AttentionNames(query: "attention.query", key: "attention.key", value: "attention.value",
                                 output: "output.dense")
      attention = MultiHeadAttention(width: c.width, heads: c.heads, names: names, std: 0.02, rng: &rng)
    case .blip2:
      attention = FusedSelfAttention(width: c.width, heads: c.heads, rng: &rng)
    }
    feedForwardNorm = LayerNorm(c.width, eps: c.layerNormEpsilon)
    fc1 = Linear(c.width, c.intermediateSize, std: 0.02, rng: &rng)
    fc2 = Linear(c.intermediateSize, c.width, std: 0.02, rng: &rng)
    activation = c.activation
    naming = c.naming
    super.init()
  }

  public override func children() -> [(String, Module)] {
    switch naming {
    case .clip, .blip2:
      return [("layer_norm1", attentionNorm), ("self_attn", attention), ("layer_norm2", feedForwardNorm),
              ("mlp.fc1", fc1), ("mlp.fc2", fc2)]
    case .vit:
      return [("layernorm_before", attentionNorm), ("attention", attention), ("layernorm_after", feedForwardNorm),
              ("intermediate.dense", fc1), ("output.dense", fc2)]
    }
  }

  /// [B, T, width] → [B, T, width].
  public func callAsFunction(_ x: Tensor) -> Tensor {
    let h = x + attention.attend(attentionNorm(x))  // [B, T, width]
    return h + fc2(activation(fc1(feedForwardNorm(h))))  // [B, T, width]
  }
}

/// A CLIP-style vision transformer used as BLIP-2's frozen image encoder.
///
/// `encode` returns the hidden state chosen by `configuration.featureLayer` (default −2: the
/// second-last block's output, as BLIP-2 uses it), [B, 1 + (H/P)·(W/P), width]; blocks after it are not run.
public final class VisionTransformer: Module, ImageEncoder, @unchecked Sendable {
  /// Sizes and choices.
  public private(set) var configuration: VisionTransformerConfiguration
  /// Patch embedding, class token, positions.
  public let embeddings: VisionEmbeddings
  /// CLIP's norm after the embeddings (`pre_layrnorm`, spelled as in the checkpoints); nil for ViT.
  public let preNorm: LayerNorm?
  /// The blocks.
  public let layers: [VisionTransformerLayer]
  /// The final norm (`post_layernorm` / `layernorm`).
  public let postNorm: LayerNorm

  /// A randomly initialized vision transformer (seeded).
  /// - Throws: `VisionTransformerError.invalidConfiguration` when the sizes do not fit together.
  public init(_ configuration: VisionTransformerConfiguration, seed: UInt64 = 0) throws(VisionTransformerError) {
    try configuration.validate()
    var rng = RandomGenerator(seed: seed)
    self.configuration = configuration
    embeddings = VisionEmbeddings(configuration, rng: &rng)
    let eps = configuration.layerNormEpsilon
    preNorm = configuration.naming.hasPreNorm ? LayerNorm(configuration.width, eps: eps) : nil
    layers = (0..<configuration.layers).map { _ in VisionTransformerLayer(configuration, rng: &rng) }
    postNorm = LayerNorm(configuration.width, eps: eps)
    super.init()
  }

  public override func children() -> [(String, Module)] {
    switch configuration.naming {
    case .clip, .blip2:
      return [("embeddings", embeddings)] + (preNorm.map { [("pre_layrnorm", $0)] } ?? [])
        + layers.enumerated().map { ("encoder.layers.\($0.offset)", $0.element) } + [("post_layernorm", postNorm)]
    case .vit:
      return [("embeddings", embeddings)] + layers.enumerated().map { ("encoder.layer.\($0.offset)", $0.element) }
        + [("layernorm", postNorm)]
    }
  }

  /// Chooses which hidden state `encode` returns (see `VisionTransformerConfiguration.featureLayer`).
  /// - Throws: `VisionTransformerError.invalidConfiguration` when out of range.
  public func setFeatureLayer(_ layer: Int) throws(VisionTransformerError) {
    var changed = configuration
    changed.featureLayer = layer
    try changed.validate()
    configuration = changed
  }

  // MARK: ImageEncoder

  public var module: Module { self }
  public var kind: String { "vit" }
  public var summary: String {
    let c = configuration
    return "ViT (\(c.naming.rawValue), image \(c.imageSize), patch \(c.patchSize), width \(c.width), "
      + "\(c.layers) layers, \(c.heads) heads, features of hidden state \(c.resolvedFeatureLayer)/\(c.layers)"
      + (c.postNormFeatures ? " + post-norm)" : ")")
  }
  public var featureDim: Int { configuration.width }
  public var imageSize: Int { configuration.imageSize }
  public var tokenCount: Int { configuration.tokenCount }

  /// [B, 3, imageSize, imageSize] pixels → [B, 1 + N, width] features of `configuration.featureLayer`.
  /// - Throws: `VisionTransformerError.wrongInputShape` for any other input shape.
  public func encode(_ pixels: Tensor) throws -> Tensor {
    try checkInput(pixels)
    var h = features(fromEmbedded: embeddings(pixels), upTo: configuration.resolvedFeatureLayer)
    if configuration.postNormFeatures { h = postNorm(h) }
    return h
  }

  /// Throws unless `pixels` is [B, 3, imageSize, imageSize] with B ≥ 1.
  public func checkInput(_ pixels: Tensor) throws(VisionTransformerError) {
    let size = configuration.imageSize
    guard pixels.rank == 4, pixels.shape[0] > 0, Array(pixels.shape.dropFirst()) == [3, size, size] else {
      throw .wrongInputShape(expected: "[B, 3, \(size), \(size)]", got: pixels.shape)
    }
  }

  /// Hidden states 0...`last` as Hugging Face numbers them (0: embeddings after the pre-norm; i: block i's
  /// output), each [B, 1 + N, width]. Blocks after `last` are not run.
  public func hiddenStates(_ pixels: Tensor, upTo last: Int? = nil) -> [Tensor] {
    let last = last ?? layers.count
    precondition((0...layers.count).contains(last), "hiddenStates: layer \(last) is not in 0...\(layers.count)")
    return hiddenStates(fromEmbedded: embeddings(pixels), upTo: last)
  }

  /// Runs the pre-norm and blocks 1...`last` over already embedded tokens [B, T, width] (any T: the
  /// masked pre-training passes a subset of the patches). Returns hidden states 0...`last`.
  public func hiddenStates(fromEmbedded tokens: Tensor, upTo last: Int) -> [Tensor] {
    var states: [Tensor] = []
    _ = run(tokens, upTo: last) { states.append($0) }
    return states
  }

  /// Hidden state `last` of already embedded tokens [B, T, width], without keeping the earlier ones alive.
  public func features(fromEmbedded tokens: Tensor, upTo last: Int) -> Tensor { run(tokens, upTo: last) { _ in } }

  /// Pre-norm, then blocks 1...`last`; `visit` sees every hidden state. Returns the last one.
  private func run(_ tokens: Tensor, upTo last: Int, visit: (Tensor) -> Void) -> Tensor {
    var h = preNorm.map { $0(tokens) } ?? tokens  // [B, T, width]
    visit(h)
    for layer in layers.prefix(last) {
      h = layer(h)  // [B, T, width]
      visit(h)
    }
    return h
  }

  /// The last block's output through the final norm (CLIP's pooled features use its class token).
  public func finalFeatures(_ pixels: Tensor) -> Tensor {
    postNorm(features(fromEmbedded: embeddings(pixels), upTo: layers.count))
  }
}
