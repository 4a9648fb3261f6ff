// The seams of Blip2Lab: what an image encoder, a bridge and a language model are. Plugins implement
// these; the trainers, the scripting layer and the renderers only see the protocols.

import Tensor

/// A buildable, inspectable part of a model (encoder, bridge, language model).
public protocol Component: AnyObject {
  /// The parameters (freezing, counts, checkpoints go through this module).
  var module: Module { get }
  /// The registry name it was built from, e.g. `"vit"` or `"qformer"`.
  var kind: String { get }
  /// One line describing its configuration, e.g. `"ViT (width 192, 6 layers, patch 8)"`.
  var summary: String { get }
}

/// A (frozen, in BLIP-2) image encoder: pixels to a sequence of feature vectors.
public protocol ImageEncoder: Component {
  /// Width of each output feature vector (1024 for ViT-L/14, 1408 for ViT-g/14).
  var featureDim: Int { get }
  /// The square input size it expects, in pixels.
  var imageSize: Int { get }
  /// Number of output tokens for an input of `imageSize` (257 for ViT-L/14 at 224).
  var tokenCount: Int { get }
  /// Encodes [B, 3, H, W] pixels (normalized as the encoder expects) into [B, tokenCount, featureDim].
  func encode(_ pixels: Tensor) throws -> Tensor
}

/// The trainable bridge from image features to a fixed number of vectors (the Q-Former, or a baseline).
public protocol Bridge: Component {
  /// Width of the image features it reads (the encoder's `featureDim`).
  var imageFeatureDim: Int { get }
  /// How many vectors it outputs (32 queries for the Q-Former).
  var outputTokens: Int { get }
  /// Their width (768 for the paper's Q-Former).
  var outputDim: Int { get }
  /// [B, N, featureDim] image features to [B, outputTokens, outputDim].
  func bridge(_ imageFeatures: Tensor) throws -> Tensor
  /// The random streams of its stochastic layers (dropout), reseeded by the trainer before each step.
  var randomSources: [RandomSource] { get }
}

extension Bridge {
  /// No stochastic layers by default.
  public var randomSources: [RandomSource] { [] }
}

/// Decoder-only (OPT, GPT-2) or encoder-decoder (T5, FlanT5).
public enum LMArchitecture: String, Sendable, Codable {
  /// The soft prompt and the text share one causal sequence.
  case decoderOnly
  /// The soft prompt and a text prefix go to the encoder; the decoder produces the target.
  case encoderDecoder
}

/// How `generate` decodes.
public struct GenerationOptions: Sendable, Equatable {
  /// Maximum new tokens.
  public var maxTokens: Int
  /// Beam width (1 = greedy).
  public var beams: Int
  /// Nucleus sampling threshold (nil = deterministic decoding).
  public var topP: Float?
  /// Sampling temperature (with `topP`).
  public var temperature: Float
  /// Generation stops at any of these token ids (the tokenizer's end token is always one).
  public var stopTokens: [Int]

  /// Options, greedy by default.
  public init(maxTokens: Int = 30, beams: Int = 1, topP: Float? = nil, temperature: Float = 1, stopTokens: [Int] = []) {
    self.maxTokens = maxTokens
    self.beams = beams
    self.topP = topP
    self.temperature = temperature
    self.stopTokens = stopTokens
  }
}

/// A (frozen, in BLIP-2) language model that accepts a soft visual prompt in front of its text.
public protocol LanguageModel: Component {
  /// Width of its input embeddings (the bridge's projection maps to this).
  var embeddingDim: Int { get }
  /// Decoder-only or encoder-decoder.
  var architecture: LMArchitecture { get }
  /// Its tokenizer.
  var tokenizer: any Tokenizer { get }
  /// Mean cross-entropy of `target` given the soft prompt `prefix` [B, P, embeddingDim] and the text
  /// `input` (a prompt, or the prefix of a prefix-LM split; may be empty). Decoder-only: one sequence
  /// [prefix | input | target] with labels on `target` only; encoder-decoder: the encoder reads
  /// [prefix | input] and the decoder predicts `target`. Gradients flow back into `prefix`.
  func loss(prefix: Tensor, input: TokenBatch, target: TokenBatch) throws -> Tensor
  /// Continues [prefix | prompt] for each batch entry; returns the new token ids (without the prompt).
  func generate(prefix: Tensor, prompt: TokenBatch, options: GenerationOptions, rng: inout RandomGenerator) throws
    -> [[Int]]
}

/// Text to token ids and back.
public protocol Tokenizer: Sendable {
  /// Number of token ids.
  var vocabularySize: Int { get }
  /// Padding id.
  var padId: Int { get }
  /// Beginning-of-sequence id, if the model uses one.
  var bosId: Int? { get }
  /// End-of-sequence id.
  var eosId: Int? { get }
  /// Token ids of `text` (without special tokens unless the format always adds them).
  func encode(_ text: String) -> [Int]
  /// Text of `ids` (special tokens skipped).
  func decode(_ ids: [Int]) -> String
}

/// A batch of token sequences, right-padded to one length.
public struct TokenBatch: Sendable, Equatable {
  /// [batch, length] row-major ids.
  public var ids: [Int]
  /// Sequences in the batch.
  public var batch: Int
  /// Padded length.
  public var length: Int
  /// Real tokens per sequence (the rest is padding).
  public var validLengths: [Int]

  /// A batch from its parts.
  public init(ids: [Int], batch: Int, length: Int, validLengths: [Int]) {
    precondition(ids.count == batch * length && validLengths.count == batch, "TokenBatch: inconsistent sizes")
    self.ids = ids
    self.batch = batch
    self.length = length
    self.validLengths = validLengths
  }

  /// Pads `sequences` on the right with `padId` to the longest (or to `length`, truncating longer ones).
  public init(_ sequences: [[Int]], padId: Int, length: Int? = nil) {
    let target = length ?? (sequences.map(\.count).max() ?? 0)
    var ids: [Int] = []
    ids.reserveCapacity(sequences.count * target)
    var valid: [Int] = []
    for sequence in sequences {
      let kept = sequence.prefix(target)
      ids += kept
      ids += [Int](repeating: padId, count: target - kept.count)
      valid.append(kept.count)
    }
    self.init(ids: ids, batch: sequences.count, length: target, validLengths: valid)
  }

  /// An empty batch of `batch` sequences of length 0.
  public static func empty(batch: Int) -> TokenBatch {
    TokenBatch(ids: [], batch: batch, length: 0, validLengths: [Int](repeating: 0, count: batch))
  }

  /// The ids of sequence `index` without padding.
  public func sequence(_ index: Int) -> [Int] {
    Array(ids[(index * length)..<(index * length + validLengths[index])])
  }

  /// Per position: whether it is a real token ([batch, length]).
  public var validMask: [Bool] {
    (0..<batch).flatMap { b in (0..<length).map { $0 < validLengths[b] } }
  }

  /// The batch entries at `indices`, in that order.
  public func selecting(_ indices: [Int]) -> TokenBatch {
    TokenBatch(ids: indices.flatMap { i in ids[(i * length)..<((i + 1) * length)] }, batch: indices.count,
               length: length, validLengths: indices.map { validLengths[$0] })
  }

  /// The batch padded only to its longest sequence (the padding columns every sequence has are dropped).
  public func trimmed() -> TokenBatch {
    let longest = validLengths.max() ?? 0
    guard longest < length else { return self }
    return TokenBatch(ids: (0..<batch).flatMap { b in ids[(b * length)..<(b * length + longest)] }, batch: batch,
                      length: longest, validLengths: validLengths)
  }
}
