// Noisy Shapes captions, as a stand-in for web alt-text: the words of the Shapes grammar that corruption swaps,
// and the `captionNoise` option of `data.shapes`, which wraps the dataset in a `NoisyCaptionDataset`.

import Blip2Core

extension ShapesDataset: CorruptionVocabularyProviding {
  /// The grammar's colours and kinds, and its opposite spatial words: "left" / "right" (relations and regions),
  /// "above" / "below", "top" / "bottom" (regions). "next to" has no opposite and is never swapped.
  public var corruptionVocabulary: CorruptionVocabulary {
    // Single words in pairs: the initializer's check cannot fail for these.
    (try? CorruptionVocabulary(colours: ShapeColour.allCases.map(\.rawValue), shapes: ShapeKind.allCases.map(\.rawValue),
                               relations: [["left", "right"], ["above", "below"], ["top", "bottom"]])) ?? .english
  }
}

extension ShapesPlugin {
  /// `shapes`, or `shapes` with noisy training captions when the config asks: `captionNoise` (0...1, the
  /// fraction of training captions corrupted; default 0), `captionNoiseKinds` (a list of colour, shape,
  /// relation, unrelated; default all four), `captionNoiseSeed` (default: the dataset's seed).
  static func withCaptionNoise(_ shapes: ShapesDataset, _ config: ConfigReader) throws -> any Dataset {
    let fraction = try config.double("captionNoise", default: 0, range: 0...1)
    let kinds = try config.stringList("captionNoiseKinds", default: CorruptionKind.allCases.map(\.rawValue),
                                      allowed: CorruptionKind.allCases.map(\.rawValue))
    let seed = try config.int("captionNoiseSeed", default: Int(truncatingIfNeeded: shapes.configuration.seed))
    guard fraction > 0 else { return shapes }
    let corrupter = try CaptionCorrupter(fraction: fraction, seed: UInt64(truncatingIfNeeded: seed),
                                         kinds: kinds.compactMap(CorruptionKind.init(rawValue:)),
                                         vocabulary: shapes.corruptionVocabulary)
    return NoisyCaptionDataset(base: shapes, corrupter: corrupter)
  }
}
