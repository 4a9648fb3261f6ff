// ConvNet: a Blip2Lab plugin. Registers `encoder.convnet`, a small ResNet-like CNN whose final feature map
// is the token sequence.

import Blip2Core
import Tensor

/// Registration of the ConvNet encoder.
public enum ConvNetPlugin {
  /// Registers `encoder.convnet`.
  ///
  /// Config keys (all optional): `size` ("tiny", "small": the preset the others override), `imageSize`,
  /// `channels` (list, one per stage), `blocksPerStage`, `stemStride` (1 or 2), `pooledToken` (a mean token
  /// before the map's cells), `seed` (default: the build context's).
  public static func register(into registry: inout Registry) throws {
    try registry.register(.encoder, "convnet", summary: "ResNet-like CNN; final feature map cells as tokens") {
      config, context in
      let size = try config.string("size", default: "tiny", allowed: ConvNetConfiguration.presets.keys.sorted())
      var c = ConvNetConfiguration.presets[size] ?? .tiny
      c.imageSize = try config.int("imageSize", default: c.imageSize, range: 1...4096)
      c.channels = try config.intList("channels", default: c.channels, range: 1...4096)
      c.blocksPerStage = try config.int("blocksPerStage", default: c.blocksPerStage, range: 0...64)
      c.stemStride = try config.int("stemStride", default: c.stemStride, range: 1...2)
      c.pooledToken = try config.bool("pooledToken", default: c.pooledToken)
      let seed = try config.int("seed", default: Int(truncatingIfNeeded: context.seed))
      return try ConvNet(c, seed: UInt64(truncatingIfNeeded: seed))
    }
  }
}
