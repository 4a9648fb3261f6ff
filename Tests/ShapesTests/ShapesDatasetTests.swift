import Foundation
import Testing

@testable import Blip2Core
@testable import Shapes

private func dataset(_ configure: (inout ShapesDataset.Configuration) -> Void = { _ in }) throws -> ShapesDataset {
  var configuration = ShapesDataset.Configuration()
  configure(&configuration)
  return try ShapesDataset(configuration)
}

/// The shape of `kind` in `scene` (kinds are distinct within a scene).
private func shape(_ kind: String, in scene: Scene) -> PlacedShape? { scene.shapes.first { $0.kind.rawValue == kind } }

@Suite("Shapes dataset")
struct ShapesDatasetTests {
  @Test("the same seed gives the same pixels, captions and questions; another seed differs")
  func determinism() throws {
    let a = try dataset(), b = try dataset()
    let c = try dataset { $0.seed = 1 }
    for index in [0, 1, 17, 19_999] {
      #expect(try a.example(.train, index) == b.example(.train, index))
    }
    let differing = try (0..<20).filter { try a.example(.train, $0).image != c.example(.train, $0).image }
    #expect(differing.count >= 19)
    #expect(try a.example(.train, 0).image != a.example(.train, 1).image)
    #expect(try a.example(.train, 5).image != a.example(.val, 5).image)
  }

  @Test("pinned example: a change to the generator shows up here, not as a silent change of every run")
  func pinnedExample() throws {
    let example = try dataset().example(.train, 0)
    #expect(example.id == "shapes-\(try dataset().fingerprint)-train-0")
    #expect(try dataset().fingerprint != dataset { $0.imageSize = 32 }.fingerprint)
    #expect(example.image.width == 64 && example.image.pixels.count == 3 * 64 * 64)
    #expect(example.image.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
    #expect(example.captions.count == ShapesLanguage.captionsPerImage)
    #expect(example.questions.allSatisfy { $0.answers.count == 10 })
    #expect(example.captions[0] == "a white triangle, a small purple square and an orange star on a dark background")
    #expect(abs(example.image.pixels.reduce(0, +) - 998.906) < 0.01)
    #expect(example.questions.map(\.question).last == "is the square below the star?")
    let heldOut = try dataset().example(.heldOut, 3)
    #expect(heldOut.captions[0] == "a small red square below a purple circle")
    #expect(abs(heldOut.image.pixels.reduce(0, +) - 1809.740) < 0.01)
  }

  @Test("held-out combinations never appear in train, val or test images or text, and always in held-out ones")
  func heldOut() throws {
    let data = try dataset()
    let held = Set(ShapesDataset.defaultHeldOut)
    let heldText = ShapesDataset.defaultHeldOut.map(\.description)
    for split in [Split.train, .val, .test] {
      for index in 0..<400 {
        let scene = try data.scene(split, index)
        #expect(scene.shapes.allSatisfy { !held.contains($0.combination) }, "\(split) \(index)")
        let example = try data.example(split, index)
        let text = (example.captions + example.questions.map(\.question)).joined(separator: " | ")
        for combination in heldText {
          // "green triangle" never appears, though "green" and "triangle" may, separately or with a size between.
          #expect(!text.contains(combination), "\(split) \(index): \(text)")
        }
      }
    }
    for index in 0..<200 {
      let scene = try data.scene(.heldOut, index)
      #expect(scene.shapes.contains { held.contains($0.combination) }, "heldOut \(index)")
    }
  }

  @Test("scenes: 1 to maxShapes shapes, distinct kinds and colours, inside the image, not overlapping")
  func sceneRules() throws {
    let data = try dataset { $0.maxShapes = 3 }
    var counts = Set<Int>()
    for index in 0..<300 {
      let shapes = try data.scene(.train, index).shapes
      counts.insert(shapes.count)
      #expect((1...3).contains(shapes.count))
      #expect(Set(shapes.map(\.kind)).count == shapes.count && Set(shapes.map(\.colour)).count == shapes.count)
      for s in shapes {
        #expect(s.x - s.size.radius >= 0 && s.x + s.size.radius <= 1 && s.y - s.size.radius >= 0 && s.y + s.size.radius <= 1)
        for t in shapes where s != t {
          let distance = ((s.x - t.x) * (s.x - t.x) + (s.y - t.y) * (s.y - t.y)).squareRoot()
          #expect(distance >= s.size.radius + t.size.radius)
        }
      }
    }
    #expect(counts == [1, 2, 3])
  }

  @Test("the pixel at each shape's centre has the shape's colour")
  func pixelsShowTheShapes() throws {
    let data = try dataset()
    for index in 0..<50 {
      let scene = try data.scene(.train, index), image = try data.example(.train, index).image
      let plane = image.width * image.height
      for s in scene.shapes where s.kind != .cross && s.kind != .star {  // their centres are solid too, but thin
        let column = Int(s.x * Float(image.width)), row = Int(s.y * Float(image.height))
        let i = row * image.width + column
        let pixel = (image.pixels[i], image.pixels[plane + i], image.pixels[2 * plane + i])
        #expect(abs(pixel.0 - s.rgb.0) < 1e-5 && abs(pixel.1 - s.rgb.1) < 1e-5 && abs(pixel.2 - s.rgb.2) < 1e-5)
      }
    }
  }

  @Test("relation captions agree with the shapes' positions")
  func captionsDescribeTheImage() throws {
    let data = try dataset()
    var checked = 0
    for index in 0..<300 {
      let scene = try data.scene(.train, index), example = try data.example(.train, index)
      for caption in example.captions {
        // Every colour-kind pair named is in the image.
        let words = caption.replacingOccurrences(of: ":", with: "").replacingOccurrences(of: ",", with: "")
          .split(separator: " ").map(String.init)
        for (i, word) in words.enumerated() where ShapeKind(rawValue: word) != nil && i > 0 {
          guard let colour = ShapeColour(rawValue: words[i - 1]) else { continue }
          #expect(scene.shapes.contains { $0.kind.rawValue == word && $0.colour == colour }, "\(caption)")
        }
        for relation in Relation.allCases where caption.contains(" \(relation.rawValue) ") {
          let parts = caption.components(separatedBy: " \(relation.rawValue) ")
          guard let left = parts.first?.split(separator: " ").last, let right = parts.last?.split(separator: " ").last,
            let a = shape(String(left), in: scene), let b = shape(String(right), in: scene)
          else {
            Issue.record("cannot read \(caption)")
            continue
          }
          #expect(Relation.dominant(a, b) == relation, "\(caption): \(a) vs \(b)")
          checked += 1
        }
        if caption.hasPrefix("two shapes") { #expect(scene.shapes.count == 2) }
        if caption.hasPrefix("three shapes") { #expect(scene.shapes.count == 3) }
      }
    }
    #expect(checked > 100)
  }

  @Test("question answers are correct for the scene")
  func answersAreCorrect() throws {
    let data = try dataset()
    let numbers = ["one", "two", "three", "four"]
    for index in 0..<300 {
      let scene = try data.scene(.train, index), example = try data.example(.train, index)
      for qa in example.questions {
        #expect(Set(qa.answers).count == 1, "no noise by default")
        let q = qa.question, answer = qa.answers[0]
        let words = q.dropLast().split(separator: " ").map(String.init)
        if q == "how many shapes are there?" {
          #expect(answer == numbers[scene.shapes.count - 1])
        } else if q.hasPrefix("what colour is the ") {
          #expect(shape(words[4], in: scene)?.colour.rawValue == answer, "\(q)")
        } else if q.hasPrefix("what shape is ") {
          #expect(scene.shapes.first { $0.colour.rawValue == words[3] }?.kind.rawValue == answer, "\(q)")
        } else if q.hasPrefix("what size is the ") {
          #expect(shape(words[4], in: scene)?.size.rawValue == answer, "\(q)")
        } else if q.hasPrefix("is there ") {
          let present = scene.shapes.contains { $0.colour.rawValue == words[3] && $0.kind.rawValue == words[4] }
          #expect(answer == (present ? "yes" : "no"), "\(q)")
        } else if q.hasPrefix("is the ") {
          let a = try #require(shape(words[2], in: scene)), b = try #require(shape(words.last ?? "", in: scene))
          let relation: Relation = q.contains("left of") ? .leftOf : q.contains("right of") ? .rightOf
            : q.contains("above") ? .above : .below
          #expect(answer == (relation.holds(a, b) ? "yes" : "no"), "\(q)")
          #expect(relation.separation(a, b) >= ShapesLanguage.clearSeparation)
        } else {
          Issue.record("unexpected question \(q)")
        }
      }
    }
  }

  @Test("right answers score 100 with VQA accuracy on normalized references; every question type occurs")
  func vqaScoring() throws {
    let data = try dataset()
    var items: [VQAItem] = []
    for index in 0..<60 {
      for qa in try data.example(.val, index).questions {
        items.append(VQAItem(prediction: qa.answers[0], answers: qa.answers,
                             answerType: ShapesLanguage.answerType(of: qa.question),
                             questionType: ShapesLanguage.questionType(of: qa.question)))
      }
    }
    let scores = VQAAccuracy.evaluate(items, normalizeReferences: true)
    #expect(scores.overall == 100)
    #expect(Set(scores.perQuestionType.keys) == ["count", "colour", "shape", "size", "existence", "relation"])
    #expect(Set(scores.perAnswerType.keys) == ["number", "yes/no", "other"])
  }

  @Test("answer noise changes some annotators' answers, never most of them")
  func answerNoise() throws {
    let data = try dataset { $0.answerNoise = 0.2 }
    var noisy = 0, total = 0
    for index in 0..<100 {
      for qa in try data.example(.train, index).questions {
        let counts = Dictionary(grouping: qa.answers, by: { $0 }).mapValues(\.count)
        let majority = counts.values.max() ?? 0
        noisy += 10 - majority
        total += 10
      }
    }
    #expect(Double(noisy) / Double(total) > 0.05 && Double(noisy) / Double(total) < 0.35)
  }

  @Test("every word of every caption, question and answer is in the vocabulary")
  func vocabularyCoversTheText() throws {
    let data = try dataset { $0.maxShapes = 4 }
    let vocabulary = Set(ShapesDataset.vocabulary)
    for split in Split.allCases {
      for index in 0..<150 {
        let example = try data.example(split, index)
        let text = example.captions + example.questions.flatMap { [$0.question] + $0.answers }
        for sentence in text {
          for word in WordTokenizer.split(sentence) { #expect(vocabulary.contains(word), "\(word) in \(sentence)") }
        }
      }
    }
  }

  @Test("registry: data.shapes builds from config keys; unknown keys and bad combinations are errors")
  func registry() throws {
    var registry = Registry()
    try ShapesPlugin.register(into: &registry)
    let built: ShapesDataset = try registry.make(
      .data, "shapes",
      config: ["train": 10, "val": 2, "test": 3, "heldOut": 4, "seed": 7, "imageSize": 32, "maxShapes": 2,
               "answerNoise": 0.1, "heldOutCombinations": ["red circle", "blue square"]],
      as: ShapesDataset.self)
    #expect(built.count(.train) == 10 && built.count(.heldOut) == 4 && built.imageSize == 32)
    #expect(built.configuration.heldOutCombinations == [Combination(.red, .circle), Combination(.blue, .square)])
    #expect(try built.example(.test, 2).image.width == 32)
    #expect(throws: ShapesError.self) { try built.example(.train, 10) }
    #expect(throws: ConfigError.self) {
      let _: ShapesDataset = try registry.make(.data, "shapes", config: ["trian": 10], as: ShapesDataset.self)
    }
    #expect(throws: ShapesError.self) {
      let _: ShapesDataset = try registry.make(.data, "shapes", config: ["heldOutCombinations": ["pink circle"]],
                                               as: ShapesDataset.self)
    }
    #expect(throws: ConfigError.self) {
      let _: ShapesDataset = try registry.make(.data, "shapes", config: ["imageSize": 16], as: ShapesDataset.self)
    }
  }

  @Test("a tokenizer over the vocabulary round-trips the grammar's sentences")
  func tokenizerRoundTrip() throws {
    let tokenizer = WordTokenizer(words: ShapesDataset.vocabulary)
    let data = try dataset()
    for index in 0..<100 {
      let example = try data.example(.train, index)
      for sentence in example.captions + example.questions.map(\.question) {
        let ids = tokenizer.encode(sentence)
        #expect(!ids.contains(tokenizer.unknownId))
        #expect(tokenizer.decode(ids) == sentence)
      }
    }
  }

  @Test("probe labels: every image's shape count; a lone shape's kind, colour and size, named as captions name them")
  func probeLabels() throws {
    let data = try dataset { $0.train = 60 }
    var lone = 0
    for index in 0..<60 {
      let scene = try data.scene(.train, index), labels = try data.probeLabels(.train, index)
      #expect(labels["count"] == "\(scene.shapes.count)")
      if scene.shapes.count == 1 {
        lone += 1
        let shape = scene.shapes[0]
        #expect(labels == ["count": "1", "kind": shape.kind.rawValue, "colour": shape.colour.rawValue, "size": shape.size.rawValue])
        let captions = try data.text(.train, index).captions.joined(separator: " ")
        #expect(captions.contains(shape.kind.rawValue) && captions.contains(shape.colour.rawValue))
      } else {
        #expect(labels.count == 1, "which shape a pooled feature speaks of is ambiguous with several")
      }
    }
    #expect(lone > 5 && lone < 40)
  }

  @Test("tags: each shape's kind, colour, colour-kind and size-kind pair, and the count, each once, from a fixed vocabulary")
  func tags() throws {
    let data = try dataset { $0.train = 40 }
    let vocabulary = data.tagVocabulary
    #expect(vocabulary.count == 5 + 7 + 35 + 10 + 3 && Set(vocabulary).count == vocabulary.count)
    #expect(vocabulary.contains("red circle") && vocabulary.contains("kind star") && vocabulary.contains("large cross"))
    for index in 0..<40 {
      let scene = try data.scene(.train, index), tags = try data.tags(.train, index)
      #expect(tags == tags.sorted() && Set(tags).count == tags.count)
      var expected: Set<String> = ["count \(scene.shapes.count)"]
      for shape in scene.shapes {
        expected.formUnion(["kind \(shape.kind.rawValue)", "colour \(shape.colour.rawValue)",
                            "\(shape.colour.rawValue) \(shape.kind.rawValue)", "\(shape.size.rawValue) \(shape.kind.rawValue)"])
      }
      #expect(Set(tags.map { vocabulary[$0] }) == expected, "image \(index)")
    }
  }
}
