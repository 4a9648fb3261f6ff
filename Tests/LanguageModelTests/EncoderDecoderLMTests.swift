// The encoder-decoder LM: parity with transformers' T5ForConditionalGeneration (FlanT5-style gated-GELU with an
// untied head, and T5.1.0-style ReLU with the tied, rescaled head), gradients into a frozen model's soft prompt,
// padding, generation, registration and checkpoint errors.

import Blip2Core
import Foundation
import Testing

@testable import EncoderDecoderLM
import Tensor

@Suite("EncoderDecoderLM")
struct EncoderDecoderLMTests {
  static let fixtures = ["t5_tiny", "t5_relu_tied"]

  func load(_ name: String) throws -> (LMFixture, EncoderDecoderLM) {
    let fixture = try LMFixture(name)
    let model = try EncoderDecoderLM.load(directory: fixture.directory, tokenizer: TestTokenizer.t5(64))
    model.freeze()
    model.eval()
    return (fixture, model)
  }

  @Test("config.json is read as transformers reads it")
  func configuration() throws {
    let (_, model) = try load("t5_tiny")
    let c = model.configuration
    #expect(c.vocabularySize == 64 && c.width == 32 && c.headWidth == 8 && c.heads == 4 && c.feedForwardWidth == 37)
    #expect(c.encoderLayers == 2 && c.decoderLayers == 2 && c.relativeBuckets == 8 && c.relativeMaxDistance == 20)
    #expect(c.feedForward == .gatedGelu && !c.tiedHead && model.lmHead != nil && model.decoderStartTokenId == 0)
    let (_, relu) = try load("t5_relu_tied")
    #expect(relu.configuration.feedForward == .relu && relu.configuration.tiedHead && relu.lmHead == nil)
  }

  @Test("relative position buckets match transformers' _relative_position_bucket")
  func buckets() {
    // torch: T5Attention._relative_position_bucket(torch.arange(-30, 31), bidirectional, 8, 20)
    let bidirectional = (-30...30).map { T5Attention.bucket(relative: $0, bidirectional: true, buckets: 8, maxDistance: 20) }
    let causal = (-30...30).map { T5Attention.bucket(relative: $0, bidirectional: false, buckets: 8, maxDistance: 20) }
    #expect(bidirectional == [Int](repeating: 3, count: 24) + [2, 2, 2, 2, 2, 1, 0, 5, 6, 6, 6, 6, 6]
      + [Int](repeating: 7, count: 24))
    #expect(causal == [Int](repeating: 7, count: 17) + [6, 6, 6, 6, 6, 5, 5, 5, 4, 4, 3, 2, 1]
      + [Int](repeating: 0, count: 31))
  }

  @Test("logits, loss and the soft prompt's gradient match transformers (frozen model)", arguments: fixtures)
  func parity(name: String) throws {
    let (fixture, model) = try load(name)
    let prefix = trainablePrefix(try fixture.tensor("prefix"))
    let input = TokenBatch(fixture.prompts, padId: 0), target = TokenBatch(fixture.targets, padId: 0)
    let loss = try model.loss(prefix: prefix, input: input, target: target)
    expectClose([loss.item], try fixture.tensor("loss").data, "\(name) loss")
    loss.backward()
    expectClose(prefix.grad, try fixture.tensor("prefix_grad").data, "\(name) prefix gradient")
    #expect(model.parameters.allSatisfy { $0.grad == nil }, "a frozen LM must get no weight gradients")

    let (encoded, lengths) = try model.encode(prefix: prefix, texts: fixture.prompts.map { $0 + [1] })
    let labelled = fixture.targets.map { $0 + [1] }
    let length = labelled.map(\.count).max() ?? 0
    let ids = labelled.flatMap { row in [0] + (row + [Int](repeating: 0, count: length - row.count)).dropLast() }
    let logits = try model.decode(ids: ids, decoderLengths: labelled.map(\.count), encoded: encoded, encoderLengths: lengths)
    expectClose(logits.data, try fixture.tensor("logits").data, "\(name) logits")
  }

  @Test("greedy and beam search match transformers' generate; one beam is greedy", arguments: fixtures)
  func greedy(name: String) throws {
    let (fixture, model) = try load(name)
    var rng = RandomGenerator(seed: 0)
    let prefix = try fixture.tensor("prefix"), prompt = TokenBatch(fixture.prompts, padId: 0)
    let greedy = try model.generate(prefix: prefix, prompt: prompt, options: GenerationOptions(maxTokens: 8), rng: &rng)
    #expect(greedy == fixture.greedy.map { truncated($0, at: [1]) })
    for b in 0..<2 {
      let encoded = try model.encode(prefix: prefix.sliced(axis: 0, b..<(b + 1)), texts: [fixture.prompts[b] + [1]]).encoded
      let scorer = model.cachedScorer(encoded: encoded)
      let beam = try GradMode.noGrad { try TokenSearch.beamSearch(beams: 1, maxTokens: 8, stopTokens: [1], scorer: scorer) }
      #expect(beam == greedy[b])
    }
    let beam = try model.generate(prefix: prefix, prompt: prompt, options: GenerationOptions(maxTokens: 8, beams: 3), rng: &rng)
    #expect(beam == fixture.beam, "3 beams")
  }

  @Test("the KV cache decodes exactly as recomputing the decoder sequence", arguments: fixtures)
  func kvCache(name: String) throws {
    let (fixture, model) = try load(name)
    let prefix = try fixture.tensor("prefix"), prompt = TokenBatch(fixture.prompts, padId: 0)
    for options in [GenerationOptions(maxTokens: 12, beams: 3), GenerationOptions(maxTokens: 12, topP: 0.95),
                    GenerationOptions(maxTokens: 12)] {
      var first = RandomGenerator(seed: 5), second = RandomGenerator(seed: 5)
      model.usesKVCache = true
      let cached = try model.generate(prefix: prefix, prompt: prompt, options: options, rng: &first)
      model.usesKVCache = false
      let recomputed = try model.generate(prefix: prefix, prompt: prompt, options: options, rng: &second)
      #expect(cached == recomputed, "\(options)")
    }
  }

  @Test("padding does not change the other sequences' loss")
  func padding() throws {
    let (fixture, model) = try load("t5_tiny")
    let prefix = try fixture.tensor("prefix")
    model.endTokenId = nil
    let alone = try model.loss(prefix: prefix.sliced(axis: 0, 0..<1), input: TokenBatch([fixture.prompts[0]], padId: 0),
                               target: TokenBatch([fixture.targets[0]], padId: 0))
    // The neighbour's long input pads sample 0's encoder input; its empty target adds no label.
    let padded = try model.loss(prefix: prefix, input: TokenBatch([fixture.prompts[0], [Int](repeating: 9, count: 12)], padId: 0),
                                target: TokenBatch([fixture.targets[0], []], padId: 0))
    expectClose([padded.item], [alone.item], relative: 1e-5, absolute: 1e-6, "loss with a padded neighbour")
  }

  @Test("registry builds lm.encoderDecoder from sizes and rejects unknown keys")
  func registry() throws {
    var registry = Registry()
    try EncoderDecoderLMPlugin.register(into: &registry)
    let config: ConfigValue = .table(["width": .int(32), "heads": .int(4), "encoderLayers": .int(1),
                                      "decoderLayers": .int(1), "feedForward": .string("relu")])
    let lm: any LanguageModel = try registry.make(.lm, "encoderDecoder", config: config)
    #expect(lm.embeddingDim == 32 && lm.architecture == .encoderDecoder)
    var rng = RandomGenerator(seed: 1)
    let out = try lm.generate(prefix: Tensor.zeros([1, 2, 32]), prompt: TokenBatch([lm.tokenizer.encode("hi")], padId: 0),
                              options: GenerationOptions(maxTokens: 3), rng: &rng)
    #expect(out.count == 1 && out[0].count <= 3)
    #expect(throws: ConfigError.self) {
      let _: any LanguageModel = try registry.make(.lm, "encoderDecoder", config: .table(["feedForward": .string("gelu")]))
    }
  }

  @Test("malformed configs and missing tensors are errors naming the file and key")
  func loadingErrors() throws {
    let fixture = try LMFixture("t5_tiny")
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("t5-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = folder.appendingPathComponent("config.json")
    try Data(#"{"model_type": "t5", "feed_forward_proj": "gated-silu"}"#.utf8).write(to: config)
    #expect(throws: EncoderDecoderLMError.invalidConfigValue(
      file: config.path, key: "feed_forward_proj", reason: "\"gated-silu\" is not supported; supported: relu, gated-gelu")) {
      try EncoderDecoderLM.load(directory: folder)
    }
    try Data(#"{"model_type": "t5", "d_model": true}"#.utf8).write(to: config)
    #expect(throws: EncoderDecoderLMError.invalidConfigValue(file: config.path, key: "d_model",
                                                              reason: "must be a positive integer, got 1")) {
      try EncoderDecoderLM.load(directory: folder)
    }
    var table = try #require(try JSONSerialization.jsonObject(
      with: Data(contentsOf: fixture.directory.appendingPathComponent("config.json"))) as? [String: Any])
    table["tie_word_embeddings"] = false
    table["num_decoder_layers"] = 3
    try JSONSerialization.data(withJSONObject: table).write(to: config)
    try FileManager.default.copyItem(at: fixture.directory.appendingPathComponent("model.safetensors"),
                                     to: folder.appendingPathComponent("model.safetensors"))
    #expect(throws: ModuleError.missingParameter(name: "decoder.block.2.layer.0.SelfAttention.q.weight", source: folder.path)) {
      try EncoderDecoderLM.load(directory: folder, tokenizer: TestTokenizer.t5(64))
    }
  }
}
