// A trainable stand-in for an image encoder, shared by the pre-training objectives' tests.

import Tensor

@testable import Blip2Core

/// Pixels [B, 3, 2, 2] → 4 tokens of width 3 through one linear layer (a trainable stand-in for an encoder).
final class LinearTokens: ImageEncoder {
  let module: Module
  let layer: Linear
  init() {
    var rng = RandomGenerator(seed: 3)
    layer = Linear(3, 3, rng: &rng)
    module = layer
  }
  var kind: String { "linear" }
  var summary: String { "linear tokens" }
  var featureDim: Int { 3 }
  var imageSize: Int { 2 }
  var tokenCount: Int { 4 }
  func encode(_ pixels: Tensor) throws -> Tensor { layer(pixelTokens(pixels)) }
}

/// [B, 3, S, S] pixels → [B, S·S, 3] tokens: each pixel's colour is one token (no gradient).
func pixelTokens(_ pixels: Tensor) -> Tensor {
  let (batch, side) = (pixels.shape[0], pixels.shape[2])
  let plane = side * side
  var tokens = [Float](repeating: 0, count: batch * plane * 3)
  for b in 0..<batch { for c in 0..<3 { for p in 0..<plane { tokens[(b * plane + p) * 3 + c] = pixels.data[(b * 3 + c) * plane + p] } } }
  return Tensor(shape: [batch, plane, 3], data: tokens)
}
