// Resizing as PIL's `Image.resize` does it (and so torchvision's `Resize` on PIL images, which LAVIS and the
// CLIP/BLIP-2 processors use): a separable convolution, horizontal pass then vertical, whose kernel is
// stretched by the scale factor when shrinking (antialiasing), sampled at pixel centres, weights normalized to
// sum to 1. Bicubic is Keys' cubic with a = -0.5 (PIL's), support 2; bilinear the triangle, support 1.
// The one difference: PIL rounds to 8 bits after each pass, this keeps floats (so results differ from PIL's
// by at most about one 8-bit step; the tests measure it).

import Blip2Core

/// The interpolation filter of a resize.
public enum Resampling: String, Sendable, CaseIterable, Equatable {
  /// Keys' cubic convolution, a = -0.5 (PIL `BICUBIC`, `resample: 3` in a `preprocessor_config.json`).
  case bicubic
  /// Linear interpolation (PIL `BILINEAR`, `resample: 2`).
  case bilinear

  /// Half the kernel's width, in source pixels, before stretching.
  var support: Double {
    switch self {
    case .bicubic: 2
    case .bilinear: 1
    }
  }

  /// The kernel at distance `x`.
  func weight(_ x: Double) -> Double {
    let x = abs(x)
    switch self {
    case .bilinear:
      return x < 1 ? 1 - x : 0
    case .bicubic:
      let a = -0.5
      if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
      if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
      return 0
    }
  }

  /// For each of `outputSize` positions, the first source index and the weights over `inputSize` pixels
  /// (PIL's `precompute_coeffs`).
  func coefficients(inputSize: Int, outputSize: Int) -> [(start: Int, weights: [Float])] {
    let scale = Double(inputSize) / Double(outputSize)
    let filterScale = max(scale, 1)
    let support = self.support * filterScale
    return (0 ..< outputSize).map { index in
      let center = (Double(index) + 0.5) * scale
      let low = max(Int(center - support + 0.5), 0)
      let high = min(Int(center + support + 0.5), inputSize)
      var weights = (low ..< high).map { weight((Double($0) - center + 0.5) / filterScale) }
      let total = weights.reduce(0, +)
      if total != 0 { weights = weights.map { $0 / total } }
      return (low, weights.map(Float.init))
    }
  }
}

extension Image {
  /// This image resized to `width` x `height` with `filter` (PIL's algorithm, in floats). Values may leave
  /// [0, 1] slightly where bicubic overshoots an edge; they are clamped back, as PIL's 8-bit output is.
  public func resized(width newWidth: Int, height newHeight: Int, filter: Resampling = .bicubic) -> Image {
    precondition(newWidth >= 1 && newHeight >= 1, "Image.resized: the size must be at least 1x1")
    if newWidth == width && newHeight == height { return self }
    // Horizontal pass: [3, height, width] -> [3, height, newWidth].
    let columns = filter.coefficients(inputSize: width, outputSize: newWidth)
    var wide = [Float](repeating: 0, count: 3 * height * newWidth)
    for row in 0 ..< 3 * height {
      let source = row * width, target = row * newWidth
      for (x, coefficient) in columns.enumerated() {
        var sum: Float = 0
        for (k, weight) in coefficient.weights.enumerated() { sum += weight * pixels[source + coefficient.start + k] }
        wide[target + x] = min(max(sum, 0), 1)
      }
    }
    // Vertical pass: [3, height, newWidth] -> [3, newHeight, newWidth].
    let rows = filter.coefficients(inputSize: height, outputSize: newHeight)
    var out = [Float](repeating: 0, count: 3 * newHeight * newWidth)
    for channel in 0 ..< 3 {
      let source = channel * height * newWidth, target = channel * newHeight * newWidth
      for (y, coefficient) in rows.enumerated() {
        for x in 0 ..< newWidth {
          var sum: Float = 0
          for (k, weight) in coefficient.weights.enumerated() {
            sum += weight * wide[source + (coefficient.start + k) * newWidth + x]
          }
          out[target + y * newWidth + x] = min(max(sum, 0), 1)
        }
      }
    }
    return Image(width: newWidth, height: newHeight, pixels: out)
  }

  /// The centre `width` x `height` of this image (torchvision's `CenterCrop`: the offset is half the margin,
  /// rounded half to even). The crop must fit.
  public func centerCropped(width newWidth: Int, height newHeight: Int) -> Image {
    precondition(newWidth <= width && newHeight <= height, "Image.centerCropped: the crop must fit in the image")
    let top = Int((Double(height - newHeight) / 2).rounded(.toNearestOrEven))
    let left = Int((Double(width - newWidth) / 2).rounded(.toNearestOrEven))
    var out = [Float]()
    out.reserveCapacity(3 * newWidth * newHeight)
    for channel in 0 ..< 3 {
      for y in top ..< top + newHeight {
        let start = (channel * height + y) * width + left
        out.append(contentsOf: pixels[start ..< start + newWidth])
      }
    }
    return Image(width: newWidth, height: newHeight, pixels: out)
  }
}
