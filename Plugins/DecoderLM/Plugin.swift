// DecoderLM: a Blip2Lab plugin. Registers `lm.decoder`, an OPT-style (or GPT-2-style) decoder-only language model:
// random init from sizes, or a Hugging Face checkpoint folder.

import Blip2Core
import Foundation
import Tensor

/// Registration of the decoder-only language model.
public enum DecoderLMPlugin {
  /// Registers `lm.decoder`.
  ///
  /// Config keys (all optional): `family` ("opt" or "gpt2"), `vocabularySize` (default 259, the byte tokenizer's),
  /// `width`, `layers`, `heads`, `feedForwardWidth`, `maxPositions`, `activation` ("relu", "gelu", "gelu_new"),
  /// `seed` (default: the build context's). Or `checkpoint` (a Hugging Face folder) alone. A model built from
  /// sizes uses the build context's tokenizer (the built-in vocabulary) when there is one, and its vocabulary
  /// size by default; otherwise a byte-level tokenizer.
  public static func register(into registry: inout Registry) throws {
    try registry.register(.lm, "decoder", summary: "OPT-style decoder-only language model (GPT-2 layout too)") {
      config, context in
      if config.contains("checkpoint") {
        return try DecoderLM.load(directory: URL(fileURLWithPath: try config.string("checkpoint")))
      }
      let seed = UInt64(truncatingIfNeeded: try config.int("seed", default: Int(truncatingIfNeeded: context.seed)))
      return try DecoderLM(try configuration(config, vocabularySize: context.tokenizer?.vocabularySize),
                           tokenizer: context.tokenizer, seed: seed)
    }
  }

  /// Reads a configuration from the config keys listed in `register(into:)`.
  public static func configuration(_ config: ConfigReader, vocabularySize: Int? = nil) throws -> DecoderLMConfiguration {
    var c = DecoderLMConfiguration()
    if let vocabularySize { c.vocabularySize = vocabularySize }
    let family = try config.string("family", default: c.family.rawValue, allowed: DecoderFamily.allCases.map(\.rawValue))
    c.family = DecoderFamily(rawValue: family) ?? .opt
    if c.family == .gpt2 { c.activation = .geluTanh }
    c.vocabularySize = try config.int("vocabularySize", default: c.vocabularySize, range: 1...1_000_000)
    c.width = try config.int("width", default: c.width, range: 1...16384)
    c.layers = try config.int("layers", default: c.layers, range: 1...256)
    c.heads = try config.int("heads", default: c.heads, range: 1...c.width)
    c.feedForwardWidth = try config.int("feedForwardWidth", default: 4 * c.width, range: 1...65536)
    c.maxPositions = try config.int("maxPositions", default: c.maxPositions, range: 1...65536)
    let activation = try config.string("activation", default: c.activation.rawValue,
                                       allowed: Activation.allCases.map(\.rawValue))
    c.activation = Activation(rawValue: activation) ?? c.activation
    try c.validate()
    return c
  }
}
