// `blip2lab metrics caption|vqa`: scores any COCO caption results or VQAv2 results file the standard way and prints
// the scores as JSON, so they can be checked against the reference tools (pycocoevalcap, vqaEval.py).

import ArgumentParser
import Blip2Core
import Foundation

/// `blip2lab metrics ...`.
struct MetricsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "metrics", abstract: "Score captions (BLEU, CIDEr-D) or VQA answers the standard way; print JSON.",
    subcommands: [CaptionMetricsCommand.self, VQAMetricsCommand.self])
}

/// `blip2lab metrics caption --candidates C.json --references R.json`.
struct CaptionMetricsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "caption",
    abstract: "BLEU-1..4 and CIDEr-D as pycocoevalcap computes them.",
    discussion: """
      Candidates: COCO results, [{"image_id": .., "caption": ..}], one per image. References: COCO annotations, \
      {"annotations": [{"image_id": .., "caption": ..}]}. Captions are tokenized as pycocoevalcap's PTBTokenizer \
      does for plain English (see CaptionTokenizer), unless --pretokenized.
      """)

  @Option(help: "COCO results JSON: [{\"image_id\": .., \"caption\": ..}].")
  var candidates: String

  @Option(help: "COCO annotations JSON: {\"annotations\": [{\"image_id\": .., \"caption\": ..}]}.")
  var references: String

  @Flag(help: "The captions are already tokenized (words separated by spaces): score them as they are.")
  var pretokenized = false

  func run() throws {
    let input = try CaptionEvaluationInput.load(candidates: candidates, references: references)
    let pretokenized = self.pretokenized
    let tokenize = { (caption: String) -> String in pretokenized ? caption : CaptionTokenizer.tokenize(caption) }
    let hypotheses = input.candidates.map(tokenize)
    let refs = input.references.map { $0.map(tokenize) }
    let bleu = Bleu.score(candidates: hypotheses, references: refs)
    let cider = CiderD.score(candidates: hypotheses, references: refs)
    var scores: [String: Any] = ["CIDEr": cider.corpus, "images": input.imageIds.count]
    for (k, value) in bleu.corpus.enumerated() { scores["Bleu_\(k + 1)"] = value }
    try printJSON(scores)
  }
}

/// `blip2lab metrics vqa --predictions P.json --annotations A.json [--questions Q.json]`.
struct VQAMetricsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vqa",
    abstract: "VQA accuracy as the official VQAv2 evaluation computes it (percent).",
    discussion: """
      Predictions: [{"question_id": .., "answer": ..}]. Annotations: {"annotations": [{"question_id": .., \
      "answers": [{"answer": ..}, ...], "answer_type": .., "question_type": ..}]}. With --questions \
      ({"questions": [{"question_id": ..}]}) exactly those questions are scored and each needs a prediction.
      """)

  @Option(help: "VQAv2 results JSON: [{\"question_id\": .., \"answer\": ..}].")
  var predictions: String

  @Option(help: "VQAv2 annotations JSON.")
  var annotations: String

  @Option(help: "VQAv2 questions JSON (optional): the questions to score.")
  var questions: String?

  @Flag(help: "Normalize the annotators' answers like the predictions (for answers such as Shapes' \"two\").")
  var normalizeReferences = false

  func run() throws {
    let input = try VQAEvaluationInput.load(predictions: predictions, annotations: annotations, questions: questions)
    let scores = VQAAccuracy.evaluate(input.items, normalizeReferences: normalizeReferences)
    try printJSON([
      "overall": scores.overall, "perAnswerType": scores.perAnswerType, "perQuestionType": scores.perQuestionType,
      "questions": input.items.count,
    ])
  }
}

/// Prints `object` as pretty, key-sorted JSON on stdout.
private func printJSON(_ object: [String: Any]) throws {
  let options: JSONSerialization.WritingOptions = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
  let data = try JSONSerialization.data(withJSONObject: object, options: options)
  print(String(decoding: data, as: UTF8.self))
}
