// The text of a Shapes example: captions from a small grammar and VQAv2-style questions with ten annotator
// answers each. Everything is computed from the scene (relations from the actual centres), and every word
// comes from `ShapesLanguage.vocabulary`.

import Blip2Core

/// The grammar of Shapes captions and questions.
public enum ShapesLanguage {
  /// Captions per image (COCO has five).
  public static let captionsPerImage = 5
  /// Annotator answers per question (VQAv2 has ten).
  public static let answersPerQuestion = 10
  /// A relation is only asked about when the centres differ by at least this much (fraction of the side)
  /// along its axis, so the yes/no answer is clear from the picture.
  static let clearSeparation: Float = 0.08

  /// Number words, index = count.
  static let numberWords = ["zero", "one", "two", "three", "four"]

  /// Every word the grammar can produce, sorted (punctuation marks are words too: "?", ",", ":", ".").
  public static let vocabulary: [String] = {
    var words: Set<String> = [
      "a", "an", "the", "and", "is", "are", "there", "of", "to", "left", "right", "above", "below", "in", "on",
      "shape", "shapes", "what", "colour", "how", "many", "yes", "no", "size", "that", "with", "image",
      "picture", "dark", "background", "top", "bottom", "middle", "corner", "one", "two", "three", "four",
      "object", "objects", "next", "?", ",", ":", ".",
    ]
    words.formUnion(ShapeKind.allCases.map(\.rawValue))
    words.formUnion(ShapeKind.allCases.map { $0.rawValue + "s" })
    words.formUnion(ShapeColour.allCases.map(\.rawValue))
    words.formUnion(ShapeSize.allCases.map(\.rawValue))
    return words.sorted()
  }()

  /// What a Shapes question asks about: "count", "colour", "shape", "size", "existence" or "relation"
  /// (VQAv2's `question_type`, for per-type accuracy).
  public static func questionType(of question: String) -> String {
    if question.hasPrefix("how many") { return "count" }
    if question.hasPrefix("what colour") { return "colour" }
    if question.hasPrefix("what shape") { return "shape" }
    if question.hasPrefix("what size") { return "size" }
    if question.hasPrefix("is there") { return "existence" }
    return "relation"
  }

  /// VQAv2's `answer_type` of a Shapes question: "yes/no", "number" or "other".
  public static func answerType(of question: String) -> String {
    switch questionType(of: question) {
    case "count": "number"
    case "existence", "relation": "yes/no"
    default: "other"
    }
  }

  // MARK: - Noun phrases

  /// "a large red circle" / "an orange star" (with or without the size).
  static func nounPhrase(_ shape: PlacedShape, withSize: Bool) -> String {
    let words = (withSize ? [shape.size.rawValue] : []) + [shape.colour.rawValue, shape.kind.rawValue]
    return article(before: words[0]) + " " + words.joined(separator: " ")
  }

  private static func article(before word: String) -> String {
    "aeiou".contains(word.first ?? "x") ? "an" : "a"
  }

  /// Where the shape's centre lies: "top left", "middle", "bottom" ...
  static func region(_ shape: PlacedShape) -> String {
    let vertical = shape.y < 0.36 ? "top" : (shape.y > 0.64 ? "bottom" : "")
    let horizontal = shape.x < 0.36 ? "left" : (shape.x > 0.64 ? "right" : "")
    switch (vertical.isEmpty, horizontal.isEmpty) {
    case (true, true): return "middle"
    case (false, true): return vertical
    case (true, false): return horizontal
    case (false, false): return "\(vertical) \(horizontal)"
    }
  }

  // MARK: - Captions

  /// `captionsPerImage` distinct captions of `scene` (fewer only if the grammar cannot make that many).
  static func captions(_ scene: Scene, _ rng: inout RandomGenerator) -> [String] {
    var pool = candidateCaptions(scene, &rng)
    rng.shuffle(&pool)
    var chosen: [String] = []
    for caption in pool where !chosen.contains(caption) {
      chosen.append(caption)
      if chosen.count == captionsPerImage { break }
    }
    return chosen
  }

  private static func candidateCaptions(_ scene: Scene, _ rng: inout RandomGenerator) -> [String] {
    let shapes = scene.shapes
    let phrase = { (shape: PlacedShape, rng: inout RandomGenerator) in
      nounPhrase(shape, withSize: rng.nextInt(below: 2) == 0)
    }
    var captions: [String] = []
    switch shapes.count {
    case 0:
      captions = ["an empty dark background"]
    case 1:
      let shape = shapes[0]
      captions = [
        nounPhrase(shape, withSize: true),
        nounPhrase(shape, withSize: false),
        "\(nounPhrase(shape, withSize: true)) on a dark background",
        "there is \(nounPhrase(shape, withSize: false)) in the image",
        "one shape: \(nounPhrase(shape, withSize: true))",
        "\(nounPhrase(shape, withSize: false)) in the \(region(shape))",
        "a picture of \(nounPhrase(shape, withSize: true))",
      ]
    default:
      let count = numberWords[min(shapes.count, numberWords.count - 1)]
      let phrases = shapes.map { phrase($0, &rng) }
      let list = phrases.count == 2
        ? "\(phrases[0]) and \(phrases[1])"
        : phrases.dropLast().joined(separator: ", ") + " and " + (phrases.last ?? "")
      captions = [
        "\(count) shapes: \(list)",
        list,
        "there are \(count) shapes, \(list)",
        "\(list) on a dark background",
      ]
      // Relations between pairs, each stated along its clearer axis.
      for i in shapes.indices {
        for j in shapes.indices where i != j {
          let relation = Relation.dominant(shapes[i], shapes[j])
          captions.append("\(phrase(shapes[i], &rng)) \(relation.rawValue) \(phrase(shapes[j], &rng))")
        }
      }
      if shapes.count == 2 {
        captions.append("\(phrase(shapes[0], &rng)) next to \(phrase(shapes[1], &rng))")
      }
      let largest = shapes.filter { $0.size == .large }
      if largest.count == 1, let big = largest.first {
        captions.append("\(count) shapes, the large one is \(nounPhrase(big, withSize: false))")
      }
    }
    return captions
  }

  // MARK: - Questions

  /// One question of each applicable type, with annotator answers (`noise`: the chance each annotator gives a
  /// wrong answer of the same type). `forbidden` combinations are never named (they are held out).
  static func questions(
    _ scene: Scene, noise: Double, forbidden: Set<Combination>, _ rng: inout RandomGenerator
  ) -> [QuestionAnswer] {
    let shapes = scene.shapes
    guard !shapes.isEmpty else { return [] }
    var items: [(question: String, answer: String, choices: [String])] = []
    let yesNo = ["yes", "no"]

    items.append(("how many shapes are there?", numberWords[min(shapes.count, 4)], Array(numberWords[1...3])))
    let target = shapes[rng.nextInt(below: shapes.count)]
    items.append(("what colour is the \(target.kind.rawValue)?", target.colour.rawValue,
                  ShapeColour.allCases.map(\.rawValue)))
    let other = shapes[rng.nextInt(below: shapes.count)]
    items.append(("what shape is \(other.colour.rawValue)?", other.kind.rawValue, ShapeKind.allCases.map(\.rawValue)))
    let sized = shapes[rng.nextInt(below: shapes.count)]
    items.append(("what size is the \(sized.kind.rawValue)?", sized.size.rawValue, ShapeSize.allCases.map(\.rawValue)))

    // Existence: half the time a present combination, otherwise an absent one (never a forbidden one).
    let present = Set(shapes.map(\.combination))
    let absent = Combination.all.filter { !present.contains($0) && !forbidden.contains($0) }
    if rng.nextInt(below: 2) == 0 || absent.isEmpty {
      let shape = shapes[rng.nextInt(below: shapes.count)]
      items.append(("is there \(nounPhrase(shape, withSize: false))?", "yes", yesNo))
    } else {
      let pick = absent[rng.nextInt(below: absent.count)]
      items.append(("is there \(article(before: pick.colour.rawValue)) \(pick)?", "no", yesNo))
    }

    // Relative position between two shapes, along an axis where it is clear.
    if shapes.count >= 2 {
      var pairs: [(PlacedShape, PlacedShape, Relation)] = []
      for a in shapes {
        for b in shapes where a != b {
          for relation in Relation.allCases where relation.separation(a, b) >= clearSeparation {
            pairs.append((a, b, relation))
          }
        }
      }
      if !pairs.isEmpty {
        let (a, b, relation) = pairs[rng.nextInt(below: pairs.count)]
        items.append(("is the \(a.kind.rawValue) \(relation.questionWords) the \(b.kind.rawValue)?",
                      relation.holds(a, b) ? "yes" : "no", yesNo))
      }
    }

    return items.map { item in
      let answers = (0..<answersPerQuestion).map { _ -> String in
        guard noise > 0, rng.nextDouble() < noise else { return item.answer }
        let wrong = item.choices.filter { $0 != item.answer }
        return wrong.isEmpty ? item.answer : wrong[rng.nextInt(below: wrong.count)]
      }
      return QuestionAnswer(question: item.question, answers: answers, questionType: questionType(of: item.question))
    }
  }
}
