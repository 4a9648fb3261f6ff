// How the frozen LMs' text-only pre-training reads its corpus: packed documents for the decoder-only LM, and
// for the encoder-decoder the (encoder input, decoder target) split that teaches it to answer after "Answer:"
// and to describe after a description (what stage 2 and zero-shot VQA ask of it).

import Testing

@testable import Blip2Core

@Suite("Pre-training corpus")
struct PretrainingCorpusTests {
  private let tokenizer = WordTokenizer(words: ["a", "red", "blue", "circle", "square", "question", "answer", ":",
                                                "what", "colour", "is", "the", "?"])

  private func ids(_ text: String) -> [Int] { tokenizer.encode(text) }

  @Test("documents are packed as [BOS] a [EOS] [BOS] b [EOS] for the decoder-only LM (the LM adds the outer two)")
  func packing() {
    let packed = FrozenPartsPretraining.documentIds("a red circle\na blue square", tokenizer: tokenizer, maxLength: 64)
    #expect(packed == ids("a red circle") + [tokenizer.eosId!, tokenizer.bosId!] + ids("a blue square"))
    #expect(FrozenPartsPretraining.documentIds("a red circle\na blue square", tokenizer: tokenizer, maxLength: 4).count == 4)
  }

  @Test("a question in the zero-shot format: the encoder reads up to 'Answer:' (after any document before it), the decoder writes the answer")
  func questionSplit() {
    var rng = RandomGenerator(seed: 1)
    let alone = FrozenPartsPretraining.prefixLMPair("Question: what colour is the circle? Answer: red",
                                                    tokenizer: tokenizer, maxLength: 64, rng: &rng)
    #expect(alone.input == ids("Question: what colour is the circle? Answer:"))
    #expect(alone.target == ids("red"))
    let afterCaption = FrozenPartsPretraining.prefixLMPair("a red circle\nQuestion: what colour is the circle? Answer: red",
                                                           tokenizer: tokenizer, maxLength: 64, rng: &rng)
    #expect(afterCaption.input == ids("a red circle") + ids("Question: what colour is the circle? Answer:"))
    #expect(afterCaption.target == ids("red"))
  }

  @Test("two captions: the encoder reads the first, the decoder writes the second")
  func documentSplit() {
    var rng = RandomGenerator(seed: 1)
    let pair = FrozenPartsPretraining.prefixLMPair("a red circle\na blue square", tokenizer: tokenizer, maxLength: 64, rng: &rng)
    #expect(pair.input == ids("a red circle") && pair.target == ids("a blue square"))
  }

  @Test("one caption: split after a random token in its first half, nothing lost, deterministic for a seed")
  func randomSplit() {
    let caption = "a red circle is a blue square"
    var splits = Set<Int>()
    for seed in 0..<40 {
      var rng = RandomGenerator(seed: UInt64(seed))
      let pair = FrozenPartsPretraining.prefixLMPair(caption, tokenizer: tokenizer, maxLength: 64, rng: &rng)
      #expect(pair.input + pair.target == ids(caption))
      #expect((1...ids(caption).count / 2).contains(pair.input.count))
      splits.insert(pair.input.count)
      var again = RandomGenerator(seed: UInt64(seed))
      #expect(FrozenPartsPretraining.prefixLMPair(caption, tokenizer: tokenizer, maxLength: 64, rng: &again) == pair)
    }
    #expect(splits.count > 1)
  }
}
