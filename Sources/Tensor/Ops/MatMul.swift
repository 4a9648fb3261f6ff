// Matrix products: batched matmul and the fused linear layer. Both call `gemm` (BLAS.swift) only.

extension Tensor {
  /// Batched matrix product op(a) @ op(b) over the last two dimensions.
  ///
  /// `a` is [..., M, K] ([..., K, M] when `transposeA`); `b` is either 2-D ([K, N], or [N, K] when
  /// `transposeB`), shared by every batch entry, or has the same leading dimensions as `a`.
  /// Output: [..., M, N].
  public func matmul(_ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    let a = self
    precondition(a.rank >= 2 && b.rank >= 2, "matmul: operands must be at least 2-D, got \(a.shape) and \(b.shape)")
    let batchShape = Array(a.shape.dropLast(2))
    let sharedB = b.rank == 2
    precondition(
      sharedB || Array(b.shape.dropLast(2)) == batchShape,
      "matmul: batch dimensions differ: \(a.shape) vs \(b.shape)")
    let (aRows, aCols) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (bRows, bCols) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let m = transposeA ? aCols : aRows
    let k = transposeA ? aRows : aCols
    let kB = transposeB ? bCols : bRows
    let n = transposeB ? bRows : bCols
    precondition(k == kB, "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") @ \(b.shape)\(transposeB ? "ᵀ" : "")")
    let batch = batchShape.reduce(1, *)
    let (aSize, bSize, cSize) = (m * k, sharedB ? 0 : k * n, m * n)
    // Every element is written by gemm with beta = 0, so the output need not be zero-filled first.
    var out = uninitializedFloats(batch * cSize)
    a.data.withUnsafeBufferPointer { pa in
      b.data.withUnsafeBufferPointer { pb in
        out.withUnsafeMutableBufferPointer { pc in
          if sharedB && !transposeA {
            // One product: the batch folds into M.
            gemm(transposeA: false, transposeB: transposeB, m: batch * m, n: n, k: k,
                 a: pa.baseAddress!, lda: aCols, b: pb.baseAddress!, ldb: bCols, beta: 0,
                 c: pc.baseAddress!, ldc: n)
          } else {
            for i in 0..<batch {
              gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                   a: pa.baseAddress! + i * aSize, lda: aCols, b: pb.baseAddress! + i * bSize, ldb: bCols,
                   beta: 0, c: pc.baseAddress! + i * cSize, ldc: n)
            }
          }
        }
      }
    }
    return Tensor.record(.matmul, shape: batchShape + [m, n], data: out, inputs: [a, b]) { g in
      g.withUnsafeBufferPointer { pg in
        let pg = pg.baseAddress!
        if a.requiresGrad {
          a.accumulateGrad { ga in
            b.data.withUnsafeBufferPointer { pb in
              for i in 0..<batch {
                let gC = pg + i * cSize, bi = pb.baseAddress! + i * bSize, gA = ga.baseAddress! + i * aSize
                if !transposeA {  // dA[M,K] = dC[M,N] · op(B)ᵀ
                  gemm(transposeA: false, transposeB: !transposeB, m: m, n: k, k: n,
                       a: gC, lda: n, b: bi, ldb: bCols, beta: 1, c: gA, ldc: aCols)
                } else {  // dA[K,M] = op(B)[K,N] · dCᵀ
                  gemm(transposeA: transposeB, transposeB: true, m: k, n: m, k: n,
                       a: bi, lda: bCols, b: gC, ldb: n, beta: 1, c: gA, ldc: aCols)
                }
              }
            }
          }
        }
        if b.requiresGrad {
          b.accumulateGrad { gb in
            a.data.withUnsafeBufferPointer { pa in
              if sharedB && !transposeA {
                let gB = gb.baseAddress!
                if !transposeB {  // dB[K,N] = Aᵀ[K, batch·M] · dC[batch·M, N]
                  gemm(transposeA: true, transposeB: false, m: k, n: n, k: batch * m,
                       a: pa.baseAddress!, lda: aCols, b: pg, ldb: n, beta: 1, c: gB, ldc: bCols)
                } else {  // dB[N,K] = dCᵀ · A
                  gemm(transposeA: true, transposeB: false, m: n, n: k, k: batch * m,
                       a: pg, lda: n, b: pa.baseAddress!, ldb: aCols, beta: 1, c: gB, ldc: bCols)
                }
                return
              }
              for i in 0..<batch {
                let gC = pg + i * cSize, ai = pa.baseAddress! + i * aSize, gB = gb.baseAddress! + i * bSize
                if !transposeB {  // dB[K,N] = op(A)ᵀ · dC
                  gemm(transposeA: !transposeA, transposeB: false, m: k, n: n, k: m,
                       a: ai, lda: aCols, b: gC, ldb: n, beta: 1, c: gB, ldc: bCols)
                } else {  // dB[N,K] = dCᵀ · op(A)
                  gemm(transposeA: true, transposeB: transposeA, m: n, n: k, k: m,
                       a: gC, lda: n, b: ai, ldb: aCols, beta: 1, c: gB, ldc: bCols)
                }
              }
            }
          }
        }
      }
    }
  }

  /// The affine map of a linear layer: `x @ weightᵀ + bias`, with `weight` stored [out, in] as in
  /// PyTorch and Hugging Face checkpoints. `x` is [..., in]; the output is [..., out].
  public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
    let x = self
    precondition(weight.rank == 2, "linear: weight must be 2-D [out, in], got \(weight.shape)")
    let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
    precondition(x.shape.last == inFeatures, "linear: input \(x.shape) does not end in \(inFeatures) features (weight \(weight.shape))")
    if let bias { precondition(bias.shape == [outFeatures], "linear: bias \(bias.shape) != [\(outFeatures)]") }
    let rows = x.count / Swift.max(inFeatures, 1)
    var out = bias == nil ? uninitializedFloats(rows * outFeatures) : [Float](repeating: 0, count: rows * outFeatures)
    if let bias {
      bias.data.withUnsafeBufferPointer { pb in
        out.withUnsafeMutableBufferPointer { po in
          for r in 0..<rows { for j in 0..<outFeatures { po[r * outFeatures + j] = pb[j] } }
        }
      }
    }
    x.data.withUnsafeBufferPointer { px in
      weight.data.withUnsafeBufferPointer { pw in
        out.withUnsafeMutableBufferPointer { po in
          gemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
               a: px.baseAddress!, lda: inFeatures, b: pw.baseAddress!, ldb: inFeatures,
               beta: bias == nil ? 0 : 1, c: po.baseAddress!, ldc: outFeatures)
        }
      }
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return Tensor.record(.linear, shape: Array(x.shape.dropLast()) + [outFeatures], data: out, inputs: inputs) { g in
      g.withUnsafeBufferPointer { pg in
        let pg = pg.baseAddress!
        if x.requiresGrad {  // dx[rows,in] = dy[rows,out] · W[out,in]
          x.accumulateGrad { gx, beta in
            weight.data.withUnsafeBufferPointer { pw in
              gemm(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                   a: pg, lda: outFeatures, b: pw.baseAddress!, ldb: inFeatures, beta: beta,
                   c: gx.baseAddress!, ldc: inFeatures)
            }
          }
        }
        if weight.requiresGrad {  // dW[out,in] = dyᵀ[out,rows] · x[rows,in]
          weight.accumulateGrad { gw, beta in
            x.data.withUnsafeBufferPointer { px in
              gemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                   a: pg, lda: outFeatures, b: px.baseAddress!, ldb: inFeatures, beta: beta,
                   c: gw.baseAddress!, ldc: inFeatures)
            }
          }
        }
        if let bias, bias.requiresGrad {  // db = column sums of dy
          bias.accumulateGrad { gb in
            for r in 0..<rows { for j in 0..<outFeatures { gb[j] += pg[r * outFeatures + j] } }
          }
        }
      }
    }
  }
}

/// An array of `count` Floats whose contents the caller overwrites completely (saves a zero-fill pass).
@inline(__always)
func uninitializedFloats(_ count: Int) -> [Float] {
  [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}
