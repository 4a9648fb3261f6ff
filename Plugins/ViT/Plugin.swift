// ViT: a Blip2Lab plugin. Registers `encoder.vit`, a CLIP-style vision transformer (random init from a
// preset and overrides, or a Hugging Face checkpoint folder).

import Blip2Core
import Foundation
import Tensor

/// Registration of the vision-transformer encoder.
public enum ViTPlugin {
  /// Registers `encoder.vit`.
  ///
  /// Config keys (all optional): `size` ("tiny", "small", "base": the preset the others override),
  /// `imageSize`, `patchSize`, `width`, `layers`, `heads`, `mlpRatio` (feed-forward width / width),
  /// `activation` ("quick_gelu", "gelu", "gelu_new", "relu"), `featureLayer` (default −2: BLIP-2's
  /// second-last block), `seed` (default: the build context's). Or `checkpoint` (a Hugging Face folder,
  /// see `VisionTransformer.load(directory:featureLayer:)`) with at most `featureLayer` beside it.
  public static func register(into registry: inout Registry) throws {
    try registry.register(.encoder, "vit", summary: "CLIP-style vision transformer (features of the second-last block)") {
      config, context in
      if config.contains("checkpoint") {
        let path = try config.string("checkpoint")
        let featureLayer = config.contains("featureLayer") ? try config.int("featureLayer") : nil
        return try VisionTransformer.load(directory: URL(fileURLWithPath: path), featureLayer: featureLayer)
      }
      let featureLayer = try config.int("featureLayer", default: -2)
      let seed = try config.int("seed", default: Int(truncatingIfNeeded: context.seed))
      return try VisionTransformer(try configuration(config, featureLayer: featureLayer),
                                   seed: UInt64(truncatingIfNeeded: seed))
    }
  }

  /// Reads a configuration from registry config keys (see `register(into:)`).
  public static func configuration(_ config: ConfigReader, featureLayer: Int) throws -> VisionTransformerConfiguration {
    let size = try config.string("size", default: "tiny", allowed: VisionTransformerConfiguration.presets.keys.sorted())
    var c = VisionTransformerConfiguration.presets[size] ?? .tiny
    c.imageSize = try config.int("imageSize", default: c.imageSize, range: 1...4096)
    c.patchSize = try config.int("patchSize", default: c.patchSize, range: 1...c.imageSize)
    c.width = try config.int("width", default: c.width, range: 1...8192)
    c.layers = try config.int("layers", default: c.layers, range: 1...128)
    c.heads = try config.int("heads", default: c.heads, range: 1...c.width)
    let ratio = try config.double("mlpRatio", default: Double(c.intermediateSize) / Double(c.width), range: 0.01...64)
    c.intermediateSize = max(1, Int((ratio * Double(c.width)).rounded()))
    let activation = try config.string("activation", default: c.activation.rawValue,
                                       allowed: VisionActivation.allCases.map(\.rawValue))
    c.activation = VisionActivation(rawValue: activation) ?? c.activation
    c.featureLayer = featureLayer
    try c.validate()
    return c
  }
}
