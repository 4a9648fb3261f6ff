// The tensor type: an n-d Float32 array, row-major and contiguous, that records how it was made so that
// gradients can flow back through it (define-by-run reverse-mode autograd, see Autograd.swift).

/// Every primitive and fused kernel the autograd knows. Each op's forward and backward live side by side in
/// `Ops/`; the gradient-check table in the tests has one case per op (a new op without a case fails a test).
public enum Op: String, CaseIterable, Sendable {
  // broadcasting binary
  case add, sub, mul, div
  // matrix products (every one goes through `gemm`, the single cblas_sgemm call site)
  case matmul, linear
  // shape and indexing
  case reshape, permute, slice, concat, gather, maskedFill
  // reductions
  case sum, mean, max
  // unary
  case exp, log, tanh, erf, sqrt, relu, geluErf, geluTanh
  // fused kernels with hand-written backward passes
  case softmax, logSoftmax, layerNorm, dropout, l2Normalize, attention, crossEntropy
}

/// A node of the autograd graph: the op that made a tensor, its inputs, and how to push the output's
/// gradient back into the inputs' gradients.
final class Node {
  let op: Op
  let inputs: [Tensor]
  /// Called with the output's gradient; accumulates into `inputs[i].grad` for inputs that require it.
  let backward: ([Float]) -> Void

  init(op: Op, inputs: [Tensor], backward: @escaping ([Float]) -> Void) {
    self.op = op
    self.inputs = inputs
    self.backward = backward
  }
}

/// An n-dimensional Float32 tensor, stored contiguously in row-major order.
///
/// Tensors are reference types: a parameter is shared by identity between a module and its optimizer.
/// A tensor that `requiresGrad` and was made by an op remembers the op (its `creator`) until `backward()`
/// consumes the graph.
public final class Tensor: @unchecked Sendable {
  /// The size of each dimension; `[]` is a scalar.
  public let shape: [Int]
  /// The elements, row-major. Mutating a tensor that is part of a recorded graph invalidates that graph.
  public var data: [Float]
  /// The gradient of the last `backward()` with respect to this tensor, same layout as `data`.
  public var grad: [Float]?
  /// Whether gradients are computed for this tensor. A frozen parameter has `false`: it gets no gradient
  /// of its own, but gradients still flow through the ops that use it to their other inputs.
  public var requiresGrad: Bool
  /// The op that produced this tensor, while the graph is alive.
  var creator: Node?

  /// Makes a tensor from its shape and row-major elements.
  public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
    precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
    precondition(
      shape.reduce(1, *) == data.count,
      "Tensor: shape \(shape) holds \(shape.reduce(1, *)) elements but \(data.count) were given")
    self.shape = shape
    self.data = data
    self.requiresGrad = requiresGrad
  }

  /// The number of elements.
  public var count: Int { data.count }
  /// The number of dimensions.
  public var rank: Int { shape.count }
  /// Row-major strides, in elements.
  public var strides: [Int] { Tensor.contiguousStrides(shape) }
  /// The op that made this tensor, if it is part of a live graph.
  public var op: Op? { creator?.op }

  /// The single element of a one-element tensor.
  public var item: Float {
    precondition(count == 1, "Tensor.item: tensor of shape \(shape) has \(count) elements, not 1")
    return data[0]
  }

  /// Returns a tensor sharing this one's elements but with no graph history (like `detach()` in PyTorch).
  public func detached() -> Tensor { Tensor(shape: shape, data: data) }

  /// Row-major strides of a shape.
  public static func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
      strides[axis] = running
      running *= shape[axis]
    }
    return strides
  }

  /// Resolves a possibly negative axis (`-1` is the last) against a rank.
  static func normalizeAxis(_ axis: Int, rank: Int, _ what: String) -> Int {
    let resolved = axis < 0 ? axis + rank : axis
    precondition(resolved >= 0 && resolved < rank, "\(what): axis \(axis) is out of range for rank \(rank)")
    return resolved
  }

  // MARK: Graph recording

  /// Makes the output of an op, recording the op when gradients are enabled and an input needs them.
  static func record(
    _ op: Op, shape: [Int], data: [Float], inputs: [Tensor], backward: @escaping ([Float]) -> Void
  ) -> Tensor {
    let needsGrad = GradMode.isEnabled && inputs.contains { $0.requiresGrad }
    let output = Tensor(shape: shape, data: data, requiresGrad: needsGrad)
    if needsGrad { output.creator = Node(op: op, inputs: inputs, backward: backward) }
    if OpProfiler.isEnabled { OpProfiler.forwardDone(op, shape: shape) }
    return output
  }

  /// Adds into this tensor's gradient buffer (created as zeros on first use).
  func accumulateGrad(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
    if grad == nil { grad = [Float](repeating: 0, count: count) }
    grad!.withUnsafeMutableBufferPointer { body($0) }
  }

  /// Adds into this tensor's gradient through a body that computes `result = beta · result + update` and
  /// overwrites every element: on first use the buffer is uninitialized and `beta` is 0 (no zero-fill pass for a
  /// matrix product to read back), afterwards `beta` is 1.
  func accumulateGrad(scaling body: (UnsafeMutableBufferPointer<Float>, _ beta: Float) -> Void) {
    if grad == nil {
      var fresh = uninitializedFloats(count)
      fresh.withUnsafeMutableBufferPointer { body($0, 0) }
      grad = fresh
      return
    }
    grad!.withUnsafeMutableBufferPointer { body($0, 1) }
  }

  /// Adds `values` (same layout) into this tensor's gradient.
  func accumulateGrad(_ values: [Float]) {
    precondition(values.count == count, "internal: gradient of \(values.count) for tensor of \(count)")
    if grad == nil {
      grad = values
      return
    }
    accumulateGrad { g in
      values.withUnsafeBufferPointer { v in
        for i in 0..<g.count { g[i] += v[i] }
      }
    }
  }

  /// Clears the gradient.
  public func zeroGrad() { grad = nil }
}

// MARK: Factories

extension Tensor {
  /// A tensor of zeros.
  public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
    Tensor(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
  }

  /// A tensor of ones.
  public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
    full(shape, 1, requiresGrad: requiresGrad)
  }

  /// A tensor with every element equal to `value`.
  public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
    Tensor(
      shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
  }

  /// A scalar (rank-0) tensor.
  public static func scalar(_ value: Float) -> Tensor { Tensor(shape: [], data: [value]) }

  /// Elements drawn from N(mean, std²) with a seeded generator.
  public static func randn(
    _ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RandomGenerator, requiresGrad: Bool = false
  ) -> Tensor {
    let n = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: n)
    for i in 0..<n { values[i] = mean + std * rng.nextNormal() }
    return Tensor(shape: shape, data: values, requiresGrad: requiresGrad)
  }

  /// Elements drawn uniformly from [low, high) with a seeded generator.
  public static func uniform(
    _ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RandomGenerator, requiresGrad: Bool = false
  ) -> Tensor {
    let n = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: n)
    for i in 0..<n { values[i] = low + (high - low) * rng.nextFloat() }
    return Tensor(shape: shape, data: values, requiresGrad: requiresGrad)
  }
}

extension Tensor: CustomStringConvertible {
  /// A short summary: shape, op and the first elements.
  public var description: String {
    let head = data.prefix(6).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
    let more = count > 6 ? ", ..." : ""
    let made = creator.map { ", op: \($0.op.rawValue)" } ?? ""
    return "Tensor(shape: \(shape)\(made), [\(head)\(more)])"
  }
}

/// Whether ops record a graph. `GradMode.noGrad { ... }` runs a block without recording (frozen parts,
/// evaluation), which saves the memory and the time of the backward bookkeeping.
public enum GradMode {
  /// Task-local, so concurrent tasks (tests, a sweep's runs) each have their own mode.
  @TaskLocal private static var enabledFlag = true

  /// Whether ops currently record a graph.
  public static var isEnabled: Bool { enabledFlag }

  /// Runs `body` with graph recording turned off, then restores the previous mode.
  public static func noGrad<T>(_ body: () throws -> T) rethrows -> T {
    try $enabledFlag.withValue(false) { try body() }
  }
}

import Foundation
