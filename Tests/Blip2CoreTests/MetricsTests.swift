// Unit tests of the metrics on small hand cases (the parity with pycocoevalcap and the official VQAv2 evaluation
// over committed fixtures is in ShapesTests/MetricParityTests.swift, where the fixture files are).

import Foundation
import Testing

@testable import Blip2Core

@Suite("Retrieval metrics")
struct RetrievalMetricsTests {
  // 3 images, 2 texts each: text t belongs to image t / 2.
  private let textImages = [0, 0, 1, 1, 2, 2]

  @Test("a perfect similarity matrix gives 100 everywhere")
  func perfect() {
    let values = (0..<3).flatMap { image in (0..<6).map { Float(textImages[$0] == image ? 1 : 0) } }
    let scores = Retrieval.evaluate(similarity: ScoreMatrix(rows: 3, columns: 6, values: values), textImages: textImages)
    #expect(scores.imageToText == RecallAtK(r1: 100, r5: 100, r10: 100))
    #expect(scores.textToImage.r1 == 100)
  }

  @Test("image to text counts a hit if any of its texts ranks within K; text to image uses the text's image")
  func ranks() {
    // Image 0: its second text ranks 2nd (a hit at 5, not at 1). Image 1: its text is first. Image 2: its
    // texts rank 5th and 6th.
    let values: [Float] = [
      0.9, 0.1, 0.0, 0.95, 0.2, 0.3,  // image 0: ranks 0.95(t3) 0.9(t0) ...
      0.1, 0.2, 0.8, 0.3, 0.0, 0.0,  // image 1: t2 first
      0.9, 0.8, 0.7, 0.6, 0.1, 0.0,  // image 2: t4, t5 at ranks 4, 5
    ]
    let scores = Retrieval.evaluate(similarity: ScoreMatrix(rows: 3, columns: 6, values: values), textImages: textImages)
    #expect(abs(scores.imageToText.r1 - 100.0 / 3) < 1e-9)
    #expect(abs(scores.imageToText.r5 - 100) < 1e-9)
    // Texts: t0 -> image 0 (0.9 vs 0.1, 0.9: tie with image 2, index order keeps image 0 first) ...
    #expect(Retrieval.rank(of: 0, in: [0.9, 0.1, 0.9]) == 0)
    #expect(Retrieval.rank(of: 2, in: [0.9, 0.1, 0.9]) == 1)
    #expect(scores.textToImage.r10 == 100)
  }

  @Test("re-ranking scores the top k by ITC with ITM + ITC (each distinct pair once) and leaves the rest at -infinity")
  func rerank() {
    let itc = ScoreMatrix(rows: 2, columns: 3, values: [0.5, 0.4, 0.1, 0.2, 0.3, 0.9])
    var calls: [[(image: Int, text: Int)]] = []
    // ITM prefers text == image strongly.
    let (i2t, t2i) = Retrieval.rerank(itc: itc, k: 2) { pairs in
      calls.append(pairs)
      return pairs.map { $0.image == $0.text ? 10 : 0 }
    }
    // One call with the 6 distinct pairs of the 2·2 + 3·2 ranked, first seen first (images' lists, then texts').
    #expect(calls.count == 1)
    #expect(calls[0].map { [$0.image, $0.text] } == [[0, 0], [0, 1], [1, 2], [1, 1], [1, 0], [0, 2]])
    #expect(i2t.values[0] == 10.5 && i2t.values[1] == 0.4 && i2t.values[2] == -.infinity)
    #expect(i2t.values[4] == 10.3 && i2t.values[3] == -.infinity)
    #expect(t2i.rows == 3 && t2i.columns == 2)
    #expect(t2i.values[0] == 10.5 && t2i.values[1] == 0.2)  // text 0: both images (k = 2 = pool size)
    let scores = Retrieval.evaluate(imageToText: i2t, textToImage: t2i, textImages: [0, 1, 1])
    #expect(scores.imageToText.r1 == 100)
  }
}

@Suite("Caption metrics")
struct CaptionMetricsTests {
  @Test("an exact match scores BLEU 1; a 3-word candidate keeps a small BLEU-4 (pycocoevalcap's smoothing)")
  func bleu() {
    let exact = Bleu.score(candidates: ["a red circle on the left"], references: [["a red circle on the left"]])
    for value in exact.corpus { #expect(abs(value - 1) < 1e-6) }
    let short = Bleu.score(candidates: ["a red circle"], references: [["a red circle on the left"]])
    // No 4-gram: precision (0 + 1e-15) / (0 + 1e-9) = 1e-6, so BLEU-4 = (1e-6)^(1/4) * exp(1 - 6/3), not 0.
    #expect(abs(short.corpus[3] - pow(1e-6, 0.25) * exp(1 - 6.0 / 3)) < 1e-9)
    // Brevity penalty: exp(1 - 6/3) on a perfect unigram precision.
    #expect(abs(short.corpus[0] - exp(1 - 6.0 / 3)) < 1e-6)
  }

  @Test("CIDEr-D: an identical 2-word caption scores 10 x (1 + 1 + 0 + 0) / 4; no overlap scores 0")
  func cider() {
    let scores = CiderD.score(candidates: ["red circle", "blue square"], references: [["red circle"], ["blue square"]])
    #expect(abs(scores.perCandidate[0] - 5) < 1e-9)  // no 3- or 4-grams: those orders score 0
    let none = CiderD.score(candidates: ["green star", "blue square"], references: [["red circle"], ["blue square"]])
    #expect(none.perCandidate[0] == 0)
  }

  @Test("caption tokenization lowercases, splits clitics and drops punctuation as pycocoevalcap does")
  func tokenize() {
    #expect(CaptionTokenizer.tokenize("A man's dog, running (fast)!") == "a man 's dog running -lrb- fast -rrb-")
    #expect(CaptionTokenizer.tokenize("It isn't 3.5 km -- e.g. far...") == "it is n't 3.5 km e.g. far")
  }
}

@Suite("VQA accuracy")
struct VQAMetricsTests {
  private func ten(_ answer: String, _ count: Int, else other: String = "other") -> [String] {
    Array(repeating: answer, count: count) + Array(repeating: other, count: 10 - count)
  }

  @Test("min(matches / 3, 1) averaged over leaving each annotator out", arguments: [
    (0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0),
  ])
  func rule(matches: Int, expected: Double) {
    #expect(abs(VQAAccuracy.score(prediction: "red", answers: ten("red", matches)) - expected) < 1e-12)
  }

  @Test("the prediction is normalized: case, articles, number words, punctuation, contractions")
  func normalization() {
    #expect(VQAAccuracy.normalize("The Two") == "2")
    #expect(VQAAccuracy.normalize("a dog.") == "dog")
    #expect(VQAAccuracy.normalize("dont") == "don't")
    #expect(VQAAccuracy.normalize("yes!") == "yes")
    #expect(VQAAccuracy.normalize("1,000") == "1000")
    #expect(VQAAccuracy.normalize("3.5") == "3.5")
    #expect(VQAAccuracy.normalize("black/white") == "black white")
  }

  @Test("references are not digit-normalized unless asked (VQAv2's answers already are)")
  func references() {
    let answers = Array(repeating: "two", count: 10)
    #expect(VQAAccuracy.score(prediction: "two", answers: answers) == 0)
    #expect(VQAAccuracy.score(prediction: "two", answers: answers, normalizeReferences: true) == 1)
  }

  @Test("per answer type means")
  func perType() {
    let scores = VQAAccuracy.evaluate([
      VQAItem(prediction: "yes", answers: ten("yes", 10), answerType: "yes/no"),
      VQAItem(prediction: "no", answers: ten("yes", 10), answerType: "yes/no"),
      VQAItem(prediction: "2", answers: ten("2", 10), answerType: "number"),
    ])
    #expect(abs(scores.overall - 200.0 / 3) < 1e-9)
    #expect(scores.perAnswerType == ["yes/no": 50, "number": 100])
  }
}
