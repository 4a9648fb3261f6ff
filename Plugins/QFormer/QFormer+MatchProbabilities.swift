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

  /// The probability of "match" for aligned pairs (image i with text i): softmax over ITM's two logits.
  public func matchProbabilities(imageFeatures: Tensor, text: TokenBatch) throws -> [Float] {
    let logits = try matchLogits(imageFeatures: imageFeatures, text: text).data
    return (0..<text.batch).map { 1 / (1 + Foundation.exp(logits[2 * $0] - logits[2 * $0 + 1])) }
  }
}
