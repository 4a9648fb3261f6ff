// Unigram (T5, SentencePiece): every piece has a log-probability score; a word is split into the pieces whose
// scores sum highest (Viterbi over a lattice of vocabulary matches). A character no piece covers is an unknown
// piece scored 10 below the lowest score; adjacent unknown pieces fuse into one.

/// The Unigram model.
struct UnigramModel: TokenModel {
  let vocabulary: Vocabulary
  private let scores: [Double]
  private let trie: ByteTrie
  private let unknownId: Int?
  private let unknownScore: Double
  private let byteFallback: Bool

  init(_ node: JSONNode) throws {
    var vocabulary = Vocabulary()
    var scores: [Double] = []
    var trie = ByteTrie()
    let entries = try node.required("vocab").elements()
    for (id, entry) in entries.enumerated() {
      let pair = try entry.elements()
      guard pair.count == 2 else { throw entry.invalid("should be [piece, score]") }
      let piece = try pair[0].string()
      vocabulary.add(piece, id: id)
      scores.append(try pair[1].double())
      trie.insert(Array(piece.utf8), id: id)
    }
    if let unknown = try node.member("unk_id") {
      let id = try unknown.int()
      guard id < entries.count else {
        throw unknown.invalid("is \(id), but the vocabulary has only \(entries.count) pieces")
      }
      unknownId = id
    } else {
      unknownId = nil
    }
    self.vocabulary = vocabulary
    self.scores = scores
    self.trie = trie
    unknownScore = (scores.min() ?? 0) - 10
    byteFallback = try node.bool("byte_fallback", default: false)
  }

  func tokenize(_ word: Scalars, into tokens: inout [ModelToken]) {
    var bytes: [UInt8] = []
    for scalar in word { bytes.appendUTF8(scalar) }
    for range in bestSegmentation(bytes) {
      let piece = bytes[range]
      if let id = vocabulary.id(of: ByteKey(Array(piece))) {
        tokens.append(ModelToken(id: id))
        continue
      }
      let text = String(decoding: piece, as: UTF8.self)
      if byteFallback {
        let ids = piece.compactMap { vocabulary.id(of: ByteFallback.tokenName(Int($0))) }
        if ids.count == piece.count {
          tokens += ids.map { ModelToken(id: $0) }
          continue
        }
      }
      // Without an unknown id the library fails to encode; here the piece is dropped.
      if let unknownId { tokens.append(ModelToken(id: unknownId, text: text)) }
    }
  }

  /// The byte ranges of the best-scoring segmentation. For each end position the best path into it is kept; a
  /// candidate replaces it only with a strictly higher score (so the earliest start wins ties), as in the library.
  private func bestSegmentation(_ bytes: [UInt8]) -> [Range<Int>] {
    guard !bytes.isEmpty else { return [] }
    var bestScore = [Double](repeating: 0, count: bytes.count + 1)
    var bestStart = [Int](repeating: -1, count: bytes.count + 1)
    var bestId = [Int](repeating: -1, count: bytes.count + 1)  // -1: an unknown piece without an unknown id
    var start = 0
    while start < bytes.count {
      let scoreHere = bestScore[start]
      let characterLength = Self.utf8Length(bytes[start])
      var coversCharacter = false
      trie.forEachPrefix(of: bytes, from: start) { end, id in
        let candidate = scores[id] + scoreHere
        if bestStart[end] < 0 || candidate > bestScore[end] {
          bestScore[end] = candidate
          bestStart[end] = start
          bestId[end] = id
        }
        if end - start == characterLength { coversCharacter = true }
      }
      let end = min(start + characterLength, bytes.count)
      if !coversCharacter {
        let candidate = unknownScore + scoreHere
        if bestStart[end] < 0 || candidate > bestScore[end] {
          bestScore[end] = candidate
          bestStart[end] = start
          bestId[end] = unknownId ?? -1
        }
      }
      start = end
    }
    // Walk back from the end, fusing runs of unknown pieces into one.
    var ranges: [Range<Int>] = []
    var end = bytes.count
    var unknownRunEnd: Int?
    while end > 0 {
      let start = bestStart[end]
      if let unknownId, bestId[end] == unknownId {
        if unknownRunEnd == nil { unknownRunEnd = end }
      } else {
        if let runEnd = unknownRunEnd { ranges.append(end..<runEnd) }
        unknownRunEnd = nil
        ranges.append(start..<end)
      }
      end = start
    }
    if let runEnd = unknownRunEnd { ranges.append(0..<runEnd) }
    return ranges.reversed()
  }

  /// The length of the UTF-8 sequence that starts with `byte`.
  private static func utf8Length(_ byte: UInt8) -> Int {
    byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4
  }
}

/// A trie over the UTF-8 bytes of the vocabulary, for finding every piece that starts at a position.
struct ByteTrie: Sendable {
  /// Children of the root, by byte (the common first step, as an array).
  private var rootChildren = [Int32](repeating: -1, count: 256)
  /// Children of the other nodes: (node << 8 | byte) -> child.
  private var children: [Int: Int32] = [:]
  /// The piece id ending at each node, or -1.
  private var ids: [Int32] = [-1]

  mutating func insert(_ bytes: [UInt8], id: Int) {
    var node = 0
    for byte in bytes {
      let existing = node == 0 ? rootChildren[Int(byte)] : children[node << 8 | Int(byte), default: -1]
      if existing >= 0 {
        node = Int(existing)
        continue
      }
      ids.append(-1)
      let child = Int32(ids.count - 1)
      if node == 0 { rootChildren[Int(byte)] = child } else { children[node << 8 | Int(byte)] = child }
      node = Int(child)
    }
    if node != 0 { ids[node] = Int32(id) }
  }

  /// Calls `body(end, id)` for each piece `bytes[start..<end]`, shortest first.
  func forEachPrefix(of bytes: [UInt8], from start: Int, _ body: (Int, Int) -> Void) {
    var node = 0
    var position = start
    while position < bytes.count {
      let child = node == 0 ? rootChildren[Int(bytes[position])] : children[node << 8 | Int(bytes[position]), default: -1]
      guard child >= 0 else { return }
      node = Int(child)
      position += 1
      if ids[node] >= 0 { body(position, Int(ids[node])) }
    }
  }
}
