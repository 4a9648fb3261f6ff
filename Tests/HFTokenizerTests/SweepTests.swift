// Every assigned code point through every fixture tokenizer: the texts are rebuilt here as make_fixtures.py builds
// them, and what the tokenizer makes of them is digested (FNV-1a) and compared with the library's digests, block by
// block, so that a difference names the code points where it is.

import Foundation
import Testing

@testable import HFTokenizers

/// `Fixtures/sweep.json`.
struct Sweep: Decodable {
  let chunk: Int
  let textsPerBlock: Int
  let insertions: [String]
  let ranges: [[UInt32]]
  let digests: [String: [String]]

  static func load() throws -> Sweep {
    try JSONDecoder().decode(Sweep.self, from: Data(contentsOf: try fixtureURL("sweep.json")))
  }

  /// The sweep texts (make_fixtures.py's `sweep_texts`).
  func texts() -> [String] {
    var state: UInt64 = 1
    var texts: [String] = []
    var current = String.UnicodeScalarView()
    var count = 0
    for range in ranges {
      for code in range[0]...range[1] {
        guard let scalar = Unicode.Scalar(code) else { continue }
        current.append(scalar)
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let draw = state >> 33
        if draw % 100 < 15 {
          current.append(" ")
        } else if draw % 100 < 22 {
          current.append(contentsOf: insertions[Int((draw >> 8) % UInt64(insertions.count))].unicodeScalars)
        }
        count += 1
        if count == chunk {
          texts.append(String(current))
          current = String.UnicodeScalarView()
          count = 0
        }
      }
    }
    if count > 0 { texts.append(String(current)) }
    return texts
  }

  /// The bytes digested for one text (make_fixtures.py's `sweep_record`).
  static func record(_ tokenizer: HFTokenizer, _ text: String) -> [UInt8] {
    let full = tokenizer.encoding(text, addSpecialTokens: true)
    let plain = tokenizer.encoding(text, addSpecialTokens: false)
    let parts = [
      full.ids.map(String.init).joined(separator: ","), full.tokens.joined(separator: "\u{1}"),
      plain.ids.map(String.init).joined(separator: ","), tokenizer.decode(full.ids, skipSpecialTokens: true),
      tokenizer.decode(full.ids, skipSpecialTokens: false),
      tokenizer.decode(Array(plain.ids.prefix(plain.ids.count / 2)), skipSpecialTokens: false),
    ]
    var bytes: [UInt8] = []
    for part in parts { bytes += Array("\(part.utf8.count):".utf8) + Array(part.utf8) }
    return bytes
  }

  static func fnv1a(_ bytes: [UInt8], _ digest: UInt64) -> UInt64 {
    bytes.reduce(digest) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
  }
}

@Suite("HFTokenizer over every assigned code point")
struct HFTokenizerSweepTests {
  @Test(arguments: HFTokenizerParityTests.fixtures)
  func everyCodePointGivesTheLibrarysResults(_ name: String) throws {
    let sweep = try Sweep.load()
    let expected = try #require(sweep.digests[name], "no sweep digests for \(name)")
    let tokenizer = try fixtureTokenizer(name)
    let texts = sweep.texts()
    for (block, start) in stride(from: 0, to: texts.count, by: sweep.textsPerBlock).enumerated() {
      let slice = texts[start..<min(start + sweep.textsPerBlock, texts.count)]
      var digest: UInt64 = 0xCBF2_9CE4_8422_2325
      for text in slice { digest = Sweep.fnv1a(Sweep.record(tokenizer, text), digest) }
      let first = slice.first?.unicodeScalars.first.map { String($0.value, radix: 16) } ?? "?"
      let last = slice.last?.unicodeScalars.last.map { String($0.value, radix: 16) } ?? "?"
      #expect(block < expected.count && String(format: "%016llx", digest) == expected[block],
              "\(name): block \(block) (code points \(first)...\(last)) differs from the library")
    }
  }
}
