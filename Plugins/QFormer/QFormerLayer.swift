// One Q-Former layer, as LAVIS's `Qformer.py` `BertLayer` (and transformers' `Blip2QFormerLayer`) computes it:
// self-attention shared by queries and text; cross-attention to the image for the query positions only (in
// every `crossEvery`-th layer); then a feed-forward per modality (`intermediate_query`/`output_query` for
// the queries, `intermediate`/`output` for the text). Post-norm residuals, as in BERT.

import Tensor

/// A BERT feed-forward block: LN(x + dropout(W₂ GELU(W₁ x))). LAVIS has two per layer with different
/// checkpoint names, so this is not a `Module`: its layer lists the three parts under their names.
final class FeedForward {
  /// hidden → intermediate (`intermediate.dense` / `intermediate_query.dense`).
  let up: Linear
  /// intermediate → hidden (`output.dense` / `output_query.dense`).
  let down: Linear
  /// The residual norm (`output.LayerNorm` / `output_query.LayerNorm`).
  let norm: LayerNorm
  /// The checkpoint-name suffix: "" for the text block, "_query" for the queries' copy.
  let suffix: String

  init(_ configuration: QFormerConfiguration, suffix: String, rng: inout RandomGenerator) {
    up = Linear(configuration.hidden, configuration.intermediate, std: configuration.initStd, rng: &rng)
    down = Linear(configuration.intermediate, configuration.hidden, std: configuration.initStd, rng: &rng)
    norm = LayerNorm(configuration.hidden, eps: configuration.layerNormEps)
    self.suffix = suffix
  }

  /// The three parts under their checkpoint names, relative to the layer.
  var namedModules: [(String, Module)] {
    [("intermediate\(suffix).dense", up), ("output\(suffix).dense", down), ("output\(suffix).LayerNorm", norm)]
  }

  /// Applies the block to [B, T, hidden]; `dropout` is the layer's residual dropout.
  func callAsFunction(_ x: Tensor, dropout: (Tensor) -> Tensor) -> Tensor {
    norm(dropout(down(up(x).geluErf())) + x)  // [B, T, hidden]
  }
}

/// The image keys and values of one cross-attention layer, [B, N, hidden] each: projected once per batch of
/// images and shared by every pass that reads those images (see `QFormer.ImageContext`).
struct CrossAttentionKeyValues {
  let keys: Tensor
  let values: Tensor
}

/// The self-attention keys and values [B, T, hidden] a pass computed in one layer: ITG's text pass attends to
/// the image pass's query keys and values instead of recomputing the query half (LAVIS's `past_key_values`).
struct SelfAttentionKeyValues {
  let keys: Tensor
  let values: Tensor
}

/// One Q-Former layer. Parameter names are LAVIS's, relative to `Qformer.bert.encoder.layer.{i}`.
final class QFormerLayer: Module, @unchecked Sendable {
  /// Self-attention over all tokens (`attention.self.{query,key,value}`, `attention.output.dense`).
  let attention: MultiHeadAttention
  /// `attention.output.LayerNorm`.
  let attentionNorm: LayerNorm
  /// Cross-attention from the queries to the image (`crossattention.*`; keys and values read `imageWidth`
  /// features), in cross-attention layers only.
  let crossAttention: MultiHeadAttention?
  /// `crossattention.output.LayerNorm`.
  let crossAttentionNorm: LayerNorm?
  /// The text tokens' feed-forward (`intermediate`, `output`).
  let textFeedForward: FeedForward
  /// The queries' feed-forward (`intermediate_query`, `output_query`).
  let queryFeedForward: FeedForward
  /// Hidden-state dropout probability.
  let dropoutProbability: Float
  /// Dropout's random stream (shared by the whole Q-Former).
  let randomSource: RandomSource

  init(_ configuration: QFormerConfiguration, index: Int, randomSource: RandomSource, rng: inout RandomGenerator) {
    let (hidden, heads, std) = (configuration.hidden, configuration.heads, configuration.initStd)
    attention = MultiHeadAttention(width: hidden, heads: heads, names: .bert, std: std, rng: &rng)
    attentionNorm = LayerNorm(hidden, eps: configuration.layerNormEps)
    if configuration.hasCrossAttention(index) {
      crossAttention = MultiHeadAttention(width: hidden, heads: heads, contextWidth: configuration.imageWidth,
                                          names: .bert, std: std, rng: &rng)
      crossAttentionNorm = LayerNorm(hidden, eps: configuration.layerNormEps)
    } else {
      crossAttention = nil
      crossAttentionNorm = nil
    }
    textFeedForward = FeedForward(configuration, suffix: "", rng: &rng)
    queryFeedForward = FeedForward(configuration, suffix: "_query", rng: &rng)
    dropoutProbability = configuration.dropout
    self.randomSource = randomSource
    super.init()
  }

  override func children() -> [(String, Module)] {
    var result: [(String, Module)] = [("attention", attention), ("attention.output.LayerNorm", attentionNorm)]
    if let crossAttention, let crossAttentionNorm {
      result += [("crossattention", crossAttention), ("crossattention.output.LayerNorm", crossAttentionNorm)]
    }
    return result + textFeedForward.namedModules + queryFeedForward.namedModules
  }

  /// Inverted dropout of the residual branches while training.
  private func dropout(_ x: Tensor) -> Tensor {
    x.dropout(dropoutProbability, training: isTraining && dropoutProbability > 0, rng: &randomSource.generator)
  }

  /// Applies the layer to `x` [B, T, hidden] whose first `queryCount` positions are queries.
  ///
  /// - Parameters:
  ///   - mask: the self-attention mask, true = may attend; nil = all. Over the T tokens ([T, T] or [B, T, T]),
  ///     or with `past` over T rows and P + T columns (the past's positions first).
  ///   - image: this layer's image keys and values [B, N, hidden] (needed when it has cross-attention and
  ///     there are queries); the queries attend to every image token.
  ///   - past: keys and values [B, P, hidden] of earlier positions (another pass's) that `x` also attends to.
  ///   - recordKeyValues: receives this pass's own self-attention keys and values.
  ///   - recordCrossAttention: receives the cross-attention probabilities [B, heads, Q, N] (no gradient).
  /// - Returns: [B, T, hidden].
  func callAsFunction(_ x: Tensor, queryCount: Int, mask: [Bool]?, image: CrossAttentionKeyValues?,
                      past: SelfAttentionKeyValues? = nil,
                      recordKeyValues: ((SelfAttentionKeyValues) -> Void)? = nil,
                      recordCrossAttention: (([Float]) -> Void)? = nil) -> Tensor {
    let length = x.shape[1]
    let own = SelfAttentionKeyValues(keys: attention.key(x), values: attention.value(x))  // [B, T, hidden] each
    recordKeyValues?(own)
    let keys = past.map { Tensor.concat([$0.keys, own.keys], axis: 1) } ?? own.keys
    let values = past.map { Tensor.concat([$0.values, own.values], axis: 1) } ?? own.values
    let mixed = Tensor.attention(query: attention.query(x), key: keys, value: values, heads: attention.heads, mask: mask)
    let attended = attentionNorm(dropout(attention.output(mixed)) + x)  // [B, T, hidden]
    guard queryCount > 0 else { return textFeedForward(attended, dropout: dropout) }
    var queries = queryCount == length ? attended : attended.sliced(axis: 1, 0..<queryCount)  // [B, Q, hidden]
    if let crossAttention, let crossAttentionNorm {
      guard let image else { preconditionFailure("QFormerLayer: a cross-attention layer needs image keys and values") }
      let (mixed, probabilities) = Tensor.attentionWithProbabilities(
        query: crossAttention.query(queries), key: image.keys, value: image.values,
        heads: crossAttention.heads)  // [B, Q, hidden], [B, heads, Q, N]
      recordCrossAttention?(probabilities)
      queries = crossAttentionNorm(dropout(crossAttention.output(mixed)) + queries)  // [B, Q, hidden]
    }
    let queryOutput = queryFeedForward(queries, dropout: dropout)  // [B, Q, hidden]
    guard length > queryCount else { return queryOutput }
    let text = textFeedForward(attended.sliced(axis: 1, queryCount..<length), dropout: dropout)  // [B, L, hidden]
    return Tensor.concat([queryOutput, text], axis: 1)  // [B, Q + L, hidden]
  }

  /// The image keys and values of this layer's cross-attention for normalized image features [B, N, imageWidth],
  /// or nil when the layer has no cross-attention.
  func imageKeyValues(_ features: Tensor) -> CrossAttentionKeyValues? {
    guard let crossAttention else { return nil }
    return CrossAttentionKeyValues(keys: crossAttention.key(features), values: crossAttention.value(features))
  }
}
