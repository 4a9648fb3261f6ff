// Fixture loading and comparisons shared by the encoder tests.

import Foundation
import Testing

import Tensor

/// A failure of the test helpers themselves (a missing fixture), with a message saying which.
struct FixtureError: Error, CustomStringConvertible {
  let description: String
}

/// The folder `Fixtures/<name>` of the test bundle (made by Tests/fixtures/make_encoder_fixtures.py).
func fixtureDirectory(_ name: String) throws -> URL {
  guard let resources = Bundle.module.resourceURL else { throw FixtureError(description: "test bundle has no resources") }
  return resources.appendingPathComponent("Fixtures/\(name)")
}

extension Dictionary where Key == String, Value == Tensor {
  /// The fixture tensor `name`, or a thrown error naming it.
  func fixture(_ name: String) throws -> Tensor {
    guard let tensor = self[name] else { throw FixtureError(description: "fixture tensor \(name) is missing") }
    return tensor
  }
}

/// Expects |actual − expected| ≤ absolute + relative·|expected| elementwise (as `torch.allclose`), reporting
/// the worst element.
func expectClose(_ actual: [Float]?, _ expected: [Float], relative: Float = 1e-4, absolute: Float = 1e-5,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
  guard let actual else {
    Issue.record("\(what): no value (gradient not computed?)", sourceLocation: sourceLocation)
    return
  }
  guard actual.count == expected.count else {
    Issue.record("\(what): \(actual.count) elements, expected \(expected.count)", sourceLocation: sourceLocation)
    return
  }
  var worst: (ratio: Float, index: Int) = (0, 0)
  for i in 0..<actual.count {
    let ratio = abs(actual[i] - expected[i]) / (absolute + relative * abs(expected[i]))
    if !(ratio <= worst.ratio) { worst = (ratio, i) }
  }
  #expect(worst.ratio <= 1, "\(what): element \(worst.index): \(actual[worst.index]) vs \(expected[worst.index])",
          sourceLocation: sourceLocation)
}

/// Runs `body` with a fresh empty directory (named after `name`), removed afterwards.
func withTemporaryDirectory(_ name: String, _ body: (URL) throws -> Void) throws {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  try body(folder)
}

/// Smooth random images [batch, 3, size, size] in about [−1, 1]: a few random colour blobs over a colour
/// gradient, so that neighbouring patches predict each other (white noise cannot be reconstructed).
func blobImages(batch: Int, size: Int, rng: inout RandomGenerator) -> Tensor {
  var data = [Float](repeating: 0, count: batch * 3 * size * size)
  for b in 0..<batch {
    let base = (0..<3).map { _ in rng.nextFloat() * 2 - 1 }
    let slope = (0..<3).map { _ in rng.nextFloat() - 0.5 }
    let blobs = (0..<3).map { _ in
      (x: rng.nextFloat() * Float(size), y: rng.nextFloat() * Float(size), r: Float(size) * (0.1 + 0.2 * rng.nextFloat()),
       colour: (0..<3).map { _ in rng.nextFloat() * 2 - 1 })
    }
    for c in 0..<3 {
      for y in 0..<size {
        for x in 0..<size {
          var value = base[c] + slope[c] * Float(x + y) / Float(size)
          for blob in blobs {
            let d2 = (Float(x) - blob.x) * (Float(x) - blob.x) + (Float(y) - blob.y) * (Float(y) - blob.y)
            if d2 < blob.r * blob.r { value = blob.colour[c] }
          }
          data[((b * 3 + c) * size + y) * size + x] = value
        }
      }
    }
  }
  return Tensor(shape: [batch, 3, size, size], data: data)
}

/// Trains for `steps` AdamW steps (warm-up 10, cosine to 0, peak 3e-3) on fresh batches of 16 `blobImages`
/// of `size` pixels; returns the mean loss of the first and of the last 10 steps.
func trainBriefly(_ module: Module, size: Int, steps: Int = 100, seed: UInt64,
                  loss: (Tensor, inout RandomGenerator) -> Tensor) -> (first: Float, last: Float) {
  let optimizer = AdamW(module.namedParameters(), configuration: .init(beta2: 0.95))
  var rng = RandomGenerator(seed: seed)
  var losses: [Float] = []
  for step in 0..<steps {
    let value = loss(blobImages(batch: 16, size: size, rng: &rng), &rng)
    optimizer.zeroGrad()
    value.backward()
    optimizer.update(learningRate: warmupCosineLearningRate(step: step, warmupSteps: 10, totalSteps: steps, peak: 3e-3))
    losses.append(value.item)
  }
  return (losses.prefix(10).reduce(0, +) / 10, losses.suffix(10).reduce(0, +) / 10)
}
