// LinearBridge: a Blip2Lab plugin. Registers `bridge.linear`, the pooled-projection baseline.

import Blip2Core

/// Registration of the linear bridge.
public enum LinearBridgePlugin {
  /// Registers `bridge.linear`.
  ///
  /// Config keys: `imageWidth` (default: the image encoder's feature width from the build context; required
  /// otherwise), `tokens` (outputs; default 32), `width` (output width; default 256), `hidden` (0: linear;
  /// > 0: an MLP with this hidden width), `layerNorm` (default true), `seed` (default: the build context's).
  public static func register(into registry: inout Registry) throws {
    try registry.register(.bridge, "linear",
                          summary: "baseline: image tokens average-pooled to a fixed count, then a linear layer or MLP") {
      config, context in
      let imageWidth: Int
      if let known = context.imageFeatureDim, !config.contains("imageWidth") {
        imageWidth = known
      } else {
        imageWidth = try config.int("imageWidth", range: 1...65536)
      }
      let c = LinearBridgeConfiguration(
        imageWidth: imageWidth,
        tokens: try config.int("tokens", default: 32, range: 1...4096),
        width: try config.int("width", default: 256, range: 1...65536),
        hidden: try config.int("hidden", default: 0, range: 0...65536),
        layerNorm: try config.bool("layerNorm", default: true))
      let seed = try config.int("seed", default: Int(truncatingIfNeeded: context.seed))
      return LinearBridge(c, seed: UInt64(truncatingIfNeeded: seed))
    }
  }
}
