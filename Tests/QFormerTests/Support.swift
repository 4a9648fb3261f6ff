// Fixture loading, comparisons and small models shared by the Q-Former tests.

import Blip2Core
import Foundation
import Testing

@testable import QFormer
import Tensor

/// A failure of the test helpers themselves (a missing fixture), with a message saying which.
struct FixtureError: Error, CustomStringConvertible {
  let description: String
}

/// The folder `Fixtures/<name>` of the test bundle (made by Tests/fixtures/make_qformer_fixtures.py).
func fixtureDirectory(_ name: String) throws -> URL {
  guard let resources = Bundle.module.resourceURL else { throw FixtureError(description: "test bundle has no resources") }
  return resources.appendingPathComponent("Fixtures/\(name)")
}

/// `Fixtures/<folder>/<file>.safetensors`.
func loadFixture(_ folder: String, _ file: String) throws -> [String: Tensor] {
  try SafeTensors.load(try fixtureDirectory(folder).appendingPathComponent("\(file).safetensors"))
}

extension Dictionary where Key == String, Value == Tensor {
  /// The fixture tensor `name`, or a thrown error naming it.
  func fixture(_ name: String) throws -> Tensor {
    guard let tensor = self[name] else { throw FixtureError(description: "fixture tensor \(name) is missing") }
    return tensor
  }
}

/// A fixture's `case.json`: inputs and sizes.
struct FixtureCase: Decodable {
  let inputIds: [[Int]]
  let validLengths: [Int]
  let hidden, layers, heads, intermediate, queries, imageWidth, crossEvery, vocabulary, maxPositions, embedDim: Int
  let visionLayerNormEps: Float?
  let imageForText: [Int]?
  let textForImage: [Int]?
  let decoderTokenId: Int?
  let gradients: [String]?

  /// `Fixtures/<folder>/case.json`.
  static func load(_ folder: String) throws -> FixtureCase {
    let data = try Data(contentsOf: try fixtureDirectory(folder).appendingPathComponent("case.json"))
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(FixtureCase.self, from: data)
  }

  /// The Q-Former sizes of the fixture, without dropout.
  var configuration: QFormerConfiguration {
    var c = QFormerConfiguration(hidden: hidden, layers: layers, heads: heads, intermediate: intermediate,
                                 queries: queries, crossEvery: crossEvery, imageWidth: imageWidth,
                                 vocabularySize: vocabulary, maxPositions: maxPositions, dropout: 0, embedDim: embedDim,
                                 decoderTokenId: decoderTokenId)
    if let visionLayerNormEps { c.visionLayerNormEps = visionLayerNormEps }
    return c
  }

  /// The token ids with their valid lengths.
  var text: TokenBatch {
    TokenBatch(ids: inputIds.flatMap { $0 }, batch: inputIds.count, length: inputIds.first?.count ?? 0,
               validLengths: validLengths)
  }
}

/// Expects |actual − expected| ≤ absolute + relative·|expected| elementwise (as `torch.allclose`), reporting
/// the worst element.
func expectClose(_ actual: [Float]?, _ expected: [Float], relative: Float = 1e-4, absolute: Float = 1e-6,
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

/// A tiny Q-Former for behaviour tests: hidden 16, 2 layers, 2 heads, 4 queries, image width 8, vocabulary 20.
func tinyQFormer(dropout: Float = 0, seed: UInt64 = 1) throws -> QFormer {
  try QFormer(QFormerConfiguration(hidden: 16, layers: 2, heads: 2, intermediate: 24, queries: 4, crossEvery: 2,
                                   imageWidth: 8, vocabularySize: 20, maxPositions: 12, dropout: dropout, embedDim: 8),
              seed: seed)
}

/// Random image features [batch, tokens, width].
func randomFeatures(batch: Int, tokens: Int = 5, width: Int = 8, seed: UInt64 = 7) -> Tensor {
  var rng = RandomGenerator(seed: seed)
  return Tensor.randn([batch, tokens, width], rng: &rng)
}

/// Right-padded captions starting with [CLS] = 1, other ids in 2..<vocabulary−1 (the last id is [DEC]).
func randomCaptions(lengths: [Int], vocabulary: Int = 20, seed: UInt64 = 9) -> TokenBatch {
  var rng = RandomGenerator(seed: seed)
  let sequences = lengths.map { length in [1] + (1..<length).map { _ in 2 + rng.nextInt(below: vocabulary - 3) } }
  return TokenBatch(sequences, padId: 0)
}
