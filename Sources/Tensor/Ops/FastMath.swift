// Scalar approximations written so that loops over them vectorize (no calls into libm in hot loops).
// Accuracy is stated per function and checked in the tests against Foundation's versions.

import Foundation

/// e^x with a relative error below 2e-7 on [-87, 88] (Cephes' expf: range reduction by ln 2 split in two
/// parts, a degree-6 polynomial, exponent bits set directly). Returns 0 below -87.3 (and for −∞) and
/// saturates at 88.7.
@inline(__always)
func fastExp(_ input: Float) -> Float {
  let x = min(max(input, -87.33654), 88.72283)
  // Round to nearest by adding and subtracting 1.5·2²³ (plain adds vectorize everywhere; `rounded()`
  // needs SSE4.1's roundps and is scalarized on baseline x86-64).
  let n = (x * 1.442_695_04 + 12_582_912) - 12_582_912
  let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
  var p: Float = 1.987_569_1e-4
  p = p * r + 1.398_199_9e-3
  p = p * r + 8.333_452e-3
  p = p * r + 4.166_579_6e-2
  p = p * r + 0.166_666_66
  p = p * r + 0.5
  p = p * r * r + r + 1
  let bits = UInt32(bitPattern: Int32(n) &+ 127) << 23
  // Below the clamp the true value is under Float's normal range: return exactly 0 so that masked
  // (−∞) logits get exactly zero probability.
  return input < -87.33654 ? 0 : p * Float(bitPattern: bits)
}

/// erfc(z) for z ≥ 0 with a relative error below 1.2e-7 in exact arithmetic (Numerical Recipes'
/// Chebyshev fit `erfcc`), evaluated in Float with `fastExp`.
@inline(__always)
func fastErfcNonNegative(_ z: Float) -> Float {
  let t = 1 / (1 + 0.5 * z)
  var p: Float = 0.170_872_77
  p = p * t - 0.822_152_23
  p = p * t + 1.488_515_87
  p = p * t - 1.135_203_98
  p = p * t + 0.278_868_07
  p = p * t - 0.186_288_06
  p = p * t + 0.096_784_18
  p = p * t + 0.374_091_96
  p = p * t + 1.000_023_68
  p = p * t - 1.265_512_23
  return t * fastExp(-z * z + p)
}

/// erf(x) with an absolute error below 3e-7.
@inline(__always)
func fastErf(_ x: Float) -> Float {
  let tail = fastErfcNonNegative(abs(x))
  return x >= 0 ? 1 - tail : tail - 1
}

/// The standard normal CDF Φ(x) = ½ erfc(−x/√2), with a small *relative* error in both tails
/// (Φ for x < 0 is computed from erfc directly, never as 1 − something close to 1).
@inline(__always)
func normalCDF(_ x: Float) -> Float {
  let half = 0.5 * fastErfcNonNegative(abs(x) * 0.707_106_78)
  return x >= 0 ? 1 - half : half
}

/// tanh(x) with an absolute error below 3e-7, via e^(2x).
@inline(__always)
func fastTanh(_ x: Float) -> Float {
  let e = fastExp(2 * min(max(x, -10), 10))
  return (e - 1) / (e + 1)
}
