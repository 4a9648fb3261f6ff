// Drawing a scene into pixels. Each shape is a circle or a polygon in pixel coordinates; a pixel far from the
// outline (more than half its diagonal, by the signed distance at its centre) is fully in or out, and a pixel
// on the outline is supersampled on a 4x4 grid: anti-aliased edges at the cost of ~16 tests per edge pixel.

import Blip2Core
import Foundation

/// A shape's outline in pixel coordinates (x right, y down).
private enum Outline {
  case circle(cx: Float, cy: Float, radius: Float)
  /// Vertices in order; may be non-convex (the star, the cross).
  case polygon(xs: [Float], ys: [Float])

  /// Signed distance from (x, y) to the outline: negative inside.
  func signedDistance(_ x: Float, _ y: Float) -> Float {
    switch self {
    case let .circle(cx, cy, radius):
      return ((x - cx) * (x - cx) + (y - cy) * (y - cy)).squareRoot() - radius
    case let .polygon(xs, ys):
      var best = Float.greatestFiniteMagnitude
      var j = xs.count - 1
      for i in 0..<xs.count {
        let ex = xs[i] - xs[j], ey = ys[i] - ys[j]
        let wx = x - xs[j], wy = y - ys[j]
        let t = max(0, min(1, (wx * ex + wy * ey) / (ex * ex + ey * ey)))
        let dx = wx - t * ex, dy = wy - t * ey
        best = min(best, dx * dx + dy * dy)
        j = i
      }
      return contains(x, y) ? -best.squareRoot() : best.squareRoot()
    }
  }

  /// Whether (x, y) is inside (even-odd rule for polygons).
  func contains(_ x: Float, _ y: Float) -> Bool {
    switch self {
    case let .circle(cx, cy, radius):
      return (x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius
    case let .polygon(xs, ys):
      var inside = false
      var j = xs.count - 1
      for i in 0..<xs.count {
        if (ys[i] > y) != (ys[j] > y), x < (xs[j] - xs[i]) * (y - ys[i]) / (ys[j] - ys[i]) + xs[i] {
          inside.toggle()
        }
        j = i
      }
      return inside
    }
  }
}

enum Rasterizer {
  /// Supersampling grid per side for edge pixels.
  static let samplesPerSide = 4

  /// Draws `scene` as a `size` x `size` image.
  static func draw(_ scene: Scene, size: Int) -> Image {
    let plane = size * size
    var pixels = [Float](repeating: 0, count: 3 * plane)
    let (br, bg, bb) = scene.background
    for i in 0..<plane {
      pixels[i] = br
      pixels[plane + i] = bg
      pixels[2 * plane + i] = bb
    }
    let side = Float(size)
    let halfDiagonal: Float = 0.7072  // a pixel's half diagonal, in pixels
    let step = 1 / Float(samplesPerSide)
    for shape in scene.shapes {
      let outline = Self.outline(shape, side: side)
      let reach = shape.size.radius * side + 1
      let cx = shape.x * side, cy = shape.y * side
      let x0 = max(0, Int((cx - reach).rounded(.down))), x1 = min(size - 1, Int((cx + reach).rounded(.up)))
      let y0 = max(0, Int((cy - reach).rounded(.down))), y1 = min(size - 1, Int((cy + reach).rounded(.up)))
      guard x0 <= x1, y0 <= y1 else { continue }
      let (r, g, b) = shape.rgb
      for row in y0...y1 {
        for column in x0...x1 {
          let px = Float(column) + 0.5, py = Float(row) + 0.5
          let distance = outline.signedDistance(px, py)
          var coverage: Float
          if distance >= halfDiagonal {
            continue
          } else if distance <= -halfDiagonal {
            coverage = 1
          } else {
            var hits = 0
            for sy in 0..<samplesPerSide {
              for sx in 0..<samplesPerSide
              where outline.contains(Float(column) + (Float(sx) + 0.5) * step, Float(row) + (Float(sy) + 0.5) * step) {
                hits += 1
              }
            }
            coverage = Float(hits) / Float(samplesPerSide * samplesPerSide)
            if hits == 0 { continue }
          }
          let i = row * size + column
          pixels[i] += (r - pixels[i]) * coverage
          pixels[plane + i] += (g - pixels[plane + i]) * coverage
          pixels[2 * plane + i] += (b - pixels[2 * plane + i]) * coverage
        }
      }
    }
    return Image(width: size, height: size, pixels: pixels)
  }

  /// The outline of `shape` in pixels. Sizes are fractions of the circumradius chosen so the kinds look
  /// about equally heavy.
  private static func outline(_ shape: PlacedShape, side: Float) -> Outline {
    let radius = shape.size.radius * side
    let cx = shape.x * side, cy = shape.y * side
    // Unit-circumradius vertices (x right, y down), first pointing up, then rotated and scaled.
    var unit: [(Float, Float)]
    switch shape.kind {
    case .circle:
      return .circle(cx: cx, cy: cy, radius: 0.8 * radius)
    case .square:
      let h: Float = 0.62
      unit = [(-h, -h), (h, -h), (h, h), (-h, h)]
    case .triangle:
      unit = (0..<3).map { k in polar(1.0, -Float.pi / 2 + Float(k) * 2 * Float.pi / 3) }
      unit = unit.map { ($0.0, $0.1 + 0.15) }  // drop it a little so it sits visually centred
    case .star:
      unit = (0..<10).map { k in polar(k % 2 == 0 ? 1.0 : 0.45, -Float.pi / 2 + Float(k) * Float.pi / 5) }
    case .cross:
      let l: Float = 0.85, t: Float = 0.28
      unit = [(-t, -l), (t, -l), (t, -t), (l, -t), (l, t), (t, t), (t, l), (-t, l), (-t, t), (-l, t), (-l, -t), (-t, -t)]
    }
    let c = Float(Foundation.cos(Double(shape.rotation))), s = Float(Foundation.sin(Double(shape.rotation)))
    return .polygon(xs: unit.map { cx + radius * ($0.0 * c - $0.1 * s) },
                    ys: unit.map { cy + radius * ($0.0 * s + $0.1 * c) })
  }

  private static func polar(_ r: Float, _ angle: Float) -> (Float, Float) {
    (r * Float(Foundation.cos(Double(angle))), r * Float(Foundation.sin(Double(angle))))
  }
}
