// A word-level tokenizer for small, closed vocabularies such as the Shapes grammar's: one id per lowercase word
// or punctuation mark, eight special tokens first. It never fails to encode (unknown words become [UNK]) and
// it is Codable, so it can be saved as JSON next to a checkpoint.

import Foundation

/// Errors from reading a saved tokenizer.
public enum TokenizerError: Error, LocalizedError, Equatable {
  /// The same word twice in a word list.
  case duplicateWord(String)
  /// The saved special tokens are not the ones this version uses.
  case specialTokensMismatch(found: [String], expected: [String])

  /// What was wrong and what to do.
  public var errorDescription: String? {
    switch self {
    case let .duplicateWord(word):
      return "tokenizer: the word \"\(word)\" appears twice in the vocabulary; each word must appear once"
    case let .specialTokensMismatch(found, expected):
      return "tokenizer: saved special tokens \(found) differ from \(expected); the file is from another version"
    }
  }
}

/// Lowercase words and punctuation marks to ids and back.
///
/// Ids: the special tokens first, in `WordTokenizer.specialTokens` order (`[PAD]` = 0, `[UNK]` = 1, `[BOS]`,
/// `[EOS]`, `[CLS]`, `[SEP]`, `[DEC]` (the Q-Former's decoder token), `[MASK]`), then the words in sorted order, so
/// the same word list always gives the same ids.
///
/// Splitting: lowercase, then whitespace; within a chunk every punctuation or symbol character is its own token,
/// except an apostrophe or hyphen between letters ("don't", "t-shirt" stay one word).
/// ```swift
/// let tokenizer = WordTokenizer(words: ShapesDataset.vocabulary)
/// tokenizer.encode("What colour is the circle?")  // ids of "what", "colour", "is", "the", "circle", "?"
/// ```
public struct WordTokenizer: Tokenizer, Codable, Equatable {
  /// The special tokens, in id order.
  public static let specialTokens = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[CLS]", "[SEP]", "[DEC]", "[MASK]"]
  /// Punctuation that attaches to the word before it when decoding.
  static let closingPunctuation: Set<String> = [".", ",", "?", "!", ":", ";", ")", "]", "}", "%"]

  /// Every token, indexed by id (specials first).
  public let tokens: [String]
  private let ids: [String: Int]

  /// A tokenizer over `words` (lowercased, deduplicated and sorted; special tokens in it are ignored).
  public init(words: [String]) {
    let specials = Set(Self.specialTokens)
    let vocabulary = Set(words.filter { !specials.contains($0) }.map { $0.lowercased() }).subtracting(specials).sorted()
    self.init(uncheckedTokens: Self.specialTokens + vocabulary)
  }

  private init(uncheckedTokens tokens: [String]) {
    self.tokens = tokens
    self.ids = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, $0) })
  }

  // MARK: - Ids of the special tokens

  /// `[PAD]`.
  public var padId: Int { 0 }
  /// `[UNK]`: any word not in the vocabulary.
  public var unknownId: Int { 1 }
  /// `[BOS]`.
  public var bosId: Int? { 2 }
  /// `[EOS]`.
  public var eosId: Int? { 3 }
  /// `[CLS]`: the Q-Former's text-side class token (ITC, ITM).
  public var clsId: Int { 4 }
  /// `[SEP]`.
  public var sepId: Int { 5 }
  /// `[DEC]`: replaces `[CLS]` for the Q-Former's image-grounded text generation.
  public var decoderId: Int { 6 }
  /// `[MASK]`.
  public var maskId: Int { 7 }
  /// Number of ids (specials included).
  public var vocabularySize: Int { tokens.count }

  /// The id of `token` (a word or a special token), or `nil` if it has none.
  public func id(of token: String) -> Int? { ids[token] }

  // MARK: - Text

  /// The words and punctuation marks of `text`, lowercased (before looking them up).
  public static func split(_ text: String) -> [String] {
    var pieces: [String] = []
    for chunk in text.lowercased().split(whereSeparator: { $0.isWhitespace }) {
      let characters = Array(chunk)
      var word = ""
      for (i, character) in characters.enumerated() {
        let joiner = (character == "'" || character == "-") && i > 0 && i + 1 < characters.count
          && characters[i - 1].isLetter && characters[i + 1].isLetter
        if (character.isPunctuation || character.isSymbol) && !joiner {
          if !word.isEmpty { pieces.append(word) }
          word = ""
          pieces.append(String(character))
        } else {
          word.append(character)
        }
      }
      if !word.isEmpty { pieces.append(word) }
    }
    return pieces
  }

  /// The ids of `text`'s words (unknown ones as `[UNK]`), without special tokens.
  public func encode(_ text: String) -> [Int] {
    Self.split(text).map { ids[$0] ?? unknownId }
  }

  /// The text of `ids`: words joined by spaces, closing punctuation attached to the word before it. Special tokens
  /// are skipped, except `[UNK]`, which is kept visible; ids outside the vocabulary are skipped too.
  public func decode(_ ids: [Int]) -> String {
    var text = ""
    for id in ids where id >= 0 && id < tokens.count {
      if id < Self.specialTokens.count && id != unknownId { continue }
      let token = tokens[id]
      if !text.isEmpty && !Self.closingPunctuation.contains(token) { text += " " }
      text += token
    }
    return text
  }

  // MARK: - Codable: {"specialTokens": [...], "words": [...]}

  private enum CodingKeys: String, CodingKey {
    case specialTokens, words
  }

  /// Reads a saved tokenizer.
  /// - Throws: `TokenizerError` if the special tokens differ from this version's or a word repeats.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let specials = try container.decode([String].self, forKey: .specialTokens)
    guard specials == Self.specialTokens else {
      throw TokenizerError.specialTokensMismatch(found: specials, expected: Self.specialTokens)
    }
    let words = try container.decode([String].self, forKey: .words)
    var seen = Set(Self.specialTokens)
    for word in words where !seen.insert(word).inserted { throw TokenizerError.duplicateWord(word) }
    self.init(uncheckedTokens: specials + words)
  }

  /// Writes the special tokens and the words in id order.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(Self.specialTokens, forKey: .specialTokens)
    try container.encode(Array(tokens.dropFirst(Self.specialTokens.count)), forKey: .words)
  }

  public static func == (a: WordTokenizer, b: WordTokenizer) -> Bool { a.tokens == b.tokens }
}
