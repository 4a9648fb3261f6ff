// Behaviour of the stage-1 objectives beyond parity: which masks and passes each one uses, what a loss weight
// of 0 skips, degenerate batches (one sample, equal similarities), the temperature clamp, the stage-1 seam,
// and a short training run whose loss must fall.

import Blip2Core
import Foundation
import Testing

@testable import QFormer
import Tensor

@Suite("Stage-1 objectives")
struct ObjectiveTests {
  @Test func defaultMasksAreThePapers() throws {
    #expect(ObjectiveMasks.paper.itc.name == "unimodal")
    #expect(ObjectiveMasks.paper.itm.name == "bidirectional")
    #expect(ObjectiveMasks.paper.itg.name == "multimodalCausal")
    let scheduled = try ObjectiveMasks(MaskSchedule(), step: 0, weights: .paper)
    #expect([scheduled.itc.name, scheduled.itm.name, scheduled.itg.name] == ["unimodal", "bidirectional", "multimodalCausal"])
  }

  /// The unimodal mask *is* the two separate passes: in one joint pass with it, the query rows equal the
  /// image-only pass and the text rows the text-only pass.
  @Test func unimodalJointPassEqualsSeparatePasses() throws {
    let qformer = try tinyQFormer()
    qformer.eval()
    let (features, text) = (randomFeatures(batch: 3), randomCaptions(lengths: [5, 3, 4]))
    let mask = try qformer.selfAttentionMask(.unimodal, queries: 4, text: text)
    let joint = try qformer.encode(imageFeatures: features, text: text, mask: mask)  // [3, 4 + 5, 16]
    let queries = try qformer.queryOutputs(features)
    let textOnly = try qformer.encode(image: nil, text: text,
                                      mask: try qformer.selfAttentionMask(.bidirectional, queries: 0, text: text))
    expectClose(joint.sliced(axis: 1, 0..<4).data, queries.data, relative: 1e-5, "query rows")
    expectClose(joint.sliced(axis: 1, 4..<9).data, textOnly.data, relative: 1e-5, "text rows")
  }

  /// LAVIS's ITG reuses the image pass's query keys/values; the joint multimodal-causal pass gives the same
  /// numbers because its queries never see the text (the parity fixture checks the loss; this, the states).
  @Test func itgJointPassQueriesEqualTheImagePassAndTextIsCausal() throws {
    let qformer = try tinyQFormer()
    qformer.eval()
    let (features, text) = (randomFeatures(batch: 2), randomCaptions(lengths: [6, 4]))
    let mask = try qformer.selfAttentionMask(.multimodalCausal, queries: 4, text: text)
    let joint = try qformer.encode(imageFeatures: features, text: text, mask: mask)  // [2, 4 + 6, 16]
    expectClose(joint.sliced(axis: 1, 0..<4).data, try qformer.queryOutputs(features).data, relative: 1e-5,
                "ITG query rows vs the image-only pass")
    var changed = text
    changed.ids[3] = 17  // sample 0, text position 3: positions 0...2 must not move
    let other = try qformer.encode(imageFeatures: features, text: changed, mask: mask)
    #expect(other.sliced(axis: 1, 0..<7).data == joint.sliced(axis: 1, 0..<7).data)
    #expect(other.sliced(axis: 1, 7..<8).data != joint.sliced(axis: 1, 7..<8).data)
  }

  /// ITG's text pass over the image pass's query keys and values (LAVIS's `past_key_values`) gives the joint
  /// pass's loss and gradients, for a shared and a per-sample (padded) mask.
  @Test(arguments: [[5, 5], [6, 4]])
  func itgReusingTheImagePassEqualsTheJointPass(lengths: [Int]) throws {
    let qformer = try tinyQFormer()
    let (features, text) = (randomFeatures(batch: 2), randomCaptions(lengths: lengths))
    func lossAndGradients(reuse: Bool) throws -> (Float, [[Float]]) {
      for (_, p) in qformer.namedParameters() { p.grad = nil }
      let image = try qformer.imageContext(features)
      let past = reuse ? try qformer.encodeQueries(image: image).keyValues : nil
      let loss = try qformer.generationLoss(image: image, text: text, mask: .multimodalCausal, labelSmoothing: 0.1,
                                            past: past)
      loss.backward()
      // A parameter the pass did not reach (the last layer's query feed-forward, with reuse) has no gradient: zero.
      return (loss.item, qformer.namedParameters().map { $0.1.grad ?? [Float](repeating: 0, count: $0.1.count) })
    }
    let (joint, jointGradients) = try lossAndGradients(reuse: false)
    let (reused, reusedGradients) = try lossAndGradients(reuse: true)
    #expect(abs(joint - reused) < 1e-6 * max(1, abs(joint)))
    for (a, b) in zip(jointGradients, reusedGradients) { expectClose(b, a, relative: 1e-4, "gradients") }
    #expect(try qformer.queriesSeeNoText(.multimodalCausal, textLength: 5))
    #expect(try !qformer.queriesSeeNoText(.bidirectional, textLength: 5))
  }

  @Test func swappedMasksAreUsed() throws {
    let qformer = try tinyQFormer()
    qformer.eval()
    let (features, text) = (randomFeatures(batch: 2), randomCaptions(lengths: [5, 5]))
    var rng = RandomGenerator(seed: 1)
    let paper = try qformer.stageOneLosses(imageFeatures: features, text: text, weights: LossWeights(itc: 0, itm: 0),
                                           rng: &rng)
    let leaky = try qformer.stageOneLosses(imageFeatures: features, text: text, weights: LossWeights(itc: 0, itm: 0),
                                           masks: ObjectiveMasks(itg: .bidirectional), rng: &rng)
    #expect(paper.itg != leaky.itg)
    // ITC with a joint mask runs one pass per pair instead of the image and text passes.
    qformer.passCount = 0
    _ = try qformer.stageOneLosses(imageFeatures: features, text: text, weights: LossWeights(itm: 0, itg: 0),
                                   masks: ObjectiveMasks(itc: .bidirectional), rng: &rng)
    #expect(qformer.passCount == 1)
  }

  @Test(arguments: [
    (LossWeights(itc: 1, itm: 1, itg: 1), false, 4), (LossWeights(itc: 1, itm: 0, itg: 0), false, 2),
    (LossWeights(itc: 0, itm: 1, itg: 0), false, 3), (LossWeights(itc: 0, itm: 1, itg: 0), true, 1),
    (LossWeights(itc: 0, itm: 0, itg: 1), false, 1), (LossWeights(itc: 0, itm: 0, itg: 0), false, 0),
  ])
  func zeroWeightSkipsTheForward(_ weights: LossWeights, fixedNegatives: Bool, passes: Int) throws {
    let qformer = try tinyQFormer()
    let (features, text) = (randomFeatures(batch: 3), randomCaptions(lengths: [5, 3, 4]))
    var rng = RandomGenerator(seed: 2)
    let negatives = fixedNegatives ? HardNegatives(imageForText: [1, 2, 0], textForImage: [2, 0, 1]) : nil
    let losses = try qformer.stageOneLosses(imageFeatures: features, text: text, weights: weights,
                                            negatives: negatives, rng: &rng)
    #expect(qformer.passCount == passes)
    #expect((losses.itc != nil) == (weights.itc != 0) && (losses.itm != nil) == (weights.itm != 0)
      && (losses.itg != nil) == (weights.itg != 0))
    let expected = (losses.itc ?? 0) * weights.itc + (losses.itm ?? 0) * weights.itm + (losses.itg ?? 0) * weights.itg
    #expect(abs(losses.total.item - expected) < 1e-5)
  }

  @Test func batchOfOneSkipsMatchingWithoutNaN() throws {
    let qformer = try tinyQFormer()
    var rng = RandomGenerator(seed: 3)
    let losses = try qformer.stageOneLosses(imageFeatures: randomFeatures(batch: 1), text: randomCaptions(lengths: [4]),
                                            rng: &rng)
    #expect(losses.itm == nil && losses.notes.count == 1 && losses.notes[0].hasPrefix("itm skipped"))
    #expect(losses.itc != nil && losses.itg != nil && losses.total.item.isFinite)
    losses.total.backward()
    #expect(qformer.parameters.allSatisfy { ($0.grad ?? []).allSatisfy(\.isFinite) })
  }

  @Test func degenerateSimilaritiesNeverPickThePositiveOrNaN() throws {
    var rng = RandomGenerator(seed: 4)
    let cases: [[Float]] = [[Float](repeating: 0, count: 16), [Float](repeating: .nan, count: 16),
                            [Float](repeating: -.infinity, count: 16), [Float](repeating: 1000, count: 16)]
    for similarities in cases {
      for _ in 0..<20 {
        let negatives = QFormer.sampleHardNegatives(similarities: similarities, batch: 4, rng: &rng)
        for i in 0..<4 {
          #expect(negatives.imageForText[i] != i && negatives.textForImage[i] != i)
          #expect((0..<4).contains(negatives.imageForText[i]) && (0..<4).contains(negatives.textForImage[i]))
        }
      }
    }
    // Identical images and identical texts: every similarity is equal; the losses stay finite.
    let qformer = try tinyQFormer()
    let one = randomFeatures(batch: 1)
    let features = Tensor.concat([one, one, one], axis: 0)
    let text = TokenBatch([[1, 5, 6], [1, 5, 6], [1, 5, 6]], padId: 0)
    let losses = try qformer.stageOneLosses(imageFeatures: features, text: text, rng: &rng)
    #expect(losses.values.values.allSatisfy(\.isFinite) && losses.values.count == 3)
  }

  @Test func hardNegativesFollowTheSimilarities() {
    // Image 0 is far more similar to text 2 than to text 1: its negative text is almost always 2.
    var similarities = [Float](repeating: 0, count: 9)
    similarities[0 * 3 + 2] = 20
    var rng = RandomGenerator(seed: 5)
    let picks = (0..<50).map { _ in QFormer.sampleHardNegatives(similarities: similarities, batch: 3, rng: &rng) }
    #expect(picks.allSatisfy { $0.textForImage[0] == 2 })
    #expect(picks.allSatisfy { $0.imageForText[2] == 0 })  // text 2's hardest image is image 0
  }

  @Test func temperatureIsClampedBeforeUse() throws {
    let qformer = try tinyQFormer()
    var rng = RandomGenerator(seed: 6)
    for (start, clamped) in [(Float(0.9), Float(0.5)), (0, 0.001), (0.2, 0.2)] {
      qformer.temperature.data = [start]
      _ = try qformer.stageOneLosses(imageFeatures: randomFeatures(batch: 2), text: randomCaptions(lengths: [3, 3]),
                                     weights: LossWeights(itm: 0, itg: 0), rng: &rng)
      #expect(qformer.temperature.item == clamped)
    }
  }

  @Test func stageOneSeam() throws {
    let qformer = try tinyQFormer()
    let learner: any RepresentationLearner = qformer
    let (features, text) = (randomFeatures(batch: 3), randomCaptions(lengths: [5, 3, 4]))
    var rng = RandomGenerator(seed: 7)
    let losses = try learner.stage1Losses(Stage1Batch(imageFeatures: features, text: text), mix: .paper,
                                          masks: MaskSchedule(), step: 0, rng: &rng)
    #expect(losses.values.keys.sorted() == ["itc", "itg", "itm"])
    #expect(throws: QFormerError.unknownObjective("mlm", known: ["itc", "itm", "itg"])) {
      try learner.stage1Losses(Stage1Batch(imageFeatures: features, text: text),
                               mix: .constant(["itc": 1, "mlm": 1]), masks: MaskSchedule(), step: 0, rng: &rng)
    }
    let similarity = try learner.contrastiveSimilarity(imageFeatures: randomFeatures(batch: 2), text: text)
    #expect(similarity.shape == [2, 3] && similarity.data.allSatisfy { abs($0) <= 1.0001 })
    #expect(try learner.matchScores(imageFeatures: features, text: text).count == 3)
  }

  @Test("ITM scores of indexed pairs (image K/V shared per chunk) equal those of the aligned pairs' rows")
  func pairScores() throws {
    let qformer = try tinyQFormer()
    qformer.eval()
    let (features, texts) = (randomFeatures(batch: 3), randomCaptions(lengths: [5, 3, 4, 2]))
    // Unsorted, with repeats of images and texts; chunks of 2 and 3 split images across passes.
    let pairs: [(image: Int, text: Int)] = [(2, 0), (0, 1), (2, 3), (1, 1), (0, 0), (2, 2), (1, 3)]
    let aligned = try qformer.matchScores(imageFeatures: features.rows(pairs.map(\.image)),
                                          text: texts.selecting(pairs.map(\.text)))
    let alignedProbabilities = try qformer.matchProbabilities(imageFeatures: features.rows(pairs.map(\.image)),
                                                              text: texts.selecting(pairs.map(\.text)))
    for (batchSize, imageBlock) in [(1, 256), (2, 1), (3, 2), (128, 256)] {
      let logits = try qformer.matchLogits(imageFeatures: features, texts: texts, pairs: pairs, batchSize: batchSize,
                                           imageBlock: imageBlock)
      let scores = (0..<pairs.count).map { logits[2 * $0 + 1] }
      let probabilities = (0..<pairs.count).map { 1 / (1 + Foundation.exp(logits[2 * $0] - logits[2 * $0 + 1])) }
      #expect(zip(scores, aligned).allSatisfy { abs($0 - $1) < 1e-5 }, "batch \(batchSize): \(scores) vs \(aligned)")
      #expect(zip(probabilities, alignedProbabilities).allSatisfy { abs($0 - $1) < 1e-6 })
    }
    let viaProtocol = try qformer.matchScores(imageFeatures: features, texts: texts, pairs: pairs, batchSize: 2)
    #expect(zip(viaProtocol, aligned).allSatisfy { abs($0 - $1) < 1e-5 })
    #expect(throws: QFormerError.self) {
      try qformer.matchScores(imageFeatures: features, texts: texts, pairs: [(3, 0)], batchSize: 4)
    }
  }
}

@Suite("Stage-1 training")
struct TrainingTests {
  /// AdamW on 4 fixed image-feature/caption pairs: ITC + ITM + ITG must fall well below where it starts.
  /// Without dropout: at a 0.02-std initialization the query outputs of different images are nearly equal
  /// (cosine > 0.99), so dropout's noise swamps ITC's signal for the first hundreds of steps of a model this
  /// small. ITM sits at its prior (0.637) for ~200 steps before it drops. This test is about the objectives'
  /// gradients, not about regularization.
  @Test func lossFallsOnAFewPairs() throws {
    let configuration = QFormerConfiguration(hidden: 32, layers: 2, heads: 4, intermediate: 64, queries: 8,
                                             imageWidth: 16, vocabularySize: 24, maxPositions: 16, dropout: 0,
                                             embedDim: 16)
    let qformer = try QFormer(configuration, seed: 11)
    let features = randomFeatures(batch: 4, tokens: 6, width: 16, seed: 12)
    let text = TokenBatch([[1, 4, 9, 13, 2], [1, 5, 10, 2], [1, 6, 11, 14, 18, 2], [1, 7, 12, 2]], padId: 0)
    let optimizer = AdamW(qformer.namedParameters())
    var totals: [Float] = []
    var last = StageOneLosses(total: Tensor.scalar(0))
    for step in 0..<350 {
      var rng = RandomGenerator(seed: UInt64(step))
      optimizer.zeroGrad()
      let losses = try qformer.stageOneLosses(imageFeatures: features, text: text, rng: &rng)
      losses.total.backward()
      optimizer.update(learningRate: 2e-3)
      totals.append(losses.total.item)
      last = losses
      if step % 50 == 0 || step == 349 { print("step", step, losses.values) }
    }
    let start = totals[0], end = totals.suffix(5).reduce(0, +) / 5
    #expect(end < 0.4 * start, "total loss \(start) → \(end)")
    #expect(last.itc! < 0.6 && last.itm! < 0.3 && last.itg! < 1.2, "final losses \(last.values)")
  }
}
