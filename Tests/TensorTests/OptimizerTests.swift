// AdamW against torch.optim.AdamW, gradient clipping, the learning-rate schedule, and frozen parameters.

import Foundation
import Testing

@testable import Tensor

@Suite("Optimizer and modules")
struct OptimizerTests {
  @Test("AdamW follows torch.optim.AdamW over 4 steps (decay on the matrix, none on the bias)")
  func adamWMatchesPyTorch() throws {
    let f = try loadFixture("adamw")
    let weight = Tensor(shape: [3, 4], data: try f.fixture("init.weight").data, requiresGrad: true)
    let bias = Tensor(shape: [4], data: try f.fixture("init.bias").data, requiresGrad: true)
    let optimizer = AdamW([("weight", weight), ("bias", bias)],
                          configuration: .init(beta1: 0.9, beta2: 0.98, epsilon: 1e-8, weightDecay: 0.05))
    let rates = try f.fixture("lrs").data
    for step in 0..<4 {
      weight.grad = try f.fixture("grad.\(step).weight").data
      bias.grad = try f.fixture("grad.\(step).bias").data
      optimizer.update(learningRate: rates[step])
      expectClose(weight.data, try f.fixture("after.\(step).weight"), 1e-5, "weight after step \(step)")
      expectClose(bias.data, try f.fixture("after.\(step).bias"), 1e-5, "bias after step \(step)")
    }
  }

  @Test("AdamW state round-trips: a restored optimizer continues identically")
  func adamWStateRoundTrip() throws {
    func makeParameter() -> Tensor { Tensor(shape: [2, 2], data: [1, 2, 3, 4], requiresGrad: true) }
    let a = makeParameter(), b = makeParameter()
    let first = AdamW([("p", a)]), second = AdamW([("p", b)])
    a.grad = [0.1, -0.2, 0.3, 0.4]
    first.update(learningRate: 0.01)
    let saved = first.state()
    try second.restore(tensors: saved.tensors, step: saved.step)
    b.data = a.data
    for t in [a, b] { t.grad = [0.5, 0.5, -0.5, 0.1] }
    first.update(learningRate: 0.01)
    second.update(learningRate: 0.01)
    #expect(a.data == b.data)
  }

  @Test("frozen parameters get no gradient and no optimizer state, but gradients reach the input")
  func frozenParametersPassGradients() {
    var rng = RandomGenerator(seed: 1)
    let layer = Linear(3, 2, rng: &rng)
    layer.freeze()
    let x = Tensor.randn([4, 3], rng: &rng, requiresGrad: true)
    layer(x).sum().backward()
    #expect(layer.weight.grad == nil && layer.bias?.grad == nil)
    #expect(x.grad != nil && x.grad!.contains { $0 != 0 })
    #expect(AdamW(layer.namedParameters()).parameters.isEmpty)
    #expect(layer.trainableParameterCount == 0 && layer.parameterCount == 8)
  }

  @Test("no-grad mode records no graph")
  func noGradRecordsNothing() {
    let x = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
    let y = GradMode.noGrad { (x * x).sum() }
    #expect(!y.requiresGrad && y.op == nil)
  }

  @Test("gradients accumulate across backward calls")
  func gradientsAccumulate() {
    let x = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
    (x * x).sum().backward()
    (x * x).sum().backward()
    #expect(x.grad == [4, 8])
  }

  @Test("global-norm clipping scales to the limit and reports the norm")
  func clipping() {
    let a = Tensor(shape: [2], data: [0, 0], requiresGrad: true)
    a.grad = [3, 4]
    let norm = clipGradientNorm([a], maxNorm: 1)
    #expect(norm == 5)
    #expect(abs(a.grad![0] - 0.6) < 1e-5 && abs(a.grad![1] - 0.8) < 1e-5)
  }

  @Test("warm-up then cosine to the floor")
  func schedule() {
    let rate = { (step: Int) in warmupCosineLearningRate(step: step, warmupSteps: 10, totalSteps: 110, peak: 1e-4, floor: 5e-5) }
    #expect(abs(rate(0) - 1e-5) < 1e-9)
    #expect(abs(rate(9) - 1e-4) < 1e-9)
    #expect(abs(rate(10) - 1e-4) < 1e-9)
    #expect(abs(rate(60) - 7.5e-5) < 1e-9)
    #expect(abs(rate(110) - 5e-5) < 1e-9)
    #expect(abs(rate(500) - 5e-5) < 1e-9)
  }

  @Test("module names follow the checkpoint keys of a BERT layer")
  func bertNames() {
    var rng = RandomGenerator(seed: 0)
    let names = PostNormTransformerBlock(width: 8, heads: 2, intermediateWidth: 16, rng: &rng).namedParameters().map(\.0)
    #expect(names.contains("attention.self.query.weight"))
    #expect(names.contains("attention.output.dense.bias"))
    #expect(names.contains("attention.output.LayerNorm.weight"))
    #expect(names.contains("intermediate.dense.weight"))
    #expect(names.contains("output.LayerNorm.bias"))
    #expect(names.count == 16)
  }

  @Test("loading a checkpoint with a wrong shape names the tensor and both shapes")
  func loadShapeMismatch() {
    var rng = RandomGenerator(seed: 0)
    let layer = Linear(3, 2, rng: &rng)
    let bad = ["weight": Tensor.zeros([3, 2]), "bias": Tensor.zeros([2])]
    #expect(throws: ModuleError.shapeMismatch(name: "weight", expected: [2, 3], found: [3, 2], source: "checkpoint")) {
      try layer.load(bad)
    }
    #expect(throws: ModuleError.missingParameter(name: "bias", source: "checkpoint")) {
      try layer.load(["weight": Tensor.zeros([2, 3])])
    }
  }
}

@Suite("Random numbers and fast math")
struct NumericsTests {
  @Test("the generator is deterministic and its first values are fixed across runs and machines")
  func deterministicStream() {
    var a = RandomGenerator(seed: 123), b = RandomGenerator(seed: 123)
    let first = (0..<4).map { _ in a.next() }
    #expect(first == (0..<4).map { _ in b.next() })
    // Golden values: a change to the generator changes every seeded experiment, so it must be deliberate.
    var golden = RandomGenerator(seed: 0)
    #expect(golden.next() == 0x99EC_5F36_CB75_F2B4)
  }

  @Test("normal samples have mean 0 and variance 1")
  func normalMoments() {
    var rng = RandomGenerator(seed: 5)
    let samples = (0..<200_000).map { _ in Double(rng.nextNormal()) }
    let mean = samples.reduce(0, +) / Double(samples.count)
    let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count)
    #expect(abs(mean) < 0.01 && abs(variance - 1) < 0.01)
  }

  @Test("sampling from zero or non-finite weights never leaves the range")
  func samplingIsSafe() {
    var rng = RandomGenerator(seed: 9)
    for weights: [Float] in [[0, 0, 0], [.nan, 0, 1], [.infinity, 2], [1]] {
      let index = rng.sample(weights: weights)
      #expect(index >= 0 && index < weights.count)
    }
  }

  @Test("fastExp, fastErf and fastTanh stay within their stated error")
  func fastMathAccuracy() {
    var worstExp: Float = 0, worstErf: Float = 0, worstTanh: Float = 0
    var x: Float = -20
    while x <= 20 {
      worstExp = Swift.max(worstExp, abs(fastExp(x) - Foundation.exp(x)) / Foundation.exp(x))
      worstErf = Swift.max(worstErf, abs(fastErf(x) - Foundation.erf(x)))
      worstTanh = Swift.max(worstTanh, abs(fastTanh(x) - Foundation.tanh(x)))
      x += 0.001
    }
    #expect(worstExp < 5e-7, "fastExp relative error \(worstExp)")
    #expect(worstErf < 5e-7, "fastErf absolute error \(worstErf)")
    #expect(worstTanh < 5e-7, "fastTanh absolute error \(worstTanh)")
    #expect(fastExp(-.infinity) == 0 && fastExp(-100) == 0)
  }
}

@Suite("Attention with partly frozen inputs")
struct PartialAttentionGradientTests {
  @Test("only the inputs that require gradients get them, and they equal the all-trainable case",
        arguments: [[false, true, true], [true, false, true], [true, true, false], [false, false, true]])
  func partialGradients(_ needs: [Bool]) {
    var rng = RandomGenerator(seed: 4)
    let shapes = [[2, 3, 8], [2, 5, 8], [2, 5, 8]]
    let values = shapes.map { Tensor.randn($0, rng: &rng).data }
    let seed = Tensor.randn([2, 3, 8], rng: &rng).data
    func gradients(_ flags: [Bool]) -> [[Float]?] {
      let inputs = zip(shapes, values).enumerated().map { Tensor(shape: $1.0, data: $1.1, requiresGrad: flags[$0]) }
      Tensor.attention(query: inputs[0], key: inputs[1], value: inputs[2], heads: 2).backward(seed: seed)
      return inputs.map(\.grad)
    }
    let all = gradients([true, true, true]), partial = gradients(needs)
    for i in 0..<3 {
      if needs[i] { #expect(partial[i] == all[i], "input \(i)") } else { #expect(partial[i] == nil, "input \(i)") }
    }
  }
}
