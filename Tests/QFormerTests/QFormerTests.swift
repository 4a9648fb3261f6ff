// Structure, initialization and inputs of the Q-Former: LAVIS's parameter names, BERT initialization, the
// registry, the text side, cross-attention maps, dropout and the errors a user can cause.

import Blip2Core
import Foundation
import Testing

@testable import QFormer
import Tensor

@Suite("Q-Former structure")
struct QFormerStructureTests {
  @Test func parameterNamesAreLAVIS() throws {
    let testCase = try FixtureCase.load("objectives_tiny")
    let lavisNames = Set(try loadFixture("objectives_tiny", "model").keys)
    let names = try QFormer(testCase.configuration).namedParameters().map(\.0)
    #expect(names.count == Set(names).count, "a parameter is listed twice")
    #expect(Set(names) == lavisNames)
  }

  @Test func crossAttentionEveryOtherLayerAndOwnQueryFeedForward() throws {
    let qformer = try QFormer(QFormerConfiguration(hidden: 16, layers: 5, heads: 2, intermediate: 8, queries: 3,
                                                   crossEvery: 2, imageWidth: 6, vocabularySize: 10))
    let names = Set(qformer.namedParameters().map(\.0))
    for i in 0..<5 {
      let prefix = "Qformer.bert.encoder.layer.\(i)."
      #expect(names.contains(prefix + "crossattention.self.key.weight") == (i % 2 == 0), "layer \(i)")
      #expect(names.contains(prefix + "intermediate_query.dense.weight") && names.contains(prefix + "output.LayerNorm.bias"))
    }
    #expect(qformer.stateDictionary()["Qformer.bert.encoder.layer.0.crossattention.self.key.weight"]?.shape == [16, 6])
    #expect(qformer.temperature.shape == [] && qformer.temperature.item == Float(0.07))
    #expect(qformer.summary.contains("cross-attention in layers 0,2,4"))
    #expect(qformer.outputTokens == 3 && qformer.outputDim == 16 && qformer.randomSources.count == 1)
  }

  @Test func bertInitialization() throws {
    let qformer = try tinyQFormer()
    let (hidden, vocabulary) = (16, 20)
    var rng = RandomGenerator(seed: 3)
    func random(_ shape: [Int]) -> Tensor { Tensor.randn(shape, rng: &rng) }
    // A BERT checkpoint of one token fewer (no [DEC]), with the original gamma/beta spelling in places.
    var bert: [String: Tensor] = [
      "bert.embeddings.word_embeddings.weight": random([vocabulary - 1, hidden]),
      "bert.embeddings.position_embeddings.weight": random([12, hidden]),
      "bert.embeddings.token_type_embeddings.weight": random([2, hidden]),
      "bert.embeddings.LayerNorm.gamma": random([hidden]), "bert.embeddings.LayerNorm.beta": random([hidden]),
      "bert.pooler.dense.weight": random([hidden, hidden]), "cls.predictions.bias": random([vocabulary - 1]),
    ]
    for i in 0..<2 {
      let p = "bert.encoder.layer.\(i)."
      for name in ["query", "key", "value"] {
        bert[p + "attention.self.\(name).weight"] = random([hidden, hidden])
        bert[p + "attention.self.\(name).bias"] = random([hidden])
      }
      bert[p + "attention.output.dense.weight"] = random([hidden, hidden])
      bert[p + "intermediate.dense.weight"] = random([24, hidden])
      bert[p + "output.dense.weight"] = random([hidden, 24])
      for part in ["attention.output.dense", "intermediate.dense", "output.dense"] where bert[p + part + ".bias"] == nil {
        bert[p + part + ".bias"] = random([bert[p + part + ".weight"]?.shape[0] ?? 0])
      }
      for part in ["attention.output.LayerNorm", "output.LayerNorm"] {
        bert[p + part + ".weight"] = random([hidden])
        bert[p + part + ".bias"] = random([hidden])
      }
    }
    let decRow = Array(qformer.wordEmbeddings.weight.data.suffix(hidden))
    let crossKey = qformer.stateDictionary()["Qformer.bert.encoder.layer.0.crossattention.self.key.weight"]?.data
    let report = try qformer.initializeFromBERT(bert)
    let ours = qformer.stateDictionary()
    let words = qformer.wordEmbeddings.weight.data
    #expect(Array(words.prefix((vocabulary - 1) * hidden)) == bert["bert.embeddings.word_embeddings.weight"]?.data)
    #expect(Array(words.suffix(hidden)) == decRow, "the [DEC] row keeps its initialization")
    #expect(ours["Qformer.bert.embeddings.LayerNorm.weight"]?.data == bert["bert.embeddings.LayerNorm.gamma"]?.data)
    for i in 0..<2 {
      let (p, q) = ("bert.encoder.layer.\(i).", "Qformer.bert.encoder.layer.\(i).")
      #expect(ours[q + "attention.self.value.weight"]?.data == bert[p + "attention.self.value.weight"]?.data)
      #expect(ours[q + "intermediate_query.dense.weight"]?.data == bert[p + "intermediate.dense.weight"]?.data)
      #expect(ours[q + "output_query.LayerNorm.bias"]?.data == bert[p + "output.LayerNorm.bias"]?.data)
      #expect(ours[q + "output.dense.weight"]?.data == bert[p + "output.dense.weight"]?.data)
    }
    #expect(ours["Qformer.bert.encoder.layer.0.crossattention.self.key.weight"]?.data == crossKey)
    #expect(Array(qformer.languageModelBias.data.prefix(vocabulary - 1)) == bert["cls.predictions.bias"]?.data)
    #expect(report.unused == ["bert.embeddings.token_type_embeddings.weight", "bert.pooler.dense.weight"])
    #expect(report.missing.contains("query_tokens") && report.missing.contains("temp")
      && report.missing.contains("Qformer.bert.encoder.layer.0.crossattention.self.query.weight")
      && report.missing.contains("Qformer.cls.predictions.transform.dense.weight"))
    // Too few layers is a structural error; a mis-shaped tensor names itself.
    let oneLayer = bert.filter { !$0.key.hasPrefix("bert.encoder.layer.1.") }
    #expect(throws: QFormerError.self) { try tinyQFormer().initializeFromBERT(oneLayer) }
    var wrong = bert
    wrong["bert.embeddings.position_embeddings.weight"] = random([11, hidden])
    #expect(throws: ModuleError.shapeMismatch(name: "bert.embeddings.position_embeddings.weight", expected: [12, hidden],
                                              found: [11, hidden], source: "BERT checkpoint")) {
      try tinyQFormer().initializeFromBERT(wrong)
    }
  }

  @Test func registryBuildsTheBridgeAndRejectsUnknownKeys() throws {
    var registry = Registry()
    try QFormerPlugin.register(into: &registry)
    let built: QFormer = try registry.make(.bridge, "qformer",
                                           config: ["size": "sandbox", "layers": 2, "queries": 8, "vocabularySize": 40],
                                           context: BuildContext(seed: 4, imageFeatureDim: 48))
    #expect(built.configuration.layers == 2 && built.configuration.queries == 8 && built.configuration.imageWidth == 48)
    #expect(built.configuration.hidden == 256 && built.configuration.decoderTokenId == 39)
    #expect(throws: ConfigError.self) {
      let _: QFormer = try registry.make(.bridge, "qformer", config: ["size": "sandbox", "vocabularySize": 40, "hiden": 4])
    }
  }

  @Test func tokenizeTextAddsClassAndSeparatorTokens() throws {
    let qformer = try tinyQFormer()
    try qformer.setTokenizer(WordTokenizer(words: ["a", "red", "circle"]))
    #expect(qformer.configuration.decoderTokenId == 6)
    let batch = qformer.tokenizeText(["A red circle", "circle"], maxLength: 4)
    let (cls, sep) = (4, 5)
    #expect(batch.length == 4 && batch.validLengths == [4, 3])
    #expect(batch.sequence(0).first == cls && batch.sequence(0).last == sep && batch.sequence(1) == [cls, 9, sep])
    #expect(throws: QFormerError.self) { try qformer.setTokenizer(WordTokenizer(words: (0..<30).map { "w\($0)" })) }
  }

  @Test func crossAttentionMapsAreDistributions() throws {
    let qformer = try tinyQFormer()
    let maps = try qformer.crossAttentionMaps(randomFeatures(batch: 2))
    #expect(maps.map(\.layer) == [0] && maps[0].shape == [2, 2, 4, 5])
    for row in 0..<(2 * 2 * 4) {
      let total = maps[0].probabilities[(row * 5)..<((row + 1) * 5)].reduce(0, +)
      #expect(abs(total - 1) < 1e-5)
    }
  }

  @Test func dropoutOnlyWhileTraining() throws {
    let qformer = try tinyQFormer(dropout: 0.3)
    let features = randomFeatures(batch: 2)
    let first = try qformer.queryOutputs(features).data
    let second = try qformer.queryOutputs(features).data
    #expect(first != second, "training mode draws new dropout masks")
    qformer.eval()
    #expect(try qformer.queryOutputs(features).data == qformer.queryOutputs(features).data)
  }

  @Test func inputErrorsAreTyped() throws {
    let qformer = try tinyQFormer()
    let features = randomFeatures(batch: 2)
    #expect(throws: QFormerError.tokenOutOfRange(id: 20, position: 1, vocabularySize: 20)) {
      try qformer.encode(imageFeatures: nil, text: TokenBatch([[1, 20]], padId: 0))
    }
    #expect(throws: QFormerError.textTooLong(length: 13, maxPositions: 12)) {
      try qformer.encode(imageFeatures: nil, text: TokenBatch([[Int](repeating: 2, count: 13)], padId: 0))
    }
    #expect(throws: QFormerError.self) { try qformer.queryOutputs(randomFeatures(batch: 2, width: 9)) }
    #expect(throws: QFormerError.self) {
      try qformer.encode(imageFeatures: features, text: randomCaptions(lengths: [3, 3, 3]))
    }
    #expect(throws: QFormerError.self) {
      try qformer.encode(imageFeatures: features, text: randomCaptions(lengths: [3, 3]), mask: [true, false])
    }
    #expect(throws: QFormerError.self) { try QFormer(QFormerConfiguration(hidden: 10, heads: 3)) }
  }
}
