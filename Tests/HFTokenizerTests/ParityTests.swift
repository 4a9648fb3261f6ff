// Parity with the Hugging Face `tokenizers` library: each fixture tokenizer (made by make_fixtures.py) must give
// exactly the library's ids, tokens, type ids and decodings for every text of the fixture.

import Blip2Core
import Foundation
import Testing

@testable import HFTokenizers

/// `Fixtures/<name>` in the test bundle.
func fixtureURL(_ name: String) throws -> URL {
  try #require(Bundle.module.resourceURL, "the test bundle has no resources").appendingPathComponent("Fixtures/\(name)")
}

/// `<name>.expected.json`: what the library made of each text.
struct Expectations: Decodable {
  struct Case: Decodable {
    let text: String
    let pair: String?
    let ids, plainIds: [Int]
    let tokens, plainTokens: [String]
    let typeIds, plainTypeIds: [Int]?
    let decoded, decodedWithSpecial, decodedHalf: String
  }

  struct DecodeCase: Decodable {
    let ids: [Int]
    let decoded, decodedWithSpecial: String
  }

  let note: String
  let vocabularySize: Int
  let cases: [Case]
  let decodeOnly: [DecodeCase]

  static func load(_ name: String) throws -> Expectations {
    try JSONDecoder().decode(Expectations.self, from: Data(contentsOf: try fixtureURL("\(name).expected.json")))
  }
}

/// Strings equal scalar for scalar (Swift's `==` would accept canonically equivalent strings).
func same(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }
func same(_ a: [String], _ b: [String]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { same($0, $1) } }

/// The fixture tokenizer `name`.
func fixtureTokenizer(_ name: String) throws -> HFTokenizer {
  try HFTokenizer(contentsOf: try fixtureURL("\(name).tokenizer.json"))
}

@Suite("HFTokenizer parity with the tokenizers library")
struct HFTokenizerParityTests {
  static let fixtures = ["bert", "bert-cased", "gpt2", "opt", "roberta", "t5", "unigram-byte-fallback",
                         "unigram-first", "bpe-suffix", "bpe-prefix"]

  @Test(arguments: fixtures)
  func encodingsMatchTheLibrary(_ name: String) throws {
    let tokenizer = try fixtureTokenizer(name)
    let expected = try Expectations.load(name)
    #expect(tokenizer.vocabularySize == expected.vocabularySize, "\(name): vocabulary size")
    for c in expected.cases {
      let label = "\(name) \(String(reflecting: c.text))" + (c.pair.map { " + \(String(reflecting: $0))" } ?? "")
      let full = tokenizer.encoding(c.text, pair: c.pair, addSpecialTokens: true)
      #expect(full.ids == c.ids, "\(label): ids")
      #expect(same(full.tokens, c.tokens), "\(label): tokens \(full.tokens) != \(c.tokens)")
      let plain = tokenizer.encoding(c.text, pair: c.pair, addSpecialTokens: false)
      #expect(plain.ids == c.plainIds, "\(label): ids without special tokens")
      #expect(same(plain.tokens, c.plainTokens), "\(label): tokens without special tokens \(plain.tokens)")
      if let typeIds = c.typeIds { #expect(full.typeIds == typeIds, "\(label): type ids") }
      if let typeIds = c.plainTypeIds { #expect(plain.typeIds == typeIds, "\(label): type ids without special tokens") }
    }
  }

  @Test(arguments: fixtures)
  func decodingsMatchTheLibrary(_ name: String) throws {
    let tokenizer = try fixtureTokenizer(name)
    let expected = try Expectations.load(name)
    for c in expected.cases {
      let label = "\(name) \(String(reflecting: c.text))"
      let skipped = tokenizer.decode(c.ids, skipSpecialTokens: true)
      #expect(same(skipped, c.decoded), "\(label): decoded \(String(reflecting: skipped))")
      let kept = tokenizer.decode(c.ids, skipSpecialTokens: false)
      #expect(same(kept, c.decodedWithSpecial), "\(label): decoded with special tokens \(String(reflecting: kept))")
      let half = tokenizer.decode(Array(c.plainIds.prefix(c.plainIds.count / 2)), skipSpecialTokens: false)
      #expect(same(half, c.decodedHalf), "\(label): first half decoded \(String(reflecting: half))")
    }
    for c in expected.decodeOnly {
      #expect(same(tokenizer.decode(c.ids, skipSpecialTokens: true), c.decoded), "\(name): decode \(c.ids)")
      #expect(same(tokenizer.decode(c.ids, skipSpecialTokens: false), c.decodedWithSpecial), "\(name): decode \(c.ids)")
    }
  }

  @Test(arguments: fixtures)
  func tokenizerProtocolEncodesWithoutAndDecodesSkippingSpecialTokens(_ name: String) throws {
    let tokenizer: any Tokenizer = try fixtureTokenizer(name)
    for c in try Expectations.load(name).cases where c.pair == nil {
      #expect(tokenizer.encode(c.text) == c.plainIds, "\(name) \(String(reflecting: c.text))")
      #expect(same(tokenizer.decode(c.ids), c.decoded), "\(name) \(String(reflecting: c.text))")
    }
  }

  @Test func specialIdsComeFromThePostProcessorOrConventionalNames() throws {
    let bert = try fixtureTokenizer("bert")
    #expect(bert.bosId == bert.id(of: "[CLS]") && bert.eosId == bert.id(of: "[SEP]") && bert.padId == bert.id(of: "[PAD]"))
    let opt = try fixtureTokenizer("opt")
    #expect(opt.bosId == 2 && opt.eosId == 2 && opt.padId == 1)  // OPT: </s> begins and ends, <pad> is 1
    let t5 = try fixtureTokenizer("t5")
    #expect(t5.bosId == nil && t5.eosId == 1 && t5.padId == 0)
    let gpt2 = try fixtureTokenizer("gpt2")
    #expect(gpt2.bosId == nil && gpt2.eosId == gpt2.id(of: "<|endoftext|>"))
  }

  @Test func idsAndTokensAreLookedUpExactly() throws {
    let bert = try fixtureTokenizer("bert")
    let id = try #require(bert.id(of: "[MASK]"))
    #expect(bert.token(of: id) == "[MASK]")
    #expect(bert.token(of: -1) == nil && bert.token(of: bert.vocabularySize) == nil)
    #expect(bert.id(of: "caf\u{E9}") == nil || bert.id(of: "cafe\u{301}") != bert.id(of: "caf\u{E9}"))
  }

  /// Encoding a megabyte must stay well under a second in release builds. Measured in the thread's CPU time, since
  /// the test machine is shared and wall-clock time says more about the neighbours than about the code.
  @Test(arguments: ["bert", "gpt2", "t5"])
  func encodesAMegabyteInWellUnderASecond(_ name: String) throws {
    let tokenizer = try fixtureTokenizer(name)
    let sample = try Expectations.load(name).cases.map(\.text).joined(separator: "\n")
    let text = String(repeating: sample + "\n", count: 1_000_000 / sample.utf8.count + 1)
    let start = threadCPUSeconds()
    let ids = tokenizer.encode(text)
    let seconds = threadCPUSeconds() - start
    print("encoding \(text.utf8.count) bytes with \(name): \(seconds) s of CPU, \(ids.count) tokens")
    #expect(ids.count > 100_000)
    #expect(seconds < 0.5, "\(name): \(seconds) s of CPU for \(text.utf8.count) bytes")
  }
}

/// CPU time used by the calling thread so far.
func threadCPUSeconds() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
