// GPT-2's byte-level scheme: split text with GPT-2's pattern, then write each UTF-8 byte as a printable character
// (so that a vocabulary of 256 base symbols covers every text), and map the characters back to bytes to decode.

/// GPT-2's byte <-> character map: printable Latin-1 bytes stand for themselves, the other 68 bytes take the
/// characters from U+0100 on, in byte order.
enum ByteCharacters {
  /// The character of each byte.
  static let characters: [Unicode.Scalar] = {
    let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
    var map = [Unicode.Scalar](repeating: " ", count: 256)
    var next: UInt32 = 256
    for byte in 0..<256 {
      if printable.contains(byte) {
        map[byte] = Unicode.Scalar(UInt8(byte))
      } else {
        map[byte] = Unicode.Scalar(next)!
        next += 1
      }
    }
    return map
  }()

  /// The byte of each character of the map.
  static let bytes: [Unicode.Scalar: UInt8] = Dictionary(
    uniqueKeysWithValues: characters.enumerated().map { ($1, UInt8($0)) })
}

/// Splits with GPT-2's pattern (optionally after putting a space before the text) and rewrites bytes as characters.
struct ByteLevelPreTokenizer: PreTokenizer {
  let addPrefixSpace: Bool
  let useRegex: Bool

  func split(_ piece: Piece, into pieces: inout [Piece]) {
    var text = piece.scalars
    if addPrefixSpace, let first = text.first, first != " " { text.insert(" ", at: 0) }
    let ranges = useRegex ? Self.gpt2Pattern(text) : [0..<text.count]
    for range in ranges where !range.isEmpty {
      var bytes: [UInt8] = []
      for scalar in text[range] { bytes.appendUTF8(scalar) }
      pieces.append(Piece(scalars: bytes.map { ByteCharacters.characters[Int($0)] },
                          startsAtOrigin: piece.startsAtOrigin && range.lowerBound == 0))
    }
  }

  /// The matches of GPT-2's pattern, which cover the whole text:
  /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
  static func gpt2Pattern(_ text: Scalars) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var i = 0
    while i < text.count {
      let end = matchEnd(text, at: i)
      ranges.append(i..<end)
      i = end
    }
    return ranges
  }

  private enum Class { case letter, number, other, space }

  private static func characterClass(_ scalar: Unicode.Scalar) -> Class {
    if scalar.isWhitespace { return .space }
    if scalar.isLetter { return .letter }
    if scalar.isNumber { return .number }
    return .other
  }

  /// Where the pattern's match starting at `start` ends (the first alternative that matches wins).
  private static func matchEnd(_ text: Scalars, at start: Int) -> Int {
    let count = text.count
    // Contractions: 's 't 'm 'd 're 've 'll (lowercase only).
    if text[start] == "'", start + 1 < count {
      switch text[start + 1] {
      case "s", "t", "m", "d": return start + 2
      case "r", "v":
        if start + 2 < count, text[start + 2] == "e" { return start + 3 }
      case "l":
        if start + 2 < count, text[start + 2] == "l" { return start + 3 }
      default: break
      }
    }
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
    let body = text[start] == " " && start + 1 < count ? start + 1 : start
    let bodyClass = characterClass(text[body])
    if bodyClass != .space {
      var end = body + 1
      while end < count, characterClass(text[end]) == bodyClass { end += 1 }
      return end
    }
    // `\s+(?!\S)`: whitespace, but not the last one before a non-space; else `\s+`.
    var end = start + 1
    while end < count, text[end].isWhitespace { end += 1 }
    if end < count, end - start >= 2 { return end - 1 }
    return end
  }
}

/// Maps byte characters back to bytes and decodes UTF-8 (invalid sequences become U+FFFD). A token with any
/// character outside the map (an added token such as "hello world") contributes its own UTF-8 bytes.
struct ByteLevelDecoder: Decoder {
  func decode(_ tokens: [String]) -> [String] {
    var bytes: [UInt8] = []
    for token in tokens {
      let mapped = token.unicodeScalars.compactMap { ByteCharacters.bytes[$0] }
      if mapped.count == token.unicodeScalars.count {
        bytes += mapped
      } else {
        bytes += Array(token.utf8)
      }
    }
    return [String(decoding: bytes, as: UTF8.self)]
  }
}
