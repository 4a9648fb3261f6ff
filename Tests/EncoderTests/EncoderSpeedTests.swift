// Speed of the frozen encoders on the workload they have in the sandbox: batches of 32 RGB 64×64 images,
// under no-grad. Prints milliseconds per batch; runs in release builds only (debug numbers mean nothing and
// take half a minute). Asserts only that the features are finite, so a slow machine does not fail the suite.

import Blip2Core
import ConvNet
import Foundation
import Testing

import Tensor
import ViT

#if DEBUG
  private let isReleaseBuild = false
#else
  private let isReleaseBuild = true
#endif

@Suite("Encoder speed", .enabled(if: isReleaseBuild, "timings are only meaningful in release builds"))
struct EncoderSpeedTests {
  /// Median milliseconds of `runs` calls of `encoder.encode` on one batch (after one warm-up call).
  func millisecondsPerBatch(_ encoder: any ImageEncoder, runs: Int = 5) throws -> (Double, Tensor) {
    encoder.module.freeze()
    var rng = RandomGenerator(seed: 1)
    let pixels = Tensor.randn([32, 3, encoder.imageSize, encoder.imageSize], rng: &rng)
    var features = try GradMode.noGrad { try encoder.encode(pixels) }
    var times: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<runs {
      let elapsed = try clock.measure { features = try GradMode.noGrad { try encoder.encode(pixels) } }
      times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
    }
    return (times.sorted()[runs / 2], features)
  }

  @Test func tinyViTAndConvNetOn32Images() throws {
    let vit = try VisionTransformer(.tiny)
    let (vitTime, vitFeatures) = try millisecondsPerBatch(vit)
    print("speed: \(vit.summary): \(String(format: "%.1f", vitTime)) ms per batch of 32 64x64 -> \(vitFeatures.shape)")
    #expect(vitFeatures.data.allSatisfy { $0.isFinite })
    let convnet = try ConvNet(.tiny)
    let (convTime, convFeatures) = try millisecondsPerBatch(convnet)
    print("speed: \(convnet.summary): \(String(format: "%.1f", convTime)) ms per batch of 32 64x64 -> \(convFeatures.shape)")
    #expect(convFeatures.data.allSatisfy { $0.isFinite })
  }
}
