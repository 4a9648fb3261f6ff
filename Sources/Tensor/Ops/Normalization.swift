// Fused row-wise kernels over the last axis: softmax, log-softmax, layer norm, L2 normalization;
// and dropout. Each has a hand-written backward and its own gradient check.

extension Tensor {
  /// Softmax over the last axis.
  public func softmax() -> Tensor {
    let width = shape.last ?? 1
    let rows = count / Swift.max(width, 1)
    var out = data
    out.withUnsafeMutableBufferPointer { po in
      let po = po.baseAddress!
      parallelFor(rows, grain: Swift.max(1, 16_384 / Swift.max(width, 1))) { range in
        for r in range { softmaxRowInPlace(po + r * width, width) }
      }
    }
    let x = self
    return Tensor.record(.softmax, shape: shape, data: out, inputs: [self]) { g in
      // dx = y ⊙ (g − Σ g⊙y)
      x.accumulateGrad { gx in
        for r in 0..<rows {
          let base = r * width
          var dot: Float = 0
          for j in 0..<width { dot += g[base + j] * out[base + j] }
          for j in 0..<width { gx[base + j] += out[base + j] * (g[base + j] - dot) }
        }
      }
    }
  }

  /// Log-softmax over the last axis (stable: x − max − log Σ e^(x − max)).
  public func logSoftmax() -> Tensor {
    let width = shape.last ?? 1
    let rows = count / Swift.max(width, 1)
    var out = [Float](repeating: 0, count: count)
    data.withUnsafeBufferPointer { px in
      for r in 0..<rows {
        let base = r * width
        var maximum = -Float.infinity
        for j in 0..<width { maximum = Swift.max(maximum, px[base + j]) }
        var total: Float = 0
        for j in 0..<width { total += fastExp(px[base + j] - maximum) }
        let logTotal = maximum + Foundation.log(total)
        for j in 0..<width { out[base + j] = px[base + j] - logTotal }
      }
    }
    let x = self
    return Tensor.record(.logSoftmax, shape: shape, data: out, inputs: [self]) { g in
      // dx = g − softmax · Σ g
      x.accumulateGrad { gx in
        for r in 0..<rows {
          let base = r * width
          var total: Float = 0
          for j in 0..<width { total += g[base + j] }
          for j in 0..<width { gx[base + j] += g[base + j] - fastExp(out[base + j]) * total }
        }
      }
    }
  }

  /// Layer normalization over the last axis: (x − mean) / √(var + eps) · weight + bias
  /// (biased variance, as PyTorch).
  public func layerNorm(weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
    let width = shape.last ?? 1
    precondition(weight.shape == [width] && bias.shape == [width],
                 "layerNorm: weight \(weight.shape) and bias \(bias.shape) must be [\(width)] for input \(shape)")
    let rows = count / Swift.max(width, 1)
    var out = [Float](repeating: 0, count: count)
    var normalized = [Float](repeating: 0, count: count)
    var inverseStd = [Float](repeating: 0, count: rows)
    data.withUnsafeBufferPointer { px in
      weight.data.withUnsafeBufferPointer { pw in
        bias.data.withUnsafeBufferPointer { pb in
          out.withUnsafeMutableBufferPointer { po in
            normalized.withUnsafeMutableBufferPointer { pn in
              inverseStd.withUnsafeMutableBufferPointer { ps in
                let px = px.baseAddress!, pw = pw.baseAddress!, pb = pb.baseAddress!
                let po = po.baseAddress!, pn = pn.baseAddress!, ps = ps.baseAddress!
                parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(width, 1))) { range in
                  for r in range {
                    let base = r * width
                    let mean = vectorSum(px + base, width) / Float(width)
                    let variance = vectorSquaredDeviation(px + base, mean, width) / Float(width)
                    let rstd = 1 / (variance + eps).squareRoot()
                    ps[r] = rstd
                    for j in 0..<width {
                      let n = (px[base + j] - mean) * rstd
                      pn[base + j] = n
                      po[base + j] = n * pw[j] + pb[j]
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    let x = self
    return Tensor.record(.layerNorm, shape: shape, data: out, inputs: [self, weight, bias]) { g in
      if x.requiresGrad {
        // dx = rstd · (ĝ − mean(ĝ) − n · mean(ĝ ⊙ n)), ĝ = g ⊙ weight
        x.accumulateGrad { gx in
          g.withUnsafeBufferPointer { pg in
            weight.data.withUnsafeBufferPointer { pw in
              normalized.withUnsafeBufferPointer { pn in
                let gx = gx.baseAddress!, pg = pg.baseAddress!, pw = pw.baseAddress!, pn = pn.baseAddress!
                parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(width, 1))) { range in
                  for r in range {
                    let base = r * width
                    let meanG = vectorDot(pg + base, pw, width) / Float(width)
                    let meanGN = vectorTripleDot(pg + base, pw, pn + base, width) / Float(width)
                    let rstd = inverseStd[r]
                    for j in 0..<width {
                      gx[base + j] += rstd * (pg[base + j] * pw[j] - meanG - pn[base + j] * meanGN)
                    }
                  }
                }
              }
            }
          }
        }
      }
      if weight.requiresGrad {
        weight.accumulateGrad { gw in
          for r in 0..<rows { for j in 0..<width { gw[j] += g[r * width + j] * normalized[r * width + j] } }
        }
      }
      if bias.requiresGrad {
        bias.accumulateGrad { gb in
          for r in 0..<rows { for j in 0..<width { gb[j] += g[r * width + j] } }
        }
      }
    }
  }

  /// Divides each row (last axis) by its L2 norm, floored at `eps` (as `F.normalize` in PyTorch).
  public func l2Normalized(eps: Float = 1e-12) -> Tensor {
    let width = shape.last ?? 1
    let rows = count / Swift.max(width, 1)
    var out = [Float](repeating: 0, count: count)
    var norms = [Float](repeating: 0, count: rows)
    for r in 0..<rows {
      var total: Float = 0
      for j in 0..<width { total += data[r * width + j] * data[r * width + j] }
      norms[r] = Swift.max(total.squareRoot(), eps)
      for j in 0..<width { out[r * width + j] = data[r * width + j] / norms[r] }
    }
    let x = self
    return Tensor.record(.l2Normalize, shape: shape, data: out, inputs: [self]) { g in
      // Above the floor: dx = (g − y · Σ g⊙y) / ‖x‖; at the floor the norm is a constant.
      x.accumulateGrad { gx in
        for r in 0..<rows {
          let base = r * width
          let atFloor = norms[r] <= eps
          var dot: Float = 0
          if !atFloor { for j in 0..<width { dot += g[base + j] * out[base + j] } }
          for j in 0..<width { gx[base + j] += (g[base + j] - out[base + j] * dot) / norms[r] }
        }
      }
    }
  }

  /// Inverted dropout: zeroes each element with probability `p` and scales the rest by 1/(1−p).
  /// Returns the input unchanged when `training` is false or `p` is 0.
  ///
  /// The mask is a counter-based stream: one draw from `rng` seeds it, and element i is kept when a 24-bit
  /// uniform number from SplitMix64's mix of (seed, i / 2) (the high or the low half of its bits) is at least
  /// p·2²⁴. So the mask is the same whatever the thread count, and threads draw it in parallel.
  public func dropout(_ p: Float, training: Bool, rng: inout RandomGenerator) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
    guard training && p > 0 else { return self }
    let scale = 1 / (1 - p)
    let seed = rng.next()
    let threshold = UInt64((Double(p) * 16_777_216).rounded(.up))
    let n = count
    var keep = uninitializedFloats(n)
    var out = uninitializedFloats(n)
    data.withUnsafeBufferPointer { x in
      keep.withUnsafeMutableBufferPointer { k in
        out.withUnsafeMutableBufferPointer { o in
          let (x, k, o) = (x.baseAddress!, k.baseAddress!, o.baseAddress!)
          parallelFor((n + 1) / 2, grain: 16_384) { pairs in
            for pair in pairs {
              var z = seed &+ UInt64(pair) &* 0x9E37_79B9_7F4A_7C15
              z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
              z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
              z ^= z >> 31
              let first = 2 * pair
              let high: Float = z >> 40 >= threshold ? scale : 0
              k[first] = high
              o[first] = x[first] * high
              if first + 1 < n {
                let low: Float = (z >> 8) & 0xFF_FFFF >= threshold ? scale : 0
                k[first + 1] = low
                o[first + 1] = x[first + 1] * low
              }
            }
          }
        }
      }
    }
    let x = self
    return Tensor.record(.dropout, shape: shape, data: out, inputs: [self]) { g in
      x.accumulateGrad { gx in
        keep.withUnsafeBufferPointer { k in
          g.withUnsafeBufferPointer { g in for i in 0..<gx.count { gx[i] += g[i] * k[i] } }
        }
      }
    }
  }
}

/// Softmax of one row of `width` elements, in place. A row that is entirely −∞ (fully masked) becomes
/// zeros (no attention at all), not NaN.
@inline(__always)
func softmaxRowInPlace(_ row: UnsafeMutablePointer<Float>, _ width: Int) {
  let maximum = vectorMax(row, width)
  if maximum == -.infinity {
    for j in 0..<width { row[j] = 0 }
    return
  }
  for j in 0..<width { row[j] = fastExp(row[j] - maximum) }
  let inverse = 1 / vectorSum(row, width)
  for j in 0..<width { row[j] *= inverse }
}

import Foundation
