// The linear probe reads an attribute the features carry linearly, stays at its majority level on one they do
// not carry, and its ridge solve is exact.

import Foundation
import Testing
import Tensor

@testable import Blip2Core

/// 4x4 images: one pixel of channel `index % 3` lit at a random place, plus noise; labels "channel" (what the
/// image shows) and "coin" (a label drawn independently of the image).
private final class LitPixels: ProbeLabelledDataset, @unchecked Sendable {
  var name: String { "lit pixels" }
  var imageSize: Int { 4 }
  func count(_ split: Split) -> Int { split == .train ? 600 : 0 }
  func example(_ split: Split, _ index: Int) throws -> Example {
    var rng = RandomGenerator(seed: UInt64(index) &* 7919 &+ 1)
    var pixels = (0..<48).map { _ in 0.2 * rng.nextFloat() }
    pixels[(index % 3) * 16 + rng.nextInt(below: 16)] = 1
    return Example(id: "lit-\(index)", image: Image(width: 4, height: 4, pixels: pixels), captions: [])
  }
  func probeLabels(_ split: Split, _ index: Int) throws -> [String: String] {
    var rng = RandomGenerator(seed: UInt64(index) &* 104_729 &+ 17)
    return ["channel": "c\(index % 3)", "coin": rng.nextInt(below: 2) == 0 ? "heads" : "tails"]
  }
}

/// Tokens = pixels: [B, 3, 4, 4] → [B, 16, 3].
private final class PixelTokens: ImageEncoder {
  let module = Module()
  var kind: String { "pixels" }
  var summary: String { "pixels as tokens" }
  var featureDim: Int { 3 }
  var imageSize: Int { 4 }
  var tokenCount: Int { 16 }
  func encode(_ pixels: Tensor) throws -> Tensor { pixelTokens(pixels) }
}

@Suite struct LinearProbeTests {
  @Test func readsWhatTheFeaturesCarryAndNothingElse() throws {
    let scores = try LinearProbe.evaluate(PixelTokens(), data: LitPixels(), examples: 600, batch: 50)
    let byName = Dictionary(uniqueKeysWithValues: scores.map { ($0.attribute, $0) })
    let channel = try #require(byName["channel"]), coin = try #require(byName["coin"])
    #expect(channel.accuracy == 1 && channel.classes == 3 && channel.fitted == 480 && channel.scored == 120)
    #expect(abs(channel.majority - 1.0 / 3) < 0.05)
    #expect(coin.classes == 2 && coin.accuracy < 0.65, "a label independent of the image: \(coin)")
  }

  @Test func ridgeSolveIsExact() {
    // A = [[4, 2], [2, 3]], X = [[1, -1], [2, 0.5]] → B = A·X.
    let a: [Double] = [4, 2, 2, 3], x: [Double] = [1, -1, 2, 0.5]
    let b: [Double] = [4 * 1 + 2 * 2, 4 * -1 + 2 * 0.5, 2 * 1 + 3 * 2, 2 * -1 + 3 * 0.5]
    let solved = LinearProbe.choleskySolve(a, b, n: 2, columns: 2)
    for (got, want) in zip(solved, x) { #expect(abs(got - want) < 1e-12) }
  }

  @Test func tooFewLabelledImagesIsAClearError() {
    #expect(throws: ProbeError.self) { try LinearProbe.evaluate(PixelTokens(), data: LitPixels(), examples: 5) }
  }
}
