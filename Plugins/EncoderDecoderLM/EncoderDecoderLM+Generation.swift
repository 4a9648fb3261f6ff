// Generation for the encoder-decoder LM: the encoder runs once per sample; the decoder's next-token scorer keeps
// a KV cache (self-attention keys and values per hypothesis, the encoder's projected keys and values per layer)
// or recomputes the decoder sequence.

import Blip2Core
import Tensor

extension EncoderDecoderLM {
  /// Decodes after the encoder read `[prefix | prompt | end]` per sample (greedy, beam or nucleus, see
  /// `GenerationOptions`); stops at the end token, `options.stopTokens` or `options.maxTokens`. Returns the new ids
  /// without the start and stop tokens. Runs under no-grad, with the KV cache unless `usesKVCache` is false.
  public func generate(prefix: Tensor, prompt: TokenBatch, options: GenerationOptions,
                       rng: inout RandomGenerator) throws -> [[Int]] {
    guard prefix.rank == 3, prefix.shape[0] == prompt.batch else {
      throw EncoderDecoderLMError.invalidInput(
        "the soft prompt must be [\(prompt.batch), P, \(embeddingDim)], got \(prefix.shape)")
    }
    if let problem = TokenSearch.problem(with: options) { throw EncoderDecoderLMError.invalidInput(problem) }
    let stops = Set(options.stopTokens + (endTokenId.map { [$0] } ?? []))
    return try GradMode.noGrad {
      try (0..<prompt.batch).map { b in
        let (encoded, _) = try encode(prefix: prefix.sliced(axis: 0, b..<(b + 1)), texts: [withEnd(prompt.sequence(b))])
        let scorer = usesKVCache ? cachedScorer(encoded: encoded) : recomputingScorer(encoded: encoded)
        return try TokenSearch.decode(options: options, stopTokens: stops, rng: &rng, scorer: scorer)
      }
    }
  }

  /// Scores by decoding `[start | hypothesis]` whole for every hypothesis at every step, after `encoded` [1, S, width].
  func recomputingScorer(encoded: Tensor) -> TokenSearch.Scorer {
    { [self] hypotheses in
      let count = hypotheses.count, length = 1 + (hypotheses.first?.count ?? 0)
      let context = count == 1 ? encoded : Tensor.concat([Tensor](repeating: encoded, count: count), axis: 0)
      let logits = try decode(ids: hypotheses.flatMap { [decoderStartTokenId] + $0 },
                              decoderLengths: [Int](repeating: length, count: count), encoded: context,
                              encoderLengths: [Int](repeating: encoded.shape[1], count: count))
      return TokenSearch.lastRows(logits)
    }
  }

  /// Scores with a KV cache: each call runs only each hypothesis's newest decoder input (the start token, then
  /// its last token) after its parent's (the hypothesis without that token) cached keys and values.
  func cachedScorer(encoded: Tensor) -> TokenSearch.Scorer {
    let blocks = decoder.blocks
    // The encoder's keys and values per decoder layer, for one hypothesis and (lazily) for K of them.
    let crossOne = blocks.map { block in
      KeyValues(keys: block.crossAttention?.key(encoded) ?? encoded,
                values: block.crossAttention?.value(encoded) ?? encoded)
    }
    var crossByCount: [Int: [KeyValues]] = [1: crossOne]
    var caches: [[Int]: [KeyValues]] = [:]
    return { [self] hypotheses in
      let count = hypotheses.count, position = hypotheses.first?.count ?? 0
      let past: [KeyValues]? = try position == 0 ? nil : blocks.indices.map { layer in
        let parents = try hypotheses.map { hypothesis in
          guard let cache = caches[Array(hypothesis.dropLast())] else {
            throw EncoderDecoderLMError.invalidInput("internal: no cached state for a hypothesis's prefix")
          }
          return cache[layer]
        }
        return count == 1 ? parents[0] : KeyValues(keys: Tensor.concat(parents.map(\.keys), axis: 0),
                                                   values: Tensor.concat(parents.map(\.values), axis: 0))
      }
      let cross = crossByCount[count] ?? crossOne.map { one in
        KeyValues(keys: Tensor.concat([Tensor](repeating: one.keys, count: count), axis: 0),
                  values: Tensor.concat([Tensor](repeating: one.values, count: count), axis: 0))
      }
      crossByCount[count] = cross
      let inputs = hypotheses.map { $0.last ?? decoderStartTokenId }
      var h = try embed(inputs, batch: count, length: 1)  // [K, 1, width]
      let bias = blocks[0].selfAttention.positionBias(queries: 1, keys: position + 1, bidirectional: false,
                                                      queryOffset: position)  // [heads, 1, t + 1]
      var states: [KeyValues] = []
      for (layer, block) in blocks.enumerated() {
        let (out, state) = block.step(h, bias: bias, past: past?[layer], cross: cross[layer])
        h = out
        states.append(state)
      }
      let logits = head(decoder.finalNorm(h))  // [K, 1, vocabulary]
      caches = [:]
      for (index, hypothesis) in hypotheses.enumerated() {
        caches[hypothesis] = states.map { state in
          count == 1 ? state : KeyValues(keys: state.keys.sliced(axis: 0, index..<(index + 1)),
                                         values: state.values.sliced(axis: 0, index..<(index + 1)))
        }
      }
      return TokenSearch.lastRows(logits)
    }
  }
}
