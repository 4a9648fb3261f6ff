// Image-text contrastive (CLIP) pre-training of the encoder: its loss is CLIP's formula, padding does not change a
// caption's embedding, and a few steps teach a toy encoder to tell images apart by what their captions say.

import Foundation
import Testing
import Tensor

@testable import Blip2Core

@Suite struct ImageTextPretrainingTests {
  @Test("the loss is CLIP's: the mean of both directions' cross-entropies at exp(logit scale), the scale clamped at 100")
  func lossIsClipsFormula() {
    let images: [[Double]] = [[0.6, 0.8], [1, 0], [0, 1]]
    let texts: [[Double]] = [[0.8, 0.6], [0.28, 0.96], [-1, 0]]
    func expected(_ scale: Double) -> Double {
      let logits = images.map { i in texts.map { t in scale * (i[0] * t[0] + i[1] * t[1]) } }
      func ce(_ rows: [[Double]]) -> Double {
        rows.enumerated().map { r, row in -(row[r] - log(row.map(exp).reduce(0, +))) }.reduce(0, +) / Double(rows.count)
      }
      let columns = (0..<3).map { j in logits.map { $0[j] } }
      return 0.5 * (ce(logits) + ce(columns))
    }
    let i = Tensor(shape: [3, 2], data: images.flatMap { $0.map(Float.init) })
    let t = Tensor(shape: [3, 2], data: texts.flatMap { $0.map(Float.init) })
    for (logScale, scale) in [(log(2.0), 2.0), (log(1 / 0.07), 1 / 0.07), (log(500.0), 100.0)] {
      let loss = ImageTextContrastivePretraining.symmetricInfoNCE(
        images: i, texts: t, logitScale: Tensor(shape: [], data: [Float(logScale)]))
      #expect(abs(Double(loss.item) - expected(scale)) < 1e-4 * max(1, expected(scale)), "scale \(scale)")
    }
  }

  @Test("a caption's embedding does not depend on the padding its batch adds, and every part gets a gradient")
  func paddingIsMaskedAndGradientsFlow() throws {
    let objective = ImageTextContrastivePretraining(encoder: LinearTokens(), captions: ["a red circle", "two blue squares and a star"],
                                                    width: 16, layers: 2, heads: 2, embedDim: 8, seed: 1)
    let alone = objective.textEmbeddings(["a red circle"])
    let padded = objective.textEmbeddings(["a red circle", "two blue squares and a star"])
    for k in 0..<8 { #expect(abs(alone.data[k] - padded.data[k]) < 1e-5) }
    var rng = RandomGenerator(seed: 2)
    let pixels = Tensor(shape: [2, 3, 2, 2], data: (0..<24).map { _ in rng.nextFloat() })
    let loss = try objective.pretrainingLoss(pixels, captions: [["a red circle"], ["two blue squares and a star"]], rng: &rng)
    loss.backward()
    #expect(loss.item.isFinite)
    let missing = objective.namedParameters().filter { $0.1.requiresGrad && $0.1.grad == nil }.map(\.0)
    #expect(missing.isEmpty, "parameters without a gradient: \(missing)")
    #expect(throws: TrainingError.self) { try objective.pretrainingLoss(pixels, rng: &rng) }
    #expect(throws: TrainingError.self) { try objective.pretrainingLoss(pixels, captions: [["a red circle"], []], rng: &rng) }
  }

  @Test("a hard negative swaps one object word for an unmentioned one, in the same number; none without object words")
  func hardNegativeSwapsOneObjectWord() {
    let words = ["circle", "square", "star"]
    var rng = RandomGenerator(seed: 1)
    for _ in 0..<20 {
      let negative = ImageTextContrastivePretraining.hardNegative(of: "two red circles and a blue square.", words: words, rng: &rng)
      #expect(negative == "two red stars and a blue square." || negative == "two red circles and a blue star.",
              "got \(negative ?? "nil")")
    }
    #expect(ImageTextContrastivePretraining.hardNegative(of: "there are three objects", words: words, rng: &rng) == nil)
    #expect(ImageTextContrastivePretraining.hardNegative(of: "a circle, a square and a star", words: words, rng: &rng) == nil)
  }

  @Test("training matches images to their captions: the loss falls from ln(B) and the right caption ranks first")
  func learnsToMatch() throws {
    // Four images, each bright in one colour channel or none; captions name that.
    let names = ["red", "green", "blue", "black"]
    var pixels = [Float](repeating: 0, count: 4 * 12)
    for b in 0..<3 { for p in 0..<4 { pixels[b * 12 + b * 4 + p] = 1 } }
    let images = Tensor(shape: [4, 3, 2, 2], data: pixels)
    let captions = names.map { ["a \($0) square"] }
    let encoder = LinearTokens()
    let objective = ImageTextContrastivePretraining(encoder: encoder, captions: captions.flatMap { $0 }, width: 16,
                                                    layers: 1, heads: 2, embedDim: 8, seed: 4)
    let optimizer = AdamW(objective.namedParameters(), configuration: .init(weightDecay: 0))
    var rng = RandomGenerator(seed: 9)
    var losses: [Float] = []
    for _ in 0..<150 {
      optimizer.zeroGrad()
      let loss = try objective.pretrainingLoss(images, captions: captions, rng: &rng)
      loss.backward()
      optimizer.update(learningRate: 3e-3)
      losses.append(loss.item)
    }
    #expect(abs(losses[0] - Float(log(4.0))) < 0.5, "starts near chance: \(losses[0])")
    #expect(losses.last! < 0.2 * losses[0], "falls: \(losses[0]) → \(losses.last!)")
    let similarity = GradMode.noGrad {
      objective.imageEmbeddings(try! encoder.encode(images)).matmul(objective.textEmbeddings(captions.map { $0[0] }), transposeB: true)
    }
    for row in 0..<4 {
      let scores = Array(similarity.data[row * 4..<(row + 1) * 4])
      #expect(scores.firstIndex(of: scores.max()!) == row, "image \(row) ranks its caption first: \(scores)")
    }
  }
}
