import Blip2Core
import Foundation
import Tensor
import Testing

@testable import Rendering

/// `ModelGraph(model:)` on a composed model made of small stand-in components.
@Suite struct ModelGraphTests {
  @Test func composedModelGraphShowsShapesAndFrozenParts() throws {
    var rng = RandomGenerator(seed: 3)
    let encoder = FakeEncoder(module: Stack(layers: (0 ..< 3).map { _ in Linear(6, 6, rng: &rng) }, head: Linear(6, 6, rng: &rng)))
    let bridge = FakeBridge(module: Linear(6, 4, rng: &rng))
    let model = Blip2Model(encoder: encoder, bridge: bridge, languageModel: FakeLM(module: Linear(5, 5, rng: &rng)))
    let graph = ModelGraph(model: model, depth: 1)
    let text = graph.dot.text
    #expect(text.contains("[B, 3, 16, 16]") && text.contains("[B, 9, 6]") && text.contains("[B, 2, 4]") && text.contains("[B, 2, 5]"))
    #expect(text.contains("subgraph \"cluster_encoder\""))                  // depth 1: the encoder's parts inside
    #expect(text.contains("\"encoder.layer.0..2\"") && text.contains("Linear ×3"))
    let encoderNode = try #require(graph.nodes.first { $0.id == "encoder" })
    let bridgeNode = try #require(graph.nodes.first { $0.id == "bridge" })
    #expect(encoderNode.status == .frozen && bridgeNode.status == .trainable)
    #expect(text.contains("\"encoder\" -> \"bridge\"") == false)             // edges attach inside the cluster
    #expect(text.contains("ltail=\"cluster_encoder\""))
    #expect(String(decoding: try graph.render(.svg), as: UTF8.self).contains("<svg"))
  }
}

@Suite struct ModelGraphLabelTests {
  @Test func longSummariesWrapAfterCommas() {
    let summary = "Q-Former (hidden 128, 2 layers, 4 heads, 32 queries, cross-attention in layers 0, image width 192)"
    let lines = ModelGraph.wrapped(summary, width: 30).split(separator: "\n").map(String.init)
    #expect(lines.count > 2 && lines.allSatisfy { $0.count <= 36 })
    #expect(lines.joined(separator: " ") == summary)
    #expect(ModelGraph.wrapped("short, text") == "short, text")
    #expect(ModelGraph.wrapped("no commas at all in this rather long line of text", width: 10)
      == "no commas at all in this rather long line of text")
  }
}

final class FakeEncoder: ImageEncoder {
  let module: Module
  init(module: Module) { self.module = module }
  var kind: String { "fake-vit" }
  var summary: String { "fake encoder" }
  var featureDim: Int { 6 }
  var imageSize: Int { 16 }
  var tokenCount: Int { 9 }
  func encode(_ pixels: Tensor) throws -> Tensor { pixels }
}

final class FakeBridge: Bridge {
  let module: Module
  init(module: Module) { self.module = module }
  var kind: String { "fake-bridge" }
  var summary: String { "fake bridge" }
  var imageFeatureDim: Int { 6 }
  var outputTokens: Int { 2 }
  var outputDim: Int { 4 }
  func bridge(_ imageFeatures: Tensor) throws -> Tensor { imageFeatures }
}

struct FakeTokenizer: Tokenizer {
  var vocabularySize: Int { 5 }
  var padId: Int { 0 }
  var bosId: Int? { nil }
  var eosId: Int? { nil }
  func encode(_ text: String) -> [Int] { [] }
  func decode(_ ids: [Int]) -> String { "" }
}

final class FakeLM: LanguageModel {
  let module: Module
  init(module: Module) { self.module = module }
  var kind: String { "fake-lm" }
  var summary: String { "fake LM" }
  var embeddingDim: Int { 5 }
  var architecture: LMArchitecture { .decoderOnly }
  var tokenizer: any Tokenizer { FakeTokenizer() }
  func loss(prefix: Tensor, input: TokenBatch, target: TokenBatch) throws -> Tensor { prefix }
  func generate(prefix: Tensor, prompt: TokenBatch, options: GenerationOptions, rng: inout RandomGenerator) throws -> [[Int]] { [] }
}
