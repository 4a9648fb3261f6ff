// Shape and indexing ops: reshape, permute (and transpose), slice, concat, gather (embedding lookup),
// masked fill. Tensors are always contiguous, so permute/slice/concat copy; reshape shares storage.

extension Tensor {
  /// The same elements viewed with another shape (one dimension may be -1 and is inferred).
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var resolved = newShape
    if let inferred = newShape.firstIndex(of: -1) {
      let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
      precondition(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) into \(newShape)")
      resolved[inferred] = count / known
    }
    precondition(
      resolved.reduce(1, *) == count, "reshape: cannot reshape \(shape) (\(count) elements) into \(newShape)")
    let input = self
    return Tensor.record(.reshape, shape: resolved, data: data, inputs: [self]) { g in
      input.accumulateGrad(g)
    }
  }

  /// Reorders dimensions: output dimension i is input dimension `dims[i]`.
  public func permuted(_ dims: [Int]) -> Tensor {
    precondition(
      dims.count == rank && Set(dims) == Set(0..<rank), "permute: \(dims) is not a permutation of 0..<\(rank)")
    let outShape = dims.map { shape[$0] }
    let out = permuteData(data, shape: shape, dims: dims)
    var inverse = [Int](repeating: 0, count: rank)
    for (i, d) in dims.enumerated() { inverse[d] = i }
    let input = self
    return Tensor.record(.permute, shape: outShape, data: out, inputs: [self]) { g in
      input.accumulateGrad(permuteData(g, shape: outShape, dims: inverse))
    }
  }

  /// Swaps two dimensions.
  public func transposed(_ first: Int = -2, _ second: Int = -1) -> Tensor {
    let a = Tensor.normalizeAxis(first, rank: rank, "transpose")
    let b = Tensor.normalizeAxis(second, rank: rank, "transpose")
    var dims = Array(0..<rank)
    dims.swapAt(a, b)
    return permuted(dims)
  }

  /// The elements with index in `range` along `axis`.
  public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
    let axis = Tensor.normalizeAxis(axis, rank: rank, "slice")
    precondition(
      range.lowerBound >= 0 && range.upperBound <= shape[axis],
      "slice: range \(range) is out of bounds for dimension \(axis) of size \(shape[axis])")
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    let size = shape[axis]
    var outShape = shape
    outShape[axis] = range.count
    var out = [Float](repeating: 0, count: outer * range.count * inner)
    let block = range.count * inner
    data.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for o in 0..<outer {
          let from = (o * size + range.lowerBound) * inner
          for j in 0..<block { dst[o * block + j] = src[from + j] }
        }
      }
    }
    let input = self
    return Tensor.record(.slice, shape: outShape, data: out, inputs: [self]) { g in
      input.accumulateGrad { gx in
        for o in 0..<outer {
          let to = (o * size + range.lowerBound) * inner
          for j in 0..<block { gx[to + j] += g[o * block + j] }
        }
      }
    }
  }

  /// Joins tensors along `axis`; all other dimensions must agree.
  public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat: no tensors")
    let first = tensors[0]
    let axis = normalizeAxis(axis, rank: first.rank, "concat")
    for t in tensors {
      var a = t.shape, b = first.shape
      precondition(a.count == b.count, "concat: ranks differ: \(t.shape) vs \(first.shape)")
      a[axis] = 0
      b[axis] = 0
      precondition(a == b, "concat: shapes \(t.shape) and \(first.shape) differ outside axis \(axis)")
    }
    let outer = first.shape[..<axis].reduce(1, *)
    let inner = first.shape[(axis + 1)...].reduce(1, *)
    let sizes = tensors.map { $0.shape[axis] }
    let total = sizes.reduce(0, +)
    var outShape = first.shape
    outShape[axis] = total
    var out = [Float](repeating: 0, count: outer * total * inner)
    var offset = 0
    for (t, size) in zip(tensors, sizes) {
      let block = size * inner
      t.data.withUnsafeBufferPointer { src in
        for o in 0..<outer {
          let to = (o * total + offset) * inner
          for j in 0..<block { out[to + j] = src[o * block + j] }
        }
      }
      offset += size
    }
    return record(.concat, shape: outShape, data: out, inputs: tensors) { g in
      var offset = 0
      for (t, size) in zip(tensors, sizes) {
        defer { offset += size }
        guard t.requiresGrad else { continue }
        let block = size * inner
        t.accumulateGrad { gt in
          for o in 0..<outer {
            let from = (o * total + offset) * inner
            for j in 0..<block { gt[o * block + j] += g[from + j] }
          }
        }
      }
    }
  }

  /// The slices at `indices` along the first axis, in that order (repeats allowed): [indices.count, ...rest].
  /// Gradients flow back to this tensor.
  public func rows(_ indices: [Int]) -> Tensor {
    precondition(rank >= 1, "rows: needs a tensor of rank ≥ 1, got a scalar")
    let rest = Array(shape.dropFirst()), size = rest.reduce(1, *)
    return reshaped([shape[0], size]).gather(rows: indices).reshaped([indices.count] + rest)
  }

  /// Rows of this 2-D table picked by `indices` (an embedding lookup): output shape
  /// `indexShape + [columns]`. Indices must be in range (the caller validates token ids).
  public func gather(rows indices: [Int], indexShape: [Int]? = nil) -> Tensor {
    precondition(rank == 2, "gather: the table must be 2-D, got \(shape)")
    let rows = shape[0], width = shape[1]
    let indexShape = indexShape ?? [indices.count]
    precondition(indexShape.reduce(1, *) == indices.count, "gather: index shape \(indexShape) != \(indices.count)")
    var out = [Float](repeating: 0, count: indices.count * width)
    data.withUnsafeBufferPointer { src in
      for (i, row) in indices.enumerated() {
        precondition(row >= 0 && row < rows, "gather: index \(row) is out of range for a table of \(rows) rows")
        for j in 0..<width { out[i * width + j] = src[row * width + j] }
      }
    }
    let table = self
    return Tensor.record(.gather, shape: indexShape + [width], data: out, inputs: [self]) { g in
      table.accumulateGrad { gt in
        for (i, row) in indices.enumerated() {
          for j in 0..<width { gt[row * width + j] += g[i * width + j] }
        }
      }
    }
  }

  /// Replaces elements where `mask` is true with `value`. The mask's shape must equal this tensor's
  /// trailing dimensions (it is repeated over the leading ones).
  public func maskedFill(_ mask: [Bool], maskShape: [Int], value: Float) -> Tensor {
    precondition(
      maskShape.reduce(1, *) == mask.count && Array(shape.suffix(maskShape.count)) == maskShape,
      "maskedFill: mask shape \(maskShape) must equal the trailing dimensions of \(shape)")
    let inner = Swift.max(mask.count, 1)
    var out = data
    for i in 0..<count where mask[i % inner] { out[i] = value }
    let input = self
    return Tensor.record(.maskedFill, shape: shape, data: out, inputs: [self]) { g in
      input.accumulateGrad { gx in
        for i in 0..<g.count where !mask[i % inner] { gx[i] += g[i] }
      }
    }
  }
}

/// Copies `data` of `shape` into the layout of `shape` permuted by `dims`.
func permuteData(_ data: [Float], shape: [Int], dims: [Int]) -> [Float] {
  let outShape = dims.map { shape[$0] }
  let inStrides = Tensor.contiguousStrides(shape)
  let readStrides = dims.map { inStrides[$0] }
  var out = [Float](repeating: 0, count: data.count)
  if data.isEmpty { return out }
  let rank = shape.count
  let lastSize = outShape[rank - 1]
  let lastStride = readStrides[rank - 1]
  let rows = data.count / lastSize
  data.withUnsafeBufferPointer { src in
    out.withUnsafeMutableBufferPointer { dst in
      var index = [Int](repeating: 0, count: Swift.max(rank - 1, 0))
      for row in 0..<rows {
        var base = 0
        for d in 0..<(rank - 1) { base += index[d] * readStrides[d] }
        let to = row * lastSize
        if lastStride == 1 {
          for j in 0..<lastSize { dst[to + j] = src[base + j] }
        } else {
          for j in 0..<lastSize { dst[to + j] = src[base + j * lastStride] }
        }
        var d = rank - 2
        while d >= 0 {
          index[d] += 1
          if index[d] < outShape[d] { break }
          index[d] = 0
          d -= 1
        }
      }
    }
  }
  return out
}
