// Stage 2 learns what it is trained on: four Shapes images with their captions, a frozen random ViT and a small
// LM pre-trained on the captions as text only; after stage 2 (only the bridge and the projection train), greedy
// decoding after each image's soft prompt describes that image: it names its shapes (colour and kind) and no
// others. The four images hold different shapes, so this needs the image: an LM that ignored the soft prompt
// would describe all four alike.

import Blip2Core
import DecoderLM
import Foundation
import LabKit
import QFormer
import Shapes
import Tensor
import Testing
import ViT

/// The first `size` Shapes training images, each with its first `captions` captions and no questions.
private final class FirstCaptions: Dataset, @unchecked Sendable {
  let shapes: ShapesDataset
  let size: Int
  let captions: Int
  init(_ size: Int, captions: Int) throws {
    self.captions = captions
    var c = ShapesDataset.Configuration()
    (c.train, c.val, c.test, c.heldOut) = (size, 0, 0, 0)
    shapes = try ShapesDataset(c)
    self.size = size
  }
  var name: String { "first captions of " + shapes.name }
  var imageSize: Int { shapes.imageSize }
  func count(_ split: Split) -> Int { split == .train ? size : 0 }
  func example(_ split: Split, _ index: Int) throws -> Example {
    var example = try shapes.example(split, index)
    example.captions = Array(example.captions.prefix(captions))
    example.questions = []
    return example
  }
}

@Suite("Stage 2 learns")
struct Stage2LearningTests {
  /// Pre-trains a small LM on `data`'s text corpus, composes it with a random frozen ViT and `bridge`, trains
  /// stage 2, and returns the greedy caption of every training image and the expected ones.
  func trainAndCaption(bridge: (Int) throws -> any Bridge) throws -> (generated: [String], expected: [[String]], loss: Float) {
    let data = try FirstCaptions(4, captions: 5)
    let tokenizer = builtInTokenizer()
    var lmConfiguration = DecoderLMConfiguration()
    (lmConfiguration.vocabularySize, lmConfiguration.width, lmConfiguration.layers, lmConfiguration.heads,
     lmConfiguration.feedForwardWidth, lmConfiguration.maxPositions) = (tokenizer.vocabularySize, 64, 3, 2, 256, 96)
    let lm = try DecoderLM(lmConfiguration, tokenizer: tokenizer, seed: 5)
    try FrozenPartsPretraining(cacheDirectory: nil).pretrainLanguageModel(
      lm, texts: try FrozenPartsPretraining.languageCorpus(data), corpusName: data.name,
      settings: TrainerSettings(steps: 800, batchSize: 8, learningRate: 3e-3, seed: 1))
    let encoder = try VisionTransformer(VisionTransformerConfiguration(width: 64, layers: 2, heads: 2), seed: 2)
    let model = Blip2Model(encoder: encoder, bridge: try bridge(encoder.featureDim), languageModel: lm, seed: 3)
    let run = Run(name: "four", directory: nil, model: model, data: data, seed: 1)
    run.log = { _ in }
    let state = try run.stage2(settings: TrainerSettings(steps: 1500, batchSize: 4, learningRate: 3e-3))
    let examples = try (0..<4).map { try data.example(.train, $0) }
    var rng = RandomGenerator(seed: 0)
    model.bridge.module.eval()
    let generated = try model.generate(features: try model.imageFeatures(examples), prompts: Array(repeating: "", count: 4),
                                       options: GenerationOptions(maxTokens: 30), rng: &rng)
    let expected = examples.map { $0.captions.map { tokenizer.decode(tokenizer.encode($0)) } }
    return (generated, expected, state.lastLosses["lm"] ?? .nan)
  }

  /// The "colour kind" pairs a caption names ("a large red circle" names red circle).
  static func namedShapes(_ caption: String) -> Set<String> {
    let words = caption.split(whereSeparator: { !$0.isLetter }).map(String.init)
    let colours = Set(ShapeColour.allCases.map(\.rawValue)), kinds = Set(ShapeKind.allCases.map(\.rawValue))
    return Set(zip(words, words.dropFirst()).filter { colours.contains($0.0) && kinds.contains($0.1) }.map { "\($0.0) \($0.1)" })
  }

  /// Each image's generated caption names at least one shape and only shapes of its own image (the four
  /// images' shapes differ, so an LM that ignored the soft prompt could not pass). Wording may differ from the
  /// references: the grammar has many captions per scene and the bridge learns the scene, not one sentence.
  func check(_ result: (generated: [String], expected: [[String]], loss: Float)) {
    for (generated, references) in zip(result.generated, result.expected) {
      let named = Self.namedShapes(generated), scene = references.reduce(into: Set<String>()) { $0.formUnion(Self.namedShapes($1)) }
      #expect(!named.isEmpty && named.isSubset(of: scene),
              "\"\(generated)\" names \(named.sorted()); the image holds \(scene.sorted()) (final loss \(result.loss))")
    }
  }

  @Test("after stage 2 the Q-Former's soft prompt makes the frozen LM describe each training image")
  func qformer() throws {
    let result = try trainAndCaption { width in
      var c = QFormerConfiguration(hidden: 64, layers: 2, heads: 2, intermediate: 128, queries: 8, crossEvery: 1,
                                   imageWidth: width, vocabularySize: builtInTokenizer().vocabularySize, dropout: 0,
                                   embedDim: 32)
      c.initStd = 0.1
      let qformer = try QFormer(c, seed: 4)
      try qformer.setTokenizer(builtInTokenizer())
      return qformer
    }
    check(result)
  }
}
