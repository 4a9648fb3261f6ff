// The linear baseline bridge: its token pooling is PyTorch's adaptive average pooling, its output has the
// promised shape, and bad configurations and inputs are errors that say what to change.

import Blip2Core
import LabKit
import LinearBridge
import Tensor
import Testing

@Suite("Linear bridge")
struct LinearBridgeTests {
  @Test("pooling averages the groups adaptive_avg_pool1d makes")
  func pooling() {
    // torch.nn.functional.adaptive_avg_pool1d over 5 positions to 3: [0,1], [1,2,3], [3,4].
    let weights = LinearBridge.poolingWeights(tokens: 3, from: 5)
    let expected: [Float] = [0.5, 0.5, 0, 0, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0, 0, 0.5, 0.5]
    #expect(zip(weights, expected).allSatisfy { abs($0 - $1) < 1e-7 })
    #expect(LinearBridge.poolingWeights(tokens: 4, from: 4) == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])
  }

  @Test("pooled outputs equal the projection of the averaged (normalized) features")
  func output() throws {
    let bridge = LinearBridge(LinearBridgeConfiguration(imageWidth: 6, tokens: 2, width: 3, layerNorm: false), seed: 1)
    var rng = RandomGenerator(seed: 2)
    let features = Tensor.randn([2, 4, 6], rng: &rng)
    let out = try bridge.bridge(features)
    #expect(out.shape == [2, 2, 3])
    let w = bridge.projection.weight.data, b = bridge.projection.bias!.data
    for batch in 0..<2 {
      for token in 0..<2 {
        for o in 0..<3 {
          var value = b[o]
          for d in 0..<6 {
            let mean = (features.data[(batch * 4 + 2 * token) * 6 + d] + features.data[(batch * 4 + 2 * token + 1) * 6 + d]) / 2
            value += w[o * 6 + d] * mean
          }
          #expect(abs(out.data[(batch * 2 + token) * 3 + o] - value) < 1e-5)
        }
      }
    }
  }

  @Test("the registry builds it; unknown keys, too few tokens and wrong widths are errors")
  func errors() throws {
    let registry = try makeStandardRegistry()
    let built: any Bridge = try registry.make(.bridge, "linear", config: .table(["imageWidth": 8, "tokens": 4, "hidden": 16]))
    #expect(built.outputTokens == 4 && built.outputDim == 256 && built.imageFeatureDim == 8)
    #expect(throws: (any Error).self) {
      let _: any Bridge = try registry.make(.bridge, "linear", config: .table(["imageWidth": 8, "tokenz": 4]))
    }
    #expect(throws: (any Error).self) { let _: any Bridge = try registry.make(.bridge, "linear") }  // no width known
    let bridge = LinearBridge(LinearBridgeConfiguration(imageWidth: 8, tokens: 4), seed: 0)
    #expect(throws: LinearBridgeError.self) { try bridge.bridge(Tensor.zeros([1, 3, 8])) }  // 3 tokens < 4
    #expect(throws: LinearBridgeError.self) { try bridge.bridge(Tensor.zeros([1, 5, 7])) }  // width 7 ≠ 8
  }
}
