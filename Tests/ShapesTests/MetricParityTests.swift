// Parity of the caption and VQA metrics with the reference tools, over Fixtures/metrics.json made by
// Tests/fixtures/make_metric_fixtures.py (pycocoevalcap's scorers and PTBTokenizer; the official VQAv2 accuracy).
// These live here because this test target has resources and Blip2CoreTests has none.

import Foundation
import Testing

@testable import Blip2Core

private struct MetricFixture: Decodable {
  struct TokenizerCase: Decodable {
    var raw: String
    var tokenized: String
  }
  struct CaptionSet: Decodable {
    var candidates: [String]
    var references: [[String]]
    var bleu: [Double]
    var bleuPerCandidate: [[Double]]
    var cider: Double
    var ciderPerCandidate: [Double]
  }
  struct VQACase: Decodable {
    var prediction: String
    var answers: [String]
    var answerType: String
    var accuracy: Double
  }
  struct VQASet: Decodable {
    var items: [VQACase]
    var overall: Double
    var perAnswerType: [String: Double]
  }
  var tokenizer: [TokenizerCase]
  var captions: CaptionSet
  var captionsSubset: CaptionSet
  var vqa: VQASet

  static func load() throws -> MetricFixture {
    let url = try #require(Bundle.module.url(forResource: "metrics", withExtension: "json", subdirectory: "Fixtures"))
    return try JSONDecoder().decode(MetricFixture.self, from: Data(contentsOf: url))
  }
}

private let tolerance = 1e-6

@Suite("Metric parity with pycocoevalcap and the VQAv2 evaluation")
struct MetricParityTests {
  @Test("BLEU-1..4 (corpus and per image) match pycocoevalcap's Bleu(4)", arguments: ["all", "subset"])
  func bleu(set: String) throws {
    let fixture = try MetricFixture.load()
    let data = set == "all" ? fixture.captions : fixture.captionsSubset
    let scores = Bleu.score(candidates: data.candidates, references: data.references)
    for k in 0..<4 { #expect(abs(scores.corpus[k] - data.bleu[k]) < tolerance, "BLEU-\(k + 1)") }
    for (i, expected) in data.bleuPerCandidate.enumerated() {
      for k in 0..<4 { #expect(abs(scores.perCandidate[i][k] - expected[k]) < tolerance, "candidate \(i) BLEU-\(k + 1)") }
    }
  }

  @Test("CIDEr-D (corpus and per image) matches pycocoevalcap's Cider()", arguments: ["all", "subset"])
  func cider(set: String) throws {
    let fixture = try MetricFixture.load()
    let data = set == "all" ? fixture.captions : fixture.captionsSubset
    let scores = CiderD.score(candidates: data.candidates, references: data.references)
    #expect(abs(scores.corpus - data.cider) < tolerance)
    for (i, expected) in data.ciderPerCandidate.enumerated() {
      #expect(abs(scores.perCandidate[i] - expected) < tolerance, "candidate \(i)")
    }
  }

  @Test("the caption tokenizer matches PTBTokenizer + punctuation removal on plain captions")
  func tokenizer() throws {
    let fixture = try MetricFixture.load()
    for item in fixture.tokenizer {
      #expect(CaptionTokenizer.tokenize(item.raw) == item.tokenized, "\(item.raw)")
    }
  }

  @Test("VQA accuracy matches the official evaluation, per question, overall and per answer type")
  func vqa() throws {
    let fixture = try MetricFixture.load()
    let items = fixture.vqa.items.map { VQAItem(prediction: $0.prediction, answers: $0.answers, answerType: $0.answerType) }
    let scores = VQAAccuracy.evaluate(items)
    for (item, score) in zip(fixture.vqa.items, scores.perQuestion) {
      #expect(abs(score - 100 * item.accuracy) < tolerance, "\(item.prediction) vs \(item.answers)")
    }
    #expect(abs(scores.overall - fixture.vqa.overall) < tolerance)
    for (type, expected) in fixture.vqa.perAnswerType {
      #expect(abs((scores.perAnswerType[type] ?? -1) - expected) < tolerance, "\(type)")
    }
  }
}

// MARK: - Reading the files `blip2lab metrics` reads

/// Writes `text` to a fresh temporary file and returns its path.
private func temporaryFile(_ text: String, name: String) throws -> String {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-metrics-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  let url = directory.appendingPathComponent(name)
  try Data(text.utf8).write(to: url)
  return url.path
}

private func message(_ body: () throws -> Void) -> String {
  do { try body(); return "" } catch { return (error as? LocalizedError)?.errorDescription ?? "\(error)" }
}

@Suite("Metric input files")
struct MetricFileTests {
  private let references = #"""
    {"annotations": [{"image_id": 1, "caption": "A red circle."}, {"image_id": 1, "caption": "a circle"},
                     {"image_id": "2", "caption": "a blue square"}]}
    """#

  /// The error message of loading `candidates` (file contents) against `references` (a path).
  private func captionError(_ candidates: String, name: String, references: String) throws -> (String, path: String) {
    let path = try temporaryFile(candidates, name: name)
    return (message { _ = try CaptionEvaluationInput.load(candidates: path, references: references) }, path)
  }

  @Test("COCO results and annotations load, ids as numbers or strings, references grouped")
  func captionFiles() throws {
    let candidates = try temporaryFile(
      #"[{"image_id": 2, "caption": "a square"}, {"image_id": 1, "caption": "a red circle"}]"#, name: "c.json")
    let refs = try temporaryFile(references, name: "r.json")
    let input = try CaptionEvaluationInput.load(candidates: candidates, references: refs)
    #expect(input.imageIds == ["2", "1"])
    #expect(input.references == [["a blue square"], ["A red circle.", "a circle"]])
  }

  @Test("malformed caption files name the file and the entry")
  func captionErrors() throws {
    let refs = try temporaryFile(references, name: "refs.json")
    let twoIds = #"[{"image_id": 1, "caption": "x"}, {"image_id": 9, "caption": "y"}]"#
    #expect(try captionError(twoIds, name: "missing.json", references: refs).0.contains("missing.json: entry 1: id 9"))
    let (noCaption, path) = try captionError(#"[{"image_id": 1, "text": "x"}]"#, name: "nocaption.json", references: refs)
    #expect(noCaption == #"\#(path): entry 0: "caption" must be a string"#)
    let sameId = #"[{"image_id": 1, "caption": "x"}, {"image_id": 1, "caption": "y"}]"#
    #expect(try captionError(sameId, name: "dup.json", references: refs).0.contains("entry 1: id 1 appears more than once"))
    #expect(try captionError("[{", name: "broken.json", references: refs).0.contains("broken.json: not valid JSON"))
    let noAnnotations = try temporaryFile(#"{"images": []}"#, name: "noann.json")
    #expect(try captionError(twoIds, name: "c.json", references: noAnnotations).0
      .contains("noann.json: no \"annotations\" list"))
    #expect(message { _ = try CaptionEvaluationInput.load(candidates: "/nonexistent/c.json", references: refs) }
      .contains("/nonexistent/c.json: cannot read it"))
  }

  @Test("VQA files load and join; a prediction without annotation, or a listed question without prediction, is an error")
  func vqaFiles() throws {
    let annotations = try temporaryFile(#"""
      {"annotations": [{"question_id": 10, "answer_type": "number", "question_type": "how many",
                        "answers": [{"answer": "2", "answer_id": 1}, {"answer": "2", "answer_id": 2},
                                    {"answer": "2", "answer_id": 3}]},
                       {"question_id": 11, "answer_type": "yes/no", "answers": [{"answer": "yes"}]}]}
      """#, name: "ann.json")
    let predictions = try temporaryFile(#"[{"question_id": 10, "answer": "two"}]"#, name: "pred.json")
    let input = try VQAEvaluationInput.load(predictions: predictions, annotations: annotations)
    #expect(input.items == [VQAItem(prediction: "two", answers: ["2", "2", "2"], answerType: "number",
                                    questionType: "how many")])
    #expect(VQAAccuracy.evaluate(input.items).overall > 66)

    let questions = try temporaryFile(#"{"questions": [{"question_id": 10}, {"question_id": 11}]}"#, name: "q.json")
    #expect(message {
      _ = try VQAEvaluationInput.load(predictions: predictions, annotations: annotations, questions: questions)
    } == "\(questions): entry 1: id 11 has no prediction in \(predictions)")
    let stray = try temporaryFile(
      #"[{"question_id": 10, "answer": "2"}, {"question_id": 99, "answer": "no"}]"#, name: "stray.json")
    #expect(message { _ = try VQAEvaluationInput.load(predictions: stray, annotations: annotations) }
      == "\(stray): entry 1: id 99 has no annotation in \(annotations)")
    let badAnswers = try temporaryFile(
      #"{"annotations": [{"question_id": 10, "answers": [{"text": "2"}]}]}"#, name: "bad.json")
    #expect(message { _ = try VQAEvaluationInput.load(predictions: predictions, annotations: badAnswers) }
      .contains("bad.json: entry 0: answers[0] must be an object"))
  }
}
