// Shapes: the built-in procedural dataset. Every example is a pure function of (seed, split, index): a scene is
// sampled from a generator seeded with those three, drawn, captioned and questioned, so any example costs the
// same O(1) work and nothing is cached.

import Blip2Core
import Foundation

/// Errors in a Shapes configuration.
public enum ShapesError: Error, LocalizedError, Equatable {
  /// A held-out combination that is not "<colour> <kind>".
  case unknownCombination(String, colours: [String], kinds: [String])
  /// The held-out combinations leave nothing to train on.
  case nothingLeftToTrain
  /// An index outside the split.
  case indexOutOfRange(split: Split, index: Int, count: Int)

  /// What was wrong and what to do.
  public var errorDescription: String? {
    switch self {
    case let .unknownCombination(text, colours, kinds):
      return "data.shapes: held-out combination \"\(text)\" is not \"<colour> <kind>\"; colours: "
        + colours.joined(separator: ", ") + "; kinds: " + kinds.joined(separator: ", ")
    case .nothingLeftToTrain:
      return "data.shapes: the held-out combinations cover every colour-kind pair; leave some for training"
    case let .indexOutOfRange(split, index, count):
      return "data.shapes: example \(index) of split \(split.rawValue) does not exist (it has \(count))"
    }
  }
}

/// A procedural dataset of images holding one to `maxShapes` coloured shapes, with captions and
/// question/answer pairs. Immutable, so it can be shared across threads.
///
/// The held-out split is for zero-shot generalization: its images always contain at least one of the held-out
/// (colour, kind) combinations, which never appear in the train, val or test images (nor in their text).
///
/// Answers are words ("two", "red", "yes"), as a language model would say them; VQAv2's answers were normalized
/// when that dataset was built ("2"), so score Shapes with `VQAAccuracy.evaluate(_:normalizeReferences: true)`
/// (`blip2lab metrics vqa --normalize-references`). `ShapesLanguage.questionType(of:)` and `answerType(of:)`
/// give the per-type breakdown.
public final class ShapesDataset: Dataset {
  /// The settings (config keys of `data.shapes`).
  public struct Configuration: Sendable, Equatable {
    /// Examples in the train split.
    public var train = 20_000
    /// Examples in the val split.
    public var val = 1_000
    /// Examples in the test split.
    public var test = 1_000
    /// Examples in the held-out split (0 if there are no held-out combinations).
    public var heldOut = 1_000
    /// Seed of the whole dataset.
    public var seed: UInt64 = 0
    /// Side of the square images, in pixels.
    public var imageSize = 64
    /// At most this many shapes per image (at least one).
    public var maxShapes = 3
    /// Chance that an annotator gives a wrong answer (0: all ten answers agree).
    public var answerNoise = 0.0
    /// The (colour, kind) combinations reserved for the held-out split.
    public var heldOutCombinations = ShapesDataset.defaultHeldOut

    /// The defaults.
    public init() {}
  }

  /// One combination per kind, so every kind and most colours still appear in training, just not together.
  public static let defaultHeldOut: [Combination] = [
    Combination(.green, .triangle), Combination(.purple, .circle), Combination(.yellow, .square),
    Combination(.blue, .star), Combination(.orange, .cross),
  ]

  /// Every word captions, questions and answers can contain (for building a `WordTokenizer`).
  public static var vocabulary: [String] { ShapesLanguage.vocabulary }

  /// The settings it was made with.
  public let configuration: Configuration
  /// The combinations the train, val and test images are made of.
  public let trainingCombinations: [Combination]
  private let forbidden: Set<Combination>
  /// Each tag's position in `tagVocabulary` (made once: `tags` looks them up for every training image).
  private let tagPositions: [String: Int]

  /// A dataset with `configuration`.
  /// - Throws: `ShapesError.nothingLeftToTrain` if the held-out combinations cover every pair.
  public init(_ configuration: Configuration = Configuration()) throws {
    var configuration = configuration
    let forbidden = Set(configuration.heldOutCombinations)
    self.forbidden = forbidden
    self.trainingCombinations = Combination.all.filter { !forbidden.contains($0) }
    if trainingCombinations.isEmpty { throw ShapesError.nothingLeftToTrain }
    if configuration.heldOutCombinations.isEmpty { configuration.heldOut = 0 }
    self.configuration = configuration
    tagPositions = Dictionary(uniqueKeysWithValues: Self.tagVocabulary(maxShapes: configuration.maxShapes).enumerated().map { ($1, $0) })
  }

  /// E.g. `shapes(seed 0, 64px, 1-3 shapes, 5 held out)`, with the noise when there is some.
  public var name: String {
    let c = configuration
    let noise = c.answerNoise > 0 ? ", noise \(c.answerNoise)" : ""
    let held = c.heldOutCombinations == Self.defaultHeldOut
      ? "\(c.heldOutCombinations.count) held out"
      : "held out " + c.heldOutCombinations.map(\.description).joined(separator: "/")
    return "shapes(seed \(c.seed), \(c.imageSize)px, 1-\(c.maxShapes) shapes, \(held)\(noise))"
  }

  /// Side of the images in pixels.
  public var imageSize: Int { configuration.imageSize }

  /// 8 hex digits identifying everything that shapes an example (FNV-1a of `name`), so example ids from
  /// differently configured datasets do not collide in a feature cache (barring a 32-bit hash collision).
  public var fingerprint: String {
    var hash: UInt32 = 2_166_136_261
    for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 8 - hex.count) + hex
  }

  /// Examples in `split`.
  public func count(_ split: Split) -> Int {
    switch split {
    case .train: configuration.train
    case .val: configuration.val
    case .test: configuration.test
    case .heldOut: configuration.heldOut
    }
  }

  /// Example `index` of `split`, generated on the spot.
  /// - Throws: `ShapesError.indexOutOfRange` for an index outside the split.
  public func example(_ split: Split, _ index: Int) throws -> Example {
    let scene = try self.scene(split, index)
    let text = text(of: scene, split, index)
    return Example(id: "shapes-\(fingerprint)-\(split.rawValue)-\(index)",
                   image: Rasterizer.draw(scene, size: configuration.imageSize),
                   captions: text.captions, questions: text.questions)
  }

  /// The captions and questions of example `index` of `split`, without drawing its image.
  public func text(_ split: Split, _ index: Int) throws -> ExampleText {
    text(of: try scene(split, index), split, index)
  }

  private func text(of scene: Scene, _ split: Split, _ index: Int) -> ExampleText {
    var rng = RandomGenerator(seed: Self.exampleSeed(configuration.seed, split: split, index: index) ^ 0x7465_7874)
    let captions = ShapesLanguage.captions(scene, &rng)
    let questions = ShapesLanguage.questions(
      scene, noise: configuration.answerNoise, forbidden: split == .heldOut ? [] : forbidden, &rng)
    return ExampleText(captions: captions, questions: questions)
  }

  /// The scene behind example `index` of `split` (what tests and renderers check the text against).
  /// - Throws: `ShapesError.indexOutOfRange` for an index outside the split.
  public func scene(_ split: Split, _ index: Int) throws -> Scene {
    guard index >= 0, index < count(split) else {
      throw ShapesError.indexOutOfRange(split: split, index: index, count: count(split))
    }
    var rng = RandomGenerator(seed: Self.exampleSeed(configuration.seed, split: split, index: index))
    if split == .heldOut {
      let held = configuration.heldOutCombinations
      let required = held[rng.nextInt(below: held.count)]
      return Scene.sample(&rng, maxShapes: configuration.maxShapes, allowed: Combination.all, required: required)
    }
    return Scene.sample(&rng, maxShapes: configuration.maxShapes, allowed: trainingCombinations, required: nil)
  }

  /// A well-mixed 64-bit seed for one example (SplitMix64's finalizer over seed, split and index), so nearby
  /// seeds and indices give unrelated streams.
  static func exampleSeed(_ seed: UInt64, split: Split, index: Int) -> UInt64 {
    let splitCode: UInt64 = switch split {
    case .train: 1
    case .val: 2
    case .test: 3
    case .heldOut: 4
    }
    var z = seed &* 0x9E37_79B9_7F4A_7C15
    z ^= splitCode &* 0xC2B2_AE3D_27D4_EB4F
    z ^= UInt64(truncatingIfNeeded: index) &* 0x1656_67B1_9E37_79F9
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

extension ShapesDataset: ProbeLabelledDataset {
  /// The number of shapes on every image; a lone shape's kind, colour and size on images holding one shape
  /// (with several, which shape a pooled feature speaks of is ambiguous).
  public func probeLabels(_ split: Split, _ index: Int) throws -> [String: String] {
    let shapes = try scene(split, index).shapes
    var labels = ["count": "\(shapes.count)"]
    if shapes.count == 1, let shape = shapes.first {
      labels["kind"] = shape.kind.rawValue
      labels["colour"] = shape.colour.rawValue
      labels["size"] = shape.size.rawValue
    }
    return labels
  }
}

extension ShapesDataset: ImageTaggedDataset {
  /// Each kind, each colour, each colour-kind pair (the binding of the two), each size-kind pair, and the shape
  /// count: the image-level labels an ImageNet-style encoder would be trained on.
  public var tagVocabulary: [String] { Self.tagVocabulary(maxShapes: configuration.maxShapes) }

  static func tagVocabulary(maxShapes: Int) -> [String] {
    ShapeKind.allCases.map { "kind \($0.rawValue)" } + ShapeColour.allCases.map { "colour \($0.rawValue)" }
      + Combination.all.map(\.description)
      + ShapeSize.allCases.flatMap { size in ShapeKind.allCases.map { "\(size.rawValue) \($0.rawValue)" } }
      + (1...max(maxShapes, 1)).map { "count \($0)" }
  }

  /// The tags of the shapes in the scene of example `index` (positions in `tagVocabulary`, each once).
  public func tags(_ split: Split, _ index: Int) throws -> [Int] {
    let shapes = try scene(split, index).shapes
    var names = ["count \(shapes.count)"]
    for shape in shapes {
      names += ["kind \(shape.kind.rawValue)", "colour \(shape.colour.rawValue)", shape.combination.description,
                "\(shape.size.rawValue) \(shape.kind.rawValue)"]
    }
    return Set(names.compactMap { tagPositions[$0] }).sorted()
  }
}
