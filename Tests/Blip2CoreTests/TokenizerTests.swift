import Foundation
import Testing

@testable import Blip2Core

@Suite("Word tokenizer")
struct TokenizerTests {
  private let tokenizer = WordTokenizer(words: ["circle", "red", "a", "the", "is", "what", "colour", "?", ",", ".", ":",
                                                "two", "shapes", "and", "square", "blue"])

  @Test("special tokens come first with fixed ids, then the words sorted")
  func ids() {
    #expect(tokenizer.padId == 0 && tokenizer.unknownId == 1 && tokenizer.bosId == 2 && tokenizer.eosId == 3)
    #expect(tokenizer.clsId == 4 && tokenizer.sepId == 5 && tokenizer.decoderId == 6 && tokenizer.maskId == 7)
    #expect(Array(tokenizer.tokens.prefix(8)) == WordTokenizer.specialTokens)
    let words = Array(tokenizer.tokens.dropFirst(8))
    #expect(words == words.sorted())
    #expect(tokenizer.vocabularySize == 8 + 16)
    #expect(tokenizer.id(of: "[DEC]") == 6)
  }

  @Test("a token batch selects rows and trims the padding columns every row has")
  func tokenBatchTrimming() {
    let batch = TokenBatch([[4, 9, 9, 9], [4, 8], [4, 8, 7]], padId: 0, length: 6)
    let picked = batch.selecting([2, 1])
    #expect(picked.length == 6 && picked.validLengths == [3, 2] && picked.sequence(0) == [4, 8, 7])
    let trimmed = picked.trimmed()
    #expect(trimmed.length == 3 && trimmed.ids == [4, 8, 7, 4, 8, 0] && trimmed.validLengths == [3, 2])
    #expect(batch.trimmed().length == 4 && trimmed.trimmed() == trimmed)
  }

  @Test("ids do not depend on the order or case of the word list, or on duplicates")
  func determinism() {
    let shuffled = WordTokenizer(words: ["Blue", "square", "and", "shapes", "two", ":", ".", ",", "?", "colour", "what",
                                         "is", "the", "a", "red", "circle", "red", "[PAD]"])
    #expect(shuffled == tokenizer)
  }

  @Test("lowercases and splits punctuation off words")
  func splitting() {
    #expect(WordTokenizer.split("What colour is the Circle?") == ["what", "colour", "is", "the", "circle", "?"])
    #expect(WordTokenizer.split("two shapes: a red circle, and a blue square.")
      == ["two", "shapes", ":", "a", "red", "circle", ",", "and", "a", "blue", "square", "."])
    #expect(WordTokenizer.split("don't  t-shirt (x)") == ["don't", "t-shirt", "(", "x", ")"])
    #expect(WordTokenizer.split("") == [])
  }

  @Test("grammar sentences round-trip through encode and decode")
  func roundTrip() {
    for sentence in ["what colour is the circle?", "two shapes: a red circle and a blue square",
                     "a red circle, a blue square.", "a circle"] {
      let ids = tokenizer.encode(sentence)
      #expect(!ids.contains(tokenizer.unknownId))
      #expect(tokenizer.decode(ids) == sentence)
    }
  }

  @Test("unknown words become [UNK]; encoding never fails")
  func unknown() {
    let ids = tokenizer.encode("a purple hexagon!")
    #expect(ids == [tokenizer.id(of: "a"), 1, 1, 1].compactMap { $0 })
    #expect(tokenizer.decode(ids) == "a [UNK] [UNK] [UNK]")
  }

  @Test("decode skips special tokens (but shows [UNK]) and ids out of range")
  func decodeSkipsSpecials() throws {
    let red = try #require(tokenizer.id(of: "red")), circle = try #require(tokenizer.id(of: "circle"))
    #expect(tokenizer.decode([2, 4, 6, red, 7, circle, 3, 0, 0, 999, -1]) == "red circle")
  }

  @Test("saves as JSON and loads back; a tampered file is an error")
  func codable() throws {
    let data = try JSONEncoder().encode(tokenizer)
    #expect(try JSONDecoder().decode(WordTokenizer.self, from: data) == tokenizer)
    let duplicated = #"{"specialTokens": ["[PAD]","[UNK]","[BOS]","[EOS]","[CLS]","[SEP]","[DEC]","[MASK]"], "words": ["a","a"]}"#
    #expect(throws: TokenizerError.duplicateWord("a")) {
      try JSONDecoder().decode(WordTokenizer.self, from: Data(duplicated.utf8))
    }
    let otherSpecials = #"{"specialTokens": ["[PAD]"], "words": ["a"]}"#
    #expect(throws: TokenizerError.self) { try JSONDecoder().decode(WordTokenizer.self, from: Data(otherSpecials.utf8)) }
  }
}
