// Pre-tokenizers: split normalized text into the words the model tokenizes one at a time (and may rewrite them:
// ByteLevel maps bytes to printable characters, Metaspace replaces spaces by ▁).

/// A piece of text on its way to the model.
struct Piece {
  var scalars: Scalars
  /// Whether the piece begins at the first character of the input (Metaspace's `prepend_scheme: "first"`).
  var startsAtOrigin: Bool
}

/// A pre-tokenizer of the pipeline.
protocol PreTokenizer: Sendable {
  /// Appends the non-empty pieces `piece` splits into.
  func split(_ piece: Piece, into pieces: inout [Piece])
}

/// The pre-tokenizer types, by the name tokenizer.json uses.
enum PreTokenizers {
  typealias Factory = @Sendable (JSONNode) throws -> any PreTokenizer

  static let factories: [String: Factory] = [
    "BertPreTokenizer": { _ in BertPreTokenizer() },
    "Whitespace": { _ in WhitespacePreTokenizer() },
    "WhitespaceSplit": { _ in WhitespaceSplit() },
    "Metaspace": { node in try Metaspace(node) },
    "ByteLevel": { node in
      ByteLevelPreTokenizer(addPrefixSpace: try node.bool("add_prefix_space", default: true),
                            useRegex: try node.bool("use_regex", default: true))
    },
    "Sequence": { node in SequencePreTokenizer(steps: try node.required("pretokenizers").elements().map(make)) },
  ]

  /// The pre-tokenizer `node` describes.
  /// - Throws: `HFTokenizerError.unsupportedType` for a type not in `factories`, or the component's own errors.
  static func make(_ node: JSONNode) throws -> any PreTokenizer { try node.component(type: node.typeName(), from: factories) }
}

extension Piece {
  /// The sub-piece `range` (which starts at the origin only if this piece does and the range starts at 0).
  func slice(_ range: Range<Int>) -> Piece {
    Piece(scalars: Array(scalars[range]), startsAtOrigin: startsAtOrigin && range.lowerBound == 0)
  }

  /// Splits on scalars for which `isDelimiter` holds, dropping them (the library's `Removed` behaviour).
  func splitRemoving(where isDelimiter: (Unicode.Scalar) -> Bool, into pieces: inout [Piece]) {
    var start = 0
    for (i, scalar) in scalars.enumerated() where isDelimiter(scalar) {
      if i > start { pieces.append(slice(start..<i)) }
      start = i + 1
    }
    if scalars.count > start { pieces.append(slice(start..<scalars.count)) }
  }

  /// Splits so that each scalar for which `isDelimiter` holds is a piece of its own (`Isolated`).
  func splitIsolating(where isDelimiter: (Unicode.Scalar) -> Bool, into pieces: inout [Piece]) {
    var start = 0
    for (i, scalar) in scalars.enumerated() where isDelimiter(scalar) {
      if i > start { pieces.append(slice(start..<i)) }
      pieces.append(slice(i..<i + 1))
      start = i + 1
    }
    if scalars.count > start { pieces.append(slice(start..<scalars.count)) }
  }
}

/// BERT: split on whitespace (dropped) and on punctuation (each mark a piece of its own).
struct BertPreTokenizer: PreTokenizer {
  func split(_ piece: Piece, into pieces: inout [Piece]) {
    var words: [Piece] = []
    piece.splitRemoving(where: \.isWhitespace, into: &words)
    for word in words { word.splitIsolating(where: \.isBertPunctuation, into: &pieces) }
  }
}

/// The pieces matching `\w+|[^\w\s]+`: runs of word characters and runs of other non-space characters.
struct WhitespacePreTokenizer: PreTokenizer {
  func split(_ piece: Piece, into pieces: inout [Piece]) {
    let text = piece.scalars
    var i = 0
    while i < text.count {
      if text[i].isWhitespace {
        i += 1
        continue
      }
      let isWord = text[i].isWordCharacter
      var end = i + 1
      while end < text.count, !text[end].isWhitespace, text[end].isWordCharacter == isWord { end += 1 }
      pieces.append(piece.slice(i..<end))
      i = end
    }
  }
}

/// Split on whitespace, dropping it.
struct WhitespaceSplit: PreTokenizer {
  func split(_ piece: Piece, into pieces: inout [Piece]) { piece.splitRemoving(where: \.isWhitespace, into: &pieces) }
}

/// Several pre-tokenizers, each applied to every piece of the one before.
struct SequencePreTokenizer: PreTokenizer {
  let steps: [any PreTokenizer]

  func split(_ piece: Piece, into pieces: inout [Piece]) {
    var current = [piece]
    for step in steps {
      var next: [Piece] = []
      for item in current { step.split(item, into: &next) }
      current = next
    }
    pieces += current
  }
}

/// When Metaspace puts a ▁ before the text.
enum PrependScheme: String, Sendable {
  case always, never, first
}

/// SentencePiece's whitespace handling: spaces become ▁ (the replacement), a ▁ is prepended (always, never, or only
/// at the start of the input), and the text splits before each ▁.
struct Metaspace: PreTokenizer {
  let replacement: Unicode.Scalar
  let prependScheme: PrependScheme
  let splits: Bool

  /// Reads `replacement`, `prepend_scheme` (or the older `add_prefix_space`) and `split`, as the library does.
  init(_ node: JSONNode) throws {
    let replacement = try node.string("replacement", default: "▁").scalars
    guard replacement.count == 1, let scalar = replacement.first else {
      throw try node.required("replacement").invalid("should be one character")
    }
    self.replacement = scalar
    let legacy = try node.member("add_prefix_space")?.bool()
    if let scheme = try node.member("prepend_scheme") {
      guard let parsed = PrependScheme(rawValue: try scheme.string()) else {
        throw scheme.invalid("should be \"always\", \"never\" or \"first\"")
      }
      prependScheme = legacy == false ? .never : parsed
    } else {
      prependScheme = legacy == false ? .never : .always
    }
    splits = try node.bool("split", default: true)
  }

  func split(_ piece: Piece, into pieces: inout [Piece]) {
    var text = piece.scalars.map { $0 == " " ? replacement : $0 }
    if let first = text.first, first != replacement {
      if prependScheme == .always || (prependScheme == .first && piece.startsAtOrigin) { text.insert(replacement, at: 0) }
    }
    guard !text.isEmpty else { return }
    let whole = Piece(scalars: text, startsAtOrigin: piece.startsAtOrigin)
    guard splits else {
      pieces.append(whole)
      return
    }
    // The library's MergedWithNext for a one-character delimiter: every ▁ starts a new piece ("a▁▁b" gives "a",
    // "▁", "▁b").
    var start = 0
    for i in 1..<text.count where text[i] == replacement {
      pieces.append(whole.slice(start..<i))
      start = i
    }
    pieces.append(whole.slice(start..<text.count))
  }
}
