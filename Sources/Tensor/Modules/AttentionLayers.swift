// Multi-head attention (self and cross) and a BERT-style post-norm transformer block.

/// Checkpoint names of an attention layer's four projections.
public struct AttentionNames: Sendable, Equatable {
  /// Query projection name.
  public var query: String
  /// Key projection name.
  public var key: String
  /// Value projection name.
  public var value: String
  /// Output projection name.
  public var output: String

  /// Names given explicitly.
  public init(query: String, key: String, value: String, output: String) {
    self.query = query
    self.key = key
    self.value = value
    self.output = output
  }

  /// BERT's names (`self.query` ... `output.dense`), relative to `attention`.
  public static let bert = AttentionNames(query: "self.query", key: "self.key", value: "self.value", output: "output.dense")
  /// CLIP / OPT / ViT-style names (`q_proj`, `k_proj`, `v_proj`, `out_proj`).
  public static let projections = AttentionNames(query: "q_proj", key: "k_proj", value: "v_proj", output: "out_proj")
}

/// Multi-head attention: self-attention when called without `context`, cross-attention over `context`
/// (whose width may differ: keys and values are projected from `contextWidth`).
public final class MultiHeadAttention: Module, @unchecked Sendable {
  /// Projections.
  public let query: Linear, key: Linear, value: Linear, output: Linear
  /// The number of heads.
  public let heads: Int
  /// Checkpoint names of the projections.
  public let names: AttentionNames

  /// Attention over `width` features with `heads` heads; keys/values read `contextWidth` features
  /// (default: `width`).
  public init(width: Int, heads: Int, contextWidth: Int? = nil, names: AttentionNames = .projections,
              bias: Bool = true, std: Float? = nil, rng: inout RandomGenerator) {
    precondition(width % heads == 0, "MultiHeadAttention: width \(width) is not divisible by \(heads) heads")
    query = Linear(width, width, bias: bias, std: std, rng: &rng)
    key = Linear(contextWidth ?? width, width, bias: bias, std: std, rng: &rng)
    value = Linear(contextWidth ?? width, width, bias: bias, std: std, rng: &rng)
    output = Linear(width, width, bias: bias, std: std, rng: &rng)
    self.heads = heads
    self.names = names
    super.init()
  }

  public override func children() -> [(String, Module)] {
    [(names.query, query), (names.key, key), (names.value, value), (names.output, output)]
  }

  /// Attends from `x` [B, Tq, width] to `context` [B, Tk, contextWidth] (or to `x` itself), with a
  /// boolean mask ([Tq, Tk] or [B, Tq, Tk], true = may attend). Returns the projected output.
  public func callAsFunction(_ x: Tensor, context: Tensor? = nil, mask: [Bool]? = nil) -> Tensor {
    let source = context ?? x
    let mixed = Tensor.attention(query: query(x), key: key(source), value: value(source), heads: heads, mask: mask)
    return output(mixed)
  }
}

/// A BERT encoder layer (post-norm): h = LN(x + Attn(x)); y = LN(h + W₂ act(W₁ h)). Parameter names
/// are Hugging Face `BertLayer`'s (`attention.self.query.weight`, ..., `output.LayerNorm.bias`).
public final class PostNormTransformerBlock: Module, @unchecked Sendable {
  /// Self-attention (BERT names).
  public let attention: MultiHeadAttention
  /// Norm after attention (`attention.output.LayerNorm`).
  public let attentionNorm: LayerNorm
  /// Feed-forward in (`intermediate.dense`).
  public let intermediate: Linear
  /// Feed-forward out (`output.dense`).
  public let output: Linear
  /// Norm after the feed-forward (`output.LayerNorm`).
  public let outputNorm: LayerNorm
  /// The feed-forward activation.
  public let activation: Activation
  /// Dropout on the two residual branches (BERT: 0.1 when training).
  public let dropout: Dropout?

  /// A block of `width` features, `heads` heads and an `intermediateWidth` feed-forward.
  public init(width: Int, heads: Int, intermediateWidth: Int, eps: Float = 1e-12, activation: Activation = .gelu,
              dropout: Dropout? = nil, std: Float? = 0.02, rng: inout RandomGenerator) {
    attention = MultiHeadAttention(width: width, heads: heads, names: .bert, std: std, rng: &rng)
    attentionNorm = LayerNorm(width, eps: eps)
    intermediate = Linear(width, intermediateWidth, std: std, rng: &rng)
    output = Linear(intermediateWidth, width, std: std, rng: &rng)
    outputNorm = LayerNorm(width, eps: eps)
    self.activation = activation
    self.dropout = dropout
    super.init()
  }

  public override func children() -> [(String, Module)] {
    [("attention", attention), ("attention.output.LayerNorm", attentionNorm), ("intermediate.dense", intermediate),
     ("output.dense", output), ("output.LayerNorm", outputNorm)]
  }

  /// Applies the block to [B, T, width] with an optional boolean mask.
  public func callAsFunction(_ x: Tensor, mask: [Bool]? = nil) -> Tensor {
    var attended = attention(x, mask: mask)
    if let dropout { attended = dropout(attended) }
    let h = attentionNorm(attended + x)
    var ff = output(activation(intermediate(h)))
    if let dropout { ff = dropout(ff) }
    return outputNorm(ff + h)
  }
}
