// The op profiler records what ran (op, output shape, calls, forward and backward time) and only while on;
// the threaded AdamW update gives the same numbers as the plain per-element formula.

import Foundation
import Testing

@testable import Tensor

@Suite("Op profiler")
struct ProfilerTests {
  @Test("profile records each op at its output shape, forward and backward, and nothing when off")
  func recordsOps() {
    var rng = RandomGenerator(seed: 1)
    let a = Tensor.randn([8, 16], rng: &rng, requiresGrad: true)
    let b = Tensor.randn([16, 4], rng: &rng, requiresGrad: true)
    let optimizer = AdamW([("a", a), ("b", b)], configuration: .init())
    let (_, profile) = OpProfiler.profile {
      for _ in 0..<3 {
        let loss = a.matmul(b).sum()
        loss.backward()
        optimizer.update(learningRate: 1e-3)
      }
    }
    let matmul = profile.entries.first { $0.name == "matmul" }
    #expect(matmul?.shape == [8, 4])
    #expect(matmul?.calls == 3)
    #expect((matmul?.backwardSeconds ?? 0) > 0, "the matmul's backward was timed")
    #expect(profile.entries.first { $0.name == "sum" }?.calls == 3)
    #expect(profile.entries.first { $0.name == "adamw" }?.calls == 3, "the optimizer is its own section")
    #expect(profile.wallSeconds >= profile.entries.reduce(0) { $0 + $1.totalSeconds } - 1e-6)
    #expect(profile.report().contains("matmul"))

    // Another thread's ops (a test running beside this one, say) are not recorded.
    let (_, mine) = OpProfiler.profile {
      let done = DispatchSemaphore(value: 0)
      let other = Thread {
        _ = Tensor.zeros([3, 5]).matmul(Tensor.zeros([5, 7]))
        done.signal()
      }
      other.start()
      done.wait()
      _ = a.matmul(b)
    }
    #expect(mine.entries.map(\.name) == ["matmul"] && mine.entries.first?.shape == [8, 4])

    // Off again: ops are not recorded into the next profile.
    _ = a.matmul(b)
    let (_, empty) = OpProfiler.profile {}
    #expect(empty.entries.isEmpty)
  }

  @Test("the threaded AdamW update equals the per-element formula on a parameter split over threads")
  func threadedAdamWMatchesFormula() {
    let shape = [4, 32_800]  // 131,200 elements: two threading grains of 65,536 and a ragged tail; decayed
    let n = shape[0] * shape[1]
    var rng = RandomGenerator(seed: 3)
    let p = Tensor.randn(shape, rng: &rng, requiresGrad: true)
    var reference = p.data
    var m = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
    let c = AdamW.Configuration(beta1: 0.9, beta2: 0.98, epsilon: 1e-8, weightDecay: 0.05)
    let optimizer = AdamW([("p", p)], configuration: c)
    for step in 1...3 {
      let g = Tensor.randn([n], rng: &rng).data
      p.grad = g
      let lr: Float = 1e-3 * Float(step)
      optimizer.update(learningRate: lr)
      let correction1 = 1 - Foundation.pow(c.beta1, Float(step))
      let correction2 = 1 - Foundation.pow(c.beta2, Float(step))
      let decay = 1 - lr * c.weightDecay
      let stepSize = lr / correction1
      let inverseRoot = 1 / correction2.squareRoot()
      for i in 0..<n {
        reference[i] *= decay
        m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i]
        v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i]
        reference[i] -= stepSize * m[i] / (v[i].squareRoot() * inverseRoot + c.epsilon)
      }
      #expect(p.data == reference, "step \(step): bit-identical to the formula")
    }
  }
}
