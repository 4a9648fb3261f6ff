// CIDEr-D exactly as pycocoevalcap's `Cider()` computes it (cider_scorer.py): TF-IDF vectors of 1- to 4-grams with
// document frequencies from the references of the evaluated set (idf = log(#images) - log(max(1, df))), the
// hypothesis clipped by the reference (min(h, r) * r), a Gaussian penalty on the length difference (sigma 6;
// pycocoevalcap measures "length" as the number of bigrams), averaged over n and references, times 10.

import Foundation

/// CIDEr-D, corpus and per image.
public struct CiderScores: Sendable, Equatable {
  /// The mean over images (pycocoevalcap's `score`).
  public var corpus: Double
  /// Per candidate.
  public var perCandidate: [Double]
}

/// CIDEr-D as coco-caption computes it.
public enum CiderD {
  /// CIDEr-D of `candidates[i]` against `references[i]` (tokenized: words separated by spaces).
  public static func score(candidates: [String], references: [[String]], n: Int = 4, sigma: Double = 6) -> CiderScores {
    precondition(candidates.count == references.count,
                 "CiderD: \(candidates.count) candidates, \(references.count) reference sets")
    guard !candidates.isEmpty else { return CiderScores(corpus: 0, perCandidate: []) }
    let cookedReferences = references.map { $0.map { NGramCounts($0, n: n) } }
    var documentFrequency: [String: Double] = [:]
    for refs in cookedReferences {
      var seen = Set<String>()
      for ref in refs { for k in 0..<n { seen.formUnion(ref.counts[k].keys.map { "\(k)|" + $0 }) } }
      for ngram in seen { documentFrequency[ngram, default: 0] += 1 }
    }
    let logImages = log(Double(references.count))

    // The TF-IDF vector per order, its norms, and its "length" (number of bigrams, as pycocoevalcap counts).
    func vector(_ cooked: NGramCounts) -> (vec: [[String: Double]], norm: [Double], length: Double) {
      var vec = [[String: Double]](repeating: [:], count: n)
      var norm = [Double](repeating: 0, count: n)
      var length = 0.0
      for k in 0..<n {
        // Sorted: dictionary order varies between instances, and sums in another order differ in the last bit.
        for (ngram, termFrequency) in cooked.counts[k].sorted(by: { $0.key < $1.key }) {
          let df = log(max(1.0, documentFrequency["\(k)|" + ngram] ?? 0))
          let value = Double(termFrequency) * (logImages - df)
          vec[k][ngram] = value
          norm[k] += value * value
          if k == 1 { length += Double(termFrequency) }
        }
      }
      return (vec, norm.map { $0.squareRoot() }, length)
    }

    var scores: [Double] = []
    for (candidate, refs) in zip(candidates, cookedReferences) {
      let hypothesis = vector(NGramCounts(candidate, n: n))
      var total = [Double](repeating: 0, count: n)
      for ref in refs {
        let reference = vector(ref)
        let delta = hypothesis.length - reference.length
        for k in 0..<n {
          var value = 0.0
          for (ngram, weight) in hypothesis.vec[k].sorted(by: { $0.key < $1.key }) {
            let referenceWeight = reference.vec[k][ngram] ?? 0
            value += min(weight, referenceWeight) * referenceWeight
          }
          if hypothesis.norm[k] != 0 && reference.norm[k] != 0 { value /= hypothesis.norm[k] * reference.norm[k] }
          value *= pow(M_E, -(delta * delta) / (2 * sigma * sigma))
          total[k] += value
        }
      }
      let mean = total.reduce(0, +) / Double(n)
      scores.append(mean / Double(refs.count) * 10)
    }
    return CiderScores(corpus: scores.reduce(0, +) / Double(scores.count), perCandidate: scores)
  }
}
