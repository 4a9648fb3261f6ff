// The paper's zero-shot VQA prompt, in one place: the evaluation asks with it, the frozen LMs' text-only corpus
// writes question-answer pairs in it, and the encoder-decoder's pre-training splits those pairs at its marker.

/// BLIP-2's zero-shot VQA prompt, "Question: {} Answer:".
public enum ZeroShotPrompt {
  /// What starts a question.
  public static let questionMarker = "Question:"
  /// What ends the prompt; the answer follows it.
  public static let answerMarker = "Answer:"

  /// The prompt for `question`: "Question: {question} Answer:".
  public static func prompt(_ question: String) -> String { "\(questionMarker) \(question) \(answerMarker)" }

  /// The prompt followed by its answer, as the LMs' text-only corpus holds it.
  public static func answered(_ question: String, _ answer: String) -> String { prompt(question) + " " + answer }

  /// A text in that format split into (prompt, answer), or nil when `text` is not one.
  public static func split(_ text: String) -> (prompt: String, answer: String)? {
    guard text.hasPrefix(questionMarker), let marker = text.range(of: answerMarker, options: .backwards) else { return nil }
    return (String(text[..<marker.upperBound]), String(text[marker.upperBound...]).trimmingCharacters(in: .whitespaces))
  }
}
