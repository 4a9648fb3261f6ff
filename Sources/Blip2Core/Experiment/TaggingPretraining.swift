// Supervised pre-training of a sandbox's frozen image encoder on image-level tags (multi-label classification),
// as ImageNet-21k or JFT taught the encoders before CLIP: the labels name what an image holds, with no sentence and
// no language model anywhere.
//
// Why: BLIP-2 rests on an encoder whose features already name the objects. On Shapes the other objectives leave a
// lone shape's kind near chance in a linear probe of the features the Q-Former reads (`Experiments/probe_encoders.lua`):
// reconstructing patches needs colour, telling augmented views apart needs position, size and count, and even CLIP's
// captions are told apart by colour first. A tag per kind, per colour and per colour-kind pair (which binds the two:
// "red circle" is present, not just "red" and "circle") asks the features for exactly what the captions will talk
// about, the way "tabby cat" does in ImageNet. The tags come from the dataset (`ImageTaggedDataset`); the head is
// dropped afterwards.

import Foundation
import Tensor

/// A dataset that can say which of a fixed set of tags each image holds (ImageNet-style labels, not captions).
public protocol ImageTaggedDataset: Dataset {
  /// Every tag an image may hold, in a fixed order (e.g. "kind circle", "colour red", "red circle").
  var tagVocabulary: [String] { get }
  /// The positions in `tagVocabulary` of the tags example `index` of `split` holds.
  func tags(_ split: Split, _ index: Int) throws -> [Int]
}

/// Multi-label tagging around any image encoder: one linear layer gives every output token a logit per tag, an
/// image's logit for a tag is its tokens' largest (multiple-instance learning: an image holds a tag when one of its
/// tokens shows it), and the loss is the mean binary cross-entropy over images and tags. The head reads single
/// tokens, so the tokens themselves must carry each tag linearly, which is what the Q-Former's cross-attention
/// reads. (A head on the mean of the tokens learns nothing in 300 steps on Shapes: a shape covers a few of the 64
/// patches and the background dominates the mean.) Optimize `module`'s parameters; keep the encoder, drop the head.
public final class TaggingPretraining: Module, ImagePretrainingObjective, @unchecked Sendable {
  /// The encoder being pre-trained (shared by identity: training this trains it).
  public let encoder: any ImageEncoder
  /// The tags the head predicts.
  public let vocabulary: [String]
  /// A token's features → one logit per tag.
  public let head: Linear

  /// The objective around `encoder` for the tags of `vocabulary`; the head's weights from `seed`.
  public init(encoder: any ImageEncoder, vocabulary: [String], seed: UInt64 = 0) {
    precondition(!vocabulary.isEmpty, "TaggingPretraining: the tag vocabulary is empty")
    var rng = RandomGenerator(seed: seed)
    self.encoder = encoder
    self.vocabulary = vocabulary
    head = Linear(encoder.featureDim, vocabulary.count, rng: &rng)
    super.init()
  }

  public override func children() -> [(String, Module)] { [("encoder", encoder.module), ("head", head)] }

  public var module: Module { self }
  public var summary: String {
    "tagging (multi-label, a linear head on every token, max over tokens) over \(vocabulary.count) tags (\(stableHash(vocabulary)))"
  }

  public var needsTags: Bool { true }

  /// Needs tags: the untagged entry point is an error.
  public func pretrainingLoss(_ pixels: Tensor, rng: inout RandomGenerator) throws -> Tensor {
    throw TrainingError.invalidSetting("tagging pre-training needs each image's tags (a dataset with ImageTaggedDataset)")
  }

  /// The mean binary cross-entropy of [B, 3, H, W] pixels against `tags[b]` (positions in `vocabulary`).
  public func pretrainingLoss(_ pixels: Tensor, captions: [[String]], tags: [[Int]], rng: inout RandomGenerator) throws -> Tensor {
    let batch = pixels.shape[0]
    guard pixels.rank == 4, tags.count == batch else {
      throw TrainingError.invalidSetting("tagging pre-training needs images [B, 3, H, W] with a tag list each, got "
        + "\(pixels.shape) and \(tags.count) tag lists")
    }
    var targets = [Int](repeating: 0, count: batch * vocabulary.count)
    for (b, held) in tags.enumerated() {
      for tag in held {
        guard vocabulary.indices.contains(tag) else {
          throw TrainingError.invalidSetting("tagging pre-training: image \(b) of the batch holds tag \(tag), outside the "
            + "\(vocabulary.count) tags of the vocabulary")
        }
        targets[b * vocabulary.count + tag] = 1
      }
    }
    let logits = head(try encoder.encode(pixels)).max(axis: 1)  // [B, tags]: each tag's most confident token
    return Self.binaryCrossEntropy(logits: logits, targets: targets)
  }

  /// The mean over elements of the binary cross-entropy of `logits` (any shape) against 0/1 `targets`: each logit
  /// x as the two-way softmax [0, x], whose second probability is σ(x), so the loss is log(1 + eˣ) − t·x, stably.
  public static func binaryCrossEntropy(logits: Tensor, targets: [Int]) -> Tensor {
    let count = logits.count
    precondition(targets.count == count, "binaryCrossEntropy: \(targets.count) targets for \(count) logits")
    let column = logits.reshaped([count, 1])
    let pairs = Tensor.concat([Tensor(shape: [count, 1], data: [Float](repeating: 0, count: count)), column], axis: 1)
    return pairs.crossEntropy(targets: targets)
  }
}
