// Added tokens (`added_tokens` of tokenizer.json: special tokens such as [CLS] or </s>, and tokens added after
// training): found in the text before the model runs, each becoming its id directly. Those with `normalized: false`
// are matched in the raw text, the others in the normalized text (against their own normalized content).

/// One entry of `added_tokens`.
struct AddedToken: Sendable {
  let id: Int
  let content: String
  let scalars: Scalars
  /// Only match when not inside a word (no word character just before or after).
  let singleWord: Bool
  /// Take the whitespace on the left (`lstrip`) or on the right (`rstrip`) into the match.
  let leftStrip: Bool
  let rightStrip: Bool
  /// Match in the normalized text rather than the raw text.
  let normalized: Bool
  /// Skipped when decoding with `skipSpecialTokens`.
  let special: Bool

  init(_ node: JSONNode, model: Vocabulary) throws {
    content = try node.required("content").string()
    scalars = content.scalars
    guard !scalars.isEmpty else { throw try node.required("content").invalid("is empty") }
    // A token the model already has keeps the model's id, as the library assigns it.
    id = try model.id(of: content) ?? node.required("id").int()
    singleWord = try node.bool("single_word", default: false)
    leftStrip = try node.bool("lstrip", default: false)
    rightStrip = try node.bool("rstrip", default: false)
    special = try node.bool("special", default: false)
    normalized = try node.bool("normalized", default: !special)
  }
}

/// A part of the text: an added token found in it, or text between them.
enum TextSplit {
  case added(ModelToken)
  case text(Range<Int>)
}

/// Finds added tokens in text: the leftmost match, the longest of those starting there, then on after it.
struct AddedTokenMatcher: Sendable {
  private struct Pattern {
    let scalars: Scalars
    let token: AddedToken
  }

  /// Patterns by their first scalar, longest first.
  private let patterns: [Unicode.Scalar: [Pattern]]
  /// Whether some pattern starts with each ASCII character (most text is ASCII: this spares a lookup per character).
  private let asciiStarts: [Bool]

  /// A matcher for `tokens` (special ones first, as the library orders them), each matched as `content(token)`.
  init(_ tokens: [AddedToken], content: (AddedToken) -> Scalars) {
    var patterns: [Unicode.Scalar: [Pattern]] = [:]
    for token in tokens.filter(\.special) + tokens.filter({ !$0.special }) {
      let scalars = content(token)
      guard let first = scalars.first else { continue }
      patterns[first, default: []].append(Pattern(scalars: scalars, token: token))
    }
    self.patterns = patterns.mapValues { list in
      list.enumerated().sorted { ($0.element.scalars.count, -$0.offset) > ($1.element.scalars.count, -$1.offset) }
        .map(\.element)
    }
    asciiStarts = (0..<128).map { patterns[Unicode.Scalar(UInt8($0))] != nil }
  }

  /// The splits of `text`, covering it; the text of an added token includes the whitespace it strips.
  func split(_ text: Scalars) -> [TextSplit] {
    guard !patterns.isEmpty else { return [.text(0..<text.count)] }
    var splits: [TextSplit] = []
    var splitStart = 0
    var position = 0
    while position < text.count {
      let value = text[position].value
      if value < 128, !asciiStarts[Int(value)] {
        position += 1
        continue
      }
      guard let candidates = patterns[text[position]],
            let match = candidates.first(where: { Self.matches($0.scalars, text, at: position) }) else {
        position += 1
        continue
      }
      var start = position
      var stop = position + match.scalars.count
      position = stop
      let token = match.token
      if token.singleWord {
        let wordBefore = start > 0 && text[start - 1].isWordCharacter
        let wordAfter = stop < text.count && text[stop].isWordCharacter
        if wordBefore || wordAfter { continue }
      }
      if token.leftStrip {
        var newStart = start
        while newStart > 0, text[newStart - 1].isWhitespace { newStart -= 1 }
        start = max(newStart, splitStart)
      }
      if token.rightStrip {
        while stop < text.count, text[stop].isWhitespace { stop += 1 }
      }
      if splitStart < start { splits.append(.text(splitStart..<start)) }
      splits.append(.added(ModelToken(id: token.id, text: String(scalars: text[start..<stop]))))
      splitStart = stop
      position = max(position, stop)
    }
    if splitStart < text.count { splits.append(.text(splitStart..<text.count)) }
    return splits
  }

  private static func matches(_ pattern: Scalars, _ text: Scalars, at position: Int) -> Bool {
    position + pattern.count <= text.count && text[position..<position + pattern.count].elementsEqual(pattern)
  }
}
