// Broadcasting add, sub, mul, div: forward and backward side by side.

extension Tensor {
  /// Elementwise `a + b` with broadcasting.
  public static func + (a: Tensor, b: Tensor) -> Tensor {
    let shape = broadcastShape(a.shape, b.shape, "add")
    let out = broadcastApply(a.data, a.shape, b.data, b.shape, shape) { $0 + $1 }
    return record(.add, shape: shape, data: out, inputs: [a, b]) { g in
      if a.requiresGrad { a.accumulateGrad(reduceGradient(g, from: shape, to: a.shape)) }
      if b.requiresGrad { b.accumulateGrad(reduceGradient(g, from: shape, to: b.shape)) }
    }
  }

  /// Elementwise `a - b` with broadcasting.
  public static func - (a: Tensor, b: Tensor) -> Tensor {
    let shape = broadcastShape(a.shape, b.shape, "sub")
    let out = broadcastApply(a.data, a.shape, b.data, b.shape, shape) { $0 - $1 }
    return record(.sub, shape: shape, data: out, inputs: [a, b]) { g in
      if a.requiresGrad { a.accumulateGrad(reduceGradient(g, from: shape, to: a.shape)) }
      if b.requiresGrad { b.accumulateGrad(reduceGradient(g.map { -$0 }, from: shape, to: b.shape)) }
    }
  }

  /// Elementwise `a * b` with broadcasting.
  public static func * (a: Tensor, b: Tensor) -> Tensor {
    let shape = broadcastShape(a.shape, b.shape, "mul")
    let out = broadcastApply(a.data, a.shape, b.data, b.shape, shape) { $0 * $1 }
    return record(.mul, shape: shape, data: out, inputs: [a, b]) { g in
      if a.requiresGrad {
        let ga = broadcastApply(g, shape, b.data, b.shape, shape) { $0 * $1 }
        a.accumulateGrad(reduceGradient(ga, from: shape, to: a.shape))
      }
      if b.requiresGrad {
        let gb = broadcastApply(g, shape, a.data, a.shape, shape) { $0 * $1 }
        b.accumulateGrad(reduceGradient(gb, from: shape, to: b.shape))
      }
    }
  }

  /// Elementwise `a / b` with broadcasting.
  public static func / (a: Tensor, b: Tensor) -> Tensor {
    let shape = broadcastShape(a.shape, b.shape, "div")
    let out = broadcastApply(a.data, a.shape, b.data, b.shape, shape) { $0 / $1 }
    return record(.div, shape: shape, data: out, inputs: [a, b]) { g in
      if a.requiresGrad {
        let ga = broadcastApply(g, shape, b.data, b.shape, shape) { $0 / $1 }
        a.accumulateGrad(reduceGradient(ga, from: shape, to: a.shape))
      }
      if b.requiresGrad {
        // d(a/b)/db = -a / b^2 = -out / b
        let gOut = broadcastApply(g, shape, out, shape, shape) { $0 * $1 }
        let gb = broadcastApply(gOut, shape, b.data, b.shape, shape) { -$0 / $1 }
        b.accumulateGrad(reduceGradient(gb, from: shape, to: b.shape))
      }
    }
  }

  /// `a + scalar`.
  public static func + (a: Tensor, b: Float) -> Tensor { a + Tensor.scalar(b) }
  /// `a - scalar`.
  public static func - (a: Tensor, b: Float) -> Tensor { a - Tensor.scalar(b) }
  /// `a * scalar`.
  public static func * (a: Tensor, b: Float) -> Tensor { a * Tensor.scalar(b) }
  /// `scalar * a`.
  public static func * (a: Float, b: Tensor) -> Tensor { b * Tensor.scalar(a) }
  /// `a / scalar`.
  public static func / (a: Tensor, b: Float) -> Tensor { a * Tensor.scalar(1 / b) }
  /// `scalar - a`.
  public static func - (a: Float, b: Tensor) -> Tensor { Tensor.scalar(a) - b }
  /// `-a`.
  public static prefix func - (a: Tensor) -> Tensor { a * Tensor.scalar(-1) }
}
