// Reductions along one axis (or over everything): sum, mean, max.

extension Tensor {
  /// Splits the shape around `axis` into (outer, size, inner) and the output shape.
  private func reductionLayout(_ axis: Int, keepDims: Bool, _ what: String)
    -> (outer: Int, size: Int, inner: Int, outShape: [Int])
  {
    let axis = Tensor.normalizeAxis(axis, rank: rank, what)
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    var outShape = shape
    if keepDims { outShape[axis] = 1 } else { outShape.remove(at: axis) }
    return (outer, shape[axis], inner, outShape)
  }

  /// The sum of all elements (a scalar), or along `axis`.
  public func sum(axis: Int? = nil, keepDims: Bool = false) -> Tensor {
    guard let axis else {
      var total: Float = 0
      data.withUnsafeBufferPointer { for v in $0 { total += v } }
      let input = self
      return Tensor.record(.sum, shape: [], data: [total], inputs: [self]) { g in
        input.accumulateGrad { gx in for i in 0..<gx.count { gx[i] += g[0] } }
      }
    }
    return reduceSum(axis: axis, keepDims: keepDims, scale: 1, op: .sum)
  }

  /// The mean of all elements (a scalar), or along `axis`.
  public func mean(axis: Int? = nil, keepDims: Bool = false) -> Tensor {
    guard let axis else {
      let n = Float(Swift.max(count, 1))
      var total: Float = 0
      data.withUnsafeBufferPointer { for v in $0 { total += v } }
      let input = self
      return Tensor.record(.mean, shape: [], data: [total / n], inputs: [self]) { g in
        input.accumulateGrad { gx in for i in 0..<gx.count { gx[i] += g[0] / n } }
      }
    }
    let size = shape[Tensor.normalizeAxis(axis, rank: rank, "mean")]
    return reduceSum(axis: axis, keepDims: keepDims, scale: 1 / Float(Swift.max(size, 1)), op: .mean)
  }

  private func reduceSum(axis: Int, keepDims: Bool, scale: Float, op: Op) -> Tensor {
    let (outer, size, inner, outShape) = reductionLayout(axis, keepDims: keepDims, op.rawValue)
    var out = [Float](repeating: 0, count: outer * inner)
    data.withUnsafeBufferPointer { src in
      for o in 0..<outer {
        for s in 0..<size {
          let from = (o * size + s) * inner
          for i in 0..<inner { out[o * inner + i] += src[from + i] }
        }
      }
    }
    if scale != 1 { for i in 0..<out.count { out[i] *= scale } }
    let input = self
    return Tensor.record(op, shape: outShape, data: out, inputs: [self]) { g in
      input.accumulateGrad { gx in
        for o in 0..<outer {
          for s in 0..<size {
            let to = (o * size + s) * inner
            for i in 0..<inner { gx[to + i] += g[o * inner + i] * scale }
          }
        }
      }
    }
  }

  /// The maximum along `axis` (the gradient goes to the first maximal element).
  public func max(axis: Int, keepDims: Bool = false) -> Tensor {
    let (outer, size, inner, outShape) = reductionLayout(axis, keepDims: keepDims, "max")
    precondition(size > 0, "max: cannot reduce an empty dimension")
    var out = [Float](repeating: -.infinity, count: outer * inner)
    var argmax = [Int](repeating: 0, count: outer * inner)
    data.withUnsafeBufferPointer { src in
      for o in 0..<outer {
        for s in 0..<size {
          let from = (o * size + s) * inner
          for i in 0..<inner where src[from + i] > out[o * inner + i] || s == 0 {
            out[o * inner + i] = src[from + i]
            argmax[o * inner + i] = s
          }
        }
      }
    }
    let input = self
    return Tensor.record(.max, shape: outShape, data: out, inputs: [self]) { g in
      input.accumulateGrad { gx in
        for o in 0..<outer {
          for i in 0..<inner {
            gx[(o * size + argmax[o * inner + i]) * inner + i] += g[o * inner + i]
          }
        }
      }
    }
  }
}
