// Token search for generation: greedy, beam search (length-normalized log-probability) and nucleus sampling,
// over a closure that scores the next token of a few hypotheses. Model-agnostic: every language-model
// plugin decodes through it.

import Foundation
import Tensor

/// Decoding strategies over a next-token scorer. Shared by the language-model plugins.
public enum TokenSearch {
  /// Scores the next token after each hypothesis (all of one length): one row of logits [vocabulary] per
  /// hypothesis, in order.
  public typealias Scorer = ([[Int]]) throws -> [[Float]]

  /// The new tokens for one sequence, without the stop token that ended them.
  ///
  /// - `options.topP` set: nucleus sampling (after dividing the logits by `temperature`), seeded by `rng`.
  /// - `options.beams` > 1: beam search as transformers' `num_beams` with `length_penalty = 1` and
  ///   `early_stopping = False`: the best 2·beams continuations of the live hypotheses are ranked; a stop token
  ///   among the first `beams` finishes its hypothesis, scored by its log-probability divided by its length (stop
  ///   included); the best `beams` others live on. The search ends when `beams` hypotheses have finished and no
  ///   live one scores better at the current length, or at `maxTokens` (the live ones then count as finished).
  ///   With one beam this is exactly greedy decoding.
  /// - otherwise greedy.
  public static func decode(options: GenerationOptions, stopTokens: Set<Int>, rng: inout RandomGenerator,
                     scorer: Scorer) throws -> [Int] {
    if let topP = options.topP {
      return try sample(topP: topP, temperature: options.temperature, maxTokens: options.maxTokens,
                        stopTokens: stopTokens, rng: &rng, scorer: scorer)
    }
    if options.beams > 1 {
      return try beamSearch(beams: options.beams, maxTokens: options.maxTokens, stopTokens: stopTokens, scorer: scorer)
    }
    return try greedy(maxTokens: options.maxTokens, stopTokens: stopTokens, scorer: scorer)
  }

  /// Argmax at every step until a stop token or `maxTokens`.
  public static func greedy(maxTokens: Int, stopTokens: Set<Int>, scorer: Scorer) throws -> [Int] {
    var tokens: [Int] = []
    while tokens.count < maxTokens {
      guard let logits = try scorer([tokens]).first else { break }
      let next = argmax(logits)
      if stopTokens.contains(next) { break }
      tokens.append(next)
    }
    return tokens
  }

  /// Nucleus (top-p) sampling: the smallest set of most probable tokens whose probability reaches `topP`.
  public static func sample(topP: Float, temperature: Float, maxTokens: Int, stopTokens: Set<Int>,
                     rng: inout RandomGenerator, scorer: Scorer) throws -> [Int] {
    var tokens: [Int] = []
    while tokens.count < maxTokens {
      guard let logits = try scorer([tokens]).first else { break }
      let next = nucleusPick(logits, topP: topP, temperature: temperature, rng: &rng)
      if stopTokens.contains(next) { break }
      tokens.append(next)
    }
    return tokens
  }

  /// One nucleus-sampling draw from a row of logits: softmax after dividing by `temperature`, the smallest set of
  /// most probable tokens whose probability reaches `topP`, one of them drawn in proportion to its probability.
  public static func nucleusPick(_ logits: [Float], topP: Float, temperature: Float,
                                 rng: inout RandomGenerator) -> Int {
    let probabilities = softmax(logits.map { $0 / max(temperature, 1e-6) })
    let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
    var kept: [Int] = []
    var mass: Float = 0
    for index in order {
      kept.append(index)
      mass += probabilities[index]
      if mass >= topP { break }
    }
    return kept[rng.sample(weights: kept.map { probabilities[$0] })]
  }

  /// Beam search with length-normalized scores (see `decode`).
  public static func beamSearch(beams: Int, maxTokens: Int, stopTokens: Set<Int>, scorer: Scorer) throws -> [Int] {
    var alive: [(tokens: [Int], score: Double)] = [([], 0)]
    var finished: [(tokens: [Int], score: Double)] = []  // score: normalized
    var step = 0
    while step < maxTokens && !alive.isEmpty {
      step += 1
      let rows = try scorer(alive.map(\.tokens))
      var candidates: [(beam: Int, token: Int, score: Double)] = []
      for (beam, logits) in rows.enumerated() {
        let logProbabilities = logSoftmax(logits)
        // Only the best 2·beams of each row can be among the best 2·beams overall.
        for token in topIndices(logProbabilities, count: 2 * beams) {
          candidates.append((beam, token, alive[beam].score + Double(logProbabilities[token])))
        }
      }
      candidates.sort { $0.score > $1.score }
      var next: [(tokens: [Int], score: Double)] = []
      for (rank, candidate) in candidates.prefix(2 * beams).enumerated() {
        if stopTokens.contains(candidate.token) {
          // As transformers: only a stop among the best `beams` candidates finishes a hypothesis.
          if rank < beams { finished.append((alive[candidate.beam].tokens, candidate.score / Double(step))) }
        } else if next.count < beams {
          next.append((alive[candidate.beam].tokens + [candidate.token], candidate.score))
        }
      }
      alive = next
      finished.sort { $0.score > $1.score }
      finished = Array(finished.prefix(beams))
      if finished.count >= beams, let worst = finished.last?.score, let best = alive.first?.score,
         best / Double(step) <= worst {
        break
      }
    }
    for hypothesis in alive {
      finished.append((hypothesis.tokens, hypothesis.score / Double(max(hypothesis.tokens.count, 1))))
    }
    return finished.max { $0.score < $1.score }?.tokens ?? []
  }

  /// Why `options` cannot be followed, or nil when they can.
  public static func problem(with options: GenerationOptions) -> String? {
    guard options.maxTokens >= 0, options.beams >= 1 else {
      return "generation needs maxTokens ≥ 0 and beams ≥ 1, got \(options.maxTokens) and \(options.beams)"
    }
    if let topP = options.topP {
      guard topP > 0, topP <= 1, options.temperature > 0 else {
        return "nucleus sampling needs 0 < topP ≤ 1 and temperature > 0, got \(topP) and \(options.temperature)"
      }
      guard options.beams == 1 else { return "sampling with beams > 1 is not supported; use one of them" }
    }
    return nil
  }

  /// The last position's logits of [K, T, V], one row per sequence: what a scorer returns.
  public static func lastRows(_ logits: Tensor) -> [[Float]] {
    let (count, length, vocabulary) = (logits.shape[0], logits.shape[1], logits.shape[2])
    return (0..<count).map { k in
      let start = (k * length + length - 1) * vocabulary
      return Array(logits.data[start..<(start + vocabulary)])
    }
  }

  // MARK: Row helpers

  /// The index of the largest element (the first on ties, as torch.argmax).
  public static func argmax(_ row: [Float]) -> Int {
    var best = 0
    for i in row.indices where row[i] > row[best] { best = i }
    return best
  }

  /// The indices of the `count` largest elements, largest first.
  public static func topIndices(_ row: [Float], count: Int) -> [Int] {
    Array(row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(count))
  }

  /// log softmax of a row, in Double for the sums.
  public static func logSoftmax(_ row: [Float]) -> [Float] {
    let maximum = row.max() ?? 0
    let logSum = Float(Foundation.log(row.reduce(0.0) { $0 + Foundation.exp(Double($1 - maximum)) })) + maximum
    return row.map { $0 - logSum }
  }

  /// softmax of a row.
  public static func softmax(_ row: [Float]) -> [Float] { logSoftmax(row).map { Foundation.exp($0) } }
}
