// Both LMs learn: a tiny model trained on three fixed sentences (text only, no soft prompt) reproduces each of
// them greedily from its first character (the three start with different characters). Each must take under 15 s
// in a release build (about 1 s here); a debug build takes about 15 s each.

import Blip2Core
import Foundation
import Testing

import DecoderLM
import EncoderDecoderLM
import Tensor

#if DEBUG
private let isReleaseBuild = false
#else
private let isReleaseBuild = true
#endif

@Suite("Language models learn")
struct TrainingTests {
  static let sentences = ["a red circle left of a blue square", "two green triangles", "one small yellow star is on top"]
  let tokenizer = TestTokenizer.characters(of: sentences)

  /// Trains `model` for `steps` full-batch AdamW steps on the sentences split after their first character, then
  /// returns what greedy decoding makes of each first character.
  func trainAndGenerate(_ model: any LanguageModel, steps: Int, learningRate: Float) throws -> (loss: Float, texts: [String]) {
    let ids = Self.sentences.map { tokenizer.encode($0) }
    let input = TokenBatch(ids.map { Array($0.prefix(1)) }, padId: tokenizer.padId)
    let target = TokenBatch(ids.map { Array($0.dropFirst()) }, padId: tokenizer.padId)
    let prefix = Tensor.zeros([ids.count, 0, model.embeddingDim])
    let optimizer = AdamW(model.module.namedParameters(), configuration: .init(weightDecay: 0))
    var last: Float = .infinity
    for step in 0..<steps {
      optimizer.zeroGrad()
      let loss = try model.loss(prefix: prefix, input: input, target: target)
      loss.backward()
      last = loss.item
      optimizer.update(learningRate: learningRate * min(1, Float(step + 1) / 20))
    }
    model.module.eval()
    var rng = RandomGenerator(seed: 0)
    let generated = try model.generate(prefix: prefix, prompt: input, options: GenerationOptions(maxTokens: 48), rng: &rng)
    return (last, generated.map { tokenizer.decode($0) })
  }

  @Test("a tiny decoder LM memorizes three sentences and reproduces them greedily")
  func decoder() throws {
    var c = DecoderLMConfiguration()
    (c.vocabularySize, c.width, c.layers, c.heads, c.feedForwardWidth, c.maxPositions) = (tokenizer.vocabularySize, 48, 2, 4, 96, 64)
    let model = try DecoderLM(c, tokenizer: tokenizer, seed: 3)
    var result: (loss: Float, texts: [String]) = (0, [])
    let time = try seconds { result = try trainAndGenerate(model, steps: 250, learningRate: 3e-3) }
    print("decoder LM: final loss \(result.loss), \(String(format: "%.2f", time)) s")
    #expect(result.texts == Self.sentences.map { String($0.dropFirst()) })
    #expect(!isReleaseBuild || time < 15, "training took \(time) s in a release build")
  }

  @Test("a tiny encoder-decoder LM memorizes three sentences and reproduces them greedily")
  func encoderDecoder() throws {
    var c = EncoderDecoderLMConfiguration()
    (c.vocabularySize, c.width, c.heads, c.headWidth, c.feedForwardWidth) = (tokenizer.vocabularySize, 48, 4, 12, 96)
    (c.encoderLayers, c.decoderLayers, c.relativeBuckets, c.relativeMaxDistance) = (1, 2, 16, 64)
    let model = try EncoderDecoderLM(c, tokenizer: tokenizer, seed: 3)
    var result: (loss: Float, texts: [String]) = (0, [])
    let time = try seconds { result = try trainAndGenerate(model, steps: 250, learningRate: 3e-3) }
    print("encoder-decoder LM: final loss \(result.loss), \(String(format: "%.2f", time)) s")
    #expect(result.texts == Self.sentences.map { String($0.dropFirst()) })
    #expect(!isReleaseBuild || time < 15, "training took \(time) s in a release build")
  }
}
