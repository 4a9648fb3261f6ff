// The measurements behind `blip2lab bench ops`. Shapes match Tests/bench/torch_ops_bench.py exactly.

import CBLAS
import Foundation
import Tensor

/// Figures measured by `OpsBenchmark`.
struct OpsResults {
  /// (M, K, N, library GFLOP/s, raw sgemm GFLOP/s).
  var matmul: [(Int, Int, Int, Double, Double)] = []
  /// The same for C[M,N] = A[K,M]ᵀ·B[K,N], the shape of a weight gradient (no PyTorch figure).
  var matmulTransposedA: [(Int, Int, Int, Double, Double)] = []
  /// Milliseconds, forward + backward.
  var attention = 0.0, attentionCausal = 0.0, layerNorm = 0.0, block = 0.0

  /// A table, with ratios to PyTorch when its figures are given.
  func table(baseline: [String: Any]?) -> String {
    var lines: [String] = []
    let torchMatmul = baseline?["matmul_gflops"] as? [String: Double] ?? [:]
    lines.append("matmul C[M,N] = A[M,K]·B[K,N]      library    raw sgemm   lib/raw   PyTorch   lib/PyTorch")
    for (m, k, n, library, raw) in matmul {
      let key = "\(m)x\(k)x\(n)"
      let torch = torchMatmul[key]
      lines.append(
        pad(key, 32) + pad(fmt(library) + " GF/s", 11) + pad(fmt(raw) + " GF/s", 12)
          + pad(percent(library / raw), 10) + pad(torch.map { fmt($0) + " GF/s" } ?? "-", 10)
          + (torch.map { percent(library / $0) } ?? "-"))
    }
    if !matmulTransposedA.isEmpty {
      lines.append("weight gradient C[M,N] = A[K,M]ᵀ·B[K,N]")
      for (m, k, n, library, raw) in matmulTransposedA {
        lines.append(pad("\(m)x\(k)x\(n)", 32) + pad(fmt(library) + " GF/s", 11) + pad(fmt(raw) + " GF/s", 12)
                       + percent(library / raw))
      }
    }
    if matmul.isEmpty { lines.removeAll() } else { lines.append("") }
    lines.append("forward + backward                  library     PyTorch     speed-up (PyTorch ms / ours)")
    let rows: [(String, Double, String)] = [
      ("attention B32 H4 T64 D64", attention, "attention_ms"),
      ("attention, causal mask", attentionCausal, "attention_causal_ms"),
      ("layer norm [2048, 256]", layerNorm, "layernorm_ms"),
      ("BERT block h256 H4 T64 B32", block, "block_ms"),
    ]
    for (name, ours, key) in rows where ours > 0 {
      let torch = baseline?[key] as? Double
      lines.append(
        pad(name, 36) + pad(fmt(ours) + " ms", 12) + pad(torch.map { fmt($0) + " ms" } ?? "-", 12)
          + (torch.map { String(format: "%.2fx", $0 / ours) } ?? "-"))
    }
    if let version = baseline?["torch"] as? String { lines.append("\nPyTorch \(version), same thread count.") }
    return lines.joined(separator: "\n")
  }

  private func fmt(_ value: Double) -> String { String(format: value >= 100 ? "%.0f" : "%.2f", value) }
  private func percent(_ value: Double) -> String { String(format: "%.0f%%", value * 100) }
  private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
  }
}

/// Runs the op benchmarks.
struct OpsBenchmark {
  var repeats: Int
  var minTime: Double
  var parts: Set<String>

  static let matmulShapes = [(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
                             (1024, 768, 3072), (2048, 256, 768), (2048, 1024, 256)]
  /// Weight-gradient products of the paper-size stage 2: cross-attention K/V over 8x257 image tokens, the
  /// feed-forward over 8x32 query rows, a 768-wide projection over 8x66 LM rows.
  static let transposedAShapes = [(768, 2056, 1024), (3072, 256, 768), (768, 528, 768)]

  func run() -> OpsResults {
    var results = OpsResults()
    var rng = RandomGenerator(seed: 0)
    // Our matmul against raw BLAS with its own threads at the same count (what a direct cblas_sgemm user gets),
    // as C = A·B and as the weight gradient's C = Aᵀ·B.
    func matmulRates(_ m: Int, _ k: Int, _ n: Int, transposeA: Bool) -> (ours: Double, blas: Double) {
      let a = Tensor.randn(transposeA ? [k, m] : [m, k], rng: &rng), b = Tensor.randn([k, n], rng: &rng)
      let flops = 2.0 * Double(m * k * n)
      let library = secondsPerCall(repeats: repeats, minTime: minTime) {
        _ = GradMode.noGrad { a.matmul(b, transposeA: transposeA) }
      }
      var c = [Float](repeating: 0, count: m * n)
      let raw = Threads.withOpenBLASThreads(Threads.count) { secondsPerCall(repeats: repeats, minTime: minTime) {
        a.data.withUnsafeBufferPointer { pa in
          b.data.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
              cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, CblasNoTrans, Int32(m), Int32(n),
                          Int32(k), 1, pa.baseAddress, Int32(transposeA ? m : k), pb.baseAddress, Int32(n), 0,
                          pc.baseAddress, Int32(n))
            }
          }
        }
      } }
      return (flops / library / 1e9, flops / raw / 1e9)
    }
    for (m, k, n) in Self.matmulShapes where parts.contains("matmul") {
      let (ours, blas) = matmulRates(m, k, n, transposeA: false)
      results.matmul.append((m, k, n, ours, blas))
    }
    for (m, k, n) in Self.transposedAShapes where parts.contains("matmul") {
      let (ours, blas) = matmulRates(m, k, n, transposeA: true)
      results.matmulTransposedA.append((m, k, n, ours, blas))
    }

    let (batch, heads, seq, hidden) = (32, 4, 64, 256)
    let q = Tensor.randn([batch, seq, hidden], rng: &rng, requiresGrad: true)
    let k = Tensor.randn([batch, seq, hidden], rng: &rng, requiresGrad: true)
    let v = Tensor.randn([batch, seq, hidden], rng: &rng, requiresGrad: true)
    let gradient = Tensor.randn([batch, seq, hidden], rng: &rng).data
    let causal = (0..<seq).flatMap { i in (0..<seq).map { j in j <= i } }
    for (mask, keyPath) in [(nil, \OpsResults.attention), (causal, \OpsResults.attentionCausal)] as [([Bool]?, WritableKeyPath<OpsResults, Double>)]
    where parts.contains("attention") {
      let seconds = secondsPerCall(repeats: repeats, minTime: minTime) {
        for t in [q, k, v] { t.grad = nil }
        Tensor.attention(query: q, key: k, value: v, heads: heads, mask: mask).backward(seed: gradient)
      }
      results[keyPath: keyPath] = seconds * 1000
    }

    let x = Tensor.randn([batch * seq, hidden], rng: &rng, requiresGrad: true)
    let norm = LayerNorm(hidden, eps: 1e-12)
    let normGradient = Tensor.randn([batch * seq, hidden], rng: &rng).data
    if parts.contains("layernorm") {
      results.layerNorm = secondsPerCall(repeats: repeats, minTime: minTime) {
      x.grad = nil
      for p in norm.parameters { p.grad = nil }
      norm(x).backward(seed: normGradient)
      } * 1000
    }

    let block = PostNormTransformerBlock(width: hidden, heads: heads, intermediateWidth: 1024, rng: &rng)
    let input = Tensor.randn([batch, seq, hidden], rng: &rng, requiresGrad: true)
    // Key padding: sample b keeps its first (seq − b mod 16) keys, as in the PyTorch script.
    var mask = [Bool](repeating: true, count: batch * seq * seq)
    for b in 0..<batch {
      let valid = seq - (b % 16)
      for i in 0..<seq { for j in valid..<seq { mask[(b * seq + i) * seq + j] = false } }
    }
    guard parts.contains("block") else { return results }
    results.block = secondsPerCall(repeats: repeats, minTime: minTime) {
      input.grad = nil
      for p in block.parameters { p.grad = nil }
      block(input, mask: mask).backward(seed: gradient)
    } * 1000
    return results
  }
}
