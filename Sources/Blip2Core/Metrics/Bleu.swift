// BLEU exactly as pycocoevalcap's `Bleu(4)` computes it (bleu_scorer.py): corpus-level modified n-gram precision
// with the "closest" reference length per sentence (ties to the shorter), the brevity penalty on the corpus
// totals, and its smoothing: every precision is (correct + 1e-15) / (guess + 1e-9).

import Foundation

/// BLEU-1 ... BLEU-n, corpus and per sentence.
public struct BleuScores: Sendable, Equatable {
  /// Corpus BLEU-1 ... BLEU-n (pycocoevalcap's `score`).
  public var corpus: [Double]
  /// Per candidate, BLEU-1 ... BLEU-n (pycocoevalcap's `scores`, transposed).
  public var perCandidate: [[Double]]
}

/// n-gram counts of a whitespace-tokenized sentence, per order (index 0: unigrams).
struct NGramCounts {
  /// Number of words.
  var length: Int
  /// counts[k - 1][ngram]: n-grams of k words joined by a space.
  var counts: [[String: Int]]

  init(_ sentence: String, n: Int) {
    let words = sentence.split(whereSeparator: { $0.isWhitespace }).map(String.init)
    length = words.count
    counts = (1...n).map { k in
      var table: [String: Int] = [:]
      if words.count >= k {
        for i in 0...(words.count - k) { table[words[i..<(i + k)].joined(separator: " "), default: 0] += 1 }
      }
      return table
    }
  }
}

/// BLEU as coco-caption computes it.
public enum Bleu {
  /// BLEU-1...`n` of `candidates[i]` against `references[i]` (all already tokenized: words separated by spaces).
  public static func score(candidates: [String], references: [[String]], n: Int = 4) -> BleuScores {
    precondition(candidates.count == references.count,
                 "Bleu: \(candidates.count) candidates, \(references.count) reference sets")
    let small = 1e-9, tiny = 1e-15
    var totalCorrect = [Double](repeating: 0, count: n), totalGuess = [Double](repeating: 0, count: n)
    var totalTest = 0.0, totalReference = 0.0
    var perCandidate: [[Double]] = []
    for (candidate, refs) in zip(candidates, references) {
      let test = NGramCounts(candidate, n: n)
      var maxCounts = [[String: Int]](repeating: [:], count: n)
      var lengths: [Int] = []
      for reference in refs {
        let cooked = NGramCounts(reference, n: n)
        lengths.append(cooked.length)
        for k in 0..<n { maxCounts[k].merge(cooked.counts[k]) { max($0, $1) } }
      }
      // "closest": min over (|l - testlen|, l).
      let referenceLength = Double(lengths.min { (abs($0 - test.length), $0) < (abs($1 - test.length), $1) } ?? 0)
      var correct = [Double](repeating: 0, count: n), guess = [Double](repeating: 0, count: n)
      for k in 0..<n {
        guess[k] = Double(max(0, test.length - k))
        for (ngram, count) in test.counts[k] { correct[k] += Double(min(maxCounts[k][ngram] ?? 0, count)) }
        totalCorrect[k] += correct[k]
        totalGuess[k] += guess[k]
      }
      totalTest += Double(test.length)
      totalReference += referenceLength
      perCandidate.append(bleus(correct: correct, guess: guess, testLength: Double(test.length),
                                referenceLength: referenceLength, small: small, tiny: tiny))
    }
    let corpus = bleus(correct: totalCorrect, guess: totalGuess, testLength: totalTest,
                       referenceLength: totalReference, small: small, tiny: tiny)
    return BleuScores(corpus: corpus, perCandidate: perCandidate)
  }

  private static func bleus(
    correct: [Double], guess: [Double], testLength: Double, referenceLength: Double, small: Double, tiny: Double
  ) -> [Double] {
    var product = 1.0
    var out: [Double] = []
    for k in 0..<correct.count {
      product *= (correct[k] + tiny) / (guess[k] + small)
      out.append(pow(product, 1.0 / Double(k + 1)))
    }
    let ratio = (testLength + tiny) / (referenceLength + small)
    if ratio < 1 {
      let penalty = exp(1 - 1 / ratio)
      out = out.map { $0 * penalty }
    }
    return out
  }
}
