// The contrastive image objective: its NT-Xent value is the formula's, its views are what they claim (a view with
// shifts and scaling off is the image or its mirror, channels swapped as a whole), and paired with masked
// reconstruction the encoder's parameters are trained once.

import Foundation
import Testing
import Tensor

@testable import Blip2Core

/// Records the loss it was asked for and returns the encoder's mean output (so gradients reach the encoder).
private final class MeanObjective: ImagePretrainingObjective {
  let encoder: LinearTokens
  init(_ encoder: LinearTokens) { self.encoder = encoder }
  var module: Module { encoder.module }
  var summary: String { "mean" }
  func pretrainingLoss(_ pixels: Tensor, rng: inout RandomGenerator) throws -> Tensor {
    try encoder.encode(pixels).mean()
  }
}

@Suite struct ContrastivePretrainingTests {
  @Test func ntXentIsTheFormula() {
    let raw: [[Double]] = [[1, 0.2], [0.3, 1], [0.9, 0.5], [-0.4, 1]]
    let unit = raw.map { v in v.map { $0 / (v[0] * v[0] + v[1] * v[1]).squareRoot() } }
    let temperature = 0.5
    var expected = 0.0
    for i in 0..<4 {
      let partner = (i + 2) % 4
      let logits = (0..<4).map { j in unit[i][0] * unit[j][0] + unit[i][1] * unit[j][1] }.map { $0 / temperature }
      let others = (0..<4).filter { $0 != i }
      expected += -(logits[partner] - log(others.map { exp(logits[$0]) }.reduce(0, +)))
    }
    expected /= 4
    let loss = ContrastiveImagePretraining.ntXent(Tensor(shape: [4, 2], data: unit.flatMap { $0.map(Float.init) }),
                                                  temperature: Float(temperature))
    #expect(abs(Double(loss.item) - expected) < 1e-5)
  }

  @Test func viewsAreTheImageOrItsMirrorWithChannelsSwappedWhole() {
    let pixels = Tensor(shape: [3, 3, 2, 2], data: (0..<36).map { Float($0) })
    var rng = RandomGenerator(seed: 11)
    var mirrored = 0, swapped = 0
    for _ in 0..<20 {
      let view = ContrastiveImagePretraining.augment(pixels, maxShift: 0, scaleJitter: 0, swapChannels: true, rng: &rng)
      for b in 0..<3 {
        let planes = (0..<3).map { c in Array(view.data[(b * 3 + c) * 4..<(b * 3 + c + 1) * 4]) }
        let sources = (0..<3).map { c in Array(pixels.data[(b * 3 + c) * 4..<(b * 3 + c + 1) * 4]) }
        let mirror = { (p: [Float]) in [p[1], p[0], p[3], p[2]] }
        let isMirrored = planes.allSatisfy { plane in sources.contains(mirror(plane)) }
        let isPlain = planes.allSatisfy { plane in sources.contains(plane) }
        #expect(isMirrored || isPlain, "a view is the image or its mirror, with whole channels")
        #expect(Set(planes.map { $0.map(\.bitPattern) }).count == 3, "every channel kept once")
        if isMirrored { mirrored += 1 }
        if planes.map({ isMirrored ? mirror($0) : $0 }) != sources { swapped += 1 }
      }
    }
    #expect(mirrored > 10 && mirrored < 50 && swapped > 20)
    let plain = ContrastiveImagePretraining.augment(pixels, maxShift: 0, scaleJitter: 0, swapChannels: false, rng: &rng)
    for b in 0..<3 {
      for c in 0..<3 {
        let plane = Array(plain.data[(b * 3 + c) * 4..<(b * 3 + c + 1) * 4])
        let source = Array(pixels.data[(b * 3 + c) * 4..<(b * 3 + c + 1) * 4])
        #expect(plane == source || plane == [source[1], source[0], source[3], source[2]])
      }
    }
  }

  @Test func bothObjectivesTrainTheEncoderOnce() throws {
    let encoder = LinearTokens()
    let both = MaskedAndContrastivePretraining(masked: MeanObjective(encoder),
                                               contrastive: ContrastiveImagePretraining(encoder: encoder, seed: 1))
    let names = both.namedParameters().map(\.0)
    #expect(Set(names).count == names.count)
    #expect(names.filter { $0.hasPrefix("masked.") }.count == encoder.module.namedParameters().count)
    #expect(names.filter { $0.hasPrefix("contrastive.") }.count == 4)
    var rng = RandomGenerator(seed: 5)
    let pixels = Tensor(shape: [4, 3, 2, 2], data: (0..<48).map { _ in rng.nextFloat() })
    let loss = try both.pretrainingLoss(pixels, rng: &rng)
    loss.backward()
    #expect(encoder.layer.namedParameters().allSatisfy { $0.1.grad != nil }, "the encoder gets gradients")
    #expect(loss.item.isFinite)
  }
}
