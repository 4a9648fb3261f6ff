// What a dataset gives the trainers: images with captions and question/answer pairs, in splits.

/// A dataset split.
public enum Split: String, Sendable, CaseIterable, Codable {
  /// Training examples.
  case train
  /// Validation examples.
  case val
  /// Test examples (same attribute combinations as training).
  case test
  /// Test examples whose attribute combinations never occur in training (zero-shot generalization).
  case heldOut
}

/// An RGB image, channels first, values in [0, 1].
public struct Image: Sendable, Equatable {
  /// Width in pixels.
  public var width: Int
  /// Height in pixels.
  public var height: Int
  /// [3, height, width] row-major.
  public var pixels: [Float]

  /// An image from its parts.
  public init(width: Int, height: Int, pixels: [Float]) {
    precondition(pixels.count == 3 * width * height, "Image: \(pixels.count) values for 3x\(height)x\(width)")
    self.width = width
    self.height = height
    self.pixels = pixels
  }
}

/// A question about an image and the annotators' answers (VQAv2 has 10 per question).
public struct QuestionAnswer: Sendable, Equatable, Codable {
  /// The question.
  public var question: String
  /// The annotators' answers.
  public var answers: [String]
  /// What the question asks about (VQAv2's `question_type`, e.g. "count", "colour"), when the data says.
  public var questionType: String?

  /// A question with its answers.
  public init(question: String, answers: [String], questionType: String? = nil) {
    self.question = question
    self.answers = answers
    self.questionType = questionType
  }
}

/// One image with its text.
public struct Example: Sendable, Equatable {
  /// A stable identifier (used to cache frozen image features).
  public var id: String
  /// The image.
  public var image: Image
  /// Reference captions.
  public var captions: [String]
  /// Questions and answers.
  public var questions: [QuestionAnswer]

  /// An example from its parts.
  public init(id: String, image: Image, captions: [String], questions: [QuestionAnswer] = []) {
    self.id = id
    self.image = image
    self.captions = captions
    self.questions = questions
  }
}

/// A source of examples, split into train / val / test (and possibly held-out).
public protocol Dataset: AnyObject, Sendable {
  /// A name for reports and caches, including what makes it distinct (e.g. its seed).
  var name: String { get }
  /// The size of its (square) images.
  var imageSize: Int { get }
  /// How many examples a split has (0 if the dataset has no such split).
  func count(_ split: Split) -> Int
  /// Example `index` of `split`.
  func example(_ split: Split, _ index: Int) throws -> Example
  /// The captions and questions of example `index` of `split`, without its image: what text-only work (the
  /// LM's corpus, answer statistics) reads. The default takes them from `example`; a dataset whose images are
  /// costly to make (drawn, decoded) gives them directly.
  func text(_ split: Split, _ index: Int) throws -> ExampleText
}

/// The text of an example.
public struct ExampleText: Sendable, Equatable {
  /// Reference captions.
  public var captions: [String]
  /// Questions and answers.
  public var questions: [QuestionAnswer]

  /// The text of an example from its parts.
  public init(captions: [String], questions: [QuestionAnswer]) {
    self.captions = captions
    self.questions = questions
  }
}

extension Dataset {
  public func text(_ split: Split, _ index: Int) throws -> ExampleText {
    let example = try example(split, index)
    return ExampleText(captions: example.captions, questions: example.questions)
  }
}
