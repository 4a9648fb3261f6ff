// The Q-Former's BERT-style text pre-training: it learns a text-only corpus, touches only the text side
// (queries, cross-attention and the contrastive/matching heads keep their values), and needs a [MASK] token.

import Blip2Core
import QFormer
import Tensor
import Testing

@Suite("Q-Former text pre-training")
struct TextPretrainingTests {
  static let corpus = ["a red circle", "a blue square", "a red square and a blue circle", "a green star",
                       "the star is green", "the circle is red", "a blue star above a red circle"]

  @Test func maskedLanguageModellingLearnsAndLeavesTheImageSideAlone() throws {
    let qformer = try tinyQFormer()
    try qformer.setTokenizer(WordTokenizer(words: Self.corpus.flatMap { $0.split(separator: " ").map(String.init) }))
    let before = Dictionary(uniqueKeysWithValues: qformer.namedParameters().map { ($0.0, $0.1.data) })
    let optimizer = AdamW(qformer.namedParameters(), configuration: AdamW.Configuration(weightDecay: 0))
    var rng = RandomGenerator(seed: 5)
    var losses: [Float] = []
    for _ in 0..<150 {
      optimizer.zeroGrad()
      let loss = try qformer.textPretrainingLoss(Self.corpus, maxLength: 12, rng: &rng)
      try loss.backward()
      optimizer.update(learningRate: 3e-3)
      losses.append(loss.item)
    }
    let first = losses.prefix(10).reduce(0, +) / 10, last = losses.suffix(10).reduce(0, +) / 10
    #expect(first.isFinite && last < 0.6 * first, "masked-LM loss \(first) → \(last)")
    for (name, tensor) in qformer.namedParameters() {
      let untouched = name == "query_tokens" || name.contains("crossattention") || name.hasPrefix("vision_proj")
        || name.hasPrefix("text_proj") || name.hasPrefix("itm_head") || name == "temp" || name.hasPrefix("ln_vision")
        || name.contains("_query")
      if untouched { #expect(tensor.data == before[name], "\(name) changed") }
    }
  }

  @Test func withoutAMaskTokenItSaysSo() throws {
    let qformer = try tinyQFormer()
    try qformer.setTokenizer(WordTokenizer(words: ["a"]), classTokenId: 4, separatorTokenId: 5, decoderTokenId: 6)
    var rng = RandomGenerator(seed: 1)
    #expect(throws: QFormerError.self) { _ = try qformer.textPretrainingLoss(["a"], maxLength: 4, rng: &rng) }
  }
}
