// Modules: classes (an optimizer shares their parameters by identity) with explicitly listed, named
// parameters whose names are the checkpoint keys (Hugging Face spelling), so loading a checkpoint is a
// table of names, not a translation layer.

import Foundation

/// A neural-network building block with named parameters and named children.
///
/// Subclasses list their own parameters in `ownParameters()` and their sub-modules in `children()`,
/// with the names used in checkpoints; everything else (recursive naming, freezing, train/eval mode,
/// parameter counts, loading) comes from here.
open class Module: @unchecked Sendable {
  /// Whether the module is in training mode (dropout active).
  public private(set) var isTraining = true

  /// Makes a module.
  public init() {}

  /// This module's own parameters (not its children's), by checkpoint name, e.g. `("weight", w)`.
  open func ownParameters() -> [(String, Tensor)] { [] }

  /// This module's direct children, by checkpoint name, e.g. `("attention.self", attention)`.
  open func children() -> [(String, Module)] { [] }

  /// Every parameter of this module and its descendants, with dotted checkpoint names.
  public func namedParameters(prefix: String = "") -> [(String, Tensor)] {
    var result = ownParameters().map { (prefix + $0.0, $0.1) }
    for (name, child) in children() {
      result += child.namedParameters(prefix: prefix + name + ".")
    }
    return result
  }

  /// Every parameter, in `namedParameters()` order.
  public var parameters: [Tensor] { namedParameters().map(\.1) }

  /// Parameters that train (not frozen).
  public var trainableParameters: [(String, Tensor)] { namedParameters().filter { $0.1.requiresGrad } }

  /// The number of parameter elements.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

  /// A 64-bit fingerprint (hex) of every parameter's name, shape and exact values: equal modules give equal
  /// fingerprints, and changing any weight changes it (with overwhelming probability). Runs resume a phase
  /// only from files made from the same starting weights.
  public var contentFingerprint: String {
    var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
    func mix(_ value: UInt64) { hash = (hash ^ value) &* 0xFF51_AFD7_ED55_8CCD; hash ^= hash >> 32 }
    for (name, tensor) in namedParameters() {
      for byte in name.utf8 { mix(UInt64(byte)) }
      for size in tensor.shape { mix(UInt64(size) | 1 << 63) }
      tensor.data.withUnsafeBufferPointer { values in
        for value in values { mix(UInt64(value.bitPattern)) }
      }
    }
    return String(hash, radix: 16)
  }

  /// The number of trainable parameter elements.
  public var trainableParameterCount: Int { trainableParameters.reduce(0) { $0 + $1.1.count } }

  /// Whether every parameter is frozen.
  public var isFrozen: Bool { parameters.allSatisfy { !$0.requiresGrad } }

  /// Freezes every parameter: no weight gradients and no optimizer state, while gradients still flow
  /// through this module to its inputs.
  public func freeze() { for p in parameters { p.requiresGrad = false; p.grad = nil } }

  /// Makes every parameter trainable again.
  public func unfreeze() { for p in parameters { p.requiresGrad = true } }

  /// Sets training mode (dropout on) recursively.
  public func train(_ on: Bool = true) {
    isTraining = on
    for (_, child) in children() { child.train(on) }
  }

  /// Sets evaluation mode (dropout off) recursively.
  public func eval() { train(false) }

  /// The parameters as a name → tensor map (for saving).
  public func stateDictionary(prefix: String = "") -> [String: Tensor] {
    Dictionary(namedParameters(prefix: prefix).map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
  }

  /// Copies parameter values from `tensors` (by name, under `prefix`), checking every shape.
  ///
  /// - Parameters:
  ///   - strict: when true, a parameter missing from `tensors` is an error; when false, missing ones keep
  ///     their current values and are reported.
  /// - Returns: what was loaded, what was missing, and which tensors under `prefix` were not used.
  @discardableResult
  public func load(
    _ tensors: [String: Tensor], prefix: String = "", strict: Bool = true, source: String = "checkpoint"
  ) throws -> LoadReport {
    var report = LoadReport()
    for (name, parameter) in namedParameters() {
      let key = prefix + name
      guard let tensor = tensors[key] else {
        if strict { throw ModuleError.missingParameter(name: key, source: source) }
        report.missing.append(key)
        continue
      }
      guard tensor.shape == parameter.shape else {
        throw ModuleError.shapeMismatch(name: key, expected: parameter.shape, found: tensor.shape, source: source)
      }
      parameter.data = tensor.data
      report.loaded.append(key)
    }
    let used = Set(report.loaded)
    report.unused = tensors.keys.filter { $0.hasPrefix(prefix) && !used.contains($0) }.sorted()
    return report
  }
}

/// What `Module.load` did.
public struct LoadReport: Sendable, Equatable {
  /// Parameters set from the checkpoint.
  public var loaded: [String] = []
  /// Parameters the checkpoint did not have (only when not strict).
  public var missing: [String] = []
  /// Checkpoint tensors under the prefix that no parameter used.
  public var unused: [String] = []
}

/// Errors from loading parameters into modules.
public enum ModuleError: Error, LocalizedError, Equatable {
  /// A parameter has no tensor in the checkpoint.
  case missingParameter(name: String, source: String)
  /// A tensor's shape differs from the parameter's.
  case shapeMismatch(name: String, expected: [Int], found: [Int], source: String)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .missingParameter(name, source):
      return "\(source): no tensor named \"\(name)\"; the checkpoint does not fit this model's configuration "
        + "(check the model family and sizes in config.json)"
    case let .shapeMismatch(name, expected, found, source):
      return "\(source): tensor \"\(name)\" has shape \(found) but the model expects \(expected); "
        + "the configuration (hidden size, layers, vocabulary) does not match the checkpoint"
    }
  }
}

/// A shared, seeded random stream for the stochastic parts of a model (dropout). Modules hold a
/// reference, so one stream, saved with a checkpoint, drives them all.
public final class RandomSource: @unchecked Sendable {
  /// The generator; its state is saved in checkpoints.
  public var generator: RandomGenerator
  /// Makes a stream from a seed.
  public init(seed: UInt64) { generator = RandomGenerator(seed: seed) }
}
