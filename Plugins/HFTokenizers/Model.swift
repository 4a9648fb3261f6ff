// Models: a word (one pre-tokenized piece) to token ids. The shared parts: the protocol, the vocabulary, the
// registry of model types; each model is in a file of its own.

/// A token a model produced: its id, and its text when that is not the vocabulary's (Unigram's unknown pieces keep
/// the text they cover; added tokens keep the text they matched).
struct ModelToken: Equatable {
  var id: Int
  var text: String?
}

/// A tokenization model.
protocol TokenModel: Sendable {
  /// The tokens of one word, appended to `tokens`.
  func tokenize(_ word: Scalars, into tokens: inout [ModelToken])
  /// The vocabulary.
  var vocabulary: Vocabulary { get }
}

/// Token strings and ids, looked up by exact bytes.
struct Vocabulary: Sendable {
  /// The token of each id (`nil` where no token has that id).
  private(set) var tokens: [String?] = []
  private(set) var ids: [ByteKey: Int] = [:]

  /// Adds `token` with `id` (a later entry for the same token or id wins, as in the library's maps).
  mutating func add(_ token: String, id: Int) {
    if id >= tokens.count { tokens += [String?](repeating: nil, count: id + 1 - tokens.count) }
    tokens[id] = token
    ids[ByteKey(token)] = id
  }

  func id(of key: ByteKey) -> Int? { ids[key] }
  func id(of token: String) -> Int? { ids[ByteKey(token)] }
  func token(of id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }

  /// Reads `{"token": id, ...}`.
  static func fromObject(_ node: JSONNode) throws -> Vocabulary {
    var vocabulary = Vocabulary()
    for (token, idNode) in try node.members() { vocabulary.add(token, id: try idNode.int()) }
    return vocabulary
  }
}

/// The model types, by the name tokenizer.json uses.
enum Models {
  typealias Factory = @Sendable (JSONNode) throws -> any TokenModel

  static let factories: [String: Factory] = [
    "WordPiece": { node in try WordPieceModel(node) },
    "BPE": { node in try BPEModel(node) },
    "Unigram": { node in try UnigramModel(node) },
    "WordLevel": { node in try WordLevelModel(node) },
  ]

  /// The model `node` describes. Files from older versions of the library may lack the model's `type`; it is then
  /// inferred from the fields, as the library does.
  /// - Throws: `HFTokenizerError.unsupportedType` for a type not in `factories`, or the model's own errors.
  static func make(_ node: JSONNode) throws -> any TokenModel {
    let type: String
    if try node.member("type") != nil {
      type = try node.typeName()
    } else if try node.member("merges") != nil {
      type = "BPE"
    } else if case .array = try node.required("vocab").value {
      type = "Unigram"
    } else if try node.member("continuing_subword_prefix") != nil || node.member("max_input_chars_per_word") != nil {
      type = "WordPiece"
    } else {
      type = "WordLevel"
    }
    return try node.component(type: type, from: factories)
  }

  /// The id of the unknown token named at `key` of `node` (or `fallback` when absent), which must be in
  /// `vocabulary`; `nil` when there is none.
  /// - Throws: `HFTokenizerError.missingUnknownToken` when it is not in the vocabulary.
  static func unknownId(_ node: JSONNode, key: String, default fallback: String? = nil,
                        in vocabulary: Vocabulary) throws -> Int? {
    guard let name = try node.optionalString(key) ?? fallback else { return nil }
    guard let id = vocabulary.id(of: name) else {
      throw HFTokenizerError.missingUnknownToken(file: node.file, path: "\(node.path).\(key)", token: name)
    }
    return id
  }
}

/// WordPiece (BERT): the longest vocabulary prefix of the word, then the longest continuation (written with the
/// `##` prefix) of the rest, and so on; a word with a part that has no match, or longer than
/// `max_input_chars_per_word` characters, is one unknown token.
struct WordPieceModel: TokenModel {
  let vocabulary: Vocabulary
  let unknownId: Int
  let continuingPrefix: [UInt8]
  let maxInputCharactersPerWord: Int

  init(_ node: JSONNode) throws {
    vocabulary = try Vocabulary.fromObject(node.required("vocab"))
    unknownId = try Models.unknownId(node, key: "unk_token", default: "[UNK]", in: vocabulary) ?? 0
    continuingPrefix = Array(try node.string("continuing_subword_prefix", default: "##").utf8)
    maxInputCharactersPerWord = try node.int("max_input_chars_per_word", default: 100)
  }

  func tokenize(_ word: Scalars, into tokens: inout [ModelToken]) {
    guard word.count <= maxInputCharactersPerWord else {
      tokens.append(ModelToken(id: unknownId))
      return
    }
    // Byte offset of each scalar (and of the end).
    var bytes: [UInt8] = []
    var offsets: [Int] = []
    for scalar in word {
      offsets.append(bytes.count)
      bytes.appendUTF8(scalar)
    }
    offsets.append(bytes.count)
    var pieces: [ModelToken] = []
    var start = 0
    while start < word.count {
      var end = word.count
      var found: Int?
      while start < end {
        let key = (start > 0 ? continuingPrefix : []) + bytes[offsets[start]..<offsets[end]]
        if let id = vocabulary.id(of: ByteKey(key)) {
          found = id
          break
        }
        end -= 1
      }
      guard let id = found else {
        tokens.append(ModelToken(id: unknownId))
        return
      }
      pieces.append(ModelToken(id: id))
      start = end
    }
    tokens += pieces
  }
}

/// WordLevel: the whole word's id, or the unknown token.
struct WordLevelModel: TokenModel {
  let vocabulary: Vocabulary
  let unknownId: Int?

  init(_ node: JSONNode) throws {
    vocabulary = try Vocabulary.fromObject(node.required("vocab"))
    unknownId = try Models.unknownId(node, key: "unk_token", default: "<unk>", in: vocabulary)
  }

  func tokenize(_ word: Scalars, into tokens: inout [ModelToken]) {
    if let id = vocabulary.id(of: ByteKey(word)) ?? unknownId { tokens.append(ModelToken(id: id)) }
  }
}
