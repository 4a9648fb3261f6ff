// Loading the committed PyTorch fixtures and comparing against them.

import Foundation
import Testing

@testable import Tensor

/// Errors of the fixture helpers themselves (a missing file is a test failure with a clear message).
struct FixtureError: Error, CustomStringConvertible {
  let description: String
}

/// Loads `Fixtures/<name>.safetensors` from the test bundle.
func loadFixture(_ name: String) throws -> [String: Tensor] {
  guard let resources = Bundle.module.resourceURL else {
    throw FixtureError(description: "test bundle has no resources")
  }
  let url = resources.appendingPathComponent("Fixtures/\(name).safetensors")
  return try SafeTensors.load(url)
}

extension Dictionary where Key == String, Value == Tensor {
  /// The fixture tensor `name`, or a thrown error naming it.
  func fixture(_ name: String) throws -> Tensor {
    guard let tensor = self[name] else { throw FixtureError(description: "fixture tensor \(name) is missing") }
    return tensor
  }
}

/// The worst ratio |a − b| / (atol + rtol·|b|) over two arrays (≤ 1 means "close", as `torch.allclose`).
func worstCloseness(_ a: [Float], _ b: [Float], relative: Float, absolute: Float) -> (ratio: Float, index: Int) {
  precondition(a.count == b.count, "compared arrays differ in size: \(a.count) vs \(b.count)")
  var worst: (Float, Int) = (0, -1)
  for i in 0..<a.count {
    let ratio = abs(a[i] - b[i]) / (absolute + relative * abs(b[i]))
    if !(ratio <= worst.0) { worst = (ratio, i) }
  }
  return worst
}

/// Expects `actual` to match the reference: |a − b| ≤ absolute + relative·|b| elementwise.
/// The absolute term (default 1e-6) is float32 rounding for values of order 1..10, where cancellation
/// (e.g. log-softmax of the largest logit) leaves results near 0 with that absolute error.
func expectClose(_ actual: [Float]?, _ reference: Tensor, _ relative: Float = 1e-4, _ what: String,
                 absolute: Float = 1e-6, sourceLocation: SourceLocation = #_sourceLocation) {
  guard let actual else {
    Issue.record("\(what): no value (gradient not computed?)", sourceLocation: sourceLocation)
    return
  }
  let (ratio, index) = worstCloseness(actual, reference.data, relative: relative, absolute: absolute)
  #expect(ratio <= 1, "\(what): element \(index): \(index >= 0 ? actual[index] : 0) vs \(index >= 0 ? reference.data[index] : 0) (rtol \(relative), atol \(absolute))",
          sourceLocation: sourceLocation)
}
