// Vectorized row reductions. Swift does not reassociate floating-point sums, so a plain loop sums one
// element at a time; these keep 16 partial sums in a SIMD register (the order of additions differs
// from a sequential loop by rounding only).

@inline(__always)
func loadVector(_ p: UnsafePointer<Float>, _ offset: Int) -> SIMD16<Float> {
  UnsafeRawPointer(p + offset).loadUnaligned(as: SIMD16<Float>.self)
}

/// Σ p[i] for i < n.
@inline(__always)
func vectorSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
  var accumulator = SIMD16<Float>()
  var i = 0
  while i + 16 <= n {
    accumulator += loadVector(p, i)
    i += 16
  }
  var total = accumulator.sum()
  while i < n {
    total += p[i]
    i += 1
  }
  return total
}

/// Σ a[i]·b[i] for i < n.
@inline(__always)
func vectorDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
  var accumulator = SIMD16<Float>()
  var i = 0
  while i + 16 <= n {
    accumulator += loadVector(a, i) * loadVector(b, i)
    i += 16
  }
  var total = accumulator.sum()
  while i < n {
    total += a[i] * b[i]
    i += 1
  }
  return total
}

/// Σ (p[i] − center)² for i < n.
@inline(__always)
func vectorSquaredDeviation(_ p: UnsafePointer<Float>, _ center: Float, _ n: Int) -> Float {
  var accumulator = SIMD16<Float>()
  let c = SIMD16<Float>(repeating: center)
  var i = 0
  while i + 16 <= n {
    let d = loadVector(p, i) - c
    accumulator += d * d
    i += 16
  }
  var total = accumulator.sum()
  while i < n {
    total += (p[i] - center) * (p[i] - center)
    i += 1
  }
  return total
}

/// max p[i] for i < n (−∞ for n = 0). Four independent scalar maxima (the stdlib's SIMD min/max
/// compile to per-lane NaN-aware code, slower than this).
@inline(__always)
func vectorMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
  var m0 = -Float.infinity, m1 = -Float.infinity, m2 = -Float.infinity, m3 = -Float.infinity
  var i = 0
  while i + 4 <= n {
    m0 = p[i] > m0 ? p[i] : m0
    m1 = p[i + 1] > m1 ? p[i + 1] : m1
    m2 = p[i + 2] > m2 ? p[i + 2] : m2
    m3 = p[i + 3] > m3 ? p[i + 3] : m3
    i += 4
  }
  while i < n {
    m0 = p[i] > m0 ? p[i] : m0
    i += 1
  }
  return Swift.max(Swift.max(m0, m1), Swift.max(m2, m3))
}

/// Σ a[i]·b[i]·c[i] for i < n.
@inline(__always)
func vectorTripleDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ n: Int) -> Float {
  var accumulator = SIMD16<Float>()
  var i = 0
  while i + 16 <= n {
    accumulator += loadVector(a, i) * loadVector(b, i) * loadVector(c, i)
    i += 16
  }
  var total = accumulator.sum()
  while i < n {
    total += a[i] * b[i] * c[i]
    i += 1
  }
  return total
}
