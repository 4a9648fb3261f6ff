// VQA accuracy as the official VQAv2 evaluation computes it (vqaEval.py, also used by LAVIS for BLIP-2): the
// prediction is normalized (punctuation, number words to digits, articles dropped, contractions restored); the
// annotators' answers only have their punctuation processed, and only when they disagree (VQAv2's answers were
// normalized when the dataset was built); then, over the 10 leave-one-annotator-out subsets of 9,
// accuracy = min(#matches / 3, 1), averaged. Scores are in percent, unrounded (the official script rounds to 2
// decimals for display).

import Foundation

/// One question to score.
public struct VQAItem: Sendable, Equatable {
  /// The model's answer.
  public var prediction: String
  /// The annotators' answers (10 in VQAv2).
  public var answers: [String]
  /// "yes/no", "number", "other" in VQAv2 (optional).
  public var answerType: String?
  /// E.g. "what color is the" in VQAv2 (optional).
  public var questionType: String?

  /// An item from its parts.
  public init(prediction: String, answers: [String], answerType: String? = nil, questionType: String? = nil) {
    self.prediction = prediction
    self.answers = answers
    self.answerType = answerType
    self.questionType = questionType
  }
}

/// VQA accuracy in percent: overall and per answer / question type.
public struct VQAScores: Sendable, Equatable, Codable {
  /// Mean accuracy over questions (%).
  public var overall: Double
  /// Per answer type (%), for items that have one.
  public var perAnswerType: [String: Double]
  /// Per question type (%), for items that have one.
  public var perQuestionType: [String: Double]
  /// Accuracy of each item (%), in order.
  public var perQuestion: [Double]
}

/// The official VQAv2 accuracy.
public enum VQAAccuracy {
  /// Scores `items`. With `normalizeReferences`, the annotators' answers get the full normalization the
  /// prediction gets (for datasets whose answers were not normalized in advance, e.g. Shapes' "two"; the
  /// official evaluation of VQAv2 uses `false`).
  public static func evaluate(_ items: [VQAItem], normalizeReferences: Bool = false) -> VQAScores {
    var perQuestion: [Double] = []
    var byAnswerType: [String: [Double]] = [:], byQuestionType: [String: [Double]] = [:]
    for item in items {
      let accuracy = 100 * score(prediction: item.prediction, answers: item.answers,
                                 normalizeReferences: normalizeReferences)
      perQuestion.append(accuracy)
      if let type = item.answerType { byAnswerType[type, default: []].append(accuracy) }
      if let type = item.questionType { byQuestionType[type, default: []].append(accuracy) }
    }
    let mean = { (values: [Double]) in values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
    return VQAScores(overall: mean(perQuestion), perAnswerType: byAnswerType.mapValues(mean),
                     perQuestionType: byQuestionType.mapValues(mean), perQuestion: perQuestion)
  }

  /// The accuracy of one prediction in [0, 1]: the mean over leaving each annotator out of min(matches / 3, 1).
  public static func score(prediction: String, answers: [String], normalizeReferences: Bool = false) -> Double {
    guard !answers.isEmpty else { return 0 }
    let predicted = normalize(prediction)
    // As the official code: the annotators' answers are compared as stored (no trimming), and each annotator is
    // assumed distinct (VQAv2's answers carry an answer_id), so leaving one out removes exactly one answer.
    var references = answers
    if normalizeReferences {
      references = references.map(normalize)
    } else if Set(references).count > 1 {
      references = references.map(processPunctuation)
    }
    let matches = references.filter { $0 == predicted }.count
    var total = 0.0
    for reference in references {
      let others = matches - (reference == predicted ? 1 : 0)
      total += min(1, Double(others) / 3)
    }
    return total / Double(references.count)
  }

  /// The full normalization of an answer (what the prediction gets).
  public static func normalize(_ answer: String) -> String {
    let text = answer.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ")
      .trimmingCharacters(in: .whitespacesAndNewlines)
    return processDigitArticle(processPunctuation(text))
  }

  // MARK: - The official steps, quirks included

  static let punctuation = [";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@",
                            "`", ",", "?", "!"]
  static let numbers = ["none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                        "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"]
  static let articles: Set<String> = ["a", "an", "the"]

  /// Each mark is deleted if it touches a space anywhere in the text (or the text has a digit-comma-digit),
  /// otherwise replaced by a space; then every period not followed by a digit is deleted (at most 32, as
  /// `re.sub`'s count argument receives `re.UNICODE` = 32 in the official code).
  static func processPunctuation(_ text: String) -> String {
    let hasDigitComma = containsDigitCommaDigit(text)
    var out = text
    for mark in punctuation {
      if text.contains(mark + " ") || text.contains(" " + mark) || hasDigitComma {
        out = out.replacingOccurrences(of: mark, with: "", options: .literal)
      } else {
        out = out.replacingOccurrences(of: mark, with: " ", options: .literal)
      }
    }
    // Periods not followed by a digit.
    let scalars = Array(out.unicodeScalars)
    var kept = String.UnicodeScalarView()
    var removed = 0
    for (i, scalar) in scalars.enumerated() {
      if scalar == ".", removed < 32, !(i + 1 < scalars.count && isDigit(scalars[i + 1])) {
        removed += 1
        continue
      }
      kept.append(scalar)
    }
    return String(kept)
  }

  /// Lowercase, split on whitespace, number words to digits, articles dropped, contractions restored.
  static func processDigitArticle(_ text: String) -> String {
    text.lowercased().split(whereSeparator: { $0.isWhitespace }).map(String.init)
      .map { numbers[$0] ?? $0 }
      .filter { !articles.contains($0) }
      .map { VQAContractions.table[$0] ?? $0 }
      .joined(separator: " ")
  }

  private static func containsDigitCommaDigit(_ text: String) -> Bool {
    let scalars = Array(text.unicodeScalars)
    guard scalars.count >= 3 else { return false }
    for i in 1..<(scalars.count - 1) where scalars[i] == "," && isDigit(scalars[i - 1]) && isDigit(scalars[i + 1]) {
      return true
    }
    return false
  }

  private static func isDigit(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.numericType == .decimal }
}
