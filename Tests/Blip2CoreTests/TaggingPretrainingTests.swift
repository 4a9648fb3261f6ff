// Supervised tagging pre-training of the encoder: its loss is the binary cross-entropy, its gradient matches
// finite differences, a few steps teach a toy encoder each image's tags, and a dataset without tags is refused.

import Foundation
import Testing
import Tensor

@testable import Blip2Core

/// 2x2 images, each bright in colour channel `index % 3` (noise elsewhere); tagged with that channel, or untagged.
private final class LitChannels: Dataset, @unchecked Sendable {
  var name: String { "lit channels" }
  var imageSize: Int { 2 }
  func count(_ split: Split) -> Int { split == .train ? 48 : 0 }
  func example(_ split: Split, _ index: Int) throws -> Example {
    var rng = RandomGenerator(seed: UInt64(index) &+ 11)
    var pixels = (0..<12).map { _ in 0.2 * rng.nextFloat() }
    for p in 0..<4 { pixels[(index % 3) * 4 + p] = 1 }
    return Example(id: "lit-\(index)", image: Image(width: 2, height: 2, pixels: pixels), captions: [])
  }
}

private final class TaggedLitChannels: ImageTaggedDataset, @unchecked Sendable {
  let images = LitChannels()
  var name: String { "tagged lit channels" }
  var imageSize: Int { 2 }
  func count(_ split: Split) -> Int { images.count(split) }
  func example(_ split: Split, _ index: Int) throws -> Example { try images.example(split, index) }
  var tagVocabulary: [String] { ["red", "green", "blue"] }
  func tags(_ split: Split, _ index: Int) throws -> [Int] { [index % 3] }
}

@Suite struct TaggingPretrainingTests {
  @Test("pre-training by tags reads each image's own tags through the trainer, and needs a tagged dataset")
  func pretrainingReadsTheDatasetsTags() throws {
    var losses: [Float] = []
    var pretraining = FrozenPartsPretraining(cacheDirectory: nil)
    pretraining.log = { _ in }
    pretraining.onStep = { _, report in losses.append(report.losses["tags"] ?? .nan) }
    let settings = TrainerSettings(steps: 120, batchSize: 12, learningRate: 3e-2, weightDecay: 0)
    _ = try pretraining.pretrainEncoder(LinearTokens(), data: TaggedLitChannels(), settings: settings, method: .tags)
    #expect(losses.count == 120 && losses.allSatisfy(\.isFinite))
    // Wrong tags (another image's) could not be learned: the loss would stay near its prior (~0.64).
    #expect(losses.suffix(10).reduce(0, +) / 10 < 0.2, "falls: \(losses.prefix(3)) → \(losses.suffix(3))")
    #expect {
      try pretraining.pretrainEncoder(LinearTokens(), data: LitChannels(), settings: settings, method: .tags)
    } throws: { error in
      (error as? TrainingError).map { "\($0)".contains("no image tags") } ?? false
    }
  }

  @Test("the loss is the mean binary cross-entropy log(1 + eˣ) − t·x, stable at large logits")
  func lossIsBinaryCrossEntropy() {
    let logits: [Float] = [0.3, -1.2, 2.5, 0, 40, -40]
    let targets = [1, 0, 0, 1, 1, 0]
    var expected = 0.0
    for (x, t) in zip(logits.map(Double.init), targets.map(Double.init)) { expected += (log(1 + exp(x)) - t * x) / 6 }
    let loss = TaggingPretraining.binaryCrossEntropy(logits: Tensor(shape: [2, 3], data: logits), targets: targets)
    #expect(abs(Double(loss.item) - expected) < 1e-5)
  }

  @Test("the gradient of the loss with respect to the logits matches finite differences")
  func gradientMatchesFiniteDifferences() {
    var rng = RandomGenerator(seed: 5)
    let values = (0..<8).map { _ in 2 * rng.nextFloat() - 1 }
    let targets = [1, 0, 0, 1, 0, 1, 1, 0]
    let logits = Tensor(shape: [2, 4], data: values, requiresGrad: true)
    TaggingPretraining.binaryCrossEntropy(logits: logits, targets: targets).backward()
    let analytic = logits.grad!
    for i in 0..<8 {
      func loss(_ delta: Float) -> Double {
        var shifted = values
        shifted[i] += delta
        return Double(TaggingPretraining.binaryCrossEntropy(logits: Tensor(shape: [2, 4], data: shifted), targets: targets).item)
      }
      let numeric = (loss(1e-2) - loss(-1e-2)) / 2e-2
      let difference = abs(Double(analytic[i]) - numeric)
      #expect(difference < 1e-3, "logit \(i): \(analytic[i]) vs \(numeric)")
    }
  }

  @Test("training teaches a toy encoder each image's tags; every parameter gets a gradient; bad tags are refused")
  func learnsTags() throws {
    // Four images, each bright in one colour channel or none; tags: the channel, and "bright" for the three lit.
    var pixels = [Float](repeating: 0, count: 4 * 12)
    for b in 0..<3 { for p in 0..<4 { pixels[b * 12 + b * 4 + p] = 1 } }
    let images = Tensor(shape: [4, 3, 2, 2], data: pixels)
    let tags = [[0, 3], [1, 3], [2, 3], []]
    let objective = TaggingPretraining(encoder: LinearTokens(), vocabulary: ["red", "green", "blue", "bright"], seed: 2)
    let optimizer = AdamW(objective.namedParameters(), configuration: .init(weightDecay: 0))
    var rng = RandomGenerator(seed: 9)
    var losses: [Float] = []
    for step in 0..<300 {
      optimizer.zeroGrad()
      let loss = try objective.pretrainingLoss(images, captions: [], tags: tags, rng: &rng)
      loss.backward()
      if step == 0 {
        let missing = objective.namedParameters().filter { $0.1.requiresGrad && $0.1.grad == nil }.map(\.0)
        #expect(missing.isEmpty, "parameters without a gradient: \(missing)")
      }
      optimizer.update(learningRate: 3e-2)
      losses.append(loss.item)
    }
    #expect(losses.last! < 0.1 * losses[0], "falls: \(losses[0]) → \(losses.last!)")
    let logits = GradMode.noGrad { objective.head(try! objective.encoder.encode(images)).max(axis: 1) }
    for b in 0..<4 {
      let predicted = (0..<4).filter { logits.data[b * 4 + $0] > 0 }
      #expect(predicted == tags[b], "image \(b): \(predicted)")
    }
    #expect(throws: TrainingError.self) { try objective.pretrainingLoss(images, rng: &rng) }
    #expect(throws: TrainingError.self) { try objective.pretrainingLoss(images, captions: [], tags: [[0], [1], [2], [7]], rng: &rng) }
    #expect(throws: TrainingError.self) { try objective.pretrainingLoss(images, captions: [], tags: [[0]], rng: &rng) }
  }
}
