// Fused multi-head scaled dot-product attention with a boolean mask, forward and backward.
// Heads stay packed in the last dimension ([B, T, heads·headDim]); each head is read in place through
// BLAS leading dimensions, so no permute copies are made.

extension Tensor {
  /// Multi-head scaled dot-product attention: softmax(scale · Q Kᵀ, masked) V per batch entry and head.
  ///
  /// - Parameters:
  ///   - query: [B, Tq, heads·headDim]; `key` and `value`: [B, Tk, heads·headDim] (self- or cross-attention).
  ///   - mask: `true` = may attend; [Tq, Tk] shared by the batch or [B, Tq, Tk]; `nil` = attend everywhere.
  ///     A row with nothing to attend to gives a zero output (not NaN).
  ///   - scale: defaults to 1/√headDim.
  /// - Returns: [B, Tq, heads·headDim].
  public static func attention(
    query: Tensor, key: Tensor, value: Tensor, heads: Int, mask: [Bool]? = nil, scale: Float? = nil
  ) -> Tensor {
    attentionWithProbabilities(query: query, key: key, value: value, heads: heads, mask: mask, scale: scale).output
  }

  /// Attention that also returns the attention probabilities, [B, heads, Tq, Tk] row-major
  /// (for cross-attention maps; the probabilities carry no gradient).
  public static func attentionWithProbabilities(
    query q: Tensor, key k: Tensor, value v: Tensor, heads: Int, mask: [Bool]? = nil, scale: Float? = nil
  ) -> (output: Tensor, probabilities: [Float]) {
    precondition(q.rank == 3 && k.rank == 3 && v.rank == 3, "attention: query/key/value must be [B, T, width], got \(q.shape), \(k.shape), \(v.shape)")
    let (batch, tq, width) = (q.shape[0], q.shape[1], q.shape[2])
    let tk = k.shape[1]
    precondition(k.shape == [batch, tk, width] && v.shape == k.shape, "attention: key \(k.shape) / value \(v.shape) do not match query \(q.shape)")
    precondition(heads > 0 && width % heads == 0, "attention: width \(width) is not divisible by \(heads) heads")
    let headDim = width / heads
    let scale = scale ?? 1 / Float(headDim).squareRoot()
    let maskPerSample: Bool
    if let mask {
      precondition(mask.count == tq * tk || mask.count == batch * tq * tk,
                   "attention: mask of \(mask.count) elements is neither [\(tq), \(tk)] nor [\(batch), \(tq), \(tk)]")
      maskPerSample = mask.count == batch * tq * tk && batch > 1
    } else {
      maskPerSample = false
    }
    let pairs = batch * heads
    let scores = tq * tk
    var probabilities = [Float](repeating: 0, count: pairs * scores)
    var out = [Float](repeating: 0, count: batch * tq * width)
    // Small products run single-threaded inside OpenBLAS, so we spread (batch, head) pairs over threads;
    // large ones use OpenBLAS's own threads.
    let grain = tq * tk * headDim <= 262_144 ? 1 : pairs
    q.data.withUnsafeBufferPointer { pq in
      k.data.withUnsafeBufferPointer { pk in
        v.data.withUnsafeBufferPointer { pv in
          out.withUnsafeMutableBufferPointer { po in
            probabilities.withUnsafeMutableBufferPointer { pp in
              let pq = pq.baseAddress!, pk = pk.baseAddress!, pv = pv.baseAddress!
              let po = po.baseAddress!, pp = pp.baseAddress!
              parallelFor(pairs, grain: grain) { range in
                for pair in range {
                  let b = pair / heads, h = pair % heads
                  let qOffset = b * tq * width + h * headDim, kOffset = b * tk * width + h * headDim
                  let p = pp + pair * scores
                  gemm(transposeA: false, transposeB: true, m: tq, n: tk, k: headDim, alpha: scale,
                       a: pq + qOffset, lda: width, b: pk + kOffset, ldb: width, beta: 0, c: p, ldc: tk)
                  if let mask {
                    let maskBase = maskPerSample ? b * scores : 0
                    for i in 0..<scores where !mask[maskBase + i] { p[i] = -.infinity }
                  }
                  for row in 0..<tq { softmaxRowInPlace(p + row * tk, tk) }
                  gemm(transposeA: false, transposeB: false, m: tq, n: headDim, k: tk,
                       a: p, lda: tk, b: pv + kOffset, ldb: width, beta: 0, c: po + qOffset, ldc: width)
                }
              }
            }
          }
        }
      }
    }
    let output = record(.attention, shape: [batch, tq, width], data: out, inputs: [q, k, v]) { g in
      var dq = [Float](repeating: 0, count: q.requiresGrad ? q.count : 0)
      var dk = [Float](repeating: 0, count: k.requiresGrad ? k.count : 0)
      var dv = [Float](repeating: 0, count: v.requiresGrad ? v.count : 0)
      let needsScores = q.requiresGrad || k.requiresGrad
      g.withUnsafeBufferPointer { pg in
        q.data.withUnsafeBufferPointer { pq in
          k.data.withUnsafeBufferPointer { pk in
            v.data.withUnsafeBufferPointer { pv in
              probabilities.withUnsafeBufferPointer { pp in
                dq.withUnsafeMutableBufferPointer { pdq in
                  dk.withUnsafeMutableBufferPointer { pdk in
                    dv.withUnsafeMutableBufferPointer { pdv in
                      let pg = pg.baseAddress!, pq = pq.baseAddress!, pk = pk.baseAddress!, pv = pv.baseAddress!
                      let pp = pp.baseAddress!
                      // An empty array still has a base address: select by requiresGrad, never by emptiness.
                      let pdq = q.requiresGrad ? pdq.baseAddress : nil
                      let pdk = k.requiresGrad ? pdk.baseAddress : nil
                      let pdv = v.requiresGrad ? pdv.baseAddress : nil
                      parallelFor(pairs, grain: grain) { range in
                        var dScores = [Float](repeating: 0, count: needsScores ? scores : 0)
                        dScores.withUnsafeMutableBufferPointer { pds in
                          let ds = needsScores ? pds.baseAddress : nil
                          for pair in range {
                            let b = pair / heads, h = pair % heads
                            let qOffset = b * tq * width + h * headDim, kOffset = b * tk * width + h * headDim
                            let p = pp + pair * scores
                            let dOut = pg + qOffset
                            if let pdv {  // dV = Pᵀ dO
                              gemm(transposeA: true, transposeB: false, m: tk, n: headDim, k: tq,
                                   a: p, lda: tk, b: dOut, ldb: width, beta: 1, c: pdv + kOffset, ldc: width)
                            }
                            guard let ds else { continue }
                            // dP = dO Vᵀ, then dS = P ⊙ (dP − rowsum(dP ⊙ P))
                            gemm(transposeA: false, transposeB: true, m: tq, n: tk, k: headDim,
                                 a: dOut, lda: width, b: pv + kOffset, ldb: width, beta: 0, c: ds, ldc: tk)
                            for row in 0..<tq {
                              let base = row * tk
                              let dot = vectorDot(ds + base, p + base, tk)
                              for j in 0..<tk { ds[base + j] = p[base + j] * (ds[base + j] - dot) }
                            }
                            if let pdq {  // dQ = scale · dS K
                              gemm(transposeA: false, transposeB: false, m: tq, n: headDim, k: tk, alpha: scale,
                                   a: ds, lda: tk, b: pk + kOffset, ldb: width, beta: 1, c: pdq + qOffset, ldc: width)
                            }
                            if let pdk {  // dK = scale · dSᵀ Q
                              gemm(transposeA: true, transposeB: false, m: tk, n: headDim, k: tq, alpha: scale,
                                   a: ds, lda: tk, b: pq + qOffset, ldb: width, beta: 1, c: pdk + kOffset, ldc: width)
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
      if q.requiresGrad { q.accumulateGrad(dq) }
      if k.requiresGrad { k.accumulateGrad(dk) }
      if v.requiresGrad { v.accumulateGrad(dv) }
    }
    return (output, probabilities)
  }
}
