// Elementwise unary ops: exp, log, tanh, erf, sqrt, relu and the two GELU forms, forward and backward.
// Each op is a `UnaryKernel` type, so the generic loop below is specialized per op and its body inlined
// and vectorized (a closure per element would not be).

import Foundation

/// An elementwise function and its derivative.
protocol UnaryKernel {
  static var op: Op { get }
  /// y = f(x).
  static func forward(_ x: Float) -> Float
  /// dy/dx, given x and y = f(x).
  static func derivative(_ x: Float, _ y: Float) -> Float
}

enum ExpKernel: UnaryKernel {
  static let op = Op.exp
  @inline(__always) static func forward(_ x: Float) -> Float { fastExp(x) }
  @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { y }
}

enum LogKernel: UnaryKernel {
  static let op = Op.log
  @inline(__always) static func forward(_ x: Float) -> Float { Foundation.log(x) }
  @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { 1 / x }
}

enum TanhKernel: UnaryKernel {
  static let op = Op.tanh
  @inline(__always) static func forward(_ x: Float) -> Float { Foundation.tanh(x) }
  @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { 1 - y * y }
}

enum ErfKernel: UnaryKernel {
  static let op = Op.erf
  @inline(__always) static func forward(_ x: Float) -> Float { Foundation.erf(x) }
  /// 2/√π · e^(−x²)
  @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { 1.128_379_2 * fastExp(-x * x) }
}

enum SqrtKernel: UnaryKernel {
  static let op = Op.sqrt
  @inline(__always) static func forward(_ x: Float) -> Float { x.squareRoot() }
  @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { 0.5 / y }
}

enum ReluKernel: UnaryKernel {
  static let op = Op.relu
  @inline(__always) static func forward(_ x: Float) -> Float { Swift.max(x, 0) }
  @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : 0 }
}

/// GELU, exact: 0.5 x (1 + erf(x/√2)); derivative Φ(x) + x φ(x).
enum GeluErfKernel: UnaryKernel {
  static let op = Op.geluErf
  @inline(__always) static func forward(_ x: Float) -> Float { x * normalCDF(x) }
  @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float {
    normalCDF(x) + x * 0.398_942_3 * fastExp(-0.5 * x * x)
  }
}

/// GELU, tanh approximation: 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))).
enum GeluTanhKernel: UnaryKernel {
  static let op = Op.geluTanh
  @inline(__always) static func forward(_ x: Float) -> Float {
    0.5 * x * (1 + fastTanh(0.797_884_56 * (x + 0.044_715 * x * x * x)))
  }
  @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float {
    let t = fastTanh(0.797_884_56 * (x + 0.044_715 * x * x * x))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.797_884_56 * (1 + 3 * 0.044_715 * x * x)
  }
}

extension Tensor {
  /// Applies kernel `K` elementwise and records its backward.
  func unary<K: UnaryKernel>(_ kernel: K.Type) -> Tensor {
    let n = count
    var out = uninitializedFloats(n)
    data.withUnsafeBufferPointer { px in
      out.withUnsafeMutableBufferPointer { po in
        let px = px.baseAddress, po = po.baseAddress
        parallelFor(n, grain: 16_384) { range in
          for i in range { po![i] = K.forward(px![i]) }
        }
      }
    }
    let x = self
    return Tensor.record(K.op, shape: shape, data: out, inputs: [self]) { g in
      x.accumulateGrad { gx in
        x.data.withUnsafeBufferPointer { px in
          out.withUnsafeBufferPointer { py in
            g.withUnsafeBufferPointer { pg in
              let gx = gx.baseAddress!, px = px.baseAddress!, py = py.baseAddress!, pg = pg.baseAddress!
              parallelFor(n, grain: 16_384) { range in
                for i in range { gx[i] += pg[i] * K.derivative(px[i], py[i]) }
              }
            }
          }
        }
      }
    }
  }

  /// e^x elementwise.
  public func exp() -> Tensor { unary(ExpKernel.self) }
  /// Natural logarithm elementwise.
  public func log() -> Tensor { unary(LogKernel.self) }
  /// Hyperbolic tangent elementwise.
  public func tanh() -> Tensor { unary(TanhKernel.self) }
  /// The error function elementwise.
  public func erf() -> Tensor { unary(ErfKernel.self) }
  /// Square root elementwise.
  public func sqrt() -> Tensor { unary(SqrtKernel.self) }
  /// max(x, 0) elementwise.
  public func relu() -> Tensor { unary(ReluKernel.self) }
  /// GELU, exact form: x · Φ(x) (BERT, the Q-Former, ViT).
  public func geluErf() -> Tensor { unary(GeluErfKernel.self) }
  /// GELU, tanh approximation (GPT-2's "gelu_new").
  public func geluTanh() -> Tensor { unary(GeluTanhKernel.self) }
  /// GELU by form.
  public func gelu(approximate: Bool = false) -> Tensor { approximate ? geluTanh() : geluErf() }
}
