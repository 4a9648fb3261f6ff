// The Q-Former (Querying Transformer): BLIP-2's trainable bridge. Learned queries read the frozen image
// features through cross-attention; a text branch shares the self-attention layers. Parameter names are
// LAVIS's (`query_tokens`, `Qformer.bert.*`, `vision_proj`, ...), so a LAVIS checkpoint loads by name with
// `load(_:strict:)`; `initializeFromBERT` and `loadHuggingFaceBlip2` translate the other layouts.

import Blip2Core
import Tensor

/// BLIP-2's Q-Former with its stage-1 heads (contrastive projections, ITM head, LM head).
///
/// Token layout inside the shared self-attention: `[queries (Q) | text (L)]`. Queries have no position
/// embedding; text has absolute positions from 0. The concatenation is layer-normalized as a whole (as
/// LAVIS's `BertEmbeddings`), then each layer runs self-attention over all tokens with the caller's mask,
/// cross-attention to the image for the query positions, and a feed-forward per modality.
public final class QFormer: Module, @unchecked Sendable {
  /// Sizes and options (`setTokenizer` may change `decoderTokenId`).
  public private(set) var configuration: QFormerConfiguration
  /// The learned queries `query_tokens`, [1, Q, hidden], N(0, 0.02²).
  public let queryTokens: Tensor
  /// Text token embeddings (`Qformer.bert.embeddings.word_embeddings`), [vocabulary, hidden]; also the
  /// weights of the LM head's decoder (tied, as in BERT and LAVIS).
  public let wordEmbeddings: Embedding
  /// Text positions (`Qformer.bert.embeddings.position_embeddings`), [maxPositions, hidden].
  public let positionEmbeddings: Embedding
  /// The norm over `[queries | text]` embeddings (`Qformer.bert.embeddings.LayerNorm`).
  public let embeddingNorm: LayerNorm
  /// The transformer layers (`Qformer.bert.encoder.layer.{i}`).
  let layers: [QFormerLayer]
  /// The LM head's transform (`Qformer.cls.predictions.transform.dense`), followed by GELU and a norm.
  public let languageModelTransform: Linear
  /// `Qformer.cls.predictions.transform.LayerNorm`.
  public let languageModelNorm: LayerNorm
  /// The LM head's output bias (`Qformer.cls.predictions.bias`), [vocabulary].
  public let languageModelBias: Tensor
  /// Query outputs → contrastive space (`vision_proj`), hidden → embedDim.
  public let visionProjection: Linear
  /// Text `[CLS]` output → contrastive space (`text_proj`), hidden → embedDim.
  public let textProjection: Linear
  /// The 2-way image-text matching classifier applied to each query output (`itm_head`).
  public let matchingHead: Linear
  /// The learned contrastive temperature `temp`, a scalar initialized to 0.07.
  public let temperature: Tensor
  /// `ln_vision`: the norm over the frozen image features (nil when `configuration.visionLayerNorm` is off).
  public let visionNorm: LayerNorm?
  /// Dropout's random stream; give it to the `Trainer` (`randomSources`) so that each step reseeds it.
  public let randomSource: RandomSource
  /// The text side's tokenizer (`tokenizeText`). The default, a `WordTokenizer` without words, is a
  /// placeholder: set the vocabulary's own with `setTokenizer`.
  public private(set) var tokenizer: any Tokenizer
  /// The id every text starts with (`[CLS]`, whose output is ITC's text feature).
  public private(set) var classTokenId: Int
  /// The id every text ends with (`[SEP]`, as BERT's tokenizer adds it), if any.
  public private(set) var separatorTokenId: Int?
  /// The id masked words are replaced with in text pre-training (`[MASK]`), if the tokenizer has one.
  public private(set) var maskTokenId: Int?
  /// How many encoder passes ran (for tests that check which passes an objective mix runs).
  var passCount = 0

  /// A randomly initialized Q-Former (seeded): BERT's N(0, initStd²) for the Q-Former's linear layers and
  /// embeddings, PyTorch's default for the heads outside it (as LAVIS), temperature 0.07.
  /// - Throws: `QFormerError.invalidConfiguration` when the sizes do not fit together.
  public init(_ configuration: QFormerConfiguration = .paper, seed: UInt64 = 0) throws(QFormerError) {
    try configuration.validate()
    let c = configuration
    var rng = RandomGenerator(seed: seed)
    self.configuration = c
    let source = RandomSource(seed: mixSeed(seed, 1))
    randomSource = source
    queryTokens = Tensor.randn([1, c.queries, c.hidden], std: c.initStd, rng: &rng, requiresGrad: true)
    wordEmbeddings = Embedding(c.vocabularySize, c.hidden, std: c.initStd, rng: &rng)
    positionEmbeddings = Embedding(c.maxPositions, c.hidden, std: c.initStd, rng: &rng)
    embeddingNorm = LayerNorm(c.hidden, eps: c.layerNormEps)
    layers = (0..<c.layers).map { QFormerLayer(c, index: $0, randomSource: source, rng: &rng) }
    languageModelTransform = Linear(c.hidden, c.hidden, std: c.initStd, rng: &rng)
    languageModelNorm = LayerNorm(c.hidden, eps: c.layerNormEps)
    languageModelBias = Tensor.zeros([c.vocabularySize], requiresGrad: true)
    visionProjection = Linear(c.hidden, c.embedDim, rng: &rng)
    textProjection = Linear(c.hidden, c.embedDim, rng: &rng)
    matchingHead = Linear(c.hidden, 2, rng: &rng)
    temperature = Tensor(shape: [], data: [0.07], requiresGrad: true)
    visionNorm = c.visionLayerNorm ? LayerNorm(c.imageWidth, eps: c.visionLayerNormEps) : nil
    let words = WordTokenizer(words: [])
    (tokenizer, classTokenId, separatorTokenId) = (words, words.clsId, words.sepId)
    super.init()
  }

  public override func ownParameters() -> [(String, Tensor)] {
    [("query_tokens", queryTokens), ("temp", temperature), ("Qformer.cls.predictions.bias", languageModelBias)]
  }

  public override func children() -> [(String, Module)] {
    var result: [(String, Module)] = [
      ("Qformer.bert.embeddings.word_embeddings", wordEmbeddings),
      ("Qformer.bert.embeddings.position_embeddings", positionEmbeddings),
      ("Qformer.bert.embeddings.LayerNorm", embeddingNorm),
    ]
    result += layers.enumerated().map { ("Qformer.bert.encoder.layer.\($0.offset)", $0.element) }
    result += [
      ("Qformer.cls.predictions.transform.dense", languageModelTransform),
      ("Qformer.cls.predictions.transform.LayerNorm", languageModelNorm),
      ("vision_proj", visionProjection), ("text_proj", textProjection), ("itm_head", matchingHead),
    ]
    if let visionNorm { result.append(("ln_vision", visionNorm)) }
    return result
  }

  // MARK: Images

  /// Frozen image features prepared for the Q-Former: `ln_vision` applied, and every cross-attention layer's
  /// keys and values projected once, so that all passes over the same images (ITC's image pass, ITM, ITG)
  /// share them. `selecting(_:)` reorders or repeats images (ITM's hard negatives) without re-projecting.
  public struct ImageContext {
    /// Images in the batch.
    public let batch: Int
    /// Image tokens per image.
    public let tokens: Int
    /// Per layer: its cross-attention keys and values [B, N, hidden], or nil for layers without one.
    let layers: [CrossAttentionKeyValues?]

    /// The images at `indices`, in that order (repeats allowed); gradients flow back to this context.
    public func selecting(_ indices: [Int]) -> ImageContext {
      precondition(indices.allSatisfy { (0..<batch).contains($0) }, "ImageContext: index out of 0..<\(batch)")
      let picked = layers.map { layer in
        layer.map { kv -> CrossAttentionKeyValues in
          func pick(_ t: Tensor) -> Tensor {
            let width = t.shape[2]
            return t.reshaped([batch, tokens * width]).gather(rows: indices)  // [n, N·hidden]
              .reshaped([indices.count, tokens, width])  // [n, N, hidden]
          }
          return CrossAttentionKeyValues(keys: pick(kv.keys), values: pick(kv.values))
        }
      }
      return ImageContext(batch: indices.count, tokens: tokens, layers: picked)
    }
  }

  /// Prepares frozen image features [B, N, imageWidth] for `encode` (see `ImageContext`).
  /// - Throws: `QFormerError.invalidInput` for any other shape.
  public func imageContext(_ imageFeatures: Tensor) throws(QFormerError) -> ImageContext {
    let shape = imageFeatures.shape
    guard shape.count == 3, shape[0] > 0, shape[1] > 0, shape[2] == configuration.imageWidth else {
      throw .invalidInput("image features must be [B, N, \(configuration.imageWidth)] with B, N ≥ 1, got \(shape)")
    }
    let normalized = visionNorm.map { $0(imageFeatures) } ?? imageFeatures  // [B, N, imageWidth]
    return ImageContext(batch: shape[0], tokens: shape[1], layers: layers.map { $0.imageKeyValues(normalized) })
  }

  // MARK: Encoding

  /// The last hidden states [B, Q + L, hidden] of the layout `[queries | text]`.
  ///
  /// - Parameters:
  ///   - image: prepared image features; when given, the Q queries come first and read the image through
  ///     cross-attention (every image token is visible). Nil: no queries (a text-only pass).
  ///   - text: token ids [B, L] (L may be 0 with an image). Its `validLengths` are not used here: padding is
  ///     part of `mask`.
  ///   - mask: the self-attention mask over T = Q + L tokens, [T, T] shared or [B, T, T] per sample,
  ///     true = may attend; nil = every token sees every token. The caller decides unimodal, bidirectional
  ///     or multimodal-causal, with padding (see `ObjectiveMasks`).
  /// - Throws: `QFormerError` for mismatched batches, a wrong mask size, ids outside the vocabulary or a text
  ///   longer than the learned positions.
  public func encode(image: ImageContext?, text: TokenBatch?, mask: [Bool]? = nil) throws(QFormerError) -> Tensor {
    let text = (text?.length ?? 0) > 0 ? text : nil
    guard let batch = image?.batch ?? text?.batch else {
      throw .invalidInput("encode needs image features, text, or both")
    }
    if let image, let text, image.batch != text.batch {
      throw .invalidInput("\(image.batch) images but \(text.batch) texts")
    }
    let queryCount = image == nil ? 0 : configuration.queries
    let length = queryCount + (text?.length ?? 0)
    if let mask, mask.count != length * length && mask.count != batch * length * length {
      throw .invalidInput("the self-attention mask has \(mask.count) cells; [T, T] or [B, T, T] with B = \(batch), "
        + "T = \(length) needs \(length * length) or \(batch * length * length)")
    }
    var hidden = try embed(queries: image == nil ? nil : batch, text: text)  // [B, T, hidden]
    passCount += 1
    for (index, layer) in layers.enumerated() {
      hidden = layer(hidden, queryCount: queryCount, mask: mask, image: image?.layers[index])  // [B, T, hidden]
    }
    return hidden
  }

  /// The image-only pass (queries reading the image) that also returns each layer's query self-attention keys
  /// and values, for a text pass to attend to (`encodeText(_:mask:past:)`).
  func encodeQueries(image: ImageContext) throws(QFormerError) -> (hidden: Tensor, keyValues: [SelfAttentionKeyValues]) {
    var hidden = try embed(queries: image.batch, text: nil)  // [B, Q, hidden]
    var keyValues: [SelfAttentionKeyValues] = []
    passCount += 1
    for (index, layer) in layers.enumerated() {
      hidden = layer(hidden, queryCount: configuration.queries, mask: nil, image: image.layers[index],
                     recordKeyValues: { keyValues.append($0) })
    }
    return (hidden, keyValues)
  }

  /// A text-only pass whose tokens also attend to an image pass's query keys and values (`past`, from
  /// `encodeQueries`); `mask` has the text's L rows and Q + L columns, [L, Q + L] or [B, L, Q + L].
  /// Returns the text's last hidden states [B, L, hidden].
  func encodeText(_ text: TokenBatch, mask: [Bool]?, past: [SelfAttentionKeyValues]) throws(QFormerError) -> Tensor {
    let (length, columns) = (text.length, configuration.queries + text.length)
    guard past.count == layers.count, past.allSatisfy({ $0.keys.shape[0] == text.batch }) else {
      throw .invalidInput("the past keys and values do not fit \(layers.count) layers and \(text.batch) texts")
    }
    if let mask, mask.count != length * columns && mask.count != text.batch * length * columns {
      throw .invalidInput("the text pass's mask has \(mask.count) cells; it needs [L, Q + L] = \(length * columns) "
        + "or [B, L, Q + L] = \(text.batch * length * columns)")
    }
    var hidden = try embed(queries: nil, text: text)  // [B, L, hidden]
    passCount += 1
    for (index, layer) in layers.enumerated() {
      hidden = layer(hidden, queryCount: 0, mask: mask, image: nil, past: past[index])
    }
    return hidden
  }

  /// `encode` over raw frozen image features [B, N, imageWidth] (nil: a text-only pass).
  public func encode(imageFeatures: Tensor?, text: TokenBatch?, mask: [Bool]? = nil) throws(QFormerError) -> Tensor {
    try encode(image: imageFeatures.map { features throws(QFormerError) in try imageContext(features) }, text: text,
               mask: mask)
  }

  /// The embeddings [B, T, hidden]: dropout(LayerNorm([queries | word + position])), as LAVIS's `BertEmbeddings`.
  private func embed(queries batch: Int?, text: TokenBatch?) throws(QFormerError) -> Tensor {
    let (q, hidden) = (configuration.queries, configuration.hidden)
    var parts: [Tensor] = []
    if let batch {
      let rows = (0..<batch).flatMap { _ in 0..<q }
      parts.append(queryTokens.reshaped([q, hidden]).gather(rows: rows, indexShape: [batch, q]))  // [B, Q, hidden]
    }
    if let text {
      guard text.length <= configuration.maxPositions else {
        throw .textTooLong(length: text.length, maxPositions: configuration.maxPositions)
      }
      if let bad = text.ids.firstIndex(where: { !(0..<configuration.vocabularySize).contains($0) }) {
        throw .tokenOutOfRange(id: text.ids[bad], position: bad % text.length,
                               vocabularySize: configuration.vocabularySize)
      }
      let words = wordEmbeddings(text.ids, shape: [text.batch, text.length])  // [B, L, hidden]
      let positions = positionEmbeddings.weight.sliced(axis: 0, 0..<text.length)  // [L, hidden]
      parts.append(words + positions)  // [B, L, hidden]
    }
    let joined = parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 1)  // [B, Q + L, hidden]
    let p = configuration.dropout
    return embeddingNorm(joined).dropout(p, training: isTraining && p > 0, rng: &randomSource.generator)
  }

  /// The query outputs [B, Q, hidden] for frozen image features [B, N, imageWidth]: BLIP-2's visual prompt.
  public func queryOutputs(_ imageFeatures: Tensor) throws(QFormerError) -> Tensor {
    try encode(imageFeatures: imageFeatures, text: nil)
  }

  /// One cross-attention map: how each query spreads its attention over the image tokens in one layer.
  public struct CrossAttentionMap: Sendable {
    /// The layer (0-based).
    public let layer: Int
    /// [B, heads, Q, N].
    public let shape: [Int]
    /// Probabilities, row-major over `shape`; each (b, head, query) row sums to 1.
    public let probabilities: [Float]
  }

  /// The cross-attention maps of the image-only pass (no gradient), one per cross-attention layer.
  public func crossAttentionMaps(_ imageFeatures: Tensor) throws -> [CrossAttentionMap] {
    let image = try imageContext(imageFeatures)
    let c = configuration
    var maps: [CrossAttentionMap] = []
    try GradMode.noGrad {
      var hidden = try embed(queries: image.batch, text: nil)  // [B, Q, hidden]
      for (index, layer) in layers.enumerated() {
        hidden = layer(hidden, queryCount: c.queries, mask: nil, image: image.layers[index],
                       recordCrossAttention: { probabilities in
          maps.append(CrossAttentionMap(layer: index, shape: [image.batch, c.heads, c.queries, image.tokens],
                                        probabilities: probabilities))
        })
      }
    }
    return maps
  }

  // MARK: Text

  /// Replaces the text side's tokenizer and its special ids; `decoderTokenId` (ITG's first token) goes into
  /// the configuration.
  /// - Throws: `QFormerError.invalidConfiguration` when the tokenizer has more ids than the embeddings or a
  ///   special id is outside the vocabulary.
  public func setTokenizer(_ tokenizer: any Tokenizer, classTokenId: Int, separatorTokenId: Int?,
                           decoderTokenId: Int, maskTokenId: Int? = nil) throws(QFormerError) {
    let size = configuration.vocabularySize
    guard tokenizer.vocabularySize <= size else {
      throw .invalidConfiguration(field: "vocabularySize", reason: "is \(size), smaller than the tokenizer's "
        + "\(tokenizer.vocabularySize) ids; build the Q-Former with vocabularySize \(tokenizer.vocabularySize)")
    }
    for (name, id) in [("classTokenId", classTokenId), ("separatorTokenId", separatorTokenId ?? 0),
                       ("decoderTokenId", decoderTokenId), ("maskTokenId", maskTokenId ?? 0)] where !(0..<size).contains(id) {
      throw .invalidConfiguration(field: name, reason: "must be a token id below \(size), got \(id)")
    }
    self.tokenizer = tokenizer
    self.classTokenId = classTokenId
    self.separatorTokenId = separatorTokenId
    self.maskTokenId = maskTokenId
    configuration.decoderTokenId = decoderTokenId
  }

  /// Uses a `WordTokenizer` with its own `[CLS]`, `[SEP]` and `[DEC]` ids.
  /// - Throws: as `setTokenizer(_:classTokenId:separatorTokenId:decoderTokenId:)`.
  public func setTokenizer(_ tokenizer: WordTokenizer) throws(QFormerError) {
    try setTokenizer(tokenizer, classTokenId: tokenizer.clsId, separatorTokenId: tokenizer.sepId,
                     decoderTokenId: tokenizer.decoderId, maskTokenId: tokenizer.maskId)
  }

  /// `[CLS] words [SEP]` per text (as BERT's tokenizer), at most `maxLength` ids (and at most
  /// `maxPositions`; the words are truncated, `[SEP]` kept), right-padded to the longest.
  public func tokenizeText(_ texts: [String], maxLength: Int) -> TokenBatch {
    let limit = Swift.max(1, Swift.min(maxLength, configuration.maxPositions))
    let end = separatorTokenId.map { [$0] } ?? []
    let room = Swift.max(limit - 1 - end.count, 0)
    let sequences = texts.map { Array(([classTokenId] + tokenizer.encode($0).prefix(room) + end).prefix(limit)) }
    return TokenBatch(sequences, padId: tokenizer.padId)
  }

  // MARK: Heads

  /// The LM head (BERT's `cls.predictions`): transform, GELU, norm, then the decoder tied to the word
  /// embeddings plus `languageModelBias`. [..., hidden] → [..., vocabulary].
  public func languageModelLogits(_ hidden: Tensor) -> Tensor {
    let transformed = languageModelNorm(languageModelTransform(hidden).geluErf())  // [..., hidden]
    return transformed.linear(weight: wordEmbeddings.weight, bias: languageModelBias)  // [..., vocabulary]
  }

  /// Clamps the temperature into `range`, in place (LAVIS does this at the start of every forward).
  public func clampTemperature(to range: ClosedRange<Float>) {
    temperature.data[0] = Swift.min(Swift.max(temperature.data[0], range.lowerBound), range.upperBound)
  }

  /// The layers that have cross-attention.
  var crossAttentionLayers: [Int] { configuration.crossAttentionLayers }
}

// MARK: - Bridge

extension QFormer: Bridge {
  /// The parameters.
  public var module: Module { self }
  /// The registry name.
  public var kind: String { "qformer" }
  /// One line describing the configuration.
  public var summary: String {
    let c = configuration
    return "Q-Former (hidden \(c.hidden), \(c.layers) layers, \(c.heads) heads, \(c.queries) queries, "
      + "cross-attention in layers \(crossAttentionLayers.map(String.init).joined(separator: ",")), "
      + "image width \(c.imageWidth), vocabulary \(c.vocabularySize))"
  }
  /// The width of the image features it reads.
  public var imageFeatureDim: Int { configuration.imageWidth }
  /// The number of queries.
  public var outputTokens: Int { configuration.queries }
  /// The hidden width.
  public var outputDim: Int { configuration.hidden }

  /// The query outputs [B, Q, hidden] for frozen image features [B, N, imageWidth] (stage 2's visual prompt,
  /// before the projection into the LM).
  public func bridge(_ imageFeatures: Tensor) throws -> Tensor { try queryOutputs(imageFeatures) }
  /// Dropout's stream, reseeded by the trainer before each step.
  public var randomSources: [RandomSource] { [randomSource] }
}
