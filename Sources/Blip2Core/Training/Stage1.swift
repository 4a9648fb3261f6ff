// Stage 1 (representation learning): what a bridge must offer to be trained with ITC / ITM / ITG,
// and the loss mix that weights the objectives.

import Tensor

/// One stage-1 batch: frozen image features and the matching captions (sample i's text describes
/// sample i's image).
public struct Stage1Batch {
  /// [B, N, featureDim] features from the frozen image encoder.
  public var imageFeatures: Tensor
  /// The captions, tokenized for the bridge's text side ([CLS] first for a BERT-style Q-Former).
  public var text: TokenBatch

  /// A batch from its parts.
  public init(imageFeatures: Tensor, text: TokenBatch) {
    precondition(imageFeatures.rank == 3 && imageFeatures.shape[0] == text.batch,
                 "Stage1Batch: \(imageFeatures.shape) image features for \(text.batch) captions")
    self.imageFeatures = imageFeatures
    self.text = text
  }
}

/// How much each objective counts, possibly changing with the step. A weight of 0 skips the objective
/// entirely (its forward pass is not run).
public struct LossMix: Sendable, CustomStringConvertible {
  /// A weight: constant, or a function of the step (e.g. from a Lua script).
  public enum Weight: Sendable {
    /// The same weight at every step.
    case constant(Double)
    /// A weight per step.
    case schedule(@Sendable (Int) throws -> Double)
  }

  /// Weights by objective name (`itc`, `itm`, `itg`, or a plugin's own).
  public var weights: [String: Weight]

  /// A mix from weights by name.
  public init(_ weights: [String: Weight]) { self.weights = weights }

  /// The paper's mix: ITC, ITM and ITG with equal weights.
  public static let paper = LossMix(["itc": .constant(1), "itm": .constant(1), "itg": .constant(1)])

  /// Constant weights by name.
  public static func constant(_ weights: [String: Double]) -> LossMix {
    LossMix(weights.mapValues { .constant($0) })
  }

  /// The weight of `objective` at `step` (0 when the mix does not name it).
  public func weight(_ objective: String, step: Int) throws -> Double {
    switch weights[objective] {
    case nil: return 0
    case .constant(let value)?: return value
    case .schedule(let function)?: return try function(step)
    }
  }

  /// A short description, e.g. `itc=1 itg=0 itm=1`.
  public var description: String {
    weights.keys.sorted().map { key -> String in
      switch weights[key]! {
      case .constant(let value): return "\(key)=\(value)"
      case .schedule: return "\(key)=f(step)"
      }
    }.joined(separator: " ")
  }
}

/// The result of one stage-1 forward pass.
public struct ObjectiveLosses {
  /// The weighted sum to back-propagate.
  public var total: Tensor
  /// Each objective's (unweighted) loss value, for logging; skipped objectives are absent.
  public var values: [String: Float]

  /// Losses from their parts.
  public init(total: Tensor, values: [String: Float]) {
    self.total = total
    self.values = values
  }
}

/// A bridge that can be trained on its own (stage 1): the Q-Former has this, a linear projector not.
public protocol RepresentationLearner: Bridge {
  /// The objectives it implements (e.g. `["itc", "itm", "itg"]`).
  var objectives: [String] { get }
  /// Tokenizes captions for its own text side (e.g. `[CLS]` + words, padded, at most `maxLength`).
  func tokenizeText(_ texts: [String], maxLength: Int) -> TokenBatch
  /// ITC similarities [images, texts] (max over queries of the cosine of the projected features; no
  /// temperature), for retrieval.
  func contrastiveSimilarity(imageFeatures: Tensor, text: TokenBatch) throws -> Tensor
  /// ITM scores of aligned pairs (image i with text i): the log-odds or probability of "match".
  func matchScores(imageFeatures: Tensor, text: TokenBatch) throws -> [Float]
  /// ITM scores (as `matchScores(imageFeatures:text:)`) of `pairs` of an image of `imageFeatures` [I, N, D] and a
  /// text of `texts`, up to `batchSize` pairs per pass, in the pairs' order. A learner may share work between
  /// pairs of one image (the default runs `matchScores` on the pairs' rows).
  func matchScores(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                   batchSize: Int) throws -> [Float]
  /// The stage-1 losses for `batch`, weighted by `mix` at `step`, with the self-attention masks from
  /// `masks`. Randomness (hard-negative sampling, dropout) comes from `rng`.
  func stage1Losses(_ batch: Stage1Batch, mix: LossMix, masks: MaskSchedule, step: Int,
                    rng: inout RandomGenerator) throws -> ObjectiveLosses
}

extension RepresentationLearner {
  public func matchScores(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                          batchSize: Int) throws -> [Float] {
    try scoreInChunks(pairs, batchSize: batchSize) {
      try matchScores(imageFeatures: imageFeatures.rows($0.map(\.image)), text: texts.selecting($0.map(\.text)))
    }
  }
}

/// `score` over `pairs` in chunks of `batchSize` (at least 1), its results concatenated in order.
func scoreInChunks(_ pairs: [(image: Int, text: Int)], batchSize: Int,
                   _ score: ([(image: Int, text: Int)]) throws -> [Float]) rethrows -> [Float] {
  var scores: [Float] = []
  scores.reserveCapacity(pairs.count)
  let size = Swift.max(batchSize, 1)
  for start in stride(from: 0, to: pairs.count, by: size) {
    scores += try score(Array(pairs[start..<Swift.min(start + size, pairs.count)]))
  }
  return scores
}
