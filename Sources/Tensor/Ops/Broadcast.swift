// Broadcasting (NumPy rules) for the binary ops, and its adjoint: summing a gradient back to an input's shape.

/// The broadcast shape of two shapes, or a precondition failure that names both.
func broadcastShape(_ a: [Int], _ b: [Int], _ what: String) -> [Int] {
  let rank = max(a.count, b.count)
  var result = [Int](repeating: 1, count: rank)
  for i in 0..<rank {
    let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
    let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
    precondition(
      da == db || da == 1 || db == 1, "\(what): shapes \(a) and \(b) cannot be broadcast together")
    result[i] = da == 1 ? db : da
  }
  return result
}

/// Strides for reading a tensor of `shape` as if it had `outShape` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
  let offset = outShape.count - shape.count
  let own = Tensor.contiguousStrides(shape)
  var strides = [Int](repeating: 0, count: outShape.count)
  for i in 0..<shape.count where shape[i] != 1 { strides[i + offset] = own[i] }
  return strides
}

/// Applies `f` elementwise over the broadcast of `a` and `b` into a new array of `outShape`'s size.
@inline(__always)
func broadcastApply(
  _ a: [Float], _ aShape: [Int], _ b: [Float], _ bShape: [Int], _ outShape: [Int],
  _ f: (Float, Float) -> Float
) -> [Float] {
  let n = outShape.reduce(1, *)
  var out = [Float](repeating: 0, count: n)
  if n == 0 { return out }
  a.withUnsafeBufferPointer { pa in
    b.withUnsafeBufferPointer { pb in
      out.withUnsafeMutableBufferPointer { po in
        let pa = pa.baseAddress!, pb = pb.baseAddress!, po = po.baseAddress!
        if a.count == n && b.count == n {
          parallelFor(n) { range in
            for i in range { po[i] = f(pa[i], pb[i]) }
          }
        } else if b.count == 1 {
          let s = pb[0]
          parallelFor(n) { range in
            for i in range { po[i] = f(pa[i], s) }
          }
        } else if a.count == 1 {
          let s = pa[0]
          parallelFor(n) { range in
            for i in range { po[i] = f(s, pb[i]) }
          }
        } else if a.count == n && isSuffix(bShape, of: outShape) {
          let inner = b.count
          parallelFor(n / inner, grain: max(1, 32_768 / inner)) { rows in
            for row in rows {
              let base = row * inner
              for j in 0..<inner { po[base + j] = f(pa[base + j], pb[j]) }
            }
          }
        } else if b.count == n && isSuffix(aShape, of: outShape) {
          let inner = a.count
          for row in 0..<(n / inner) {
            let base = row * inner
            for j in 0..<inner { po[base + j] = f(pa[j], pb[base + j]) }
          }
        } else {
          let sa = broadcastStrides(aShape, to: outShape)
          let sb = broadcastStrides(bShape, to: outShape)
          forEachIndex(outShape) { flat, index in
            var oa = 0, ob = 0
            for d in 0..<index.count {
              oa += index[d] * sa[d]
              ob += index[d] * sb[d]
            }
            po[flat] = f(pa[oa], pb[ob])
          }
        }
      }
    }
  }
  return out
}

/// Whether `shape` (without leading ones) equals the trailing dimensions of `full`.
func isSuffix(_ shape: [Int], of full: [Int]) -> Bool {
  var trimmed = shape[...]
  while let first = trimmed.first, first == 1, trimmed.count > 0 { trimmed = trimmed.dropFirst() }
  if trimmed.isEmpty { return false }
  return Array(full.suffix(trimmed.count)) == Array(trimmed)
}

/// Calls `body(flatIndex, multiIndex)` for every position of `shape`, row-major.
func forEachIndex(_ shape: [Int], _ body: (Int, [Int]) -> Void) {
  let n = shape.reduce(1, *)
  if n == 0 { return }
  var index = [Int](repeating: 0, count: shape.count)
  for flat in 0..<n {
    body(flat, index)
    var d = shape.count - 1
    while d >= 0 {
      index[d] += 1
      if index[d] < shape[d] { break }
      index[d] = 0
      d -= 1
    }
  }
}

/// Sums a gradient of `outShape` down to `shape` (the adjoint of broadcasting `shape` to `outShape`).
func reduceGradient(_ gradient: [Float], from outShape: [Int], to shape: [Int]) -> [Float] {
  let n = shape.reduce(1, *)
  if n == gradient.count { return gradient }
  var out = [Float](repeating: 0, count: n)
  if n == 1 {
    var total: Float = 0
    for g in gradient { total += g }
    out[0] = total
    return out
  }
  gradient.withUnsafeBufferPointer { pg in
    out.withUnsafeMutableBufferPointer { po in
      if isSuffix(shape, of: outShape) {
        let rows = gradient.count / n
        for row in 0..<rows {
          let base = row * n
          for j in 0..<n { po[j] += pg[base + j] }
        }
      } else {
        let strides = broadcastStrides(shape, to: outShape)
        forEachIndex(outShape) { flat, index in
          var offset = 0
          for d in 0..<index.count { offset += index[d] * strides[d] }
          po[offset] += pg[flat]
        }
      }
    }
  }
  return out
}
