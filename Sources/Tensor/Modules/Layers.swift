// The standard layers: Linear, Embedding, LayerNorm, Dropout, MLP.

/// y = x Wᵀ + b, with W stored [out, in] (`weight`) and b [out] (`bias`), as in PyTorch checkpoints.
public final class Linear: Module, @unchecked Sendable {
  /// [out, in].
  public let weight: Tensor
  /// [out], or nil for a layer without bias.
  public let bias: Tensor?

  /// A linear layer. Weights are N(0, std²) when `std` is given (BERT: 0.02), else PyTorch's default
  /// U(−1/√in, 1/√in); biases are zero with `std`, else the same uniform.
  public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, std: Float? = nil, rng: inout RandomGenerator) {
    let bound = 1 / Float(Swift.max(inFeatures, 1)).squareRoot()
    if let std {
      weight = Tensor.randn([outFeatures, inFeatures], std: std, rng: &rng, requiresGrad: true)
      self.bias = bias ? Tensor.zeros([outFeatures], requiresGrad: true) : nil
    } else {
      weight = Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true)
      self.bias = bias ? Tensor.uniform([outFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true) : nil
    }
    super.init()
  }

  /// Input features.
  public var inFeatures: Int { weight.shape[1] }
  /// Output features.
  public var outFeatures: Int { weight.shape[0] }

  public override func ownParameters() -> [(String, Tensor)] {
    bias.map { [("weight", weight), ("bias", $0)] } ?? [("weight", weight)]
  }

  /// Applies the layer to [..., in].
  public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}

/// A lookup table of `count` vectors of size `dimension` (`weight`).
public final class Embedding: Module, @unchecked Sendable {
  /// [count, dimension].
  public let weight: Tensor

  /// An embedding table with N(0, std²) entries (BERT: 0.02; PyTorch's default: 1).
  public init(_ count: Int, _ dimension: Int, std: Float = 0.02, rng: inout RandomGenerator) {
    weight = Tensor.randn([count, dimension], std: std, rng: &rng, requiresGrad: true)
    super.init()
  }

  /// The number of entries.
  public var count: Int { weight.shape[0] }

  public override func ownParameters() -> [(String, Tensor)] { [("weight", weight)] }

  /// Looks up ids laid out as `shape` (default: flat); the output is `shape + [dimension]`.
  public func callAsFunction(_ ids: [Int], shape: [Int]? = nil) -> Tensor {
    weight.gather(rows: ids, indexShape: shape)
  }
}

/// Layer normalization over the last axis with `weight` (γ) and `bias` (β).
public final class LayerNorm: Module, @unchecked Sendable {
  /// γ, initialised to ones.
  public let weight: Tensor
  /// β, initialised to zeros.
  public let bias: Tensor
  /// Added to the variance (BERT: 1e-12; PyTorch default: 1e-5).
  public let eps: Float

  /// A layer norm over `dimension` features.
  public init(_ dimension: Int, eps: Float = 1e-5) {
    weight = Tensor.ones([dimension], requiresGrad: true)
    bias = Tensor.zeros([dimension], requiresGrad: true)
    self.eps = eps
    super.init()
  }

  public override func ownParameters() -> [(String, Tensor)] { [("weight", weight), ("bias", bias)] }

  /// Normalizes [..., dimension].
  public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// Inverted dropout driven by a shared `RandomSource`; the identity in evaluation mode.
public final class Dropout: Module, @unchecked Sendable {
  /// The drop probability.
  public let probability: Float
  /// Where the random bits come from.
  public let source: RandomSource

  /// Dropout with probability `p`.
  public init(_ p: Float, source: RandomSource) {
    probability = p
    self.source = source
    super.init()
  }

  /// Applies dropout when training.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    x.dropout(probability, training: isTraining && probability > 0, rng: &source.generator)
  }
}

/// The activation functions the layers use, by the names checkpoints' configs give them.
public enum Activation: String, Sendable, CaseIterable {
  /// GELU with erf (`gelu`: BERT, ViT, CLIP's quick-free variants).
  case gelu
  /// GELU, tanh approximation (`gelu_new`, `gelu_pytorch_tanh`: GPT-2).
  case geluTanh = "gelu_new"
  /// max(x, 0) (OPT, T5).
  case relu

  /// Applies the activation.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    switch self {
    case .gelu: return x.geluErf()
    case .geluTanh: return x.geluTanh()
    case .relu: return x.relu()
    }
  }
}

/// Two linear layers with an activation between them (`fc1`, `fc2`).
public final class MLP: Module, @unchecked Sendable {
  /// in → hidden.
  public let fc1: Linear
  /// hidden → out.
  public let fc2: Linear
  /// Between the two.
  public let activation: Activation

  /// An MLP in → hidden → out.
  public init(_ inFeatures: Int, hidden: Int, _ outFeatures: Int, activation: Activation = .gelu,
              std: Float? = nil, rng: inout RandomGenerator) {
    fc1 = Linear(inFeatures, hidden, std: std, rng: &rng)
    fc2 = Linear(hidden, outFeatures, std: std, rng: &rng)
    self.activation = activation
    super.init()
  }

  public override func children() -> [(String, Module)] { [("fc1", fc1), ("fc2", fc2)] }

  /// Applies fc2(activation(fc1(x))).
  public func callAsFunction(_ x: Tensor) -> Tensor { fc2(activation(fc1(x))) }
}
