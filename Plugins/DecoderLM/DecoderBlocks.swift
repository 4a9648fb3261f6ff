// The transformer blocks of the decoder-only LM: OPT's (nn.Linear projections q/k/v/out_proj, fc1/fc2) and
// GPT-2's (Conv1D weights stored [in, out], one fused c_attn). Parameter names are Hugging Face's.

import Tensor

/// The keys and values a block's self-attention has seen, [B, T, width] each (projected, heads packed): the
/// KV cache of incremental decoding.
struct AttentionState {
  var keys: Tensor
  var values: Tensor

  /// `past` followed by the new positions' keys and values.
  init(appending keys: Tensor, _ values: Tensor, to past: AttentionState?) {
    guard let past else {
      (self.keys, self.values) = (keys, values)
      return
    }
    self.keys = Tensor.concat([past.keys, keys], axis: 1)
    self.values = Tensor.concat([past.values, values], axis: 1)
  }

  init(keys: Tensor, values: Tensor) {
    (self.keys, self.values) = (keys, values)
  }
}

/// A causal self-attention block.
protocol DecoderBlock: Module {
  /// Applies the block to [B, T, width] new positions that follow `past` (nil: none). `mask` is [B, T, past + T]
  /// (true = may attend), or nil when every new position may see every key (one new position per step).
  /// Returns the output [B, T, width] and the keys and values of `past` and the new positions.
  func callAsFunction(_ x: Tensor, mask: [Bool]?, past: AttentionState?) -> (Tensor, AttentionState)
}

/// An OPT decoder layer (`model.decoder.layers.{i}`): pre-LN (or post-LN for OPT-350m) self-attention and a
/// feed-forward of `fc1`, activation, `fc2`.
final class OPTDecoderLayer: Module, DecoderBlock, @unchecked Sendable {
  let selfAttention: MultiHeadAttention
  let selfAttentionNorm: LayerNorm
  let fc1: Linear
  let fc2: Linear
  let finalNorm: LayerNorm
  let activation: Activation
  let normBefore: Bool

  init(_ c: DecoderLMConfiguration, rng: inout RandomGenerator) {
    selfAttention = MultiHeadAttention(width: c.width, heads: c.heads, names: .projections, bias: c.bias, std: 0.02,
                                       rng: &rng)
    selfAttentionNorm = LayerNorm(c.width, eps: c.layerNormEpsilon)
    fc1 = Linear(c.width, c.feedForwardWidth, bias: c.bias, std: 0.02, rng: &rng)
    fc2 = Linear(c.feedForwardWidth, c.width, bias: c.bias, std: 0.02, rng: &rng)
    finalNorm = LayerNorm(c.width, eps: c.layerNormEpsilon)
    activation = c.activation
    normBefore = c.normBefore
    super.init()
  }

  override func children() -> [(String, Module)] {
    [("self_attn", selfAttention), ("self_attn_layer_norm", selfAttentionNorm), ("fc1", fc1), ("fc2", fc2),
     ("final_layer_norm", finalNorm)]
  }

  func callAsFunction(_ x: Tensor, mask: [Bool]?, past: AttentionState?) -> (Tensor, AttentionState) {
    let a = selfAttention
    let normed = normBefore ? selfAttentionNorm(x) : x  // [B, T, width]
    let state = AttentionState(appending: a.key(normed), a.value(normed), to: past)
    // OPT scales q by 1/√headDim before the product; the kernel's default scale is the same number.
    let mixed = Tensor.attention(query: a.query(normed), key: state.keys, value: state.values, heads: a.heads, mask: mask)
    var h = x + a.output(mixed)  // [B, T, width]
    if !normBefore { h = selfAttentionNorm(h) }
    let out = h + fc2(activation(fc1(normBefore ? finalNorm(h) : h)))
    return (normBefore ? out : finalNorm(out), state)
  }
}

/// GPT-2's `Conv1D`: y = x W + b with W stored [in, out] (the transpose of `nn.Linear`).
final class Conv1D: Module, @unchecked Sendable {
  /// [in, out].
  let weight: Tensor
  /// [out].
  let bias: Tensor

  init(_ inFeatures: Int, _ outFeatures: Int, rng: inout RandomGenerator) {
    weight = Tensor.randn([inFeatures, outFeatures], std: 0.02, rng: &rng, requiresGrad: true)
    bias = Tensor.zeros([outFeatures], requiresGrad: true)
    super.init()
  }

  override func ownParameters() -> [(String, Tensor)] { [("weight", weight), ("bias", bias)] }

  /// [..., in] → [..., out].
  func callAsFunction(_ x: Tensor) -> Tensor { x.matmul(weight) + bias }
}

/// A GPT-2 block (`transformer.h.{i}`): `ln_1`, `attn.c_attn` (q, k, v fused), `attn.c_proj`, `ln_2`,
/// `mlp.c_fc`, `mlp.c_proj`.
final class GPT2Block: Module, DecoderBlock, @unchecked Sendable {
  let norm1: LayerNorm
  let attention: Conv1D
  let attentionOutput: Conv1D
  let norm2: LayerNorm
  let feedForwardIn: Conv1D
  let feedForwardOut: Conv1D
  let activation: Activation
  let heads: Int

  init(_ c: DecoderLMConfiguration, rng: inout RandomGenerator) {
    norm1 = LayerNorm(c.width, eps: c.layerNormEpsilon)
    attention = Conv1D(c.width, 3 * c.width, rng: &rng)
    attentionOutput = Conv1D(c.width, c.width, rng: &rng)
    norm2 = LayerNorm(c.width, eps: c.layerNormEpsilon)
    feedForwardIn = Conv1D(c.width, c.feedForwardWidth, rng: &rng)
    feedForwardOut = Conv1D(c.feedForwardWidth, c.width, rng: &rng)
    activation = c.activation
    heads = c.heads
    super.init()
  }

  override func children() -> [(String, Module)] {
    [("ln_1", norm1), ("attn.c_attn", attention), ("attn.c_proj", attentionOutput), ("ln_2", norm2),
     ("mlp.c_fc", feedForwardIn), ("mlp.c_proj", feedForwardOut)]
  }

  func callAsFunction(_ x: Tensor, mask: [Bool]?, past: AttentionState?) -> (Tensor, AttentionState) {
    let width = x.shape[2]
    let qkv = attention(norm1(x))  // [B, T, 3·width]
    let state = AttentionState(appending: qkv.sliced(axis: 2, width..<(2 * width)),
                               qkv.sliced(axis: 2, (2 * width)..<(3 * width)), to: past)
    let mixed = Tensor.attention(query: qkv.sliced(axis: 2, 0..<width), key: state.keys, value: state.values,
                                 heads: heads, mask: mask)
    let h = x + attentionOutput(mixed)
    return (h + feedForwardOut(activation(feedForwardIn(norm2(h)))), state)
  }
}
