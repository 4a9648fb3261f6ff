// Whole BLIP-2 checkpoints against transformers (fixtures by Tests/fixtures/make_blip2_fixtures.py): the soft
// prompt, the logits and the generated tokens of tiny random Blip2ForConditionalGeneration models with OPT and T5,
// the tokenizer each folder brings, and the export that transformers loads back.

import Blip2Checkpoints
import Blip2Core
import DecoderLM
import EncoderDecoderLM
import Foundation
import HFTokenizers
import LabKit
import QFormer
import Tensor
import Testing

/// A failure of the fixtures themselves, saying which.
struct FixtureError: Error, CustomStringConvertible {
  let description: String
}

/// The fixtures folder of this test bundle.
func fixturesDirectory() throws -> URL {
  guard let resources = Bundle.module.resourceURL else { throw FixtureError(description: "test bundle has no resources") }
  return resources.appendingPathComponent("Fixtures")
}

/// One generation case of expected.json.
struct GenerationCase {
  let image: Int, prompt: String, promptIds: [Int], greedy: [Int], beam: [Int], greedyText: String
}

/// A whole-model fixture: the folder, its expected tensors and cases.
struct Blip2Fixture {
  let directory: URL
  let tensors: [String: Tensor]
  let cases: [GenerationCase]

  init(_ name: String) throws {
    directory = try fixturesDirectory().appendingPathComponent(name)
    tensors = try SafeTensors.load(directory.appendingPathComponent("expected.safetensors"))
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("expected.json")))
    guard let rows = (json as? [String: Any])?["cases"] as? [[String: Any]] else {
      throw FixtureError(description: "\(name)/expected.json has no cases")
    }
    cases = try rows.map { row in
      guard let image = row["image"] as? Int, let prompt = row["prompt"] as? String,
            let promptIds = row["prompt_ids"] as? [Int], let greedy = row["greedy"] as? [Int],
            let beam = row["beam3"] as? [Int], let text = row["greedy_text"] as? String else {
        throw FixtureError(description: "\(name)/expected.json: a case lacks a field")
      }
      return GenerationCase(image: image, prompt: prompt, promptIds: promptIds, greedy: greedy, beam: beam, greedyText: text)
    }
  }

  func tensor(_ name: String) throws -> Tensor {
    guard let tensor = tensors[name] else { throw FixtureError(description: "fixture tensor \(name) is missing") }
    return tensor
  }

  /// The pixels of image `index`: [1, 3, 30, 30].
  func pixels(_ index: Int) throws -> Tensor { try tensor("pixel_values").sliced(axis: 0, index..<(index + 1)) }
}

/// Expects |actual − expected| ≤ 1e-4 · max|expected| everywhere (1e-4 relative to the tensor's scale: logits
/// near zero carry float32 rounding of the large ones), naming the worst element.
func expectMatches(_ actual: Tensor, _ expected: Tensor, _ what: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
  guard actual.shape == expected.shape else {
    Issue.record("\(what): shape \(actual.shape), expected \(expected.shape)", sourceLocation: sourceLocation)
    return
  }
  let (a, e) = (actual.data, expected.data)
  let tolerance = 1e-4 * (e.map(abs).max() ?? 0) + 1e-7
  if let i = a.indices.max(by: { abs(a[$0] - e[$0]) < abs(a[$1] - e[$1]) }) {
    #expect(abs(a[i] - e[i]) <= tolerance, "\(what): element \(i): \(a[i]) vs \(e[i]) (tolerance \(tolerance))",
            sourceLocation: sourceLocation)
  }
}

@Suite("Whole BLIP-2 checkpoints match transformers")
struct Blip2CheckpointParityTests {
  static let fixtures = ["blip2_opt_tiny", "blip2_t5_tiny"]

  @Test("the vision features and the soft prompt match", arguments: fixtures)
  func softPrompt(name: String) throws {
    let fixture = try Blip2Fixture(name)
    let checkpoint = try Blip2Checkpoint.load(directory: fixture.directory)
    let pixels = try fixture.tensor("pixel_values")
    expectMatches(try checkpoint.imageFeatures(pixels), try fixture.tensor("image_features"), "\(name) image features")
    expectMatches(try checkpoint.softPrompt(pixels), try fixture.tensor("soft_prompt"), "\(name) soft prompt")
  }

  @Test("the folder's tokenizer.json tokenizes the prompts as the tokenizers library", arguments: fixtures)
  func tokenizer(name: String) throws {
    let fixture = try Blip2Fixture(name)
    let checkpoint = try Blip2Checkpoint.load(directory: fixture.directory)
    let tokenizer = try #require(checkpoint.languageModel.tokenizer as? HFTokenizer)
    for item in fixture.cases {
      #expect(tokenizer.encode(item.prompt, addSpecialTokens: true) == item.promptIds, "\(name): \(item.prompt)")
      // What the LM builds from the protocol's encode plus its own special tokens is the same sequence.
      let ids = tokenizer.encode(item.prompt)
      if let lm = checkpoint.languageModel as? DecoderLM {
        #expect((lm.beginTokenId.map { [$0] } ?? []) + ids == item.promptIds)
      } else if let lm = checkpoint.languageModel as? EncoderDecoderLM {
        #expect(ids + (lm.endTokenId.map { [$0] } ?? []) == item.promptIds)
      }
    }
  }

  @Test("greedy and beam generation give transformers' tokens; captions and answers its text", arguments: fixtures)
  func generation(name: String) throws {
    let fixture = try Blip2Fixture(name)
    let checkpoint = try Blip2Checkpoint.load(directory: fixture.directory)
    for item in fixture.cases {
      let pixels = try fixture.pixels(item.image)
      let greedy = try checkpoint.generate(pixels: pixels, prompts: [item.prompt], options: GenerationOptions(maxTokens: 8))
      #expect(greedy == [item.greedy], "\(name) greedy after \"\(item.prompt)\"")
      let beam = try checkpoint.generate(pixels: pixels, prompts: [item.prompt],
                                         options: GenerationOptions(maxTokens: 8, beams: 3))
      #expect(beam == [item.beam], "\(name) 3 beams after \"\(item.prompt)\"")
      if item.prompt.hasPrefix("Question: "), item.prompt.hasSuffix(" Answer:") {
        let question = String(item.prompt.dropFirst("Question: ".count).dropLast(" Answer:".count))
        let answer = try checkpoint.answer(pixels: pixels, questions: [question], options: GenerationOptions(maxTokens: 8))
        #expect(answer == [item.greedyText])
      } else {
        let caption = try checkpoint.caption(pixels: pixels, prompt: item.prompt, options: GenerationOptions(maxTokens: 8))
        #expect(caption == [item.greedyText])
      }
    }
  }

  @Test("the logits over the prompt and the generated tokens match", arguments: fixtures)
  func logits(name: String) throws {
    let fixture = try Blip2Fixture(name)
    let checkpoint = try Blip2Checkpoint.load(directory: fixture.directory)
    for (index, item) in fixture.cases.enumerated() {
      let soft = try checkpoint.softPrompt(try fixture.pixels(item.image))  // [1, Q, width]
      let logits: Tensor = try GradMode.noGrad {
        if let lm = checkpoint.languageModel as? DecoderLM {
          let ids = item.promptIds + item.greedy
          let x = Tensor.concat([soft, lm.tokenEmbedding(ids, shape: [1, ids.count])], axis: 1)
          return try lm.logits(embeddings: x, validLengths: [x.shape[1]])
        }
        let lm = try #require(checkpoint.languageModel as? EncoderDecoderLM)
        let x = Tensor.concat([soft, lm.shared(item.promptIds, shape: [1, item.promptIds.count])], axis: 1)
        let encoded = try lm.encode(embeddings: x, validLengths: [x.shape[1]])
        let decoderIds = [lm.decoderStartTokenId] + item.greedy
        return try lm.decode(ids: decoderIds, decoderLengths: [decoderIds.count], encoded: encoded,
                             encoderLengths: [x.shape[1]])
      }
      let expected = try fixture.tensor("logits.\(index)")
      expectMatches(logits.reshaped(expected.shape), expected, "\(name) logits of case \(index)")
    }
  }
}
