// The ConvNet encoder: its im2col convolution against a naive loop (values and finite-difference
// gradients), token layout, freezing, registry, and masked-reconstruction pre-training.

import Blip2Core
import ConvNet
import Foundation
import Testing

import Tensor

/// A plain-loop convolution on channels-first data: [B, C, H, W] (x) [O, C, k, k] → [B, O, Ho, Wo].
func naiveConvolution(_ x: [Float], _ xShape: [Int], _ w: [Float], _ wShape: [Int], _ bias: [Float]?,
                      stride: Int, padding: Int) -> (values: [Float], shape: [Int]) {
  let (batch, channels, height, width) = (xShape[0], xShape[1], xShape[2], xShape[3])
  let (outChannels, kernel) = (wShape[0], wShape[2])
  let outHeight = (height + 2 * padding - kernel) / stride + 1
  let outWidth = (width + 2 * padding - kernel) / stride + 1
  var out = [Float](repeating: 0, count: batch * outChannels * outHeight * outWidth)
  for b in 0..<batch {
    for o in 0..<outChannels {
      for oy in 0..<outHeight {
        for ox in 0..<outWidth {
          var total: Double = Double(bias?[o] ?? 0)
          for c in 0..<channels {
            for ky in 0..<kernel {
              for kx in 0..<kernel {
                let y = oy * stride - padding + ky, xx = ox * stride - padding + kx
                guard y >= 0 && y < height && xx >= 0 && xx < width else { continue }
                total += Double(x[((b * channels + c) * height + y) * width + xx])
                  * Double(w[((o * channels + c) * kernel + ky) * kernel + kx])
              }
            }
          }
          out[((b * outChannels + o) * outHeight + oy) * outWidth + ox] = Float(total)
        }
      }
    }
  }
  return (out, [batch, outChannels, outHeight, outWidth])
}

@Suite("ConvNet")
struct ConvNetTests {
  /// (stride, padding, kernel) cases on a 2×3×7×6 input.
  static let cases: [(Int, Int, Int)] = [(1, 1, 3), (2, 1, 3), (1, 0, 3), (2, 0, 2), (3, 2, 3)]

  @Test(arguments: cases)
  func im2colConvolutionMatchesNaiveLoop(stride: Int, padding: Int, kernel: Int) throws {
    var rng = RandomGenerator(seed: 11)
    let x = Tensor.randn([2, 3, 7, 6], rng: &rng, requiresGrad: true)
    let w = Tensor.randn([4, 3, kernel, kernel], rng: &rng, requiresGrad: true)
    let b = Tensor.randn([4], rng: &rng, requiresGrad: true)
    let out = conv2d(channelsLast: x.permuted([0, 2, 3, 1]), weight: w, bias: b, stride: stride, padding: padding)
      .permuted([0, 3, 1, 2])  // [B, O, Ho, Wo]
    let reference = naiveConvolution(x.data, x.shape, w.data, w.shape, b.data, stride: stride, padding: padding)
    #expect(out.shape == reference.shape)
    expectClose(out.data, reference.values, relative: 1e-5, absolute: 1e-5, "conv forward")

    // Gradients of L = Σ out ⊙ gout against central differences of the naive loop. L is linear in each
    // input, so the differences are exact up to rounding (step 0.5 keeps rounding small).
    let gout = Tensor.randn(out.shape, rng: &rng).data
    out.backward(seed: gout)
    func objective(_ xv: [Float], _ wv: [Float], _ bv: [Float]) -> Double {
      let y = naiveConvolution(xv, x.shape, wv, w.shape, bv, stride: stride, padding: padding).values
      return zip(y, gout).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
    func differences(_ values: [Float], _ evaluate: ([Float]) -> Double) -> [Float] {
      (0..<values.count).map { i in
        var plus = values, minus = values
        plus[i] += 0.5
        minus[i] -= 0.5
        return Float(evaluate(plus) - evaluate(minus))
      }
    }
    expectClose(x.grad, differences(x.data) { objective($0, w.data, b.data) }, relative: 1e-4, absolute: 1e-4, "dx")
    expectClose(w.grad, differences(w.data) { objective(x.data, $0, b.data) }, relative: 1e-4, absolute: 1e-4, "dweight")
    expectClose(b.grad, differences(b.data) { objective(x.data, w.data, $0) }, relative: 1e-4, absolute: 1e-4, "dbias")
  }

  @Test func tokensAreTheFinalMapCellsAfterAPooledToken() throws {
    let model = try ConvNet(ConvNetConfiguration(imageSize: 32, channels: [8, 16, 24]), seed: 1)
    #expect(model.configuration.totalStride == 8 && model.tokenCount == 1 + 16 && model.featureDim == 24)
    var rng = RandomGenerator(seed: 2)
    let pixels = Tensor.randn([3, 3, 32, 32], rng: &rng)
    let tokens = try model.encode(pixels)
    #expect(tokens.shape == [3, 17, 24])
    let map = model.featureMap(pixels)  // [3, 4, 4, 24]
    #expect(Array(tokens.data[24..<(17 * 24)]) == Array(map.data[0..<(16 * 24)]))
    let mean = (0..<24).map { c in (0..<16).reduce(Float(0)) { $0 + map.data[$1 * 24 + c] } / 16 }
    expectClose(Array(tokens.data[0..<24]), mean, relative: 1e-5, absolute: 1e-6, "pooled token")
    // One image's features do not depend on the rest of the batch (LayerNorm, not BatchNorm).
    let alone = try model.encode(Tensor(shape: [1, 3, 32, 32], data: Array(pixels.data[0..<(3 * 32 * 32)])))
    expectClose(alone.data, Array(tokens.data[0..<(17 * 24)]), relative: 1e-5, absolute: 1e-6, "batch independence")
    #expect(throws: ConvNetError.self) { try model.encode(Tensor.zeros([1, 3, 16, 16])) }
  }

  @Test func frozenConvNetPassesGradientsToPixelsOnly() throws {
    let model = try ConvNet(ConvNetConfiguration(imageSize: 16, channels: [4, 8], pooledToken: false), seed: 3)
    model.freeze()
    var rng = RandomGenerator(seed: 4)
    let pixels = Tensor.randn([2, 3, 16, 16], rng: &rng, requiresGrad: true)
    try model.encode(pixels).sum().backward()
    #expect(model.parameters.allSatisfy { $0.grad == nil })
    #expect(pixels.grad?.contains { $0 != 0 } == true)
  }

  @Test func registryBuildsFromConfigKeys() throws {
    var registry = Registry()
    try ConvNetPlugin.register(into: &registry)
    let encoder: any ImageEncoder = try registry.make(
      .encoder, "convnet",
      config: .table(["imageSize": .int(32), "channels": .list([.int(8), .int(16)]), "pooledToken": .bool(false)]),
      as: (any ImageEncoder).self)
    #expect(encoder.featureDim == 16 && encoder.tokenCount == 64 && encoder.kind == "convnet")
    #expect(throws: ConvNetError.self) {
      _ = try registry.make(.encoder, "convnet", config: .table(["imageSize": .int(30)]), as: (any ImageEncoder).self)
    }
  }

  @Test func savedFolderLoadsBackIdentically() throws {
    try withTemporaryDirectory("convnet-save") { folder in
      let model = try ConvNet(ConvNetConfiguration(imageSize: 16, channels: [4, 8], pooledToken: false), seed: 8)
      try model.save(directory: folder)
      let loaded = try ConvNet.load(directory: folder)
      #expect(loaded.configuration == model.configuration)
      #expect(loaded.stateDictionary().mapValues(\.data) == model.stateDictionary().mapValues(\.data))
      try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
      #expect(throws: ConvNetError.self) { _ = try ConvNet.load(directory: folder) }
    }
  }

  @Test func maskedReconstructionLossDecreases() throws {
    let clock = ContinuousClock()
    let start = clock.now
    let encoder = try ConvNet(ConvNetConfiguration(imageSize: 32, channels: [16, 32, 48]), seed: 5)
    let objective = ConvNetMaskedImageModeling(encoder: encoder, seed: 6)
    let (first, last) = trainBriefly(objective, size: 32, seed: 7) { objective.pretrainingLoss($0, rng: &$1) }
    print("convnet masked reconstruction: loss \(first) → \(last) in \(clock.now - start)")
    #expect(last < 0.8 * first, "loss went from \(first) to \(last)")
  }
}
