// A decoder-only language model in the OPT (or GPT-2) layout that accepts a soft prompt in front of its text:
// the frozen LM of BLIP-2's stage 2 with OPT. Learned positions, pre-LN blocks, a final norm and an LM head tied
// to the token embeddings.

import Blip2Core
import Foundation
import Tensor

/// A decoder-only LM with Hugging Face OPT (`model.decoder.*`) or GPT-2 (`transformer.*`) parameter names.
///
/// Sequences are `[soft prompt | begin token | input | target | end token]` per sample, right-padded; see
/// `loss(prefix:input:target:)`. Positions count from the first soft-prompt vector, as in BLIP-2, where the
/// query outputs are passed to OPT as `inputs_embeds` in front of the text and the attention mask is all ones
/// over them (OPT derives position ids from that mask: `cumsum(mask) − 1`, plus its offset of 2).
public final class DecoderLM: Module, LanguageModel, @unchecked Sendable {
  /// Sizes and layout.
  public let configuration: DecoderLMConfiguration
  /// Token embeddings [vocabulary, embeddingWidth]; also the LM head (tied).
  public let tokenEmbedding: Embedding
  /// Learned positions [positionOffset + maxPositions, width].
  public let positionEmbedding: Embedding
  /// OPT-350m's embedding → width projection (`project_in`); nil when the widths agree.
  public let projectIn: Linear?
  /// OPT-350m's width → embedding projection (`project_out`).
  public let projectOut: Linear?
  /// The final layer norm (nil for post-LN OPT).
  public let finalNorm: LayerNorm?
  let blocks: [any DecoderBlock]
  /// The registry name it was built from.
  public let kind: String
  /// Text to ids and back; set a vocabulary's own with `setTokenizer(_:)`.
  public private(set) var tokenizer: any Tokenizer
  /// Put before the text of every sequence (default: the tokenizer's begin id, as OPT's tokenizer adds `</s>`).
  public var beginTokenId: Int?
  /// Appended after the target and labelled, and a stop token of generation (default: the tokenizer's end id).
  /// BLIP-2 with OPT ends captions with "\n" instead: set this to the id of "\n" to train and stop as LAVIS does.
  public var endTokenId: Int?
  /// Whether generation keeps every block's keys and values and runs only the new token per step (default), or
  /// recomputes the whole sequence (slower; the reference the cache is tested against).
  public var usesKVCache = true
  /// How many samples greedy decoding and nucleus sampling advance together (see `generate`).
  public var decodingBatch = 256

  /// A randomly initialized model (N(0, 0.02²) weights, as OPT and GPT-2 initialize), seeded.
  /// - Parameter tokenizer: default: a byte tokenizer (259 ids; pad 1, begin and end 2, as OPT).
  /// - Throws: `DecoderLMError.invalidConfiguration` when the sizes do not fit together or the tokenizer has
  ///   more ids than the model.
  public init(_ configuration: DecoderLMConfiguration, tokenizer: (any Tokenizer)? = nil, seed: UInt64 = 0,
              kind: String = "decoder") throws(DecoderLMError) {
    try configuration.validate()
    let c = configuration
    var rng = RandomGenerator(seed: seed)
    self.configuration = c
    self.kind = kind
    tokenEmbedding = Embedding(c.vocabularySize, c.tokenEmbeddingWidth, std: 0.02, rng: &rng)
    positionEmbedding = Embedding(c.positionOffset + c.maxPositions, c.width, std: 0.02, rng: &rng)
    let projected = c.tokenEmbeddingWidth != c.width
    projectIn = projected ? Linear(c.tokenEmbeddingWidth, c.width, bias: false, std: 0.02, rng: &rng) : nil
    projectOut = projected ? Linear(c.width, c.tokenEmbeddingWidth, bias: false, std: 0.02, rng: &rng) : nil
    var blocks: [any DecoderBlock] = []
    for _ in 0..<c.layers {
      blocks.append(c.family == .opt ? OPTDecoderLayer(c, rng: &rng) : GPT2Block(c, rng: &rng))
    }
    self.blocks = blocks
    finalNorm = c.hasFinalNorm ? LayerNorm(c.width, eps: c.layerNormEpsilon) : nil
    let chosen = tokenizer ?? ByteTokenizer(padId: 1, bosId: 2, eosId: 2)
    try Self.check(chosen, fits: c)
    self.tokenizer = chosen
    beginTokenId = chosen.bosId
    endTokenId = chosen.eosId
    super.init()
  }

  /// Replaces the tokenizer (and the begin/end ids with its own).
  /// - Throws: `DecoderLMError.invalidConfiguration` if it has more ids than the model's vocabulary.
  public func setTokenizer(_ tokenizer: any Tokenizer) throws(DecoderLMError) {
    try Self.check(tokenizer, fits: configuration)
    self.tokenizer = tokenizer
    beginTokenId = tokenizer.bosId
    endTokenId = tokenizer.eosId
  }

  private static func check(_ tokenizer: any Tokenizer, fits c: DecoderLMConfiguration) throws(DecoderLMError) {
    guard tokenizer.vocabularySize <= c.vocabularySize else {
      throw .invalidConfiguration(field: "vocabularySize", reason: "is \(c.vocabularySize), smaller than the "
        + "tokenizer's \(tokenizer.vocabularySize) ids; give the model's own tokenizer")
    }
  }

  public override func children() -> [(String, Module)] {
    let c = configuration
    switch c.family {
    case .opt:
      var list: [(String, Module)] = [("model.decoder.embed_tokens", tokenEmbedding),
                                      ("model.decoder.embed_positions", positionEmbedding)]
      if let projectIn, let projectOut {
        list += [("model.decoder.project_in", projectIn), ("model.decoder.project_out", projectOut)]
      }
      list += blocks.enumerated().map { ("model.decoder.layers.\($0.offset)", $0.element) }
      if let finalNorm { list.append(("model.decoder.final_layer_norm", finalNorm)) }
      return list
    case .gpt2:
      return [("transformer.wte", tokenEmbedding), ("transformer.wpe", positionEmbedding)]
        + blocks.enumerated().map { ("transformer.h.\($0.offset)", $0.element) }
        + (finalNorm.map { [("transformer.ln_f", $0)] } ?? [])
    }
  }

  // MARK: Component

  public var module: Module { self }
  public var summary: String {
    let c = configuration
    return "\(c.family == .opt ? "OPT" : "GPT-2")-style decoder LM (width \(c.width), \(c.layers) layers, "
      + "\(c.heads) heads, vocabulary \(c.vocabularySize))"
  }
  public var embeddingDim: Int { configuration.tokenEmbeddingWidth }
  public var architecture: LMArchitecture { .decoderOnly }

  // MARK: Forward

  /// Logits [B, T, vocabulary] of input embeddings [B, T, embeddingDim] whose first `validLengths[b]`
  /// positions are real (the rest is right padding: never attended to; positioned as transformers does).
  public func logits(embeddings x: Tensor, validLengths: [Int]) throws -> Tensor {
    try finalStates(embeddings: x, validLengths: validLengths).linear(weight: tokenEmbedding.weight, bias: nil)
  }

  /// The final states [B, T, embeddingDim] the logits of `logits(embeddings:validLengths:)` come from.
  func finalStates(embeddings x: Tensor, validLengths: [Int]) throws -> Tensor {
    guard x.rank == 3, x.shape[2] == embeddingDim, validLengths.count == x.shape[0] else {
      throw DecoderLMError.invalidInput("embeddings must be [B, T, \(embeddingDim)] with one valid length per "
        + "sequence, got \(x.shape) and \(validLengths.count) lengths")
    }
    let length = x.shape[1]
    guard length <= configuration.maxPositions else {
      throw DecoderLMError.sequenceTooLong(length: length, maxPositions: configuration.maxPositions)
    }
    let (positions, mask) = layout(length: length, validLengths: validLengths)
    return finalStates(x, positions: positions, mask: mask, past: nil).states
  }

  /// Position ids [B·T] (offset included) and the attention mask [B, T, T] (causal, never a padding key) of
  /// right-padded sequences of `length` whose first `validLengths[b]` positions are real.
  func layout(length: Int, validLengths: [Int]) -> (positions: [Int], mask: [Bool]) {
    let offset = configuration.positionOffset
    // Padding gets OPT's position for masked tokens (cumsum(mask) − 1 = −1, plus the offset); GPT-2 counts on.
    let padPosition = { (i: Int) in self.configuration.family == .opt ? offset - 1 : i }
    var positions = [Int](repeating: 0, count: validLengths.count * length)  // [B, T]
    var mask = [Bool](repeating: false, count: validLengths.count * length * length)  // [B, T, T]
    for (b, valid) in validLengths.enumerated() {
      for i in 0..<length {
        positions[b * length + i] = i < valid ? i + offset : padPosition(i)
        for j in 0...i where j < valid { mask[(b * length + i) * length + j] = true }
      }
    }
    return (positions, mask)
  }

  /// The stack over embeddings [B, T, embeddingDim] at position ids [B·T] (offset included) with `mask`
  /// [B, T, past + T] (nil: every key), after `past` (one state per block, or nil). Returns the logits
  /// [B, T, vocabulary] and every block's keys and values so far.
  func run(_ x: Tensor, positions: [Int], mask: [Bool]?, past: [AttentionState]?)
    -> (logits: Tensor, states: [AttentionState])
  {
    let (h, states) = finalStates(x, positions: positions, mask: mask, past: past)
    return (h.linear(weight: tokenEmbedding.weight, bias: nil), states)  // [B, T, vocabulary]
  }

  /// `run` without the vocabulary projection: the final states [B, T, embeddingDim] the logits come from.
  func finalStates(_ x: Tensor, positions: [Int], mask: [Bool]?, past: [AttentionState]?)
    -> (states: Tensor, keyValues: [AttentionState])
  {
    var h = projectIn.map { $0(x) } ?? x  // [B, T, width]
    h = h + positionEmbedding(positions, shape: [x.shape[0], x.shape[1]])
    var states: [AttentionState] = []
    for (index, block) in blocks.enumerated() {
      let (out, state) = block(h, mask: mask, past: past?[index])
      h = out
      states.append(state)
    }
    if let finalNorm { h = finalNorm(h) }
    if let projectOut { h = projectOut(h) }  // [B, T, embeddingDim]
    return (h, states)
  }

  /// Token embeddings [B, L, embeddingDim] of right-padded ids [B·L], after checking every id.
  func embed(_ ids: [Int], batch: Int, length: Int) throws -> Tensor {
    if let bad = ids.first(where: { $0 < 0 || $0 >= configuration.vocabularySize }) {
      throw DecoderLMError.invalidInput("token id \(bad) is outside the vocabulary of \(configuration.vocabularySize)")
    }
    return tokenEmbedding(ids, shape: [batch, length])
  }

  /// [prefix | embed(text)] for each sample: [B, P + L, embeddingDim].
  func sequenceEmbeddings(prefix: Tensor?, texts: [[Int]], length: Int) throws -> Tensor {
    let pad = tokenizer.padId
    let ids = texts.flatMap { $0 + [Int](repeating: pad, count: length - $0.count) }
    let text = try embed(ids, batch: texts.count, length: length)  // [B, L, E]
    guard let prefix, prefix.shape[1] > 0 else { return text }
    return length > 0 ? Tensor.concat([prefix, text], axis: 1) : prefix
  }

  /// Checks a soft prompt [B, P, embeddingDim] against a batch size; returns P.
  func prefixLength(_ prefix: Tensor, batch: Int) throws -> Int {
    guard prefix.rank == 3, prefix.shape[0] == batch, prefix.shape[2] == embeddingDim else {
      throw DecoderLMError.invalidInput("the soft prompt must be [\(batch), P, \(embeddingDim)], got \(prefix.shape)")
    }
    return prefix.shape[1]
  }

  /// `[begin] + ids`.
  func withBegin(_ ids: [Int]) -> [Int] { (beginTokenId.map { [$0] } ?? []) + ids }

  // MARK: LanguageModel

  /// Mean cross-entropy of `target` (and the end token) after `[prefix | begin | input]`.
  ///
  /// Each sample's sequence is packed without inner padding, `[prefix (P) | begin | input | target | end]`, and
  /// right-padded to the longest; labels are −100 on the prefix, the begin token, the input and the padding,
  /// as LAVIS's `blip2_opt` masks them. Causal attention that never sees padding; positions from the first prefix
  /// vector. Gradients reach `prefix` whether or not the model is frozen.
  public func loss(prefix: Tensor, input: TokenBatch, target: TokenBatch) throws -> Tensor {
    let batch = target.batch
    guard input.batch == batch else {
      throw DecoderLMError.invalidInput("input has \(input.batch) sequences but target has \(batch)")
    }
    let p = try prefixLength(prefix, batch: batch)
    var texts: [[Int]] = [], labelled: [Range<Int>] = []
    for b in 0..<batch {
      let head = withBegin(input.sequence(b))
      let tail = target.sequence(b) + (endTokenId.map { [$0] } ?? [])
      texts.append(head + tail)
      labelled.append((p + head.count)..<(p + head.count + tail.count))  // positions of the labelled tokens
    }
    let length = texts.map(\.count).max() ?? 0
    let total = p + length
    guard total > 1 else { throw DecoderLMError.invalidInput("nothing to predict: the sequences are empty") }
    let x = try sequenceEmbeddings(prefix: prefix, texts: texts, length: length)  // [B, T, E]
    let states = try finalStates(embeddings: x, validLengths: texts.map { p + $0.count })  // [B, T, E]
    // Position i predicts token i + 1 (the shift of causal LM losses). Only the rows that predict a labelled
    // token go through the vocabulary projection: the others (the soft prompt's, padding's) would get label
    // −100 and add nothing to the loss or its gradients, so the loss is the one over every row's logits.
    var rows: [Int] = [], labels: [Int] = []
    for b in 0..<batch {
      for position in labelled[b] {
        rows.append(b * total + position - 1)
        labels.append(texts[b][position - p])
      }
    }
    let picked = states.reshaped([batch * total, embeddingDim]).gather(rows: rows)  // [N, E]
    return picked.linear(weight: tokenEmbedding.weight, bias: nil).crossEntropy(targets: labels)
  }
}
