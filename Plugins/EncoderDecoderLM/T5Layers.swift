// T5's layers with Hugging Face's parameter names: the RMS norm, attention with relative position buckets (no
// 1/√d scaling, no biases), the feed-forwards, and the encoder and decoder blocks.
//
// T5's self-attention adds a learned bias per (head, query, key) to the scores, which the fused attention kernel
// cannot take (it takes a boolean mask only); it is composed here from matmul, +, maskedFill and softmax. The
// cross-attention has no position bias and uses the fused kernel with scale 1.

import Foundation
import Tensor

/// T5's layer norm: x / √(mean(x²) + eps) · weight; no mean subtraction, no bias (an RMS norm).
final class T5LayerNorm: Module, @unchecked Sendable {
  /// [width], initialised to ones.
  let weight: Tensor
  let eps: Float

  init(_ width: Int, eps: Float) {
    weight = Tensor.ones([width], requiresGrad: true)
    self.eps = eps
    super.init()
  }

  override func ownParameters() -> [(String, Tensor)] { [("weight", weight)] }

  /// Normalizes [..., width].
  func callAsFunction(_ x: Tensor) -> Tensor {
    let meanSquare = (x * x).mean(axis: -1, keepDims: true)  // [..., 1]
    return x / (meanSquare + eps).sqrt() * weight
  }
}

/// T5 attention (`SelfAttention` / `EncDecAttention`): projections `q`, `k`, `v`, `o` without bias, and in the
/// first block of each stack the `relative_attention_bias` table [buckets, heads] shared by the stack's blocks.
final class T5Attention: Module, @unchecked Sendable {
  let query: Linear, key: Linear, value: Linear, output: Linear
  /// [buckets, heads]; only in block 0's self-attention.
  let relativeBias: Embedding?
  let heads: Int
  let headWidth: Int
  let relativeMaxDistance: Int

  init(_ c: EncoderDecoderLMConfiguration, hasRelativeBias: Bool, rng: inout RandomGenerator) {
    let std = Float(1 / Double(c.width).squareRoot())
    query = Linear(c.width, c.innerWidth, bias: false, std: std / Float(Double(c.headWidth).squareRoot()), rng: &rng)
    key = Linear(c.width, c.innerWidth, bias: false, std: std, rng: &rng)
    value = Linear(c.width, c.innerWidth, bias: false, std: std, rng: &rng)
    output = Linear(c.innerWidth, c.width, bias: false, std: Float(1 / Double(c.innerWidth).squareRoot()), rng: &rng)
    relativeBias = hasRelativeBias ? Embedding(c.relativeBuckets, c.heads, std: std, rng: &rng) : nil
    heads = c.heads
    headWidth = c.headWidth
    relativeMaxDistance = c.relativeMaxDistance
    super.init()
  }

  override func children() -> [(String, Module)] {
    [("q", query), ("k", key), ("v", value), ("o", output)] + (relativeBias.map { [("relative_attention_bias", $0)] } ?? [])
  }

  /// The position bias [heads, Tq, Tk] from this layer's table (which must exist), for queries at positions
  /// `queryOffset ..< queryOffset + queries` and keys at `0 ..< keys`.
  func positionBias(queries: Int, keys: Int, bidirectional: Bool, queryOffset: Int = 0) -> Tensor {
    guard let relativeBias else { preconditionFailure("internal: T5 position bias from a layer without a table") }
    var buckets = [Int](repeating: 0, count: queries * keys)
    for i in 0..<queries {
      for j in 0..<keys {
        buckets[i * keys + j] = T5Attention.bucket(relative: j - i - queryOffset, bidirectional: bidirectional,
                                                   buckets: relativeBias.count, maxDistance: relativeMaxDistance)
      }
    }
    return relativeBias(buckets, shape: [queries, keys]).permuted([2, 0, 1])  // [heads, Tq, Tk]
  }

  /// Self-attention over [B, T, width] with an additive `bias` [heads, T, T] and `allowed` [B, T, T] (true = may
  /// attend). Scores are q·k without scaling, as T5 (its initialization absorbs the 1/√d).
  func callAsFunction(_ x: Tensor, bias: Tensor, allowed: [Bool]) -> Tensor {
    output(Self.composedAttention(query: query(x), key: key(x), value: value(x), heads: heads, bias: bias,
                                  allowed: allowed))
  }

  /// One decoding step of self-attention: [B, 1, width] at the position after `past` (keys and values
  /// [B, t, inner], nil at the first step), with the bias row [heads, 1, t + 1]. Returns the output and the keys
  /// and values including the new position.
  func step(_ x: Tensor, bias: Tensor, past: KeyValues?) -> (Tensor, KeyValues) {
    let (k, v) = (key(x), value(x))  // [B, 1, inner]
    let keys = past.map { Tensor.concat([$0.keys, k], axis: 1) } ?? k
    let values = past.map { Tensor.concat([$0.values, v], axis: 1) } ?? v
    let allowed = [Bool](repeating: true, count: x.shape[0] * keys.shape[1])  // [B, 1, t + 1]
    let mixed = Self.composedAttention(query: query(x), key: keys, value: values, heads: heads, bias: bias,
                                       allowed: allowed)
    return (output(mixed), KeyValues(keys: keys, values: values))
  }

  /// Cross-attention from [B, Tq, width] to `context` [B, Tk, width] with `allowed` [B, Tq, Tk]: the fused kernel
  /// (scale 1) when the query and the keys both need gradients or neither does, else the composed path.
  func callAsFunction(_ x: Tensor, context: Tensor, allowed: [Bool]) -> Tensor {
    let (q, k, v) = (query(x), key(context), value(context))
    // The fused kernel's backward writes a query gradient when only the keys need one (Tensor bug, reported):
    // which happens in the decoder's first block when a frozen model passes gradients to the soft prompt.
    guard q.requiresGrad == k.requiresGrad && k.requiresGrad == v.requiresGrad else {
      return output(Self.composedAttention(query: q, key: k, value: v, heads: heads, bias: nil, allowed: allowed))
    }
    return output(Tensor.attention(query: q, key: k, value: v, heads: heads, mask: allowed, scale: 1))
  }

  /// softmax(q·kᵀ + bias, masked) v from primitive ops, for projected [B, Tq, heads·d] queries and [B, Tk, heads·d]
  /// keys and values, `bias` [heads, Tq, Tk] (or none), `allowed` [B, Tq, Tk]. Returns [B, Tq, heads·d].
  static func composedAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int, bias: Tensor?,
                                allowed: [Bool]) -> Tensor {
    let (batch, queries, keys, inner) = (query.shape[0], query.shape[1], key.shape[1], query.shape[2])
    func split(_ t: Tensor, _ length: Int) -> Tensor {
      t.reshaped([batch, length, heads, inner / heads]).permuted([0, 2, 1, 3])  // [B, heads, T, d]
    }
    var scores = split(query, queries).matmul(split(key, keys), transposeB: true)  // [B, heads, Tq, Tk]
    if let bias { scores = scores + bias }
    let block = queries * keys
    var blocked = [Bool](repeating: false, count: batch * heads * block)
    for b in 0..<batch {
      for h in 0..<heads {
        for i in 0..<block where !allowed[b * block + i] { blocked[(b * heads + h) * block + i] = true }
      }
    }
    let weights = scores.maskedFill(blocked, maskShape: [batch, heads, queries, keys], value: -.infinity).softmax()
    let mixed = weights.matmul(split(value, keys))  // [B, heads, Tq, d]
    return mixed.permuted([0, 2, 1, 3]).reshaped([batch, queries, inner])
  }

  /// T5's relative-position bucket of `relative` = key position − query position: exact buckets for small
  /// distances, logarithmic ones up to `maxDistance`, half of them for positive distances when bidirectional
  /// (the encoder), none for them when not (the decoder sees only the past). In Float32 as transformers computes it.
  static func bucket(relative: Int, bidirectional: Bool, buckets: Int, maxDistance: Int) -> Int {
    var count = buckets
    var base = 0
    let distance: Int
    if bidirectional {
      count /= 2
      if relative > 0 { base = count }
      distance = abs(relative)
    } else {
      distance = -min(relative, 0)
    }
    let maxExact = count / 2
    if distance < maxExact { return base + distance }
    let logRatio = Foundation.log(Float(distance) / Float(maxExact))
      / Float(Foundation.log(Double(maxDistance) / Double(maxExact)))
    let large = maxExact + Int(logRatio * Float(count - maxExact))
    return base + min(large, count - 1)
  }
}

/// T5's feed-forward (`DenseReluDense`): `wi`, `wo` with ReLU, or `wi_0`, `wi_1`, `wo` gated with GELU (tanh).
final class T5FeedForwardLayer: Module, @unchecked Sendable {
  let kind: T5FeedForward
  /// `wi` or `wi_0`.
  let input: Linear
  /// `wi_1` (gated only).
  let gate: Linear?
  /// `wo`.
  let output: Linear

  init(_ c: EncoderDecoderLMConfiguration, rng: inout RandomGenerator) {
    kind = c.feedForward
    let std = Float(1 / Double(c.width).squareRoot())
    input = Linear(c.width, c.feedForwardWidth, bias: false, std: std, rng: &rng)
    gate = c.feedForward == .gatedGelu ? Linear(c.width, c.feedForwardWidth, bias: false, std: std, rng: &rng) : nil
    output = Linear(c.feedForwardWidth, c.width, bias: false, std: Float(1 / Double(c.feedForwardWidth).squareRoot()),
                    rng: &rng)
    super.init()
  }

  override func children() -> [(String, Module)] {
    if let gate { return [("wi_0", input), ("wi_1", gate), ("wo", output)] }
    return [("wi", input), ("wo", output)]
  }

  /// [..., width] → [..., width].
  func callAsFunction(_ x: Tensor) -> Tensor {
    if let gate { return output(input(x).geluTanh() * gate(x)) }
    return output(input(x).relu())
  }
}

/// An encoder block (`encoder.block.{i}`): `layer.0` self-attention, `layer.1` feed-forward, each pre-normed and
/// residual. With `cross`, a decoder block (`decoder.block.{i}`): `layer.1` is the cross-attention
/// (`EncDecAttention`) and `layer.2` the feed-forward.
final class T5Block: Module, @unchecked Sendable {
  let selfAttention: T5Attention
  let selfAttentionNorm: T5LayerNorm
  let crossAttention: T5Attention?
  let crossAttentionNorm: T5LayerNorm?
  let feedForward: T5FeedForwardLayer
  let feedForwardNorm: T5LayerNorm

  init(_ c: EncoderDecoderLMConfiguration, first: Bool, cross: Bool, rng: inout RandomGenerator) {
    selfAttention = T5Attention(c, hasRelativeBias: first, rng: &rng)
    selfAttentionNorm = T5LayerNorm(c.width, eps: c.layerNormEpsilon)
    crossAttention = cross ? T5Attention(c, hasRelativeBias: false, rng: &rng) : nil
    crossAttentionNorm = cross ? T5LayerNorm(c.width, eps: c.layerNormEpsilon) : nil
    feedForward = T5FeedForwardLayer(c, rng: &rng)
    feedForwardNorm = T5LayerNorm(c.width, eps: c.layerNormEpsilon)
    super.init()
  }

  override func children() -> [(String, Module)] {
    var list: [(String, Module)] = [("layer.0.SelfAttention", selfAttention), ("layer.0.layer_norm", selfAttentionNorm)]
    if let crossAttention, let crossAttentionNorm {
      list += [("layer.1.EncDecAttention", crossAttention), ("layer.1.layer_norm", crossAttentionNorm)]
    }
    let ff = crossAttention == nil ? "layer.1" : "layer.2"
    return list + [("\(ff).DenseReluDense", feedForward), ("\(ff).layer_norm", feedForwardNorm)]
  }

  /// [B, T, width] → [B, T, width]; `context` [B, S, width] and `crossAllowed` [B, T, S] for a decoder block.
  func callAsFunction(_ x: Tensor, bias: Tensor, allowed: [Bool], context: Tensor? = nil,
                      crossAllowed: [Bool] = []) -> Tensor {
    var h = x + selfAttention(selfAttentionNorm(x), bias: bias, allowed: allowed)
    if let crossAttention, let crossAttentionNorm, let context {
      h = h + crossAttention(crossAttentionNorm(h), context: context, allowed: crossAllowed)
    }
    return h + feedForward(feedForwardNorm(h))
  }
}

extension T5Block {
  /// One decoding step of a decoder block: [B, 1, width] after `past` self-attention keys and values, attending
  /// to the encoder's projected keys and values `cross` ([B, S, inner], every position real).
  func step(_ x: Tensor, bias: Tensor, past: KeyValues?, cross: KeyValues) -> (Tensor, KeyValues) {
    let (attended, state) = selfAttention.step(selfAttentionNorm(x), bias: bias, past: past)
    var h = x + attended
    if let crossAttention, let crossAttentionNorm {
      let q = crossAttention.query(crossAttentionNorm(h))
      h = h + crossAttention.output(Tensor.attention(query: q, key: cross.keys, value: cross.values,
                                                     heads: crossAttention.heads, scale: 1))
    }
    return (h + feedForward(feedForwardNorm(h)), state)
  }
}

/// Projected keys and values [B, T, inner] of one attention layer: a KV-cache entry.
struct KeyValues {
  var keys: Tensor
  var values: Tensor
}

/// A stack of blocks and its final norm (`encoder` / `decoder`); the position bias comes from block 0.
final class T5Stack: Module, @unchecked Sendable {
  let blocks: [T5Block]
  let finalNorm: T5LayerNorm
  let bidirectional: Bool

  init(_ c: EncoderDecoderLMConfiguration, decoder: Bool, rng: inout RandomGenerator) {
    blocks = (0..<(decoder ? c.decoderLayers : c.encoderLayers)).map {
      T5Block(c, first: $0 == 0, cross: decoder, rng: &rng)
    }
    finalNorm = T5LayerNorm(c.width, eps: c.layerNormEpsilon)
    bidirectional = !decoder
    super.init()
  }

  override func children() -> [(String, Module)] {
    blocks.enumerated().map { ("block.\($0.offset)", $0.element) } + [("final_layer_norm", finalNorm)]
  }

  /// Runs the blocks and the final norm over [B, T, width].
  func callAsFunction(_ x: Tensor, allowed: [Bool], context: Tensor? = nil, crossAllowed: [Bool] = []) -> Tensor {
    let length = x.shape[1]
    let bias = blocks[0].selfAttention.positionBias(queries: length, keys: length, bidirectional: bidirectional)
    var h = x
    for block in blocks { h = block(h, bias: bias, allowed: allowed, context: context, crossAllowed: crossAllowed) }
    return finalNorm(h)
  }
}
