// A T5-style encoder-decoder language model that reads a soft prompt in its encoder: the frozen LM of BLIP-2's
// stage 2 with FlanT5 (prefix language modelling: [soft prompt | text prefix] in, the text suffix out).

import Blip2Core
import Foundation
import Tensor

/// An encoder-decoder LM with Hugging Face T5 parameter names (`shared`, `encoder.block.{i}.layer.*`,
/// `decoder.block.{i}.layer.*`, `lm_head`).
///
/// The encoder reads `[soft prompt | input | end]` per sample (right-padded, padding masked): the end token is
/// there because T5's tokenizer appends `</s>` to every text and LAVIS's `blip2_t5` tokenizes the input so.
/// The decoder predicts `[target | end]` from the same shifted right behind the start token (T5: the pad id).
public final class EncoderDecoderLM: Module, LanguageModel, @unchecked Sendable {
  /// Sizes and options.
  public let configuration: EncoderDecoderLMConfiguration
  /// Token embeddings [vocabulary, width] (`shared`), read by both stacks (and the head when tied).
  public let shared: Embedding
  let encoder: T5Stack
  let decoder: T5Stack
  /// The untied LM head (`lm_head`, [vocabulary, width]); nil when tied to `shared`.
  public let lmHead: Linear?
  /// The registry name it was built from.
  public let kind: String
  /// Text to ids and back; set a vocabulary's own with `setTokenizer(_:)`.
  public private(set) var tokenizer: any Tokenizer
  /// Appended to the encoder's input and to the target (and labelled there), and a stop token of generation
  /// (default: the tokenizer's end id).
  public var endTokenId: Int?
  /// The decoder's first input (T5's `decoder_start_token_id`: the pad id).
  public var decoderStartTokenId: Int
  /// Whether generation keeps the decoder's keys and values and runs only the new token per step (default), or
  /// recomputes the whole decoder sequence (slower; the reference the cache is tested against).
  public var usesKVCache = true

  /// A randomly initialized model (T5's initialization: N(0, 1/fan-in) weights, queries also scaled by 1/√d_kv),
  /// seeded.
  /// - Parameter tokenizer: default: a byte tokenizer (259 ids; pad 0, end 1, as T5).
  /// - Throws: `EncoderDecoderLMError.invalidConfiguration` when the sizes do not fit or the tokenizer has more ids
  ///   than the model.
  public init(_ configuration: EncoderDecoderLMConfiguration, tokenizer: (any Tokenizer)? = nil, seed: UInt64 = 0,
              kind: String = "encoderDecoder") throws(EncoderDecoderLMError) {
    try configuration.validate()
    let c = configuration
    var rng = RandomGenerator(seed: seed)
    self.configuration = c
    self.kind = kind
    shared = Embedding(c.vocabularySize, c.width, std: 1, rng: &rng)
    encoder = T5Stack(c, decoder: false, rng: &rng)
    decoder = T5Stack(c, decoder: true, rng: &rng)
    lmHead = c.tiedHead ? nil : Linear(c.width, c.vocabularySize, bias: false, std: 1, rng: &rng)
    let chosen = tokenizer ?? ByteTokenizer(padId: 0, bosId: nil, eosId: 1)
    try Self.check(chosen, fits: c)
    self.tokenizer = chosen
    endTokenId = chosen.eosId
    decoderStartTokenId = chosen.padId
    super.init()
  }

  /// Replaces the tokenizer (and the end and start ids with its own end and pad ids).
  /// - Throws: `EncoderDecoderLMError.invalidConfiguration` if it has more ids than the model's vocabulary.
  public func setTokenizer(_ tokenizer: any Tokenizer) throws(EncoderDecoderLMError) {
    try Self.check(tokenizer, fits: configuration)
    self.tokenizer = tokenizer
    endTokenId = tokenizer.eosId
    decoderStartTokenId = tokenizer.padId
  }

  private static func check(_ tokenizer: any Tokenizer, fits c: EncoderDecoderLMConfiguration)
    throws(EncoderDecoderLMError)
  {
    guard tokenizer.vocabularySize <= c.vocabularySize else {
      throw .invalidConfiguration(field: "vocabularySize", reason: "is \(c.vocabularySize), smaller than the "
        + "tokenizer's \(tokenizer.vocabularySize) ids; give the model's own tokenizer")
    }
  }

  public override func children() -> [(String, Module)] {
    [("shared", shared), ("encoder", encoder), ("decoder", decoder)] + (lmHead.map { [("lm_head", $0)] } ?? [])
  }

  // MARK: Component

  public var module: Module { self }
  public var summary: String {
    let c = configuration
    return "T5-style encoder-decoder LM (width \(c.width), \(c.encoderLayers)+\(c.decoderLayers) layers, "
      + "\(c.heads) heads, \(c.feedForward.rawValue), vocabulary \(c.vocabularySize))"
  }
  public var embeddingDim: Int { configuration.width }
  public var architecture: LMArchitecture { .encoderDecoder }

  // MARK: Forward

  /// The encoder's output [B, S, width] for input embeddings [B, S, width] whose first `validLengths[b]`
  /// positions are real (padding is never attended to).
  public func encode(embeddings x: Tensor, validLengths: [Int]) throws -> Tensor {
    guard x.rank == 3, x.shape[2] == embeddingDim, validLengths.count == x.shape[0] else {
      throw EncoderDecoderLMError.invalidInput("encoder embeddings must be [B, S, \(embeddingDim)] with one valid "
        + "length per sequence, got \(x.shape) and \(validLengths.count) lengths")
    }
    return encoder(x, allowed: Self.keyMask(validLengths, queries: x.shape[1], keys: x.shape[1], causal: false))
  }

  /// Decoder logits [B, T, vocabulary] for decoder input ids [B·T] (the first `decoderLengths[b]` real) after
  /// the encoder's output [B, S, width] (the first `encoderLengths[b]` real).
  public func decode(ids: [Int], decoderLengths: [Int], encoded: Tensor, encoderLengths: [Int]) throws -> Tensor {
    let batch = encoded.shape[0]
    let length = batch > 0 ? ids.count / batch : 0
    guard encoded.rank == 3, encoded.shape[2] == embeddingDim, ids.count == batch * length,
          decoderLengths.count == batch, encoderLengths.count == batch else {
      throw EncoderDecoderLMError.invalidInput("decode needs the encoder output [B, S, \(embeddingDim)], B·T ids and B "
        + "lengths of each; got \(encoded.shape), \(ids.count) ids, \(decoderLengths.count) and "
        + "\(encoderLengths.count) lengths")
    }
    let x = try embed(ids, batch: batch, length: length)  // [B, T, width]
    let h = decoder(x, allowed: Self.keyMask(decoderLengths, queries: length, keys: length, causal: true),
                    context: encoded,
                    crossAllowed: Self.keyMask(encoderLengths, queries: length, keys: encoded.shape[1], causal: false))
    return head(h)  // [B, T, vocabulary]
  }

  /// The LM head over the decoder's output [B, T, width]: [B, T, vocabulary].
  func head(_ h: Tensor) -> Tensor {
    let scaled = configuration.tiedHead ? h * Float(1 / Double(configuration.width).squareRoot()) : h  // T5.1.0's rescaling
    return scaled.linear(weight: lmHead?.weight ?? shared.weight, bias: nil)
  }

  /// [B, Tq, Tk]: key j is real (j < valid[b]) and, when causal, not after the query.
  static func keyMask(_ valid: [Int], queries: Int, keys: Int, causal: Bool) -> [Bool] {
    var mask = [Bool](repeating: false, count: valid.count * queries * keys)
    for (b, count) in valid.enumerated() {
      for i in 0..<queries {
        for j in 0..<min(count, causal ? i + 1 : keys) { mask[(b * queries + i) * keys + j] = true }
      }
    }
    return mask
  }

  /// Token embeddings [B, L, width] of right-padded ids [B·L], after checking every id.
  func embed(_ ids: [Int], batch: Int, length: Int) throws -> Tensor {
    if let bad = ids.first(where: { $0 < 0 || $0 >= configuration.vocabularySize }) {
      throw EncoderDecoderLMError.invalidInput(
        "token id \(bad) is outside the vocabulary of \(configuration.vocabularySize)")
    }
    return shared(ids, shape: [batch, length])
  }

  /// The encoder's output for `[prefix | text]` per sample, and the valid lengths.
  func encode(prefix: Tensor, texts: [[Int]]) throws -> (encoded: Tensor, lengths: [Int]) {
    guard prefix.rank == 3, prefix.shape[0] == texts.count, prefix.shape[2] == embeddingDim else {
      throw EncoderDecoderLMError.invalidInput(
        "the soft prompt must be [\(texts.count), P, \(embeddingDim)], got \(prefix.shape)")
    }
    let p = prefix.shape[1]
    let length = texts.map(\.count).max() ?? 0
    let lengths = texts.map { p + $0.count }
    guard p + length > 0 else { throw EncoderDecoderLMError.invalidInput("the encoder has nothing to read") }
    let pad = tokenizer.padId
    let text = try embed(texts.flatMap { $0 + [Int](repeating: pad, count: length - $0.count) }, batch: texts.count,
                         length: length)  // [B, L, width]
    let x = p == 0 ? text : length == 0 ? prefix : Tensor.concat([prefix, text], axis: 1)  // [B, P + L, width]
    return (try encode(embeddings: x, validLengths: lengths), lengths)
  }

  /// `ids + [end]`.
  func withEnd(_ ids: [Int]) -> [Int] { ids + (endTokenId.map { [$0] } ?? []) }

  // MARK: LanguageModel

  /// Mean cross-entropy of `[target | end]` decoded (teacher forcing) after the encoder read
  /// `[prefix | input | end]`; padding is masked in both stacks and not labelled. Gradients reach `prefix`
  /// whether or not the model is frozen.
  public func loss(prefix: Tensor, input: TokenBatch, target: TokenBatch) throws -> Tensor {
    let batch = target.batch
    guard input.batch == batch else {
      throw EncoderDecoderLMError.invalidInput("input has \(input.batch) sequences but target has \(batch)")
    }
    let (encoded, encoderLengths) = try encode(prefix: prefix, texts: (0..<batch).map { withEnd(input.sequence($0)) })
    let labelled = (0..<batch).map { withEnd(target.sequence($0)) }
    let length = labelled.map(\.count).max() ?? 0
    guard length > 0 else { throw EncoderDecoderLMError.invalidInput("nothing to predict: the targets are empty") }
    var decoderIds: [Int] = [], labels: [Int] = []
    for row in labelled {
      let padded = row + [Int](repeating: tokenizer.padId, count: length - row.count)
      decoderIds += [decoderStartTokenId] + padded.dropLast()  // shifted right behind the start token
      labels += row + [Int](repeating: -100, count: length - row.count)
    }
    let logits = try decode(ids: decoderIds, decoderLengths: labelled.map(\.count), encoded: encoded,
                            encoderLengths: encoderLengths)  // [B, T, V]
    return logits.reshaped([batch * length, configuration.vocabularySize]).crossEntropy(targets: labels)
  }
}
