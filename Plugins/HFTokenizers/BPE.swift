// Byte-pair encoding (GPT-2, OPT, RoBERTa, CLIP): start from one symbol per character, then repeatedly merge the
// adjacent pair with the best (lowest) merge rank, leftmost first, until no pair has a merge.

/// The BPE model.
struct BPEModel: TokenModel {
  let vocabulary: Vocabulary
  /// (left id, right id) -> (rank, id of the merged token).
  private let merges: [PairKey: Merge]
  private let unknownId: Int?
  private let continuingPrefix: Scalars?
  private let endOfWordSuffix: Scalars?
  private let fuseUnknown: Bool
  private let ignoreMerges: Bool
  /// The ids of `<0x00>` ... `<0xFF>` when byte fallback is on (all 256 must exist for a character to use them).
  private let byteIds: [Int?]?

  private struct PairKey: Hashable {
    let left: Int32
    let right: Int32
  }

  private struct Merge {
    let rank: Int32
    let id: Int32
  }

  init(_ node: JSONNode) throws {
    vocabulary = try Vocabulary.fromObject(node.required("vocab"))
    if let dropout = try node.member("dropout"), try dropout.double() != 0 {
      throw dropout.invalid("is \(try dropout.double()); BPE dropout (random merges) is not supported, only null or 0")
    }
    unknownId = try Models.unknownId(node, key: "unk_token", in: vocabulary)
    continuingPrefix = try node.optionalString("continuing_subword_prefix")?.scalars
    endOfWordSuffix = try node.optionalString("end_of_word_suffix")?.scalars
    fuseUnknown = try node.bool("fuse_unk", default: false)
    ignoreMerges = try node.bool("ignore_merges", default: false)
    if try node.bool("byte_fallback", default: false) {
      let vocabulary = vocabulary
      byteIds = (0..<256).map { vocabulary.id(of: ByteFallback.tokenName($0)) }
    } else {
      byteIds = nil
    }

    // Merges: "a b" strings (older files) or ["a", "b"] pairs. The merged token is a + b without b's
    // continuing-subword prefix; a later duplicate pair overrides an earlier one, as in the library's map.
    var merges: [PairKey: Merge] = [:]
    let prefixLength = continuingPrefix?.count ?? 0
    for (rank, merge) in try node.required("merges").elements().enumerated() {
      let parts: [String]
      if case let .string(line) = merge.value {
        parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
      } else {
        parts = try merge.elements().map { try $0.string() }
      }
      guard parts.count == 2 else { throw merge.invalid("should be a pair of tokens (\"a b\" or [\"a\", \"b\"])") }
      guard let left = vocabulary.id(of: parts[0]) else { throw merge.invalid("has \"\(parts[0])\", which is not in model.vocab") }
      guard let right = vocabulary.id(of: parts[1]) else { throw merge.invalid("has \"\(parts[1])\", which is not in model.vocab") }
      let rightScalars = parts[1].scalars
      guard rightScalars.count >= prefixLength else { throw merge.invalid("has a right part shorter than the prefix") }
      let merged = String(scalars: parts[0].scalars + rightScalars[prefixLength...])
      guard let id = vocabulary.id(of: merged) else { throw merge.invalid("makes \"\(merged)\", which is not in model.vocab") }
      merges[PairKey(left: Int32(left), right: Int32(right))] = Merge(rank: Int32(rank), id: Int32(id))
    }
    self.merges = merges
  }

  func tokenize(_ word: Scalars, into tokens: inout [ModelToken]) {
    guard !word.isEmpty else { return }
    if ignoreMerges, let id = vocabulary.id(of: ByteKey(word)) {
      tokens.append(ModelToken(id: id))
      return
    }
    var symbols = initialSymbols(word)
    mergeAll(&symbols)
    for symbol in symbols { tokens.append(ModelToken(id: Int(symbol))) }
  }

  /// One symbol per character (with the prefix on all but the first, the suffix on the last); characters without a
  /// symbol become their bytes' `<0xXX>` tokens (byte fallback), or the unknown token (consecutive ones fused into
  /// one when `fuse_unk`), or are dropped when there is no unknown token.
  private func initialSymbols(_ word: Scalars) -> [Int32] {
    var symbols: [Int32] = []
    var pendingUnknown = false
    for (i, scalar) in word.enumerated() {
      var text: Scalars = []
      if i > 0, let continuingPrefix { text += continuingPrefix }
      text.append(scalar)
      if i == word.count - 1, let endOfWordSuffix { text += endOfWordSuffix }
      if let id = vocabulary.id(of: ByteKey(text)) {
        if pendingUnknown, let unknownId { symbols.append(Int32(unknownId)) }
        pendingUnknown = false
        symbols.append(Int32(id))
        continue
      }
      if let byteIds {
        var bytes: [UInt8] = []
        for scalar in text { bytes.appendUTF8(scalar) }
        let ids = bytes.compactMap { byteIds[Int($0)] }
        if ids.count == bytes.count {
          symbols += ids.map(Int32.init)
          continue
        }
      }
      guard let unknownId else { continue }
      if pendingUnknown, !fuseUnknown { symbols.append(Int32(unknownId)) }
      pendingUnknown = true
    }
    if pendingUnknown, let unknownId { symbols.append(Int32(unknownId)) }
    return symbols
  }

  /// Merges pairs in order of rank (ties: leftmost first) until none is left, as the library's priority queue does,
  /// skipping queue entries that an earlier merge made stale.
  private func mergeAll(_ ids: inout [Int32]) {
    guard ids.count > 1 else { return }
    var symbol = ids
    var previous = Array(-1..<(ids.count - 1))
    var next = Array(1...ids.count)
    next[ids.count - 1] = -1
    var removed = [Bool](repeating: false, count: ids.count)
    var queue = MergeQueue()
    for position in 0..<(ids.count - 1) {
      if let merge = merges[PairKey(left: symbol[position], right: symbol[position + 1])] {
        queue.push(rank: merge.rank, position: Int32(position), id: merge.id)
      }
    }
    while let top = queue.pop() {
      let position = Int(top.position)
      guard !removed[position], next[position] != -1 else { continue }
      let right = next[position]
      guard let current = merges[PairKey(left: symbol[position], right: symbol[right])], current.id == top.id else {
        continue
      }
      symbol[position] = top.id
      removed[right] = true
      next[position] = next[right]
      if next[right] != -1 { previous[next[right]] = position }
      if previous[position] >= 0,
         let merge = merges[PairKey(left: symbol[previous[position]], right: symbol[position])] {
        queue.push(rank: merge.rank, position: Int32(previous[position]), id: merge.id)
      }
      if next[position] != -1, let merge = merges[PairKey(left: symbol[position], right: symbol[next[position]])] {
        queue.push(rank: merge.rank, position: Int32(position), id: merge.id)
      }
    }
    ids = symbol.indices.filter { !removed[$0] }.map { symbol[$0] }
  }
}

/// A binary min-heap of pending merges, ordered by rank, then position.
private struct MergeQueue {
  struct Entry {
    let rank: Int32
    let position: Int32
    let id: Int32

    func precedes(_ other: Entry) -> Bool { rank != other.rank ? rank < other.rank : position < other.position }
  }

  private var heap: [Entry] = []

  mutating func push(rank: Int32, position: Int32, id: Int32) {
    heap.append(Entry(rank: rank, position: position, id: id))
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard heap[child].precedes(heap[parent]) else { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  mutating func pop() -> Entry? {
    guard let top = heap.first else { return nil }
    let last = heap.removeLast()
    if !heap.isEmpty {
      heap[0] = last
      var parent = 0
      while true {
        let left = 2 * parent + 1
        let right = left + 1
        var best = parent
        if left < heap.count, heap[left].precedes(heap[best]) { best = left }
        if right < heap.count, heap[right].precedes(heap[best]) { best = right }
        if best == parent { break }
        heap.swapAt(parent, best)
        parent = best
      }
    }
    return top
  }
}
