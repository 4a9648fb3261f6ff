// HFTokenizers: a Blip2Lab plugin. Tokenizers read from a Hugging Face `tokenizer.json`, encoding and decoding as
// the `tokenizers` library does: WordPiece (BERT, the Q-Former's), byte-level BPE (GPT-2, OPT) and Unigram (T5),
// with their normalizers, pre-tokenizers, post-processors, decoders and added tokens.
//
// The pipeline, per text: added tokens matched in the raw text -> normalizer -> added tokens matched in the
// normalized text -> pre-tokenizer (words) -> model (ids) -> post-processor (special tokens, pairs).

import Blip2Core
import Foundation

/// The result of encoding a text (or a pair of texts).
public struct HFEncoding: Equatable, Sendable {
  /// Token ids.
  public var ids: [Int]
  /// Token strings, as the library reports them (an unknown Unigram piece keeps its text).
  public var tokens: [String]
  /// Type (segment) ids: 0 for the first text, usually 1 for the second of a pair.
  public var typeIds: [Int]
}

/// A tokenizer read from a Hugging Face `tokenizer.json`.
///
/// ```swift
/// let tokenizer = try HFTokenizer(contentsOf: folder.appendingPathComponent("tokenizer.json"))
/// tokenizer.encoding("a red circle").ids      // with the model's special tokens ([CLS] ... [SEP] for BERT)
/// tokenizer.encode("a red circle")            // without them (the `Tokenizer` protocol's convention)
/// tokenizer.decode(ids)                       // special tokens skipped
/// ```
public struct HFTokenizer: Tokenizer {
  /// The file it was read from (named in errors).
  public let file: String
  /// Number of ids: one past the largest id of the model's vocabulary and the added tokens.
  public let vocabularySize: Int
  /// Padding id: the first of `<pad>`, `[PAD]`, `<|pad|>`, `<|endoftext|>` the vocabulary has, else 0. Settable,
  /// since tokenizer.json does not say (tokenizer_config.json does).
  public var padId: Int
  /// The special token the post-processor puts before a text (`[CLS]`, OPT's `</s>`, `<s>`), if any.
  public var bosId: Int?
  /// The special token the post-processor puts after a text (`[SEP]`, T5's `</s>`), else the first of `</s>`,
  /// `<|endoftext|>`, `<eos>`, `[SEP]` the vocabulary has.
  public var eosId: Int?

  private let normalizer: (any Normalizer)?
  private let preTokenizer: (any PreTokenizer)?
  private let model: any TokenModel
  private let postProcessor: (any PostProcessor)?
  private let decoder: (any Decoder)?
  private let addedById: [Int: AddedToken]
  private let specialContents: Set<ByteKey>
  private let rawMatcher: AddedTokenMatcher
  private let normalizedMatcher: AddedTokenMatcher

  /// Reads a `tokenizer.json` file.
  /// - Throws: `HFTokenizerError` naming the file, and for a bad or unsupported component its JSON path and type.
  public init(contentsOf url: URL) throws(HFTokenizerError) {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw .unreadableFile(file: url.path, reason: error.localizedDescription)
    }
    try self.init(data: data, file: url.path)
  }

  /// Reads the `tokenizer.json` of a Hugging Face checkpoint folder.
  /// - Throws: `HFTokenizerError` naming the file.
  public init(directory: URL) throws(HFTokenizerError) {
    try self.init(contentsOf: directory.appendingPathComponent("tokenizer.json"))
  }

  /// The tokenizer of a checkpoint: `path` is a `tokenizer.json` file or a folder; a folder without one gives nil
  /// (the caller then keeps its default and should say so).
  /// - Throws: `HFTokenizerError` naming the file when it exists but cannot be used (unreadable, malformed, an
  ///   unknown or missing `model.type`).
  public static func inCheckpoint(_ path: URL) throws(HFTokenizerError) -> HFTokenizer? {
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory)
    if exists && !isDirectory.boolValue { return try HFTokenizer(contentsOf: path) }
    let file = path.appendingPathComponent("tokenizer.json")
    guard FileManager.default.fileExists(atPath: file.path) else { return nil }
    return try HFTokenizer(contentsOf: file)
  }

  /// Reads tokenizer.json contents; `file` names them in errors.
  /// - Throws: `HFTokenizerError` naming `file`, and for a bad or unsupported component its JSON path and type.
  public init(data: Data, file: String) throws(HFTokenizerError) {
    self.file = file
    let root = JSONNode(value: try JSONParser.parse([UInt8](data), file: file), path: "", file: file)
    let model: any TokenModel
    let normalizer: (any Normalizer)?
    let added: [AddedToken]
    do {
      model = try Models.make(root.required("model"))
      normalizer = try root.member("normalizer").map(Normalizers.make)
      preTokenizer = try root.member("pre_tokenizer").map(PreTokenizers.make)
      postProcessor = try root.member("post_processor").map(PostProcessors.make)
      decoder = try root.member("decoder").map(Decoders.make)
      added = try (root.member("added_tokens")?.elements() ?? []).map { try AddedToken($0, model: model.vocabulary) }
    } catch let error as HFTokenizerError {
      throw error
    } catch {
      throw .invalidValue(file: file, path: "", reason: "could not be read: \(error)")
    }
    self.model = model
    self.normalizer = normalizer
    let addedById = Dictionary(added.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
    self.addedById = addedById
    specialContents = Set(added.filter(\.special).map { ByteKey($0.content) })
    rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized }) { $0.scalars }
    normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized)) { token in
      var text = NormalizedText(scalars: token.scalars, startsAtOrigin: true)
      normalizer?.normalize(&text)
      return text.scalars
    }
    vocabularySize = max(model.vocabulary.tokens.count, (addedById.keys.max() ?? -1) + 1)

    // The special ids: what the post-processor puts around a text, else conventional names.
    let framed = (postProcessor ?? NoSpecialTokens())
      .process(Segment(tokens: [ModelToken(id: -1)], typeId: 0), nil, addSpecialTokens: true)
      .flatMap(\.tokens).map(\.id)
    func named(_ names: [String]) -> Int? {
      for name in names {
        if let id = added.first(where: { $0.content == name })?.id ?? model.vocabulary.id(of: name) { return id }
      }
      return nil
    }
    bosId = framed.first.flatMap { $0 >= 0 ? $0 : nil }
    eosId = framed.last.flatMap { $0 >= 0 ? $0 : nil } ?? named(["</s>", "<|endoftext|>", "<eos>", "[SEP]"])
    padId = named(["<pad>", "[PAD]", "<|pad|>", "<|endoftext|>"]) ?? 0
  }

  // MARK: - Encoding

  /// The ids of `text` without special tokens (the `Tokenizer` protocol's convention: callers add their own).
  public func encode(_ text: String) -> [Int] { encode(text, addSpecialTokens: false) }

  /// The ids of `text`, with the post-processor's special tokens when `addSpecialTokens`.
  public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
    postProcess(sequence(text), nil, addSpecialTokens: addSpecialTokens).flatMap(\.tokens).map(\.id)
  }

  /// Ids, token strings and type ids of `text` (and of `pair`), as the library's `encode(text, pair,
  /// add_special_tokens)` gives them.
  public func encoding(_ text: String, pair: String? = nil, addSpecialTokens: Bool = true) -> HFEncoding {
    let segments = postProcess(sequence(text), pair.map(sequence), addSpecialTokens: addSpecialTokens)
    var encoding = HFEncoding(ids: [], tokens: [], typeIds: [])
    for segment in segments {
      for token in segment.tokens {
        encoding.ids.append(token.id)
        encoding.tokens.append(token.text ?? self.token(of: token.id) ?? "")
        encoding.typeIds.append(segment.typeId)
      }
    }
    return encoding
  }

  private func postProcess(_ first: [ModelToken], _ second: [ModelToken]?, addSpecialTokens: Bool) -> [Segment] {
    let a = Segment(tokens: first, typeId: 0)
    let b = second.map { Segment(tokens: $0, typeId: 1) }
    return (postProcessor ?? NoSpecialTokens()).process(a, b, addSpecialTokens: addSpecialTokens)
  }

  /// The tokens of one text, before post-processing.
  private func sequence(_ text: String) -> [ModelToken] {
    let input = text.scalars
    var tokens: [ModelToken] = []
    var cache: [WordKey: [ModelToken]] = [:]
    for split in rawMatcher.split(input) {
      guard case let .text(range) = split else {
        if case let .added(token) = split { tokens.append(token) }
        continue
      }
      var normalized = NormalizedText(scalars: Array(input[range]), startsAtOrigin: range.lowerBound == 0)
      normalizer?.normalize(&normalized)
      for inner in normalizedMatcher.split(normalized.scalars) {
        switch inner {
        case let .added(token):
          tokens.append(token)
        case let .text(range) where !range.isEmpty:
          let piece = Piece(scalars: Array(normalized.scalars[range]),
                            startsAtOrigin: normalized.startsAtOrigin && range.lowerBound == 0)
          var words: [Piece] = []
          if let preTokenizer { preTokenizer.split(piece, into: &words) } else { words = [piece] }
          for word in words { tokenize(word.scalars, cache: &cache, into: &tokens) }
        case .text:
          continue
        }
      }
    }
    return tokens
  }

  /// The model's tokens of one word, remembered for short words (text repeats its words).
  private func tokenize(_ word: Scalars, cache: inout [WordKey: [ModelToken]], into tokens: inout [ModelToken]) {
    guard word.count <= 64 else {
      model.tokenize(word, into: &tokens)
      return
    }
    let key = WordKey(scalars: word)
    if let known = cache[key] {
      tokens += known
      return
    }
    var result: [ModelToken] = []
    model.tokenize(word, into: &result)
    cache[key] = result
    tokens += result
  }

  // MARK: - Decoding

  /// The text of `ids`, special tokens skipped (the `Tokenizer` protocol's convention).
  public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecialTokens: true) }

  /// The text of `ids` as the library's `decode` gives it; ids outside the vocabulary are skipped.
  public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
    let tokens = ids.compactMap { id -> String? in
      guard let token = token(of: id) else { return nil }
      return skipSpecialTokens && specialContents.contains(ByteKey(token)) ? nil : token
    }
    guard let decoder else { return tokens.joined(separator: " ") }
    return decoder.decode(tokens).joined()
  }

  // MARK: - Vocabulary

  /// The id of a token (an added token's content or a vocabulary entry), compared exactly.
  public func id(of token: String) -> Int? {
    addedById.first { $0.value.content.utf8.elementsEqual(token.utf8) }?.key ?? model.vocabulary.id(of: token)
  }

  /// The token of an id (added tokens first, then the model's vocabulary).
  public func token(of id: Int) -> String? { addedById[id]?.content ?? model.vocabulary.token(of: id) }
}

/// A word as a dictionary key, hashed as one block of memory.
private struct WordKey: Hashable {
  let scalars: Scalars

  func hash(into hasher: inout Hasher) { scalars.withUnsafeBytes { hasher.combine(bytes: $0) } }
}
