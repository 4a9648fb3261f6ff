// The baseline BLIP-2 is measured against: no queries, no attention, just the image features pooled to a
// fixed number of tokens and projected (LLaVA's projector is this with no pooling). Swapping it for the
// Q-Former in a script is the "does the Q-Former earn its keep" ablation; it has no stage-1 objectives, so
// a run with it skips stage 1.

import Blip2Core
import Tensor

/// Sizes of a `LinearBridge`.
public struct LinearBridgeConfiguration: Sendable, Equatable {
  /// Width of the image features it reads.
  public var imageWidth: Int
  /// How many vectors it outputs: the image tokens are averaged over `tokens` contiguous groups (adaptive
  /// average pooling over the token axis; with as many tokens as the encoder gives, each group is one token).
  public var tokens: Int
  /// Width of the output vectors.
  public var width: Int
  /// 0: one linear layer; > 0: Linear → GELU → Linear with this hidden width (LLaVA-1.5's MLP projector).
  public var hidden: Int
  /// Whether the features are layer-normalized first (as the Q-Former's `ln_vision` does).
  public var layerNorm: Bool

  /// A configuration.
  public init(imageWidth: Int, tokens: Int = 32, width: Int = 256, hidden: Int = 0, layerNorm: Bool = true) {
    self.imageWidth = imageWidth
    self.tokens = tokens
    self.width = width
    self.hidden = hidden
    self.layerNorm = layerNorm
  }
}

/// Errors of the linear bridge.
public enum LinearBridgeError: Error, CustomStringConvertible, Equatable {
  /// The features given do not fit the configuration.
  case invalidInput(String)

  public var description: String {
    switch self {
    case .invalidInput(let message): "linear bridge: \(message)"
    }
  }
}

/// Image features [B, N, D] → (layer norm) → average over `tokens` groups of the N tokens → linear (or MLP)
/// → [B, tokens, width].
public final class LinearBridge: Module, Bridge, @unchecked Sendable {
  /// Its sizes.
  public let configuration: LinearBridgeConfiguration
  /// `ln_vision`'s counterpart (nil when `layerNorm` is off).
  public let norm: LayerNorm?
  /// The first (or only) projection.
  public let projection: Linear
  /// The second projection of the MLP form (nil for the linear form).
  public let output: Linear?

  /// A randomly initialized bridge (PyTorch's default initialization of linear layers).
  public init(_ configuration: LinearBridgeConfiguration, seed: UInt64) {
    self.configuration = configuration
    var rng = RandomGenerator(seed: seed)
    norm = configuration.layerNorm ? LayerNorm(configuration.imageWidth) : nil
    let first = configuration.hidden > 0 ? configuration.hidden : configuration.width
    projection = Linear(configuration.imageWidth, first, rng: &rng)
    output = configuration.hidden > 0 ? Linear(configuration.hidden, configuration.width, rng: &rng) : nil
    super.init()
  }

  public override func children() -> [(String, Module)] {
    var result: [(String, Module)] = []
    if let norm { result.append(("norm", norm)) }
    result.append(("projection", projection))
    if let output { result.append(("output", output)) }
    return result
  }

  public var module: Module { self }
  public var kind: String { "linear" }
  public var summary: String {
    let c = configuration
    let form = c.hidden > 0 ? "MLP \(c.imageWidth)→\(c.hidden)→\(c.width)" : "linear \(c.imageWidth)→\(c.width)"
    return "pooled projection (\(c.tokens) tokens, \(form)\(c.layerNorm ? ", layer norm" : ""))"
  }
  public var imageFeatureDim: Int { configuration.imageWidth }
  public var outputTokens: Int { configuration.tokens }
  public var outputDim: Int { configuration.width }

  /// The [tokens, n] averaging matrix: row t averages tokens ⌊t·n/T⌋ ..< ⌈(t+1)·n/T⌉ (PyTorch's
  /// `adaptive_avg_pool1d` groups).
  public static func poolingWeights(tokens: Int, from n: Int) -> [Float] {
    var weights = [Float](repeating: 0, count: tokens * n)
    for t in 0..<tokens {
      let start = t * n / tokens
      let end = ((t + 1) * n + tokens - 1) / tokens
      for j in start..<end { weights[t * n + j] = 1 / Float(end - start) }
    }
    return weights
  }

  public func bridge(_ imageFeatures: Tensor) throws -> Tensor {
    let c = configuration
    guard imageFeatures.rank == 3, imageFeatures.shape[2] == c.imageWidth else {
      throw LinearBridgeError.invalidInput(
        "expected image features [batch, tokens, \(c.imageWidth)], got \(imageFeatures.shape)")
    }
    let (batch, n) = (imageFeatures.shape[0], imageFeatures.shape[1])
    guard n >= c.tokens else {
      throw LinearBridgeError.invalidInput(
        "the encoder gives \(n) tokens per image, fewer than the \(c.tokens) it should output: set tokens ≤ \(n)")
    }
    var x = norm.map { $0(imageFeatures) } ?? imageFeatures
    if n != c.tokens {
      // [B, N, D] → [B, D, N] @ [N, T] → [B, D, T] → [B, T, D].
      let pool = Tensor(shape: [c.tokens, n], data: Self.poolingWeights(tokens: c.tokens, from: n))
      x = x.transposed(1, 2).matmul(pool, transposeB: true).transposed(1, 2)
    }
    x = projection(x)
    if let output { x = output(x.geluErf()) }
    precondition(x.shape == [batch, c.tokens, c.width])
    return x
  }
}
