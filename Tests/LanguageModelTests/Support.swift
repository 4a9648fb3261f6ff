// Fixture loading, comparisons and a test tokenizer shared by the language-model tests.

import Blip2Core
import Foundation
import Testing

import Tensor

/// A failure of the test helpers themselves (a missing fixture), with a message saying which.
struct FixtureError: Error, CustomStringConvertible {
  let description: String
}

/// A parity fixture made by Tests/fixtures/make_lm_fixtures.py: the model folder, its expected tensors, and the
/// token ids of expected.json.
struct LMFixture {
  let directory: URL
  let tensors: [String: Tensor]
  let prompts: [[Int]]
  let targets: [[Int]]
  let greedy: [[Int]]
  /// transformers' beam search (3 beams, length penalty 1), cut before the end token.
  let beam: [[Int]]

  init(_ name: String) throws {
    guard let resources = Bundle.module.resourceURL else { throw FixtureError(description: "test bundle has no resources") }
    directory = resources.appendingPathComponent("Fixtures/\(name)")
    tensors = try SafeTensors.load(directory.appendingPathComponent("expected.safetensors"))
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("expected.json")))
    guard let table = json as? [String: Any], let prompts = table["prompts"] as? [[Int]],
          let targets = table["targets"] as? [[Int]], let greedy = table["greedy"] as? [[Int]],
          let beam = table["beam3"] as? [[Int]] else {
      throw FixtureError(description: "\(name)/expected.json lacks prompts, targets, greedy or beam3")
    }
    (self.prompts, self.targets, self.greedy, self.beam) = (prompts, targets, greedy, beam)
  }

  /// The expected tensor `name`, or a thrown error naming it.
  func tensor(_ name: String) throws -> Tensor {
    guard let tensor = tensors[name] else { throw FixtureError(description: "fixture tensor \(name) is missing") }
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

/// A tokenizer for tests: fixed special ids, and characters of `alphabet` at the ids after the specials.
struct TestTokenizer: Tokenizer {
  var vocabularySize: Int
  var padId: Int
  var bosId: Int?
  var eosId: Int?
  var alphabet: [Character] = []
  /// Ids below this are special.
  var firstCharacterId = 3

  func encode(_ text: String) -> [Int] {
    text.compactMap { character in alphabet.firstIndex(of: character).map { $0 + firstCharacterId } }
  }

  func decode(_ ids: [Int]) -> String {
    String(ids.compactMap { id in alphabet.indices.contains(id - firstCharacterId) ? alphabet[id - firstCharacterId] : nil })
  }

  /// OPT's special ids (pad 1, `</s>` 2 for begin and end) over a vocabulary of `size`.
  static func opt(_ size: Int) -> TestTokenizer { TestTokenizer(vocabularySize: size, padId: 1, bosId: 2, eosId: 2) }
  /// T5's special ids (pad 0, `</s>` 1, no begin token).
  static func t5(_ size: Int) -> TestTokenizer { TestTokenizer(vocabularySize: size, padId: 0, bosId: nil, eosId: 1) }
  /// A character tokenizer over the characters of `texts` (pad 0, begin 1, end 2).
  static func characters(of texts: [String]) -> TestTokenizer {
    let alphabet = Array(Set(texts.joined())).sorted()
    return TestTokenizer(vocabularySize: 3 + alphabet.count, padId: 0, bosId: 1, eosId: 2, alphabet: alphabet)
  }
}

/// `ids` up to (not including) the first of `stops`: what `generate` returns for a sequence the fixture
/// decoded without stopping.
func truncated(_ ids: [Int], at stops: Set<Int>) -> [Int] {
  Array(ids.prefix { !stops.contains($0) })
}

/// A soft prompt that takes gradients.
func trainablePrefix(_ tensor: Tensor) -> Tensor { Tensor(shape: tensor.shape, data: tensor.data, requiresGrad: true) }

/// Wall time of `body`, in seconds.
func seconds(_ body: () throws -> Void) rethrows -> Double {
  let start = Date()
  try body()
  return Date().timeIntervalSince(start)
}
