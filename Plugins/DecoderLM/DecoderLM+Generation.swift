// Generation for the decoder-only LM: the next-token scorer TokenSearch drives, with a KV cache (each step runs
// only the new token through the blocks) or by recomputing the whole sequence.

import Blip2Core
import Tensor

extension DecoderLM {
  /// Continues `[prefix | begin | prompt]` per sample (greedy, beam or nucleus, see `GenerationOptions`); stops at
  /// the end token, `options.stopTokens` or `options.maxTokens`. Returns the new ids without the stop token.
  ///
  /// Runs under no-grad, one sample at a time (a beam's hypotheses batched), with the KV cache unless
  /// `usesKVCache` is false.
  public func generate(prefix: Tensor, prompt: TokenBatch, options: GenerationOptions,
                       rng: inout RandomGenerator) throws -> [[Int]] {
    let p = try prefixLength(prefix, batch: prompt.batch)
    if let problem = TokenSearch.problem(with: options) { throw DecoderLMError.invalidInput(problem) }
    let stops = Set(options.stopTokens + (endTokenId.map { [$0] } ?? []))
    return try GradMode.noGrad {
      try (0..<prompt.batch).map { b in
        let head = withBegin(prompt.sequence(b))
        guard p + head.count > 0 else {
          throw DecoderLMError.invalidInput("nothing to continue: no soft prompt, no begin token and an empty prompt")
        }
        let soft = p > 0 ? prefix.sliced(axis: 0, b..<(b + 1)) : nil  // [1, P, E]
        let scorer = usesKVCache ? cachedScorer(soft: soft, head: head) : recomputingScorer(soft: soft, head: head)
        return try TokenSearch.decode(options: options, stopTokens: stops, rng: &rng, scorer: scorer)
      }
    }
  }

  /// Scores by running `[soft | head | hypothesis]` whole for every hypothesis at every step.
  func recomputingScorer(soft: Tensor?, head: [Int]) -> TokenSearch.Scorer {
    { [self] hypotheses in
      let count = hypotheses.count, length = head.count + (hypotheses.first?.count ?? 0)
      let p = soft?.shape[1] ?? 0
      let softs = soft.map { Tensor.concat([Tensor](repeating: $0, count: count), axis: 0) }
      let x = try sequenceEmbeddings(prefix: softs, texts: hypotheses.map { head + $0 }, length: length)
      let logits = try self.logits(embeddings: x, validLengths: [Int](repeating: p + length, count: count))
      return TokenSearch.lastRows(logits)
    }
  }

  /// Scores with a KV cache: the first call runs `[soft | head]` and keeps every block's keys and values; later
  /// calls run only each hypothesis's last token after its parent's (the hypothesis without that token) cache.
  func cachedScorer(soft: Tensor?, head: [Int]) -> TokenSearch.Scorer {
    var caches: [[Int]: [AttentionState]] = [:]
    let p = soft?.shape[1] ?? 0
    let offset = configuration.positionOffset
    return { [self] hypotheses in
      let generated = hypotheses.first?.count ?? 0
      if generated == 0 {
        let length = p + head.count
        let x = try sequenceEmbeddings(prefix: soft, texts: [head], length: head.count)  // [1, P + H, E]
        guard length <= configuration.maxPositions else {
          throw DecoderLMError.sequenceTooLong(length: length, maxPositions: configuration.maxPositions)
        }
        let (positions, mask) = layout(length: length, validLengths: [length])
        let (logits, states) = run(x, positions: positions, mask: mask, past: nil)
        caches = [[]: states]
        return TokenSearch.lastRows(logits)
      }
      let position = p + head.count + generated - 1
      guard position < configuration.maxPositions else {
        throw DecoderLMError.sequenceTooLong(length: position + 1, maxPositions: configuration.maxPositions)
      }
      let parents = try hypotheses.map { hypothesis in
        guard let cache = caches[Array(hypothesis.dropLast())] else {
          throw DecoderLMError.invalidInput("internal: no cached state for a hypothesis's prefix")
        }
        return cache
      }
      let past = blocks.indices.map { layer in
        parents.count == 1 ? parents[0][layer] : AttentionState(
          keys: Tensor.concat(parents.map { $0[layer].keys }, axis: 0),
          values: Tensor.concat(parents.map { $0[layer].values }, axis: 0))
      }
      let x = try embed(hypotheses.map { $0.last ?? tokenizer.padId }, batch: hypotheses.count, length: 1)  // [K, 1, E]
      let (logits, states) = run(x, positions: [Int](repeating: position + offset, count: hypotheses.count),
                                 mask: nil, past: past)
      caches = [:]
      for (index, hypothesis) in hypotheses.enumerated() {
        caches[hypothesis] = states.map { state in
          hypotheses.count == 1 ? state : AttentionState(keys: state.keys.sliced(axis: 0, index..<(index + 1)),
                                                         values: state.values.sliced(axis: 0, index..<(index + 1)))
        }
      }
      return TokenSearch.lastRows(logits)
    }
  }
}
