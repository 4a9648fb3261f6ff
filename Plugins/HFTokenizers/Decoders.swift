// Decoders: token strings back to text. A decoder maps the list of tokens to a new list (a chain of them runs in
// order); the text is the final list joined.

/// A decoder of the pipeline.
protocol Decoder: Sendable {
  func decode(_ tokens: [String]) -> [String]
}

/// The decoder types, by the name tokenizer.json uses.
enum Decoders {
  typealias Factory = @Sendable (JSONNode) throws -> any Decoder

  static let factories: [String: Factory] = [
    "WordPiece": { node in
      WordPieceDecoder(prefix: try node.string("prefix", default: "##").scalars,
                       cleanup: try node.bool("cleanup", default: true))
    },
    "ByteLevel": { _ in ByteLevelDecoder() },
    "Metaspace": { node in
      let metaspace = try Metaspace(node)
      return MetaspaceDecoder(replacement: metaspace.replacement, prependScheme: metaspace.prependScheme)
    },
    "BPEDecoder": { node in BPEDecoder(suffix: try node.string("suffix", default: "</w>").scalars) },
    "Replace": { node in
      ReplaceDecoder(pattern: try TextPattern(node.required("pattern")),
                     content: try node.required("content").string().scalars)
    },
    "ByteFallback": { _ in ByteFallback() },
    "Fuse": { _ in Fuse() },
    "Strip": { node in
      let content = try node.required("content").string().scalars
      guard content.count == 1 else { throw try node.required("content").invalid("should be one character") }
      return StripDecoder(content: content[0], start: try node.int("start", default: 0),
                          stop: try node.int("stop", default: 0))
    },
    "Sequence": { node in SequenceDecoder(steps: try node.required("decoders").elements().map(make)) },
  ]

  /// The decoder `node` describes.
  /// - Throws: `HFTokenizerError.unsupportedType` for a type not in `factories`, or the component's own errors.
  static func make(_ node: JSONNode) throws -> any Decoder { try node.component(type: node.typeName(), from: factories) }
}

/// Decoders that work on each token alone.
protocol TokenwiseDecoder: Decoder {
  func decode(_ token: Scalars, at index: Int) -> Scalars
}

extension TokenwiseDecoder {
  func decode(_ tokens: [String]) -> [String] {
    tokens.enumerated().map { String(scalars: decode($1.scalars, at: $0)) }
  }
}

/// WordPiece: joins with spaces, except before `##` continuations (whose prefix is removed); optionally cleans up
/// tokenization spaces (" ." -> "." and the like, one token at a time, as the library does).
struct WordPieceDecoder: TokenwiseDecoder {
  let prefix: Scalars
  let cleanup: Bool

  private static let cleanups: [(Scalars, Scalars)] = [
    (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
    (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
  ].map { ($0.0.scalars, $0.1.scalars) }

  func decode(_ token: Scalars, at index: Int) -> Scalars {
    var text = token
    if index > 0 {
      if text.hasScalarPrefix(prefix) {
        text.removeFirst(prefix.count)
      } else {
        text.insert(" ", at: 0)
      }
    }
    if cleanup {
      for (pattern, replacement) in Self.cleanups { text = text.replacingOccurrences(of: pattern, with: replacement) }
    }
    return text
  }
}

/// Metaspace: ▁ back to spaces; in the first token the ▁s are dropped unless the pre-tokenizer never prepends one.
struct MetaspaceDecoder: TokenwiseDecoder {
  let replacement: Unicode.Scalar
  let prependScheme: PrependScheme

  func decode(_ token: Scalars, at index: Int) -> Scalars {
    token.compactMap { scalar in
      guard scalar == replacement else { return scalar }
      return index == 0 && prependScheme != .never ? nil : " "
    }
  }
}

/// BPE with an end-of-word suffix (CLIP's `</w>`): the suffix becomes a space, except in the last token.
struct BPEDecoder: Decoder {
  let suffix: Scalars

  func decode(_ tokens: [String]) -> [String] {
    tokens.enumerated().map { index, token in
      String(scalars: token.scalars.replacingOccurrences(of: suffix, with: index == tokens.count - 1 ? [] : [" "]))
    }
  }
}

/// Replaces a pattern in each token.
struct ReplaceDecoder: TokenwiseDecoder {
  let pattern: TextPattern
  let content: Scalars

  func decode(_ token: Scalars, at index: Int) -> Scalars {
    pattern.replacing(pattern.matches(in: token), in: token, with: content)
  }
}

/// Turns runs of `<0xXX>` byte tokens into the text they encode (each byte of an invalid run becomes U+FFFD).
struct ByteFallback: Decoder {
  /// The vocabulary's name for a byte: `<0x41>`.
  static func tokenName(_ byte: Int) -> String {
    let hex = String(byte, radix: 16, uppercase: true)
    return "<0x\(hex.count == 1 ? "0" + hex : hex)>"
  }

  /// The byte a token names, if it is one of the `<0xXX>` tokens.
  static func byte(of token: String) -> UInt8? {
    let bytes = Array(token.utf8)
    guard bytes.count == 6, bytes.starts(with: Array("<0x".utf8)), bytes[5] == UInt8(ascii: ">") else { return nil }
    return UInt8(String(decoding: bytes[3..<5], as: UTF8.self), radix: 16)
  }

  func decode(_ tokens: [String]) -> [String] {
    var output: [String] = []
    var pending: [UInt8] = []
    func flush() {
      guard !pending.isEmpty else { return }
      if let text = String(validating: pending, as: UTF8.self) {
        output.append(text)
      } else {
        output += Array(repeating: "\u{FFFD}", count: pending.count)
      }
      pending.removeAll()
    }
    for token in tokens {
      if let byte = Self.byte(of: token) {
        pending.append(byte)
      } else {
        flush()
        output.append(token)
      }
    }
    flush()
    return output
  }
}

/// Joins all tokens into one.
struct Fuse: Decoder {
  func decode(_ tokens: [String]) -> [String] { [tokens.joined()] }
}

/// Removes up to `start` leading and `stop` trailing copies of a character from each token.
struct StripDecoder: TokenwiseDecoder {
  let content: Unicode.Scalar
  let start: Int
  let stop: Int

  func decode(_ token: Scalars, at index: Int) -> Scalars {
    var from = 0
    while from < min(start, token.count), token[from] == content { from += 1 }
    var to = token.count
    for _ in 0..<stop where to > from && token[to - 1] == content { to -= 1 }
    return Array(token[from..<to])
  }
}

/// Several decoders, each applied to the output of the one before.
struct SequenceDecoder: Decoder {
  let steps: [any Decoder]

  func decode(_ tokens: [String]) -> [String] { steps.reduce(tokens) { $1.decode($0) } }
}
