// A trained run as CapFilt's captioner and filter: the captioner is the stage-2 model (soft prompt into the
// frozen LM, as evaluation captions), the filter is the bridge's ITC and ITM with its stage-1 weights (as
// retrieval scores them).

import Foundation
import Tensor

/// A trained `Run` seen as a captioner and a filter.
public struct RunCapFiltModel: CapFiltModel {
  /// The run.
  public let run: Run
  /// Its weights' fingerprint: every part's current weights and the bridge's stage-1 weights.
  public let fingerprint: String
  /// Texts scored per ITM pass.
  public var scoringBatch = 256

  /// The run's model as captioner and filter.
  /// - Throws: `CapFiltError.invalidSetting` if its bridge gives no ITC similarity and ITM probability.
  public init(run: Run) throws {
    self.run = run
    let model = run.model
    var modules = [model.encoder.module, model.bridge.module]
    if let projection = model.projection { modules.append(projection) }
    if let lm = model.languageModel { modules.append(lm.module) }
    let stage1 = try run.withStage1Weights { learner -> String in
      guard learner is any MatchProbabilityScorer else {
        throw CapFiltError.invalidSetting("the filter needs ITM probabilities, which \(learner.kind) does not give")
      }
      return learner.module.contentFingerprint
    }
    fingerprint = stableHash([model.summary, stage1] + modules.map(\.contentFingerprint))
  }

  /// `samples` captions per image from the stage-2 model (one, if decoding is deterministic).
  public func captions(for examples: [Example], samples: Int, options: GenerationOptions, prompt: String,
                       rng: inout RandomGenerator) throws -> [[String]] {
    guard run.model.languageModel != nil else {
      throw CapFiltError.invalidSetting("the captioner needs a model composed with an lm and trained through stage 2 "
        + "(or ask for samples = 0: the filter alone)")
    }
    let perImage = options.topP == nil ? 1 : samples
    run.model.bridge.module.eval()
    let features = try run.model.imageFeatures(examples)  // [B, N, D]
    let owners = examples.indices.flatMap { [Int](repeating: $0, count: perImage) }
    let texts = try run.model.generate(features: features.rows(owners), prompts: owners.map { _ in prompt },
                                       options: options, rng: &rng)
    return examples.indices.map { Array(texts[($0 * perImage)..<(($0 + 1) * perImage)]) }
  }

  /// ITC similarities and ITM probabilities of each image with its texts, with the stage-1 weights.
  public func scores(for examples: [Example], texts: [[String]]) throws -> (itc: [[Float]], itm: [[Float]]) {
    try run.withStage1Weights { learner in
      guard let matcher = learner as? any MatchProbabilityScorer else {
        throw CapFiltError.invalidSetting("the filter needs ITM probabilities, which \(learner.kind) does not give")
      }
      learner.module.eval()
      let features = try GradMode.noGrad { try run.model.imageFeatures(examples) }  // [B, N, D]
      let all = texts.flatMap { $0 }
      let owners = texts.indices.flatMap { [Int](repeating: $0, count: texts[$0].count) }
      let tokens = learner.tokenizeText(all, maxLength: 32)
      let similarity = try GradMode.noGrad { try learner.contrastiveSimilarity(imageFeatures: features, text: tokens) }
      let probabilities = try GradMode.noGrad {
        try matcher.matchProbabilities(imageFeatures: features, texts: tokens,
                                       pairs: owners.enumerated().map { (image: $1, text: $0) }, batchSize: scoringBatch)
      }
      var itc = texts.map { _ in [Float]() }, itm = itc
      for (text, image) in owners.enumerated() {
        itc[image].append(similarity.data[image * all.count + text])  // similarity: [B, T]
        itm[image].append(probabilities[text])
      }
      return (itc, itm)
    }
  }
}
