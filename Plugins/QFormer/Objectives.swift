// BLIP-2's stage-1 objectives, as LAVIS's `blip2_qformer.py` `Blip2Qformer.forward` computes them (single
// process, so "all-gathered" batches are the local batch):
//
//   ITC  image pass (queries only) and text pass (text only); image_feats = normalize(vision_proj(query
//        outputs)) [B, Q, 256], text_feat = normalize(text_proj([CLS] output)) [B, 256];
//        sim_i2t[i, j] = max_q image_feats[i, q]·text_feat[j] / temp, sim_t2i = sim_i2tᵀ;
//        loss = (CE(sim_i2t, diag, ls 0.1) + CE(sim_t2i, diag, ls 0.1)) / 2; temp clamped to [0.001, 0.5] first.
//   ITM  hard negatives drawn from softmax rows of the similarities with the diagonal removed; batch
//        [pos image + pos text, neg image + pos text, pos image + neg text]; one joint pass, bidirectional
//        mask + padding; itm_head on each query output, averaged; CE with labels [1×B, 0×2B].
//   ITG  decoder input = text with its first token replaced by [DEC]; joint pass over [queries | text] with
//        the multimodal-causal mask + padding; LM head on the text; shifted CE (position t predicts t+1),
//        padding ignored, label smoothing 0.1.
//
// As LAVIS, ITG's text pass attends to the image pass's query keys and values (`past_key_values`) instead of
// recomputing the query half, whenever its mask lets the queries see no text (the paper's multimodal-causal
// mask does); a mask where queries see text needs the joint pass over [queries | text], and gets it.
// Differences from LAVIS, on purpose: image keys/values of the cross-attention are projected once per step
// and shared by all passes; ITM with a batch of 1 has no negative and is skipped (loss absent, a note says so).

import Blip2Core
import Foundation
import Tensor

/// How much each stage-1 objective counts in the total. A weight of 0 skips that objective's forward pass.
public struct LossWeights: Codable, Sendable, Equatable {
  /// Image-text contrastive.
  public var itc: Float
  /// Image-text matching.
  public var itm: Float
  /// Image-grounded text generation.
  public var itg: Float

  /// Weights; each defaults to 1 (the paper sums the three losses).
  public init(itc: Float = 1, itm: Float = 1, itg: Float = 1) {
    self.itc = itc
    self.itm = itm
    self.itg = itg
  }

  /// The paper's mix: ITC + ITM + ITG.
  public static let paper = LossWeights()
}

/// ITM's negatives: for each text an image of another sample, for each image a text of another sample.
public struct HardNegatives: Sendable, Equatable {
  /// `imageForText[t]`: the batch index of text t's negative image.
  public var imageForText: [Int]
  /// `textForImage[i]`: the batch index of image i's negative text.
  public var textForImage: [Int]

  /// Negatives given explicitly (e.g. fixed ones for a parity test).
  public init(imageForText: [Int], textForImage: [Int]) {
    self.imageForText = imageForText
    self.textForImage = textForImage
  }
}

/// The result of one stage-1 forward pass.
public struct StageOneLosses {
  /// The weighted sum to back-propagate (a constant 0 when nothing ran).
  public var total: Tensor
  /// ITC's loss, when it ran.
  public var itc: Float?
  /// ITM's loss, when it ran.
  public var itm: Float?
  /// ITG's loss, when it ran.
  public var itg: Float?
  /// The negatives ITM used, when it ran.
  public var negatives: HardNegatives?
  /// What was skipped and why, e.g. ITM on a batch of one.
  public var notes: [String] = []

  /// The losses that ran, by objective name (unweighted), for logs.
  public var values: [String: Float] {
    var result: [String: Float] = [:]
    result["itc"] = itc
    result["itm"] = itm
    result["itg"] = itg
    return result
  }
}

extension QFormer {
  /// The stage-1 losses of image features [B, N, imageWidth] and their captions (text i describes image i;
  /// each text starts with `[CLS]`, padded on the right), weighted by `weights`.
  ///
  /// - Parameters:
  ///   - masks: the self-attention mask of each objective (default: the paper's).
  ///   - negatives: fixed ITM negatives; nil samples hard negatives with `rng` (LAVIS). When ITC's weight is
  ///     0 but ITM samples negatives, the ITC passes still run, without gradient, to get the similarities.
  ///   - rng: hard-negative sampling. Dropout draws from `randomSource`.
  /// - Throws: `QFormerError` for inconsistent inputs, `MaskError` for a mask that cannot be built.
  public func stageOneLosses(imageFeatures: Tensor, text: TokenBatch, weights: LossWeights = .paper,
                             masks: ObjectiveMasks = .paper, settings: ObjectiveSettings = .lavis,
                             negatives fixedNegatives: HardNegatives? = nil,
                             rng: inout RandomGenerator) throws -> StageOneLosses {
    let batch = text.batch
    guard imageFeatures.rank == 3, imageFeatures.shape[0] == batch, batch > 0 else {
      throw QFormerError.invalidInput("stage 1 needs image features [B, N, width] for B = \(batch) texts, "
        + "got \(imageFeatures.shape)")
    }
    guard text.length > 0 else { throw QFormerError.invalidInput("stage 1 needs texts of at least one token ([CLS])") }
    if let fixedNegatives { try check(fixedNegatives, batch: batch) }
    let image = try imageContext(imageFeatures)
    var result = StageOneLosses(total: Tensor.scalar(0))
    var terms: [Tensor] = []
    func add(_ loss: Tensor, _ weight: Float) { terms.append(weight == 1 ? loss : loss * weight) }

    let runsITM = weights.itm != 0 && (fixedNegatives != nil || batch > 1)
    // ITC's image pass also serves ITG (its query keys and values) when the masks allow; without ITC, ITG's
    // own joint pass is the cheaper one.
    let runsITG = weights.itg != 0 && text.length > 1
    let sharesImagePass = try runsITG && weights.itc != 0 && isUnimodal(masks.itc, textLength: text.length)
      && queriesSeeNoText(masks.itg, textLength: text.length)
    let imagePass = sharesImagePass ? try encodeQueries(image: image) : nil
    var similarities: [Float]?  // [B_images, B_texts], for hard-negative sampling
    if weights.itc != 0 || (runsITM && fixedNegatives == nil) {
      clampTemperature(to: settings.temperatureRange)
      if weights.itc != 0 {
        let similarity = try imagePass.map { pass in
          QFormer.maxOverQueries(images: visionProjection(pass.hidden).l2Normalized(), texts: try textEmbeddings(text))
            / temperature
        } ?? contrastiveSimilarity(image: image, text: text, mask: masks.itc)  // [B, B]
        let loss = contrastiveLoss(similarity, labelSmoothing: settings.itcLabelSmoothing)
        add(loss, weights.itc)
        result.itc = loss.item
        similarities = similarity.data
      } else {
        similarities = try GradMode.noGrad { try contrastiveSimilarity(image: image, text: text, mask: masks.itc) }.data
      }
    }
    if weights.itm != 0 {
      if runsITM {
        let negatives = fixedNegatives
          ?? QFormer.sampleHardNegatives(similarities: similarities ?? [], batch: batch, rng: &rng)
        let loss = try matchingLoss(image: image, text: text, negatives: negatives, mask: masks.itm)
        add(loss, weights.itm)
        result.itm = loss.item
        result.negatives = negatives
      } else {
        result.notes.append("itm skipped: a batch of 1 has no negative sample (use batches of 2 or more)")
      }
    }
    if weights.itg != 0 {
      if runsITG {
        let loss = try generationLoss(image: image, text: text, mask: masks.itg,
                                      labelSmoothing: settings.itgLabelSmoothing, past: imagePass?.keyValues)
        add(loss, weights.itg)
        result.itg = loss.item
      } else {
        result.notes.append("itg skipped: texts of one token have nothing to predict")
      }
    }
    if let first = terms.first { result.total = terms.dropFirst().reduce(first, +) }
    return result
  }

  private func check(_ negatives: HardNegatives, batch: Int) throws(QFormerError) {
    for (name, indices) in [("imageForText", negatives.imageForText), ("textForImage", negatives.textForImage)] {
      guard indices.count == batch, indices.allSatisfy({ (0..<batch).contains($0) }) else {
        throw .invalidInput("hard negatives \(name) must hold \(batch) indices in 0..<\(batch), got \(indices)")
      }
    }
  }

  // MARK: ITC

  /// The contrastive similarities sim_i2t [B_images, B_texts] of paired images and texts, divided by the
  /// temperature (ITC's logits). With the unimodal mask the image and text passes run separately (LAVIS); with
  /// any other, one joint pass per image-text pair gives image i's query features and text i's `[CLS]` feature.
  public func contrastiveSimilarity(image: ImageContext, text: TokenBatch, mask: MaskSpec) throws -> Tensor {
    let (batch, queries, embed) = (text.batch, configuration.queries, configuration.embedDim)
    if try isUnimodal(mask, textLength: text.length) {
      return QFormer.maxOverQueries(images: try imageEmbeddings(image), texts: try textEmbeddings(text)) / temperature
    }
    let cells = try selfAttentionMask(mask, queries: queries, text: text)
    let joint = try encode(image: image, text: text, mask: cells)  // [B, Q + L, hidden]
    let images = visionProjection(joint.sliced(axis: 1, 0..<queries)).l2Normalized()  // [B, Q, embed]
    let cls = joint.sliced(axis: 1, queries..<(queries + 1))  // [B, 1, hidden]
    let texts = textProjection(cls).l2Normalized().reshaped([batch, embed])  // [B, embed]
    return QFormer.maxOverQueries(images: images, texts: texts) / temperature
  }

  /// ITC's image features: the image-only pass's query outputs through `vision_proj`, L2-normalized,
  /// [I, Q, embed].
  public func imageEmbeddings(_ image: ImageContext) throws -> Tensor {
    visionProjection(try encode(image: image, text: nil)).l2Normalized()  // [I, Q, embed]
  }

  /// ITC's text features: the text-only pass's `[CLS]` output (padding masked) through `text_proj`,
  /// L2-normalized, [T, embed].
  public func textEmbeddings(_ text: TokenBatch) throws -> Tensor {
    let mask = try selfAttentionMask(.bidirectional, queries: 0, text: text)
    let cls = try encode(image: nil, text: text, mask: mask).sliced(axis: 1, 0..<1)  // [T, 1, hidden]
    return textProjection(cls).l2Normalized().reshaped([text.batch, configuration.embedDim])  // [T, embed]
  }

  /// sim[i, t] = max over queries q of images[i, q]·texts[t]: [I, Q, embed] and [T, embed] → [I, T].
  static func maxOverQueries(images: Tensor, texts: Tensor) -> Tensor {
    let (count, queries, embed) = (images.shape[0], images.shape[1], images.shape[2])
    let perQuery = images.reshaped([count * queries, embed]).matmul(texts, transposeB: true)  // [I·Q, T]
    return perQuery.reshaped([count, queries, texts.shape[0]]).max(axis: 1)  // [I, T]
  }

  /// (CE(sim_i2t, diagonal) + CE(sim_t2i, diagonal)) / 2, with sim_t2i = sim_i2tᵀ.
  func contrastiveLoss(_ similarity: Tensor, labelSmoothing: Float) -> Tensor {
    let targets = Array(0..<similarity.shape[0])
    let imageToText = similarity.crossEntropy(targets: targets, labelSmoothing: labelSmoothing)
    let textToImage = similarity.transposed(0, 1).crossEntropy(targets: targets, labelSmoothing: labelSmoothing)
    return (imageToText + textToImage) * 0.5
  }

  // MARK: ITM

  /// Draws ITM's hard negatives from similarities [B_images, B_texts] (row-major): for text t an image with
  /// probability softmax over images i ≠ t of sim[i, t]; for image i a text with probability softmax over
  /// texts t ≠ i of sim[i, t] (LAVIS sets the diagonal to −10000 before the softmax: the same weights).
  /// A sample never gets itself: when no weight is usable (NaN similarities, say) the negative is uniform
  /// over the other samples. Needs a batch of at least 2.
  public static func sampleHardNegatives(similarities: [Float], batch: Int,
                                         rng: inout RandomGenerator) -> HardNegatives {
    precondition(batch > 1 && similarities.count == batch * batch,
                 "sampleHardNegatives: needs a batch of 2 or more and [B, B] similarities")
    func draw(excluding own: Int, score: (Int) -> Float) -> Int {
      let others = (0..<batch).filter { $0 != own }
      let finite = others.map(score).filter(\.isFinite)
      if let top = finite.max() {
        var weights = [Float](repeating: 0, count: batch)
        for j in others where score(j).isFinite { weights[j] = Foundation.exp(score(j) - top) }
        if weights.contains(where: { $0 > 0 }) { return rng.sample(weights: weights) }
      }
      return others[rng.nextInt(below: others.count)]
    }
    let imageForText = (0..<batch).map { t in draw(excluding: t) { similarities[$0 * batch + t] } }
    let textForImage = (0..<batch).map { i in draw(excluding: i) { similarities[i * batch + $0] } }
    return HardNegatives(imageForText: imageForText, textForImage: textForImage)
  }

  /// ITM's loss: one joint pass over [pos image + pos text, neg image + pos text, pos image + neg text]
  /// (LAVIS's order), `itm_head` on every query output averaged over the queries, CE against [1×B, 0×2B].
  public func matchingLoss(image: ImageContext, text: TokenBatch, negatives: HardNegatives,
                           mask: MaskSpec) throws -> Tensor {
    let (batch, queries) = (text.batch, configuration.queries)
    let positives = Array(0..<batch)
    let texts = text.selecting(positives + positives + negatives.textForImage)  // [3B, L]
    let images = image.selecting(positives + negatives.imageForText + positives)  // 3B images
    let cells = try selfAttentionMask(mask, queries: queries, text: texts)
    let joint = try encode(image: images, text: texts, mask: cells)  // [3B, Q + L, hidden]
    let logits = matchingHead(joint.sliced(axis: 1, 0..<queries)).mean(axis: 1)  // [3B, 2]
    let labels = [Int](repeating: 1, count: batch) + [Int](repeating: 0, count: 2 * batch)
    return logits.crossEntropy(targets: labels)
  }

  // MARK: ITG

  /// ITG's loss: the text with its first token replaced by `decoderTokenId`, read with `mask` (+ padding)
  /// over `[queries | text]`, the LM head on text positions 0..<L−1, each predicting the next token; padding
  /// is ignored. Needs texts of at least 2 tokens. With `past` (the image pass's query keys and values, from
  /// `encodeQueries`; only valid when `mask` lets no query see text) only the text half is computed, as LAVIS
  /// does; without it, one joint pass.
  func generationLoss(image: ImageContext, text: TokenBatch, mask: MaskSpec, labelSmoothing: Float,
                      past: [SelfAttentionKeyValues]? = nil) throws -> Tensor {
    let (batch, length, queries) = (text.batch, text.length, configuration.queries)
    guard length > 1 else { throw QFormerError.invalidInput("ITG needs texts of at least 2 tokens, got \(length)") }
    var ids = text.ids
    for b in 0..<batch { ids[b * length] = configuration.decoderTokenId }
    let decoderInput = TokenBatch(ids: ids, batch: batch, length: length, validLengths: text.validLengths)
    let cells = try selfAttentionMask(mask, queries: queries, text: decoderInput)
    let states: Tensor  // [B, L − 1, hidden]
    if let past {
      // The text rows of the mask: [L, Q + L] shared or [B, L, Q + L] per sample.
      let columns = queries + length
      let textRows = cells.map { cells in
        stride(from: 0, to: cells.count, by: columns * columns).flatMap { cells[($0 + queries * columns)..<($0 + columns * columns)] }
      }
      states = try encodeText(decoderInput, mask: textRows, past: past).sliced(axis: 1, 0..<(length - 1))
    } else {
      let joint = try encode(image: image, text: decoderInput, mask: cells)  // [B, Q + L, hidden]
      states = joint.sliced(axis: 1, queries..<(queries + length - 1))
    }
    let logits = languageModelLogits(states).reshaped([batch * (length - 1), configuration.vocabularySize])
    var targets = [Int](repeating: -100, count: batch * (length - 1))
    for b in 0..<batch {
      for t in 0..<(length - 1) where t + 1 < text.validLengths[b] { targets[b * (length - 1) + t] = ids[b * length + t + 1] }
    }
    return logits.crossEntropy(targets: targets, ignoreIndex: -100, labelSmoothing: labelSmoothing)
  }
}
