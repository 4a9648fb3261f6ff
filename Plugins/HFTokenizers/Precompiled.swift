// The `Precompiled` normalizer: SentencePiece's normalization rules (T5's nmt_nfkc and others) compiled into a
// "charsmap": a darts-clone double-array trie from UTF-8 source strings to offsets in a blob of NUL-terminated
// replacement strings. Layout of the base64-decoded bytes: a little-endian UInt32 giving the trie's size in bytes,
// the trie (little-endian UInt32 units), then the replacement blob.

import Foundation

/// SentencePiece's precompiled normalization rules.
struct PrecompiledCharsmap: Normalizer {
  /// The double array; each unit packs a label, a leaf flag and an offset (or, at a leaf, a value).
  private let units: [UInt32]
  /// The replacement strings, NUL-terminated, as UTF-8.
  private let replacements: [UInt8]

  /// Reads the charsmap from its base64 string.
  /// - Throws: `HFTokenizerError.invalidValue` (at `node`'s path) when it is not base64 or not a charsmap.
  init(_ node: JSONNode) throws {
    guard let data = Data(base64Encoded: try node.string()) else { throw node.invalid("is not valid base64") }
    let bytes = [UInt8](data)
    guard bytes.count >= 4 else { throw node.invalid("is too short to be a SentencePiece charsmap") }
    let trieSize = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
    guard trieSize % 4 == 0, 4 + trieSize <= bytes.count, trieSize > 0 else {
      throw node.invalid("has a trie size (\(trieSize) bytes) that does not fit its \(bytes.count) bytes")
    }
    units = stride(from: 4, to: 4 + trieSize, by: 4).map { i in
      UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
    }
    replacements = Array(bytes[(4 + trieSize)...])
    guard String(validating: replacements, as: UTF8.self) != nil else {
      throw node.invalid("has replacement strings that are not valid UTF-8")
    }
  }

  /// Replaces each grapheme cluster (under 6 UTF-8 bytes) that has a rule as a whole; otherwise each of its
  /// scalars that has one. This is the library's (and SentencePiece's) order of lookups.
  func normalize(_ text: inout NormalizedText) {
    let scalars = text.scalars
    guard !scalars.isEmpty else { return }
    var output: Scalars = []
    output.reserveCapacity(scalars.count)
    var modified = false
    var bytes: [UInt8] = []
    func apply(_ grapheme: some Collection<Unicode.Scalar>, isFirst: Bool) {
      bytes.removeAll(keepingCapacity: true)
      for scalar in grapheme { bytes.appendUTF8(scalar) }
      if bytes.count < 6, let replacement = transform(bytes[...]) {
        if isFirst, replacement.isEmpty { text.startsAtOrigin = false }
        output += replacement
        modified = true
        return
      }
      var start = 0
      for scalar in grapheme {
        let width = scalar.value < 0x80 ? 1 : scalar.value < 0x800 ? 2 : scalar.value < 0x10000 ? 3 : 4
        if let replacement = transform(bytes[start..<start + width]) {
          if isFirst, start == 0, replacement.isEmpty { text.startsAtOrigin = false }
          output += replacement
          modified = true
        } else {
          output.append(scalar)
        }
        start += width
      }
    }
    // Between two ASCII characters there is always a grapheme boundary (except inside CR LF): cut the text there
    // and leave only the other stretches to Swift's grapheme breaking.
    var start = 0
    for end in 1...scalars.count {
      guard end == scalars.count
        || (scalars[end - 1].value < 0x80 && scalars[end].value < 0x80 && !(scalars[end - 1] == "\r" && scalars[end] == "\n"))
      else { continue }
      if end - start == 1 {
        apply(scalars[start..<end], isFirst: start == 0)
      } else {
        var isFirst = start == 0
        for grapheme in String(scalars: scalars[start..<end]) {
          apply(grapheme.unicodeScalars, isFirst: isFirst)
          isFirst = false
        }
      }
      start = end
    }
    if modified { text.scalars = output }
  }

  /// The replacement of the first (shortest) rule whose source is a prefix of `key`, as the library looks it up.
  private func transform(_ key: ArraySlice<UInt8>) -> Scalars? {
    guard let offset = firstPrefixValue(key), offset < replacements.count else { return nil }
    let end = replacements[offset...].firstIndex(of: 0) ?? replacements.count
    return String(decoding: replacements[offset..<end], as: UTF8.self).scalars
  }

  /// darts-clone's common-prefix search, stopping at the first value found.
  private func firstPrefixValue(_ key: ArraySlice<UInt8>) -> Int? {
    var position = 0
    guard let root = unit(0) else { return nil }
    position ^= Self.offset(root)
    for byte in key {
      if byte == 0 { break }
      position ^= Int(byte)
      guard let current = unit(position), Self.label(current) == UInt32(byte) else { return nil }
      position ^= Self.offset(current)
      if Self.hasLeaf(current) {
        guard let leaf = unit(position) else { return nil }
        return Int(leaf & 0x7FFF_FFFF)
      }
    }
    return nil
  }

  private func unit(_ position: Int) -> UInt32? { position < units.count ? units[position] : nil }
  private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
  private static func label(_ unit: UInt32) -> UInt32 { unit & ((1 << 31) | 0xFF) }
  private static func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }
}
