// EncoderDecoderLM: a Blip2Lab plugin. Registers `lm.encoderDecoder`, a T5-style encoder-decoder language model:
// random init from sizes, or a Hugging Face checkpoint folder.

import Blip2Core
import Foundation
import Tensor

/// Registration of the encoder-decoder language model.
public enum EncoderDecoderLMPlugin {
  /// Registers `lm.encoderDecoder`.
  ///
  /// Config keys (all optional): `vocabularySize` (default 259, the byte tokenizer's), `width`, `headWidth`,
  /// `heads`, `feedForwardWidth`, `encoderLayers`, `decoderLayers`, `relativeBuckets`, `relativeMaxDistance`,
  /// `feedForward` ("gated-gelu" as FlanT5, or "relu" as T5.1.0), `tiedHead` (default false, as FlanT5),
  /// `seed` (default: the build context's). Or `checkpoint` (a Hugging Face folder) alone. The model starts with
  /// a byte-level tokenizer; give it the vocabulary's own with `EncoderDecoderLM.setTokenizer(_:)`.
  public static func register(into registry: inout Registry) throws {
    try registry.register(.lm, "encoderDecoder", summary: "T5-style encoder-decoder language model (FlanT5 layout)") {
      config, context in
      if config.contains("checkpoint") {
        return try EncoderDecoderLM.load(directory: URL(fileURLWithPath: try config.string("checkpoint")))
      }
      let seed = UInt64(truncatingIfNeeded: try config.int("seed", default: Int(truncatingIfNeeded: context.seed)))
      return try EncoderDecoderLM(try configuration(config, vocabularySize: context.tokenizer?.vocabularySize),
                                  tokenizer: context.tokenizer, seed: seed)
    }
  }

  /// Reads a configuration from the config keys listed in `register(into:)`.
  public static func configuration(_ config: ConfigReader, vocabularySize: Int? = nil) throws -> EncoderDecoderLMConfiguration {
    var c = EncoderDecoderLMConfiguration()
    if let vocabularySize { c.vocabularySize = vocabularySize }
    c.vocabularySize = try config.int("vocabularySize", default: c.vocabularySize, range: 1...1_000_000)
    c.width = try config.int("width", default: c.width, range: 1...16384)
    c.heads = try config.int("heads", default: c.heads, range: 1...256)
    c.headWidth = try config.int("headWidth", default: c.width / c.heads, range: 1...1024)
    c.feedForwardWidth = try config.int("feedForwardWidth", default: c.feedForwardWidth, range: 1...65536)
    c.encoderLayers = try config.int("encoderLayers", default: c.encoderLayers, range: 1...128)
    c.decoderLayers = try config.int("decoderLayers", default: c.decoderLayers, range: 1...128)
    c.relativeBuckets = try config.int("relativeBuckets", default: c.relativeBuckets, range: 4...1024)
    c.relativeMaxDistance = try config.int("relativeMaxDistance", default: c.relativeMaxDistance, range: 1...65536)
    let feedForward = try config.string("feedForward", default: c.feedForward.rawValue,
                                        allowed: T5FeedForward.allCases.map(\.rawValue))
    c.feedForward = T5FeedForward(rawValue: feedForward) ?? c.feedForward
    c.tiedHead = try config.bool("tiedHead", default: c.tiedHead)
    try c.validate()
    return c
  }
}
