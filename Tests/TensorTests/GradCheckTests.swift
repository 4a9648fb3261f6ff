// Finite-difference gradient checks for every primitive and fused kernel, as a table of cases.
//
// Method: for an op f and fixed random weights w, the scalar L = Σ w ⊙ f(inputs) is evaluated in Double
// from f's Float32 output; analytic gradients come from `backward()`, numeric ones from central
// differences with step h = 1e-3. Float32 rounding in f's output (relative 6e-8 per element, summed
// over at most a few hundred elements) divided by 2h gives a numeric error near 1e-4, and the O(h²)
// truncation term is of the same order for the smooth ops here; hence the default tolerance
// |analytic − numeric| ≤ 2e-3 + 1e-2·|numeric|. Cases that need more say why.

import Testing

@testable import Tensor

/// One gradient-check case: which op, the input shapes and how inputs are drawn, and the function.
struct GradCase: CustomStringConvertible, Sendable {
  let op: Op
  let label: String
  let shapes: [[Int]]
  /// Makes input i's values from a generator (default: standard normal).
  var draw: @Sendable (Int, inout RandomGenerator, Int) -> [Float] = { _, rng, n in
    (0..<n).map { _ in rng.nextNormal() }
  }
  /// Which inputs get their gradient checked (default: all).
  var checked: [Int]? = nil
  var absoluteTolerance: Double = 2e-3
  var relativeTolerance: Double = 1e-2
  let function: @Sendable ([Tensor]) -> Tensor

  var description: String { "\(op.rawValue): \(label)" }
}

/// Values bounded away from zero (for kinks and poles: relu at 0, 1/x, log, sqrt).
@Sendable func awayFromZero(_ index: Int, _ rng: inout RandomGenerator, _ n: Int) -> [Float] {
  (0..<n).map { _ in
    let magnitude = 0.2 + 1.5 * rng.nextFloat()
    return rng.nextFloat() < 0.5 ? -magnitude : magnitude
  }
}

/// Positive values in [0.3, 2.3) (log, sqrt, denominators).
@Sendable func positive(_ index: Int, _ rng: inout RandomGenerator, _ n: Int) -> [Float] {
  (0..<n).map { _ in 0.3 + 2 * rng.nextFloat() }
}

/// Distinct values at least 0.05 apart (max has a kink where two elements tie).
@Sendable func wellSeparated(_ index: Int, _ rng: inout RandomGenerator, _ n: Int) -> [Float] {
  var values = (0..<n).map { Float($0) * 0.05 - Float(n) * 0.025 }
  rng.shuffle(&values)
  return values
}

let causalMask4: [Bool] = (0..<4).flatMap { i in (0..<4).map { j in j <= i } }
/// A per-sample mask [2, 3, 5] with a fully blocked row (row 1 of sample 1) to check the zero-row rule.
let crossMask: [Bool] = (0..<2).flatMap { b in
  (0..<3).flatMap { i in (0..<5).map { j in b == 1 && i == 1 ? false : (i + j + b) % 3 != 0 } }
}

let gradCases: [GradCase] = [
  GradCase(op: .add, label: "same shape", shapes: [[2, 3], [2, 3]]) { $0[0] + $0[1] },
  GradCase(op: .add, label: "broadcast [2,3,4] + [4]", shapes: [[2, 3, 4], [4]]) { $0[0] + $0[1] },
  GradCase(op: .add, label: "broadcast [2,1,4] + [3,1]", shapes: [[2, 1, 4], [3, 1]]) { $0[0] + $0[1] },
  GradCase(op: .sub, label: "broadcast [3,5] - [3,1]", shapes: [[3, 5], [3, 1]]) { $0[0] - $0[1] },
  GradCase(op: .sub, label: "scalar - tensor", shapes: [[], [7]]) { $0[0] - $0[1] },
  GradCase(op: .mul, label: "broadcast [2,3,4] * [1,3,1]", shapes: [[2, 3, 4], [1, 3, 1]]) { $0[0] * $0[1] },
  GradCase(op: .mul, label: "by scalar tensor", shapes: [[5], []]) { $0[0] * $0[1] },
  GradCase(op: .div, label: "broadcast [2,3] / [3]", shapes: [[2, 3], [3]], draw: positive) { $0[0] / $0[1] },
  GradCase(op: .div, label: "odd sizes [1,5,1] / [3,1,7]", shapes: [[1, 5, 1], [3, 1, 7]], draw: positive) {
    $0[0] / $0[1]
  },
  GradCase(op: .matmul, label: "2-D", shapes: [[3, 4], [4, 5]]) { $0[0].matmul($0[1]) },
  GradCase(op: .matmul, label: "batched [2,3,4,5]@[2,3,5,2]", shapes: [[2, 3, 4, 5], [2, 3, 5, 2]]) {
    $0[0].matmul($0[1])
  },
  GradCase(op: .matmul, label: "shared B [2,3,4]@[4,6]", shapes: [[2, 3, 4], [4, 6]]) { $0[0].matmul($0[1]) },
  GradCase(op: .matmul, label: "shared Bᵀ [2,3,4]@[6,4]ᵀ", shapes: [[2, 3, 4], [6, 4]]) {
    $0[0].matmul($0[1], transposeB: true)
  },
  GradCase(op: .matmul, label: "Aᵀ batched [2,4,3]ᵀ@[2,4,5]", shapes: [[2, 4, 3], [2, 4, 5]]) {
    $0[0].matmul($0[1], transposeA: true)
  },
  GradCase(op: .matmul, label: "Aᵀ Bᵀ [2,4,3]ᵀ@[2,5,4]ᵀ", shapes: [[2, 4, 3], [2, 5, 4]]) {
    $0[0].matmul($0[1], transposeA: true, transposeB: true)
  },
  GradCase(op: .matmul, label: "Aᵀ shared B [2,4,3]ᵀ@[4,5]", shapes: [[2, 4, 3], [4, 5]]) {
    $0[0].matmul($0[1], transposeA: true)
  },
  GradCase(op: .linear, label: "with bias", shapes: [[2, 3, 5], [4, 5], [4]]) {
    $0[0].linear(weight: $0[1], bias: $0[2])
  },
  GradCase(op: .linear, label: "no bias, one row", shapes: [[1, 7], [3, 7]]) { $0[0].linear(weight: $0[1], bias: nil) },
  GradCase(op: .reshape, label: "[2,3,4] -> [6,-1]", shapes: [[2, 3, 4]]) { $0[0].reshaped([6, -1]) * $0[0].reshaped([6, 4]) },
  GradCase(op: .permute, label: "[2,3,4,5] (0,2,1,3)", shapes: [[2, 3, 4, 5]]) { $0[0].permuted([0, 2, 1, 3]) },
  GradCase(op: .permute, label: "[2,3,4] (2,0,1)", shapes: [[2, 3, 4]]) { $0[0].permuted([2, 0, 1]) },
  GradCase(op: .slice, label: "middle axis", shapes: [[3, 5, 2]]) { $0[0].sliced(axis: 1, 1..<4) },
  GradCase(op: .slice, label: "last axis", shapes: [[4, 6]]) { $0[0].sliced(axis: -1, 0..<2) },
  GradCase(op: .concat, label: "axis 1, three parts", shapes: [[2, 1, 3], [2, 4, 3], [2, 2, 3]]) {
    Tensor.concat($0, axis: 1)
  },
  GradCase(op: .concat, label: "axis 0", shapes: [[1, 3], [2, 3]]) { Tensor.concat($0, axis: 0) },
  GradCase(op: .gather, label: "embedding lookup with repeats", shapes: [[5, 3]]) {
    $0[0].gather(rows: [4, 0, 2, 4, 1, 0], indexShape: [2, 3])
  },
  GradCase(op: .maskedFill, label: "trailing mask", shapes: [[2, 3, 4]]) {
    $0[0].maskedFill((0..<12).map { $0 % 5 == 1 }, maskShape: [3, 4], value: -3)
  },
  GradCase(op: .sum, label: "all", shapes: [[3, 4]]) { $0[0].sum() },
  GradCase(op: .sum, label: "axis 1 keepDims", shapes: [[2, 3, 4]]) { $0[0].sum(axis: 1, keepDims: true) },
  GradCase(op: .mean, label: "all", shapes: [[3, 4]]) { $0[0].mean() },
  GradCase(op: .mean, label: "last axis", shapes: [[2, 3, 5]]) { $0[0].mean(axis: -1) },
  GradCase(op: .max, label: "axis 1", shapes: [[3, 5, 2]], draw: wellSeparated) { $0[0].max(axis: 1) },
  GradCase(op: .max, label: "axis 0 keepDims", shapes: [[4, 3]], draw: wellSeparated) { $0[0].max(axis: 0, keepDims: true) },
  GradCase(op: .exp, label: "[3,4]", shapes: [[3, 4]]) { $0[0].exp() },
  GradCase(op: .log, label: "positive", shapes: [[3, 4]], draw: positive) { $0[0].log() },
  GradCase(op: .tanh, label: "[10]", shapes: [[10]]) { $0[0].tanh() },
  GradCase(op: .erf, label: "[10]", shapes: [[10]]) { $0[0].erf() },
  GradCase(op: .sqrt, label: "positive", shapes: [[9]], draw: positive) { $0[0].sqrt() },
  GradCase(op: .relu, label: "away from the kink", shapes: [[12]], draw: awayFromZero) { $0[0].relu() },
  GradCase(op: .geluErf, label: "[3,7]", shapes: [[3, 7]]) { $0[0].geluErf() },
  GradCase(op: .geluTanh, label: "[3,7]", shapes: [[3, 7]]) { $0[0].geluTanh() },
  GradCase(op: .softmax, label: "[3,5]", shapes: [[3, 5]]) { $0[0].softmax() },
  GradCase(op: .logSoftmax, label: "[2,2,6]", shapes: [[2, 2, 6]]) { $0[0].logSoftmax() },
  GradCase(op: .layerNorm, label: "[2,3,8]", shapes: [[2, 3, 8], [8], [8]]) {
    $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5)
  },
  GradCase(op: .dropout, label: "p = 0.3, fixed seed", shapes: [[4, 6]]) {
    var rng = RandomGenerator(seed: 7)
    return $0[0].dropout(0.3, training: true, rng: &rng)
  },
  GradCase(op: .l2Normalize, label: "[3,5]", shapes: [[3, 5]]) { $0[0].l2Normalized() },
  GradCase(op: .attention, label: "self, causal, 2 heads", shapes: [[2, 4, 6], [2, 4, 6], [2, 4, 6]]) {
    Tensor.attention(query: $0[0], key: $0[1], value: $0[2], heads: 2, mask: causalMask4)
  },
  GradCase(op: .attention, label: "cross, per-sample mask with a blocked row", shapes: [[2, 3, 4], [2, 5, 4], [2, 5, 4]]) {
    Tensor.attention(query: $0[0], key: $0[1], value: $0[2], heads: 2, mask: crossMask)
  },
  GradCase(op: .attention, label: "no mask, 1 head, odd sizes", shapes: [[1, 3, 5], [1, 7, 5], [1, 7, 5]]) {
    Tensor.attention(query: $0[0], key: $0[1], value: $0[2], heads: 1)
  },
  GradCase(op: .crossEntropy, label: "smoothing 0.1, one ignored", shapes: [[4, 6]]) {
    $0[0].crossEntropy(targets: [2, -100, 5, 0], labelSmoothing: 0.1)
  },
  GradCase(op: .crossEntropy, label: "plain", shapes: [[3, 9]]) { $0[0].crossEntropy(targets: [8, 0, 3]) },
]

@Suite("Gradient checks")
struct GradCheckTests {
  @Test("every op has at least one gradient-check case")
  func everyOpIsCovered() {
    let covered = Set(gradCases.map(\.op))
    let missing = Op.allCases.filter { !covered.contains($0) }
    #expect(missing.isEmpty, "ops without a gradient-check case: \(missing.map(\.rawValue))")
  }

  @Test("analytic gradient matches central differences", arguments: gradCases)
  func gradientMatchesFiniteDifferences(_ gradCase: GradCase) {
    var rng = RandomGenerator(seed: 42)
    let inputs = gradCase.shapes.enumerated().map { index, shape in
      Tensor(shape: shape, data: gradCase.draw(index, &rng, shape.reduce(1, *)), requiresGrad: true)
    }
    let output = gradCase.function(inputs)
    let weights = (0..<output.count).map { _ in rng.nextNormal() }
    let seed = weights
    output.backward(seed: seed)

    func objective(_ values: [Tensor]) -> Double {
      let out = GradMode.noGrad { gradCase.function(values) }
      var total: Double = 0
      for i in 0..<out.count { total += Double(out.data[i]) * Double(weights[i]) }
      return total
    }
    let step: Float = 1e-3
    for index in gradCase.checked ?? Array(inputs.indices) {
      let analytic = inputs[index].grad ?? [Float](repeating: 0, count: inputs[index].count)
      var worst: (Int, Double, Double) = (-1, 0, 0)
      for element in 0..<inputs[index].count {
        let perturbed = inputs.map { Tensor(shape: $0.shape, data: $0.data) }
        let original = perturbed[index].data[element]
        perturbed[index].data[element] = original + step
        let plus = objective(perturbed)
        perturbed[index].data[element] = original - step
        let minus = objective(perturbed)
        let numeric = (plus - minus) / (2 * Double(step))
        let error = abs(Double(analytic[element]) - numeric)
        let allowed = gradCase.absoluteTolerance + gradCase.relativeTolerance * abs(numeric)
        if error > allowed && error > worst.1 { worst = (element, error, numeric) }
      }
      #expect(
        worst.0 < 0,
        "\(gradCase): input \(index) element \(worst.0): analytic \(worst.0 >= 0 ? analytic[worst.0] : 0) vs numeric \(worst.2)"
      )
    }
  }
}
