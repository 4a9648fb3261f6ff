// Parity with the references of Tests/fixtures/make_qformer_fixtures.py: transformers' BLIP-2 Q-Former
// (loaded through `loadHuggingFaceBlip2`) and the script's re-implementation of LAVIS's stage-1 losses with
// their gradients (loaded by LAVIS name).
//
// Tolerance 1e-4 relative (+1e-6 absolute for values near 0): float32 with fast exp/erf through two layers
// gives errors around 1e-6; a wrong name, mask or formula shows as 1e-2 or worse.

import Blip2Core
import Foundation
import Testing

@testable import QFormer
import Tensor

@Suite("Q-Former parity with transformers")
struct HuggingFaceParityTests {
  static let folder = "hf_blip2_tiny"

  /// The fixture's Q-Former in eval mode, loaded from transformers' names, with its load report.
  static func model() throws -> (QFormer, LoadReport, FixtureCase, [String: Tensor]) {
    let testCase = try FixtureCase.load(folder)
    let qformer = try QFormer(testCase.configuration)
    qformer.eval()
    let report = try qformer.loadHuggingFaceBlip2(try loadFixture(folder, "model"))
    return (qformer, report, testCase, try loadFixture(folder, "expected"))
  }

  @Test func queryOnlyPassMatches() throws {
    let (qformer, _, _, expected) = try Self.model()
    let output = try qformer.queryOutputs(try expected.fixture("image_features"))
    #expect(output.shape == [2, 10, 32])
    expectClose(output.data, try expected.fixture("query_output").data, "query_output")
    // The Bridge seam gives the same query outputs.
    expectClose(try qformer.bridge(try expected.fixture("image_features")).data, output.data, "bridge")
  }

  @Test func jointPassAndMatchingHeadMatch() throws {
    let (qformer, _, testCase, expected) = try Self.model()
    let text = testCase.text
    let mask = try qformer.selfAttentionMask(.bidirectional, queries: testCase.queries, text: text)
    let joint = try qformer.encode(imageFeatures: try expected.fixture("image_features"), text: text, mask: mask)
    #expect(joint.shape == [2, 15, 32])
    // Padded text rows attend like transformers' (only keys are masked), so every position is compared.
    expectClose(joint.data, try expected.fixture("joint_output").data, "joint_output")
    let logits = qformer.matchingHead(joint.sliced(axis: 1, 0..<testCase.queries)).mean(axis: 1)
    expectClose(logits.data, try expected.fixture("itm_logits").data, "itm_logits")
  }

  @Test func textPassAndSimilarityMatch() throws {
    let (qformer, _, testCase, expected) = try Self.model()
    let text = testCase.text
    let textMask = try qformer.selfAttentionMask(.bidirectional, queries: 0, text: text)
    let output = try qformer.encode(image: nil, text: text, mask: textMask)
    expectClose(output.data, try expected.fixture("text_output").data, "text_output")
    qformer.temperature.data = [1]  // transformers' retrieval similarity has no temperature
    let image = try qformer.imageContext(try expected.fixture("image_features"))
    let similarity = try qformer.contrastiveSimilarity(image: image, text: text, mask: .unimodal)
    expectClose(similarity.data, try expected.fixture("similarity").data, "similarity")
  }

  @Test func reportNamesWhatTransformersLacks() throws {
    let (_, report, _, _) = try Self.model()
    #expect(report.unused == ["vision_model.embeddings.class_embedding"])
    #expect(Set(report.missing) == ["temp", "Qformer.cls.predictions.bias",
                                    "Qformer.cls.predictions.transform.dense.weight",
                                    "Qformer.cls.predictions.transform.dense.bias",
                                    "Qformer.cls.predictions.transform.LayerNorm.weight",
                                    "Qformer.cls.predictions.transform.LayerNorm.bias"])
    #expect(report.loaded.contains("ln_vision.weight") && report.loaded.contains("Qformer.bert.embeddings.LayerNorm.bias"))
  }

  @Test func structuralMismatchesAreClearErrors() throws {
    let testCase = try FixtureCase.load(Self.folder)
    let weights = try loadFixture(Self.folder, "model")
    var everyLayer = testCase.configuration
    everyLayer.crossEvery = 1
    #expect(throws: QFormerError.self) { try QFormer(everyLayer).loadHuggingFaceBlip2(weights) }
    var deeper = testCase.configuration
    deeper.layers = 3
    #expect(throws: QFormerError.self) { try QFormer(deeper).loadHuggingFaceBlip2(weights) }
    var withoutQueries = weights
    withoutQueries["query_tokens"] = nil
    #expect(throws: ModuleError.missingParameter(name: "query_tokens", source: "BLIP-2 checkpoint")) {
      try QFormer(testCase.configuration).loadHuggingFaceBlip2(withoutQueries)
    }
    var fewerQueries = testCase.configuration
    fewerQueries.queries = 8
    #expect(throws: ModuleError.shapeMismatch(name: "query_tokens", expected: [1, 8, 32], found: [1, 10, 32],
                                              source: "BLIP-2 checkpoint")) {
      try QFormer(fewerQueries).loadHuggingFaceBlip2(weights)
    }
  }
}

@Suite("Stage-1 objectives parity with LAVIS's formulas")
struct ObjectiveParityTests {
  static let folder = "objectives_tiny"

  /// The fixture's Q-Former (eval mode, LAVIS names loaded strictly), its case and the references.
  static func model() throws -> (QFormer, FixtureCase, [String: Tensor]) {
    let testCase = try FixtureCase.load(folder)
    let qformer = try QFormer(testCase.configuration)
    qformer.eval()
    let report = try qformer.load(try loadFixture(folder, "model"), strict: true)
    #expect(report.unused.isEmpty, "LAVIS names the Q-Former does not have: \(report.unused)")
    return (qformer, testCase, try loadFixture(folder, "expected"))
  }

  @Test func similaritiesAndImagePassMatch() throws {
    let (qformer, testCase, expected) = try Self.model()
    let image = try qformer.imageContext(try expected.fixture("image_features"))
    expectClose(try qformer.encode(image: image, text: nil).data, try expected.fixture("query_output").data,
                "query_output")
    let similarity = try qformer.contrastiveSimilarity(image: image, text: testCase.text, mask: .unimodal)
    expectClose(similarity.data, try expected.fixture("similarity").data, "similarity")
  }

  @Test(arguments: ["itc", "itm", "itg"])
  func lossAndGradientsMatch(_ objective: String) throws {
    let (qformer, testCase, expected) = try Self.model()
    let weights = LossWeights(itc: objective == "itc" ? 1 : 0, itm: objective == "itm" ? 1 : 0,
                              itg: objective == "itg" ? 1 : 0)
    let negatives = HardNegatives(imageForText: testCase.imageForText ?? [], textForImage: testCase.textForImage ?? [])
    var rng = RandomGenerator(seed: 0)
    let losses = try qformer.stageOneLosses(imageFeatures: try expected.fixture("image_features"), text: testCase.text,
                                            weights: weights, negatives: negatives, rng: &rng)
    #expect(losses.values.keys.sorted() == [objective])
    expectClose([losses.total.item], try expected.fixture(objective).data, "\(objective) loss")
    losses.total.backward()
    let parameters = qformer.stateDictionary()
    for name in testCase.gradients ?? [] {
      let reference = try expected.fixture("grad.\(objective).\(name)").data
      let gradient = parameters[name]?.grad ?? [Float](repeating: 0, count: reference.count)
      expectClose(gradient, reference, absolute: 1e-5, "\(objective) d/d\(name)")
    }
  }
}
