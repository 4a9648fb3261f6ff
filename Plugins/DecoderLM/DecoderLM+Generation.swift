// Generation for the decoder-only LM: the next-token scorer TokenSearch drives, with a KV cache (each step runs
// only the new token through the blocks) or by recomputing the whole sequence.

import Blip2Core
import Tensor

extension DecoderLM {
  /// Continues `[prefix | begin | prompt]` per sample (greedy, beam or nucleus, see `GenerationOptions`); stops at
  /// the end token, `options.stopTokens` or `options.maxTokens`. Returns the new ids without the stop token.
  ///
  /// Runs under no-grad with the KV cache unless `usesKVCache` is false. Greedy decoding and nucleus sampling
  /// run the samples together (those whose prompts have one length, up to `decodingBatch` at a time; a sample
  /// leaves the batch when it stops), each sample drawing from its own generator seeded from `rng` in sample
  /// order, so a sample's text does not depend on its batch. Beam search (and `usesKVCache = false`) runs one
  /// sample at a time, a beam's hypotheses batched.
  public func generate(prefix: Tensor, prompt: TokenBatch, options: GenerationOptions,
                       rng: inout RandomGenerator) throws -> [[Int]] {
    let p = try prefixLength(prefix, batch: prompt.batch)
    if let problem = TokenSearch.problem(with: options) { throw DecoderLMError.invalidInput(problem) }
    let stops = Set(options.stopTokens + (endTokenId.map { [$0] } ?? []))
    let heads = (0..<prompt.batch).map { withBegin(prompt.sequence($0)) }
    if heads.contains(where: { p + $0.count == 0 }) {
      throw DecoderLMError.invalidInput("nothing to continue: no soft prompt, no begin token and an empty prompt")
    }
    var streams = heads.map { _ in RandomGenerator(seed: rng.next()) }
    return try GradMode.noGrad {
      if usesKVCache && options.beams == 1 {
        var result = [[Int]](repeating: [], count: heads.count)
        // Samples whose heads have one length share positions and masks.
        let lengths = Array(Set(heads.map(\.count))).sorted()
        for length in lengths {
          let members = heads.indices.filter { heads[$0].count == length }
          for start in stride(from: 0, to: members.count, by: decodingBatch) {
            let chunk = Array(members[start..<min(start + decodingBatch, members.count)])
            let soft = p > 0 ? prefix.rows(chunk) : nil  // [G, P, E]
            var chunkStreams = chunk.map { streams[$0] }
            let texts = try decodeTogether(soft: soft, heads: chunk.map { heads[$0] }, options: options,
                                           stopTokens: stops, streams: &chunkStreams)
            for (k, sample) in chunk.enumerated() {
              result[sample] = texts[k]
              streams[sample] = chunkStreams[k]
            }
          }
        }
        return result
      }
      return try (0..<prompt.batch).map { b in
        let soft = p > 0 ? prefix.sliced(axis: 0, b..<(b + 1)) : nil  // [1, P, E]
        let head = heads[b]
        let scorer = usesKVCache ? cachedScorer(soft: soft, head: head) : recomputingScorer(soft: soft, head: head)
        return try TokenSearch.decode(options: options, stopTokens: stops, rng: &streams[b], scorer: scorer)
      }
    }
  }

  /// Greedy or nucleus decoding of `[soft | head]` for a group of samples whose heads have one length, all
  /// advanced one token per pass with the KV cache; a sample that stops (or reaches `maxTokens`) leaves the batch.
  /// `streams[k]` draws sample k's tokens. Returns each sample's new tokens without the stop token.
  func decodeTogether(soft: Tensor?, heads: [[Int]], options: GenerationOptions, stopTokens: Set<Int>,
                      streams: inout [RandomGenerator]) throws -> [[Int]] {
    let count = heads.count, headLength = heads.first?.count ?? 0
    var tokens = [[Int]](repeating: [], count: count)
    guard options.maxTokens > 0, count > 0 else { return tokens }
    let p = soft?.shape[1] ?? 0
    let length = p + headLength
    guard length <= configuration.maxPositions else {
      throw DecoderLMError.sequenceTooLong(length: length, maxPositions: configuration.maxPositions)
    }
    let x = try sequenceEmbeddings(prefix: soft, texts: heads, length: headLength)  // [G, P + H, E]
    let (positions, mask) = layout(length: length, validLengths: [Int](repeating: length, count: count))
    var (logits, states) = run(x, positions: positions, mask: mask, past: nil)
    var active = Array(0..<count)  // the samples still decoding, in batch order
    while true {
      let rows = TokenSearch.lastRows(logits)
      var survivors: [Int] = []  // positions in `active` that continue
      for (row, sample) in active.enumerated() {
        let next = options.topP.map {
          TokenSearch.nucleusPick(rows[row], topP: $0, temperature: options.temperature, rng: &streams[sample])
        } ?? TokenSearch.argmax(rows[row])
        if stopTokens.contains(next) { continue }
        tokens[sample].append(next)
        if tokens[sample].count < options.maxTokens { survivors.append(row) }
      }
      if survivors.isEmpty { break }
      if survivors.count < active.count {
        states = states.map { AttentionState(keys: $0.keys.rows(survivors), values: $0.values.rows(survivors)) }
        active = survivors.map { active[$0] }
      }
      let position = length + tokens[active[0]].count - 1
      guard position < configuration.maxPositions else {
        throw DecoderLMError.sequenceTooLong(length: position + 1, maxPositions: configuration.maxPositions)
      }
      let step = try embed(active.map { tokens[$0].last! }, batch: active.count, length: 1)  // [A, 1, E]
      (logits, states) = run(step, positions: [Int](repeating: position + configuration.positionOffset,
                                                    count: active.count), mask: nil, past: states)
    }
    return tokens
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
