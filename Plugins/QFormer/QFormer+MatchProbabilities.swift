// ITM as a probability, for CapFilt's filter (BLIP keeps a caption when the "match" probability passes a
// threshold): the softmax of the two ITM logits, averaged over the queries as in the matching loss.

import Blip2Core
import Foundation
import Tensor

extension QFormer: MatchProbabilityScorer {
  /// The ITM logits (no match, match) of aligned pairs (image i with text i), `itm_head` averaged over the query
  /// outputs of a joint pass (bidirectional mask + padding): [B, 2].
  func matchLogits(imageFeatures: Tensor, text: TokenBatch) throws -> Tensor {
    guard imageFeatures.rank == 3, imageFeatures.shape[0] == text.batch else {
      throw QFormerError.invalidInput("ITM pairs image i with text i: \(imageFeatures.shape) image features "
        + "for \(text.batch) texts")
    }
    let queries = configuration.queries
    let mask = try selfAttentionMask(.bidirectional, queries: queries, text: text)
    let joint = try encode(imageFeatures: imageFeatures, text: text, mask: mask)  // [B, Q + L, hidden]
    return matchingHead(joint.sliced(axis: 1, 0..<queries)).mean(axis: 1)  // [B, 2]
  }

  /// The ITM logits (no match, match) of `pairs` of an image of `imageFeatures` [I, N, imageWidth] and a text of
  /// `texts`, in the pairs' order: [pairs, 2]. The pairs run sorted by image, `batchSize` per joint pass, and each
  /// pass projects the cross-attention keys and values of its distinct images once (a pair's logits depend on
  /// the pair alone, as `matchLogits(imageFeatures:text:)` gives them).
  func matchLogits(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                   batchSize: Int) throws -> [Float] {
    guard imageFeatures.rank == 3 else {
      throw QFormerError.invalidInput("image features must be [I, N, \(configuration.imageWidth)], got \(imageFeatures.shape)")
    }
    if let bad = pairs.first(where: { !(0..<imageFeatures.shape[0]).contains($0.image) || !(0..<texts.batch).contains($0.text) }) {
      throw QFormerError.invalidInput("ITM pair (image \(bad.image), text \(bad.text)) is outside the \(imageFeatures.shape[0]) "
        + "images and \(texts.batch) texts")
    }
    let order = pairs.indices.sorted { (pairs[$0].image, $0) < (pairs[$1].image, $1) }
    var logits = [Float](repeating: 0, count: 2 * pairs.count)
    let size = Swift.max(batchSize, 1), queries = configuration.queries
    for start in stride(from: 0, to: order.count, by: size) {
      let members = Array(order[start..<Swift.min(start + size, order.count)])
      var images: [Int] = [], local: [Int: Int] = [:]
      for member in members where local[pairs[member].image] == nil {
        local[pairs[member].image] = images.count
        images.append(pairs[member].image)
      }
      let image = try imageContext(imageFeatures.rows(images)).selecting(members.map { local[pairs[$0].image]! })
      let text = texts.selecting(members.map { pairs[$0].text })
      let mask = try selfAttentionMask(.bidirectional, queries: queries, text: text)
      let joint = try encode(image: image, text: text, mask: mask)  // [B, Q + L, hidden]
      let chunk = matchingHead(joint.sliced(axis: 1, 0..<queries)).mean(axis: 1).data  // [B, 2]
      for (row, member) in members.enumerated() {
        logits[2 * member] = chunk[2 * row]
        logits[2 * member + 1] = chunk[2 * row + 1]
      }
    }
    return logits
  }

  public func matchProbabilities(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                                 batchSize: Int) throws -> [Float] {
    let logits = try matchLogits(imageFeatures: imageFeatures, texts: texts, pairs: pairs, batchSize: batchSize)
    return (0..<pairs.count).map { 1 / (1 + Foundation.exp(logits[2 * $0] - logits[2 * $0 + 1])) }
  }

  public func matchScores(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                          batchSize: Int) throws -> [Float] {
    let logits = try matchLogits(imageFeatures: imageFeatures, texts: texts, pairs: pairs, batchSize: batchSize)
    return (0..<pairs.count).map { logits[2 * $0 + 1] }
  }

  /// The probability of "match" for aligned pairs (image i with text i): softmax over ITM's two logits.
  public func matchProbabilities(imageFeatures: Tensor, text: TokenBatch) throws -> [Float] {
    let logits = try matchLogits(imageFeatures: imageFeatures, text: text).data
    return (0..<text.batch).map { 1 / (1 + Foundation.exp(logits[2 * $0] - logits[2 * $0 + 1])) }
  }
}
