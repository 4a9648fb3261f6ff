// Parity with PyTorch: forward values and gradients of the fused kernels and of a whole BERT layer, from
// fixtures computed in float64 by Tests/fixtures/make_tensor_fixtures.py (see its header).
//
// Tolerance: 1e-4 relative (floor 1e-3). Our kernels run in Float32 with fast exp/erf approximations
// (relative error < 5e-7), and the BERT layer chains ~10 ops, so errors of 1e-6..1e-5 are expected;
// 1e-4 leaves room without hiding a wrong formula (which shows up as 1e-2 or worse).

import Testing

@testable import Tensor

@Suite("Parity with PyTorch")
struct ParityTests {
  let fixtures: [String: Tensor]

  init() throws { fixtures = try loadFixture("kernels") }

  func input(_ name: String) throws -> Tensor {
    let t = try fixtures.fixture(name)
    return Tensor(shape: t.shape, data: t.data, requiresGrad: true)
  }

  func bools(_ name: String) throws -> [Bool] { try fixtures.fixture(name).data.map { $0 != 0 } }

  @Test func linear() throws {
    let x = try input("linear.x"), w = try input("linear.weight"), b = try input("linear.bias")
    let out = x.linear(weight: w, bias: b)
    out.backward(seed: try fixtures.fixture("linear.gout").data)
    expectClose(out.data, try fixtures.fixture("linear.out"), 1e-5, "out")
    expectClose(x.grad, try fixtures.fixture("linear.dx"), 1e-5, "dx")
    expectClose(w.grad, try fixtures.fixture("linear.dweight"), 1e-5, "dweight")
    expectClose(b.grad, try fixtures.fixture("linear.dbias"), 1e-5, "dbias")
  }

  @Test func batchedMatmul() throws {
    let a = try input("matmul.a"), b = try input("matmul.b")
    let out = a.matmul(b)
    out.backward(seed: try fixtures.fixture("matmul.gout").data)
    expectClose(out.data, try fixtures.fixture("matmul.out"), 1e-5, "out")
    expectClose(a.grad, try fixtures.fixture("matmul.da"), 1e-5, "da")
    expectClose(b.grad, try fixtures.fixture("matmul.db"), 1e-5, "db")
  }

  @Test(arguments: ["softmax", "log_softmax", "gelu_erf", "gelu_tanh", "l2_normalize"])
  func rowwise(_ name: String) throws {
    let x = try input("\(name).x")
    let out: Tensor
    switch name {
    case "softmax": out = x.softmax()
    case "log_softmax": out = x.logSoftmax()
    case "gelu_erf": out = x.geluErf()
    case "gelu_tanh": out = x.geluTanh()
    default: out = x.l2Normalized(eps: 1e-12)
    }
    out.backward(seed: try fixtures.fixture("\(name).gout").data)
    expectClose(out.data, try fixtures.fixture("\(name).out"), 1e-5, "\(name) out")
    expectClose(x.grad, try fixtures.fixture("\(name).dx"), 1e-5, "\(name) dx")
  }

  @Test func layerNorm() throws {
    let x = try input("layer_norm.x"), w = try input("layer_norm.weight"), b = try input("layer_norm.bias")
    let out = x.layerNorm(weight: w, bias: b, eps: 1e-12)
    out.backward(seed: try fixtures.fixture("layer_norm.gout").data)
    expectClose(out.data, try fixtures.fixture("layer_norm.out"), 1e-5, "out")
    expectClose(x.grad, try fixtures.fixture("layer_norm.dx"), 1e-4, "dx")
    expectClose(w.grad, try fixtures.fixture("layer_norm.dweight"), 1e-5, "dweight")
    expectClose(b.grad, try fixtures.fixture("layer_norm.dbias"), 1e-5, "dbias")
  }

  @Test(arguments: [("attention", 3), ("attention_causal", 2)])
  func attention(_ name: String, heads: Int) throws {
    let q = try input("\(name).q"), k = try input("\(name).k"), v = try input("\(name).v")
    let out = Tensor.attention(query: q, key: k, value: v, heads: heads, mask: try bools("\(name).mask"))
    out.backward(seed: try fixtures.fixture("\(name).gout").data)
    expectClose(out.data, try fixtures.fixture("\(name).out"), 1e-5, "out")
    expectClose(q.grad, try fixtures.fixture("\(name).dq"), 1e-4, "dq")
    expectClose(k.grad, try fixtures.fixture("\(name).dk"), 1e-4, "dk")
    expectClose(v.grad, try fixtures.fixture("\(name).dv"), 1e-4, "dv")
  }

  @Test(arguments: [("cross_entropy", Float(0.1)), ("cross_entropy_plain", Float(0))])
  func crossEntropy(_ name: String, smoothing: Float) throws {
    let logits = try input("\(name).logits")
    let targets = try fixtures.fixture("\(name).targets").data.map { Int($0) }
    let loss = logits.crossEntropy(targets: targets, ignoreIndex: -100, labelSmoothing: smoothing)
    loss.backward()
    expectClose(loss.data, try fixtures.fixture("\(name).out"), 1e-5, "loss")
    expectClose(logits.grad, try fixtures.fixture("\(name).dlogits"), 1e-5, "dlogits")
  }

  @Test("a whole BERT layer: output, input gradient and every weight gradient")
  func bertLayer() throws {
    var rng = RandomGenerator(seed: 0)
    let block = PostNormTransformerBlock(width: 16, heads: 4, intermediateWidth: 32, eps: 1e-12, rng: &rng)
    let parameters = fixtures.filter { $0.key.hasPrefix("bert_layer.param.") }
    let report = try block.load(parameters, prefix: "bert_layer.param.")
    #expect(report.loaded.count == 16 && report.unused.isEmpty, "loaded \(report.loaded.count), unused \(report.unused)")
    let x = try input("bert_layer.x")
    let out = block(x, mask: try bools("bert_layer.mask"))
    out.backward(seed: try fixtures.fixture("bert_layer.gout").data)
    expectClose(out.data, try fixtures.fixture("bert_layer.out"), 1e-4, "out")
    expectClose(x.grad, try fixtures.fixture("bert_layer.dx"), 1e-4, "dx")
    for (name, parameter) in block.namedParameters() {
      expectClose(parameter.grad, try fixtures.fixture("bert_layer.grad.\(name)"), 1e-4, "grad \(name)")
    }
  }
}
