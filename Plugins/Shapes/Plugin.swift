// Shapes: a Blip2Lab plugin. Registers `data.shapes`, the built-in procedural dataset of coloured shapes with
// captions, questions and a held-out split of unseen colour-kind combinations.

import Blip2Core
import Tensor

/// Registration of the Shapes dataset.
public enum ShapesPlugin {
  /// Registers `data.shapes`.
  ///
  /// Config keys (all optional): `train`, `val`, `test`, `heldOut` (examples per split; defaults 20000, 1000,
  /// 1000, 1000), `seed` (default: the build context's), `imageSize` (32...224, default 64), `maxShapes`
  /// (1...4, default 3), `answerNoise` (0...1, the chance an annotator answers wrongly; default 0),
  /// `heldOutCombinations` (a list of "<colour> <kind>", default `ShapesDataset.defaultHeldOut`);
  /// `captionNoise`, `captionNoiseKinds`, `captionNoiseSeed` (noisy training captions, see `withCaptionNoise`).
  public static func register(into registry: inout Registry) throws {
    let summary = "procedural coloured shapes with captions, questions and a held-out split"
    try registry.register(.data, "shapes", summary: summary) { config, context in
      try withCaptionNoise(try ShapesDataset(try configuration(config, defaultSeed: context.seed)), config)
    }
  }

  /// Reads a configuration from the config keys listed in `register(into:)`.
  public static func configuration(_ config: ConfigReader, defaultSeed: UInt64 = 0) throws -> ShapesDataset.Configuration {
    var c = ShapesDataset.Configuration()
    c.train = try config.int("train", default: c.train, range: 0...10_000_000)
    c.val = try config.int("val", default: c.val, range: 0...10_000_000)
    c.test = try config.int("test", default: c.test, range: 0...10_000_000)
    c.heldOut = try config.int("heldOut", default: c.heldOut, range: 0...10_000_000)
    c.seed = UInt64(truncatingIfNeeded: try config.int("seed", default: Int(truncatingIfNeeded: defaultSeed)))
    c.imageSize = try config.int("imageSize", default: c.imageSize, range: 32...224)
    c.maxShapes = try config.int("maxShapes", default: c.maxShapes, range: 1...4)
    c.answerNoise = try config.double("answerNoise", default: c.answerNoise, range: 0...1)
    let held = try config.stringList("heldOutCombinations", default: c.heldOutCombinations.map(\.description))
    c.heldOutCombinations = try held.map { text in
      guard let combination = Combination(text) else {
        throw ShapesError.unknownCombination(text, colours: ShapeColour.allCases.map(\.rawValue),
                                             kinds: ShapeKind.allCases.map(\.rawValue))
      }
      return combination
    }
    return c
  }
}
