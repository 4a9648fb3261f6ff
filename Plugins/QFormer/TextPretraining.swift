// BERT's masked language modelling on the Q-Former's text side: the sandbox's stand-in for BLIP-2 starting its
// Q-Former from BERT-base. Text-only passes use the self-attention, the text feed-forward, the embeddings and
// the LM head (tied to the word embeddings); the queries and the cross-attention get no gradient and stay as
// initialized, as they are random in BLIP-2 too.

import Blip2Core
import Tensor

extension QFormer: TextPretrainableBridge {
  /// BERT's masking rates.
  static let maskedFraction: Float = 0.15

  /// The objective and its settings (part of the pre-training cache key).
  public var textPretrainingSummary: String {
    "masked language modelling as BERT: 15% of the words predicted, of them 80% shown as [MASK], 10% as a random word, 10% unchanged"
  }

  /// The masked-LM loss of `texts` (`[CLS] words [SEP]`, bidirectional attention within each text's valid
  /// tokens). Each text gets at least one predicted word; `[CLS]`, `[SEP]` and padding are never predicted.
  /// - Throws: `QFormerError.invalidConfiguration` when the tokenizer has no `[MASK]` token; input errors as
  ///   `encode`.
  public func textPretrainingLoss(_ texts: [String], maxLength: Int, rng: inout RandomGenerator) throws -> Tensor {
    guard let maskTokenId else {
      throw QFormerError.invalidConfiguration(field: "tokenizer", reason: "has no [MASK] token, which masked "
        + "language modelling needs; set a tokenizer with one (setTokenizer(_:…maskTokenId:))")
    }
    let text = tokenizeText(texts, maxLength: maxLength)
    let (batch, length) = (text.batch, text.length)
    let words = (0..<tokenizer.vocabularySize).filter { ![classTokenId, separatorTokenId, maskTokenId, tokenizer.padId,
                                                          configuration.decoderTokenId].contains($0) }
    var ids = text.ids
    var targets = [Int](repeating: -100, count: batch * length)
    for b in 0..<batch {
      let end = text.validLengths[b] - (separatorTokenId == nil ? 0 : 1)  // [CLS] at 0, [SEP] at end
      guard end > 1 else { continue }
      var chosen = (1..<end).filter { _ in rng.nextFloat() < Self.maskedFraction }
      if chosen.isEmpty { chosen = [1 + rng.nextInt(below: end - 1)] }
      for t in chosen {
        let index = b * length + t
        targets[index] = ids[index]
        let draw = rng.nextFloat()
        if draw < 0.8 {
          ids[index] = maskTokenId
        } else if draw < 0.9, !words.isEmpty {
          ids[index] = words[rng.nextInt(below: words.count)]
        }
      }
    }
    let input = TokenBatch(ids: ids, batch: batch, length: length, validLengths: text.validLengths)
    var mask: [Bool]? = nil
    if text.validLengths.contains(where: { $0 < length }) {  // padding: [B, L, L], keys beyond the text hidden
      mask = (0..<batch).flatMap { b in (0..<length).flatMap { _ in (0..<length).map { $0 < text.validLengths[b] } } }
    }
    let hidden = try encode(image: nil, text: input, mask: mask)  // [B, L, hidden]
    let logits = languageModelLogits(hidden).reshaped([batch * length, configuration.vocabularySize])
    return logits.crossEntropy(targets: targets, ignoreIndex: -100, labelSmoothing: 0)
  }
}
