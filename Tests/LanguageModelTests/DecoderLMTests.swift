// The decoder-only LM: parity with transformers' OPTForCausalLM and GPT2LMHeadModel, gradients into a frozen model's soft prompt,
// padding, generation, registration and checkpoint errors.

import Blip2Core
import Foundation
import Testing

@testable import DecoderLM
import Tensor

@Suite("DecoderLM")
struct DecoderLMTests {
  let fixture: LMFixture
  let model: DecoderLM

  init() throws {
    (fixture, model) = try Self.load("opt_tiny")
  }

  var input: TokenBatch { TokenBatch(fixture.prompts, padId: 1) }
  var target: TokenBatch { TokenBatch(fixture.targets, padId: 1) }

  @Test("config.json is read as transformers reads it")
  func configuration() throws {
    let postLN = try DecoderLM.configuration(directory: try LMFixture("opt_postln_tiny").directory)
    #expect(!postLN.normBefore && !postLN.hasFinalNorm && postLN.embeddingWidth == 16 && postLN.tokenEmbeddingWidth == 16)
    let gpt2 = try DecoderLM.configuration(directory: try LMFixture("gpt2_tiny").directory)
    #expect(gpt2.family == .gpt2 && gpt2.width == 32 && gpt2.feedForwardWidth == 37 && gpt2.activation == .geluTanh)
    let c = model.configuration
    #expect(c.family == .opt && c.vocabularySize == 64 && c.width == 32 && c.layers == 2 && c.heads == 4)
    #expect(c.feedForwardWidth == 37 && c.maxPositions == 40 && c.activation == .relu && c.embeddingWidth == nil)
    #expect(model.parameterCount == 64 * 32 + 42 * 32 + 2 * (4 * (32 * 32 + 32) + 2 * 37 * 32 + 37 + 32 + 4 * 32) + 64)
  }

  /// The decoder-only parity fixtures: OPT, OPT-350m's post-LN layout with projections, GPT-2.
  static let fixtures = ["opt_tiny", "opt_postln_tiny", "gpt2_tiny"]

  /// A parity fixture's model, frozen, with OPT's special ids (both fixtures use them).
  static func load(_ name: String) throws -> (LMFixture, DecoderLM) {
    let fixture = try LMFixture(name)
    let model = try DecoderLM.load(directory: fixture.directory, tokenizer: TestTokenizer.opt(64))
    model.freeze()
    model.eval()
    return (fixture, model)
  }

  @Test("logits, loss and the soft prompt's gradient match transformers (frozen model)",
        arguments: Self.fixtures)
  func parity(name: String) throws {
    let (fixture, model) = try Self.load(name)
    let prefix = trainablePrefix(try fixture.tensor("prefix"))
    let loss = try model.loss(prefix: prefix, input: TokenBatch(fixture.prompts, padId: 1),
                              target: TokenBatch(fixture.targets, padId: 1))
    expectClose([loss.item], try fixture.tensor("loss").data, "\(name) loss")
    loss.backward()
    expectClose(prefix.grad, try fixture.tensor("prefix_grad").data, "\(name) prefix gradient")
    #expect(model.parameters.allSatisfy { $0.grad == nil }, "a frozen LM must get no weight gradients")

    let texts = (0..<2).map { [2] + fixture.prompts[$0] + fixture.targets[$0] + [2] }
    let length = texts.map(\.count).max() ?? 0
    let x = try model.sequenceEmbeddings(prefix: prefix, texts: texts, length: length)
    let logits = try model.logits(embeddings: x, validLengths: texts.map { 3 + $0.count })
    expectClose(logits.data, try fixture.tensor("logits").data, "\(name) logits")
  }

  @Test("greedy and beam search match transformers' generate", arguments: Self.fixtures)
  func greedy(name: String) throws {
    let (fixture, model) = try Self.load(name)
    var rng = RandomGenerator(seed: 0)
    let prefix = try fixture.tensor("prefix"), prompt = TokenBatch(fixture.prompts, padId: 1)
    let ids = try model.generate(prefix: prefix, prompt: prompt, options: GenerationOptions(maxTokens: 8), rng: &rng)
    #expect(ids == fixture.greedy.map { truncated($0, at: [2]) })
    let beam = try model.generate(prefix: prefix, prompt: prompt, options: GenerationOptions(maxTokens: 8, beams: 3), rng: &rng)
    #expect(beam == fixture.beam, "3 beams")
  }

  @Test("beam search with one beam is greedy; wider beams stay within maxTokens")
  func beams() throws {
    var rng = RandomGenerator(seed: 0)
    let prefix = try fixture.tensor("prefix")
    let greedy = try model.generate(prefix: prefix, prompt: input, options: GenerationOptions(maxTokens: 8), rng: &rng)
    // `decode` routes one beam to `greedy`; call the beam search itself.
    for b in 0..<2 {
      let head = [2] + fixture.prompts[b]
      let soft = prefix.sliced(axis: 0, b..<(b + 1))
      let scorer = model.cachedScorer(soft: soft, head: head)
      let beam = try GradMode.noGrad { try TokenSearch.beamSearch(beams: 1, maxTokens: 8, stopTokens: [2], scorer: scorer) }
      #expect(beam == greedy[b])
    }
    let wide = try model.generate(prefix: prefix, prompt: input, options: GenerationOptions(maxTokens: 8, beams: 4), rng: &rng)
    #expect(wide.count == 2 && wide.allSatisfy { $0.count <= 8 })
  }

  @Test("the KV cache decodes exactly as recomputing the whole sequence", arguments: Self.fixtures)
  func kvCache(name: String) throws {
    let (fixture, model) = try Self.load(name)
    let prefix = try fixture.tensor("prefix"), prompt = TokenBatch(fixture.prompts, padId: 1)
    for options in [GenerationOptions(maxTokens: 12, beams: 3), GenerationOptions(maxTokens: 12, topP: 0.95),
                    GenerationOptions(maxTokens: 12)] {
      var first = RandomGenerator(seed: 5), second = RandomGenerator(seed: 5)
      model.usesKVCache = true
      let cached = try model.generate(prefix: prefix, prompt: prompt, options: options, rng: &first)
      model.usesKVCache = false
      let recomputed = try model.generate(prefix: prefix, prompt: prompt, options: options, rng: &second)
      #expect(cached == recomputed, "\(options)")
    }
    model.usesKVCache = true
    var rng = RandomGenerator(seed: 0)
    #expect(throws: DecoderLMError.sequenceTooLong(length: 41, maxPositions: 40)) {
      try model.generate(prefix: prefix, prompt: prompt, options: GenerationOptions(maxTokens: 40, stopTokens: [2]), rng: &rng)
    }
  }

  @Test("samples decoded together give the texts they give one at a time", arguments: Self.fixtures)
  func batchedDecoding(name: String) throws {
    let (fixture, model) = try Self.load(name)
    // Four samples: the fixture's prompts (of different lengths) twice, so groups and chunks both occur.
    let prompts = fixture.prompts + fixture.prompts
    let prefix = try fixture.tensor("prefix")
    let doubled = Tensor.concat([prefix, prefix], axis: 0)
    let prompt = TokenBatch(prompts, padId: 1)
    for options in [GenerationOptions(maxTokens: 10, topP: 0.9, temperature: 1.5), GenerationOptions(maxTokens: 10)] {
      var outputs: [[[Int]]] = []
      for batch in [256, 1, 3] {
        model.decodingBatch = batch
        var rng = RandomGenerator(seed: 11)
        outputs.append(try model.generate(prefix: doubled, prompt: prompt, options: options, rng: &rng))
      }
      #expect(outputs[0] == outputs[1] && outputs[0] == outputs[2], "\(options)")
      #expect(outputs[0].count == 4 && outputs[0].allSatisfy { $0.count <= 10 })
    }
    model.decodingBatch = 256
  }

  @Test("nucleus sampling is seeded, and a tiny topP is greedy")
  func sampling() throws {
    let prefix = try fixture.tensor("prefix")
    let options = GenerationOptions(maxTokens: 8, topP: 0.9, temperature: 1.5)
    var first = RandomGenerator(seed: 7), second = RandomGenerator(seed: 7)
    let a = try model.generate(prefix: prefix, prompt: input, options: options, rng: &first)
    let b = try model.generate(prefix: prefix, prompt: input, options: options, rng: &second)
    #expect(a == b)
    let narrow = try model.generate(prefix: prefix, prompt: input, options: GenerationOptions(maxTokens: 8, topP: 1e-6),
                                    rng: &first)
    #expect(narrow == fixture.greedy.map { truncated($0, at: [2]) })
    #expect(throws: DecoderLMError.self) {
      try model.generate(prefix: prefix, prompt: input, options: GenerationOptions(beams: 2, topP: 0.5), rng: &first)
    }
  }

  @Test("stop tokens end generation and are not returned")
  func stopTokens() throws {
    var rng = RandomGenerator(seed: 0)
    let stop = fixture.greedy[0][2]
    let ids = try model.generate(prefix: try fixture.tensor("prefix"), prompt: input,
                                 options: GenerationOptions(maxTokens: 8, stopTokens: [stop]), rng: &rng)
    #expect(ids[0] == truncated(fixture.greedy[0], at: [2, stop]))
    #expect(try model.generate(prefix: try fixture.tensor("prefix"), prompt: input,
                               options: GenerationOptions(maxTokens: 3), rng: &rng).allSatisfy { $0.count <= 3 })
  }

  @Test("padding does not change the other sequences' logits or loss")
  func padding() throws {
    let prefix = try fixture.tensor("prefix")
    let first = prefix.sliced(axis: 0, 0..<1)
    let withEnd = try model.loss(prefix: first, input: TokenBatch([fixture.prompts[0]], padId: 1),
                                 target: TokenBatch([fixture.targets[0]], padId: 1))
    // Without an end token an empty target has no label: a long neighbour pads sample 0 but adds nothing to the mean.
    model.endTokenId = nil
    defer { model.endTokenId = 2 }
    let alone = try model.loss(prefix: first, input: TokenBatch([fixture.prompts[0]], padId: 1),
                               target: TokenBatch([fixture.targets[0]], padId: 1))
    let long = [Int](repeating: 9, count: 20)
    let padded = try model.loss(prefix: prefix, input: TokenBatch([fixture.prompts[0], long], padId: 1),
                                target: TokenBatch([fixture.targets[0], []], padId: 1))
    expectClose([padded.item], [alone.item], relative: 1e-5, absolute: 1e-6, "loss with a padded neighbour")
    #expect(abs(withEnd.item - alone.item) > 1e-4, "the end token is labelled")

    let text = [2] + fixture.prompts[0] + fixture.targets[0], length = 3 + text.count
    let single = try model.logits(embeddings: try model.sequenceEmbeddings(prefix: first, texts: [text], length: text.count),
                                  validLengths: [length])  // [1, T, V]
    let batch = try model.logits(embeddings: try model.sequenceEmbeddings(prefix: prefix, texts: [text, [2] + long],
                                                                          length: 21), validLengths: [length, 24])
    expectClose(Array(batch.data[0..<(length * 64)]), single.data, "logits beside a longer neighbour")
  }

  @Test("registry builds lm.decoder from sizes and rejects unknown keys")
  func registry() throws {
    var registry = Registry()
    try DecoderLMPlugin.register(into: &registry)
    let config: ConfigValue = .table(["width": .int(32), "layers": .int(1), "heads": .int(2), "maxPositions": .int(16)])
    let lm: any LanguageModel = try registry.make(.lm, "decoder", config: config)
    #expect(lm.embeddingDim == 32 && lm.architecture == .decoderOnly && lm.kind == "decoder")
    #expect(lm.tokenizer.decode(lm.tokenizer.encode("héllo")) == "héllo")
    #expect(throws: ConfigError.self) {
      let _: any LanguageModel = try registry.make(.lm, "decoder", config: .table(["widht": .int(32)]))
    }
  }

  @Test("malformed configs and missing tensors are errors naming the file and key")
  func loadingErrors() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("decoderlm-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = folder.appendingPathComponent("config.json")
    try Data(#"{"model_type": "opt", "hidden_size": "big"}"#.utf8).write(to: config)
    #expect(throws: DecoderLMError.invalidConfigValue(file: config.path, key: "hidden_size",
                                                       reason: "must be a positive integer, got big")) {
      try DecoderLM.load(directory: folder)
    }
    try Data(#"{"model_type": "bert"}"#.utf8).write(to: config)
    #expect(throws: DecoderLMError.unsupportedModel(file: config.path, modelType: "bert", supported: ["opt", "gpt2"])) {
      try DecoderLM.load(directory: folder)
    }
    try Data("not json".utf8).write(to: config)
    #expect(throws: DecoderLMError.self) { try DecoderLM.load(directory: folder) }
    // The fixture's config with one more layer than the weights have.
    var table = try #require(try JSONSerialization.jsonObject(
      with: Data(contentsOf: fixture.directory.appendingPathComponent("config.json"))) as? [String: Any])
    table["num_hidden_layers"] = 3
    try JSONSerialization.data(withJSONObject: table).write(to: config)
    try FileManager.default.copyItem(at: fixture.directory.appendingPathComponent("model.safetensors"),
                                     to: folder.appendingPathComponent("model.safetensors"))
    #expect(throws: ModuleError.missingParameter(name: "model.decoder.layers.2.self_attn.q_proj.weight", source: folder.path)) {
      try DecoderLM.load(directory: folder, tokenizer: TestTokenizer.opt(64))
    }
  }
}
