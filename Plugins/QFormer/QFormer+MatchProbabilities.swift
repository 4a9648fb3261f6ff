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
    return try jointMatchLogits(image: try imageContext(imageFeatures), text: text)
  }

  /// `itm_head` averaged over the query outputs of a joint pass over prepared images and their texts
  /// (bidirectional mask + padding): [B, 2].
  private func jointMatchLogits(image: ImageContext, text: TokenBatch) throws -> Tensor {
    let queries = configuration.queries
    let mask = try selfAttentionMask(.bidirectional, queries: queries, text: text)
    let joint = try encode(image: image, text: text, mask: mask)  // [B, Q + L, hidden]
    return matchingHead(joint.sliced(axis: 1, 0..<queries)).mean(axis: 1)  // [B, 2]
  }

  /// P(match) from a row of ITM logits [no match, match] at `row`: the softmax's second entry.
  private static func matchProbability(_ logits: [Float], row: Int) -> Float {
    1 / (1 + Foundation.exp(logits[2 * row] - logits[2 * row + 1]))
  }

  /// The ITM logits (no match, match) of `pairs` of an image of `imageFeatures` [I, N, imageWidth] and a text of
  /// `texts`, in the pairs' order: [pairs, 2]. A pair's logits depend on the pair alone (as
  /// `matchLogits(imageFeatures:text:)` gives them), so the work is arranged to be small: the images are taken
  /// `imageBlock` at a time with their cross-attention keys and values projected once, and each block's pairs run
  /// shortest text first, `batchSize` per joint pass, padded only to their own longest text.
  func matchLogits(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                   batchSize: Int, imageBlock: Int = 256) throws -> [Float] {
    guard imageFeatures.rank == 3 else {
      throw QFormerError.invalidInput("image features must be [I, N, \(configuration.imageWidth)], got \(imageFeatures.shape)")
    }
    if let bad = pairs.first(where: { !(0..<imageFeatures.shape[0]).contains($0.image) || !(0..<texts.batch).contains($0.text) }) {
      throw QFormerError.invalidInput("ITM pair (image \(bad.image), text \(bad.text)) is outside the \(imageFeatures.shape[0]) "
        + "images and \(texts.batch) texts")
    }
    var logits = [Float](repeating: 0, count: 2 * pairs.count)
    let size = Swift.max(batchSize, 1)
    let images = Array(Set(pairs.map(\.image))).sorted()
    var pairsOfImage: [Int: [Int]] = [:]
    for (index, pair) in pairs.enumerated() { pairsOfImage[pair.image, default: []].append(index) }
    for blockStart in stride(from: 0, to: images.count, by: Swift.max(imageBlock, 1)) {
      let block = Array(images[blockStart..<Swift.min(blockStart + Swift.max(imageBlock, 1), images.count)])
      let local = Dictionary(uniqueKeysWithValues: block.enumerated().map { ($1, $0) })
      let context = try imageContext(imageFeatures.rows(block))
      let members = block.flatMap { pairsOfImage[$0]! }
        .sorted { (texts.validLengths[pairs[$0].text], $0) < (texts.validLengths[pairs[$1].text], $1) }
      for start in stride(from: 0, to: members.count, by: size) {
        let chunk = Array(members[start..<Swift.min(start + size, members.count)])
        let scores = try jointMatchLogits(image: context.selecting(chunk.map { local[pairs[$0].image]! }),
                                          text: texts.selecting(chunk.map { pairs[$0].text }).trimmed()).data  // [B, 2]
        for (row, pair) in chunk.enumerated() {
          logits[2 * pair] = scores[2 * row]
          logits[2 * pair + 1] = scores[2 * row + 1]
        }
      }
    }
    return logits
  }

  public func matchProbabilities(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                                 batchSize: Int) throws -> [Float] {
    let logits = try matchLogits(imageFeatures: imageFeatures, texts: texts, pairs: pairs, batchSize: batchSize)
    return (0..<pairs.count).map { Self.matchProbability(logits, row: $0) }
  }

  public func matchScores(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                          batchSize: Int) throws -> [Float] {
    let logits = try matchLogits(imageFeatures: imageFeatures, texts: texts, pairs: pairs, batchSize: batchSize)
    return (0..<pairs.count).map { logits[2 * $0 + 1] }
  }

  /// The probability of "match" for aligned pairs (image i with text i): softmax over ITM's two logits.
  public func matchProbabilities(imageFeatures: Tensor, text: TokenBatch) throws -> [Float] {
    let logits = try matchLogits(imageFeatures: imageFeatures, text: text).data
    return (0..<text.batch).map { Self.matchProbability(logits, row: $0) }
  }
}
