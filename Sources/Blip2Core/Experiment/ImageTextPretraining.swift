// Image-text contrastive pre-training of a sandbox's frozen image encoder (CLIP, Radford et al. 2021): the way
// BLIP-2's own frozen encoders (CLIP ViT-L, EVA-CLIP ViT-g) were made.
//
// Why: BLIP-2 rests on an encoder whose features already name what is in the image. The image-only objectives do
// not give that in miniature: on Shapes, a linear probe (`Experiments/probe_encoders.lua`) reads a lone shape's
// colour from their features but its kind barely above chance, since neither reconstructing patches nor telling
// augmented views apart needs kinds. Matching an image to its own caption among the batch's does: captions name
// each shape's kind. The text tower is a small transformer of its own over the training captions' words; it is
// dropped afterwards and never meets the Q-Former or the language model (which learns from text alone).

import Foundation
import Tensor

/// CLIP around any image encoder: image features mean-pooled over tokens and projected; a caption through a
/// small post-norm transformer, its `[CLS]` row projected; the symmetric InfoNCE loss over the batch's
/// image-caption pairs at a learned temperature. Optimize `module`'s parameters; keep the encoder, drop the rest.
public final class ImageTextContrastivePretraining: Module, ImagePretrainingObjective, @unchecked Sendable {
  /// The encoder being pre-trained (shared by identity: training this trains it).
  public let encoder: any ImageEncoder
  /// The text tower's words (the training captions' vocabulary).
  public let tokenizer: WordTokenizer
  /// Captions are cut to this many tokens after `[CLS]`.
  public let maxTextLength: Int
  public let tokenEmbedding: Embedding
  public let positionEmbedding: Embedding
  public let textBlocks: [PostNormTransformerBlock]
  /// Pooled image features → width (ReLU) → `embedDim`.
  public let imageHidden: Linear
  public let imageProjection: Linear
  /// The `[CLS]` row → `embedDim`.
  public let textProjection: Linear
  /// log(1 / temperature), learned (CLIP: initialized at 1/0.07).
  public let logitScale: Tensor
  /// The temperature the scale starts from.
  public let initialTemperature: Float
  /// Object words whose swap makes a hard negative caption (NegCLIP, Yuksekgonul et al. 2023), or nil: plain CLIP.
  /// In a batch of random scenes, colour, size and count tell nearly every caption apart, so plain CLIP has no
  /// reason to learn what the objects are; a caption with one object word swapped for another differs only there.
  public let hardNegativeWords: [String]?

  /// The objective around `encoder`, its text tower over the words of `captions`; weights from `seed`.
  public init(encoder: any ImageEncoder, captions: [String], width: Int = 128, layers: Int = 2, heads: Int = 4,
              embedDim: Int = 128, maxTextLength: Int = 32, temperature: Float = 0.07,
              hardNegativeWords: [String]? = nil, seed: UInt64 = 0) {
    precondition(width > 0 && width % heads == 0 && layers >= 0 && embedDim > 0 && maxTextLength > 0 && temperature > 0,
                 "ImageTextContrastivePretraining: width must be a positive multiple of heads; sizes and temperature positive")
    var rng = RandomGenerator(seed: seed)
    self.encoder = encoder
    tokenizer = WordTokenizer(words: captions.flatMap(WordTokenizer.split))
    self.maxTextLength = maxTextLength
    tokenEmbedding = Embedding(tokenizer.vocabularySize, width, rng: &rng)
    positionEmbedding = Embedding(maxTextLength + 1, width, rng: &rng)
    textBlocks = (0..<layers).map { _ in
      PostNormTransformerBlock(width: width, heads: heads, intermediateWidth: 4 * width, rng: &rng)
    }
    imageHidden = Linear(encoder.featureDim, encoder.featureDim, rng: &rng)
    imageProjection = Linear(encoder.featureDim, embedDim, rng: &rng)
    textProjection = Linear(width, embedDim, rng: &rng)
    logitScale = Tensor(shape: [], data: [Foundation.log(1 / temperature)], requiresGrad: true)
    initialTemperature = temperature
    self.hardNegativeWords = hardNegativeWords.map { Array(Set($0.map { $0.lowercased() })).sorted() }
    super.init()
  }

  public override func children() -> [(String, Module)] {
    [("encoder", encoder.module), ("text.embeddings.word", tokenEmbedding), ("text.embeddings.position", positionEmbedding)]
      + textBlocks.enumerated().map { ("text.layer.\($0.offset)", $0.element as Module) }
      + [("image.head.0", imageHidden), ("image.head.2", imageProjection), ("text.projection", textProjection)]
  }

  public override func ownParameters() -> [(String, Tensor)] { [("logit_scale", logitScale)] }

  public var module: Module { self }
  public var summary: String {
    "image-text contrastive (CLIP): text tower \(textBlocks.count) layers of width \(tokenEmbedding.weight.shape[1]) over "
      + "\(tokenizer.vocabularySize) words (\(stableHash(tokenizer.tokens))), max \(maxTextLength) tokens, "
      + "projection \(imageProjection.outFeatures), learned temperature from \(initialTemperature)"
      + (hardNegativeWords.map { ", a hard negative caption per image (one of \($0.joined(separator: "/")) swapped)" } ?? "")
  }

  public var needsCaptions: Bool { true }

  /// Needs captions: the image-only entry point is an error.
  public func pretrainingLoss(_ pixels: Tensor, rng: inout RandomGenerator) throws -> Tensor {
    throw TrainingError.invalidSetting("image-text contrastive pre-training needs each image's captions")
  }

  /// The symmetric InfoNCE loss of [B, 3, H, W] pixels (B ≥ 2) and one caption per image drawn from `rng` among
  /// `captions[b]` (an image without captions is an error).
  public func pretrainingLoss(_ pixels: Tensor, captions: [[String]], rng: inout RandomGenerator) throws -> Tensor {
    let batch = pixels.shape[0]
    guard pixels.rank == 4, batch >= 2, captions.count == batch else {
      throw TrainingError.invalidSetting("image-text contrastive pre-training needs batches of 2 or more images [B, 3, H, W] "
        + "with their captions, got \(pixels.shape) and \(captions.count) caption lists")
    }
    let chosen = try captions.enumerated().map { index, options -> String in
      guard !options.isEmpty else {
        throw TrainingError.invalidSetting("image-text contrastive pre-training: image \(index) of the batch has no caption")
      }
      return options[rng.nextInt(below: options.count)]
    }
    let images = imageEmbeddings(try encoder.encode(pixels))
    guard let words = hardNegativeWords else {
      return Self.symmetricInfoNCE(images: images, texts: textEmbeddings(chosen), logitScale: logitScale)
    }
    let negatives = chosen.compactMap { Self.hardNegative(of: $0, words: words, rng: &rng) }
    let texts = textEmbeddings(chosen + negatives)
    return Self.symmetricInfoNCE(images: images, texts: texts, logitScale: logitScale)
  }

  /// `caption` with one of its object words (or that word's plural, "-s") swapped for another of `words` that it does
  /// not mention, in the same number; nil when it mentions none.
  public static func hardNegative(of caption: String, words: [String], rng: inout RandomGenerator) -> String? {
    let tokens = CaptionCorrupter.words(caption)
    let singular = Set(words), plural = Set(words.map { $0 + "s" })
    let positions = tokens.indices.filter { singular.contains(tokens[$0].core) || plural.contains(tokens[$0].core) }
    guard !positions.isEmpty else { return nil }
    let position = positions[rng.nextInt(below: positions.count)]
    let isPlural = !singular.contains(tokens[position].core)
    let mentioned = Set(tokens.map(\.core))
    let replacements = words.filter { !mentioned.contains($0) && !mentioned.contains($0 + "s") }
    guard let replacement = replacements.isEmpty ? nil : replacements[rng.nextInt(below: replacements.count)] else { return nil }
    var rewritten = tokens.map(\.token)
    rewritten[position] = rewritten[position].lowercased().replacingOccurrences(
      of: tokens[position].core, with: isPlural ? replacement + "s" : replacement)
    return rewritten.joined(separator: " ")
  }

  /// [B, N, width] image features → [B, embedDim] unit embeddings.
  public func imageEmbeddings(_ features: Tensor) -> Tensor {
    imageProjection(imageHidden(features.mean(axis: 1)).relu()).l2Normalized()
  }

  /// Captions → [B, embedDim] unit embeddings (the `[CLS]` row after the text tower; padding masked out).
  public func textEmbeddings(_ captions: [String]) -> Tensor {
    let sequences = captions.map { [tokenizer.clsId] + tokenizer.encode($0).prefix(maxTextLength) }
    let length = sequences.map(\.count).max() ?? 1, batch = sequences.count
    var ids = [Int](repeating: tokenizer.padId, count: batch * length)
    var mask = [Bool](repeating: false, count: batch * length * length)
    for (b, sequence) in sequences.enumerated() {
      for (t, id) in sequence.enumerated() { ids[b * length + t] = id }
      for query in 0..<length { for key in 0..<sequence.count { mask[(b * length + query) * length + key] = true } }
    }
    var h = tokenEmbedding(ids, shape: [batch, length])
      + positionEmbedding(Array(0..<length), shape: [1, length])
    for block in textBlocks { h = block(h, mask: mask) }
    return textProjection(h.sliced(axis: 1, 0..<1).reshaped([batch, h.shape[2]])).l2Normalized()
  }

  /// CLIP's loss: the mean of the image→text and text→image cross-entropies of exp(logitScale) · I Tᵀ against
  /// the diagonal. `texts` may have rows beyond the B images' captions (hard negatives, NegCLIP): they are extra
  /// candidates for image→text only. The scale is clamped at 100 as CLIP clamps it.
  public static func symmetricInfoNCE(images: Tensor, texts: Tensor, logitScale: Tensor) -> Tensor {
    let batch = images.shape[0]
    let scale = logitScale.item > Foundation.log(100) ? Tensor.scalar(100) : logitScale.exp()
    let logits = images.matmul(texts, transposeB: true) * scale  // [B, B + negatives]
    let targets = Array(0..<batch)
    let paired = texts.shape[0] == batch ? logits : logits.sliced(axis: 1, 0..<batch)
    return 0.5 * (logits.crossEntropy(targets: targets) + paired.transposed().crossEntropy(targets: targets))
  }
}
