// AdamW (decoupled weight decay), global-norm gradient clipping, and the learning-rate schedule.

import Foundation

/// AdamW as `torch.optim.AdamW` computes it: p ← p − lr·wd·p, then the Adam update with bias correction.
/// Only parameters that require gradients get state; biases and normalization weights (rank < 2) are not
/// decayed.
public final class AdamW: @unchecked Sendable {
  /// Hyper-parameters.
  public struct Configuration: Sendable, Equatable, Codable {
    /// First-moment decay (paper: 0.9).
    public var beta1: Float = 0.9
    /// Second-moment decay (BLIP-2 uses 0.98).
    public var beta2: Float = 0.98
    /// Denominator floor.
    public var epsilon: Float = 1e-8
    /// Decoupled weight decay (BLIP-2: 0.05).
    public var weightDecay: Float = 0.05

    /// The settings, with BLIP-2's defaults.
    public init(beta1: Float = 0.9, beta2: Float = 0.98, epsilon: Float = 1e-8, weightDecay: Float = 0.05) {
      self.beta1 = beta1
      self.beta2 = beta2
      self.epsilon = epsilon
      self.weightDecay = weightDecay
    }
  }

  /// The parameters being optimized, by name.
  public let parameters: [(name: String, tensor: Tensor, decays: Bool)]
  /// Hyper-parameters.
  public var configuration: Configuration
  /// Updates taken so far.
  public private(set) var step = 0
  private var firstMoments: [[Float]]
  private var secondMoments: [[Float]]

  /// An optimizer over the trainable ones of `namedParameters` (frozen ones are left out entirely).
  /// `noDecay` decides which are not decayed (default: rank < 2, i.e. biases and norm weights).
  public init(_ namedParameters: [(String, Tensor)], configuration: Configuration = Configuration(),
              noDecay: ((String, Tensor) -> Bool)? = nil) {
    let exclude = noDecay ?? { _, tensor in tensor.rank < 2 }
    parameters = namedParameters.filter { $0.1.requiresGrad }.map { ($0.0, $0.1, !exclude($0.0, $0.1)) }
    self.configuration = configuration
    firstMoments = parameters.map { [Float](repeating: 0, count: $0.tensor.count) }
    secondMoments = parameters.map { [Float](repeating: 0, count: $0.tensor.count) }
  }

  /// Clears every parameter's gradient.
  public func zeroGrad() { for p in parameters { p.tensor.grad = nil } }

  /// Takes one update with learning rate `learningRate`. Parameters without a gradient are skipped
  /// (as PyTorch does) but the step count advances.
  public func update(learningRate: Float) {
    OpProfiler.section("adamw") { applyUpdate(learningRate: learningRate) }
  }

  private func applyUpdate(learningRate: Float) {
    step += 1
    let c = configuration
    let correction1 = 1 - Foundation.pow(c.beta1, Float(step))
    let correction2 = 1 - Foundation.pow(c.beta2, Float(step))
    let stepSize = learningRate / correction1
    let inverseRootCorrection2 = 1 / correction2.squareRoot()
    for (index, parameter) in parameters.enumerated() {
      guard let gradient = parameter.tensor.grad else { continue }
      let decay = parameter.decays ? 1 - learningRate * c.weightDecay : 1
      parameter.tensor.data.withUnsafeMutableBufferPointer { p in
        firstMoments[index].withUnsafeMutableBufferPointer { m in
          secondMoments[index].withUnsafeMutableBufferPointer { v in
            gradient.withUnsafeBufferPointer { g in
              // Memory-bound (seven streams of the parameter's size): split over the threads. Each element is
              // updated by one thread with the same arithmetic, so results do not depend on the split.
              let box = UncheckedSendable(value: (p, m, v, g))
              parallelFor(p.count, grain: 1 << 16) { range in
                let (p, m, v, g) = box.value
                for i in range {
                  p[i] *= decay
                  m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i]
                  v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i]
                  p[i] -= stepSize * m[i] / (v[i].squareRoot() * inverseRootCorrection2 + c.epsilon)
                }
              }
            }
          }
        }
      }
    }
  }

  /// The optimizer state as named tensors (`<name>.exp_avg`, `<name>.exp_avg_sq`) plus the step,
  /// for checkpoints.
  public func state() -> (tensors: [String: Tensor], step: Int) {
    var tensors: [String: Tensor] = [:]
    for (index, parameter) in parameters.enumerated() {
      tensors[parameter.name + ".exp_avg"] = Tensor(shape: parameter.tensor.shape, data: firstMoments[index])
      tensors[parameter.name + ".exp_avg_sq"] = Tensor(shape: parameter.tensor.shape, data: secondMoments[index])
    }
    return (tensors, step)
  }

  /// Restores state saved by `state()`; every parameter's moments must be present with the right shape.
  public func restore(tensors: [String: Tensor], step: Int, source: String = "optimizer state") throws {
    for (index, parameter) in parameters.enumerated() {
      for (suffix, isFirst) in [(".exp_avg", true), (".exp_avg_sq", false)] {
        let key = parameter.name + suffix
        guard let tensor = tensors[key] else { throw ModuleError.missingParameter(name: key, source: source) }
        guard tensor.shape == parameter.tensor.shape else {
          throw ModuleError.shapeMismatch(name: key, expected: parameter.tensor.shape, found: tensor.shape, source: source)
        }
        if isFirst { firstMoments[index] = tensor.data } else { secondMoments[index] = tensor.data }
      }
    }
    self.step = step
  }
}

/// Scales gradients so that their global L2 norm is at most `maxNorm` (as `clip_grad_norm_`).
/// Returns the norm before clipping (NaN or infinite when a gradient is; then nothing is scaled).
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
  var total: Double = 0
  for p in parameters {
    guard let g = p.grad else { continue }
    for v in g { total += Double(v) * Double(v) }
  }
  let norm = Float(total.squareRoot())
  guard norm.isFinite else { return norm }
  let scale = maxNorm / (norm + 1e-6)
  if scale < 1 {
    for p in parameters where p.grad != nil {
      p.grad!.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] *= scale } }
    }
  }
  return norm
}

/// The learning rate at `step` (0-based): (1) linear warm-up from 0 to `peak` over `warmupSteps`,
/// (2) then cosine decay from `peak` to `floor` by `totalSteps`, (3) `floor` after that.
public func warmupCosineLearningRate(step: Int, warmupSteps: Int, totalSteps: Int, peak: Float, floor: Float = 0) -> Float {
  if step < warmupSteps {
    return peak * Float(step + 1) / Float(warmupSteps)
  }
  let decaySteps = Swift.max(totalSteps - warmupSteps, 1)
  let progress = Swift.min(Float(step - warmupSteps) / Float(decaySteps), 1)
  return floor + 0.5 * (peak - floor) * (1 + Foundation.cos(Float.pi * progress))
}
