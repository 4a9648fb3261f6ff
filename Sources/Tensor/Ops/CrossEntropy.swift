// Fused softmax cross-entropy with ignore-index and label smoothing (PyTorch's `F.cross_entropy`).

import Foundation

extension Tensor {
  /// Mean cross-entropy of logits [N, C] against class indices, as `F.cross_entropy` computes it.
  ///
  /// With label smoothing ε the target distribution is (1−ε)·onehot + ε/C. Rows whose target is
  /// `ignoreIndex` do not count (neither in the sum nor in the mean). If every row is ignored the loss
  /// is 0 with zero gradient (PyTorch returns NaN there; a NaN would stop training for no reason).
  public func crossEntropy(targets: [Int], ignoreIndex: Int = -100, labelSmoothing: Float = 0) -> Tensor {
    precondition(rank == 2, "crossEntropy: logits must be [N, classes], got \(shape)")
    let (rows, classes) = (shape[0], shape[1])
    precondition(targets.count == rows, "crossEntropy: \(targets.count) targets for \(rows) rows of logits")
    for t in targets where t != ignoreIndex {
      precondition(t >= 0 && t < classes, "crossEntropy: target \(t) is out of range for \(classes) classes")
    }
    precondition(labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy: label smoothing must be in [0, 1]")
    let valid = targets.filter { $0 != ignoreIndex }.count
    var logProbabilities = [Float](repeating: 0, count: count)
    var total: Double = 0
    data.withUnsafeBufferPointer { px in
      for r in 0..<rows where targets[r] != ignoreIndex {
        let base = r * classes
        var maximum = -Float.infinity
        for j in 0..<classes { maximum = Swift.max(maximum, px[base + j]) }
        var sum: Float = 0
        for j in 0..<classes { sum += fastExp(px[base + j] - maximum) }
        let logSum = maximum + Foundation.log(sum)
        var rowSum: Double = 0
        for j in 0..<classes {
          let lp = px[base + j] - logSum
          logProbabilities[base + j] = lp
          rowSum += Double(lp)
        }
        let nll = -Double(logProbabilities[base + targets[r]])
        let smooth = -rowSum / Double(classes)
        total += (1 - Double(labelSmoothing)) * nll + Double(labelSmoothing) * smooth
      }
    }
    let loss = valid > 0 ? Float(total / Double(valid)) : 0
    let logits = self
    return Tensor.record(.crossEntropy, shape: [], data: [loss], inputs: [self]) { g in
      guard valid > 0 else { return }
      // d/dlogits = (softmax − target distribution) / valid
      let scale = g[0] / Float(valid)
      let off = labelSmoothing / Float(classes)
      logits.accumulateGrad { gx in
        for r in 0..<rows where targets[r] != ignoreIndex {
          let base = r * classes
          for j in 0..<classes {
            let target = (j == targets[r] ? 1 - labelSmoothing : 0) + off
            gx[base + j] += scale * (fastExp(logProbabilities[base + j]) - target)
          }
        }
      }
    }
  }
}
