// The NFC, NFD, NFKC and NFKD normalizers, computed as the library computes them (with its Unicode version's data).

import Foundation

/// A Unicode normalization form, as the library computes it: with Unicode 9.0's data (characters assigned later
/// are left alone, as unassigned ones are). Foundation decomposes; reordering and composition are done here, since
/// on Linux Foundation's reordering stops at characters such as U+0F73 (combining class 0, but decomposing into
/// marks) and its composition mistakes some supplementary-plane characters for BMP ones (U+21F69 U+0301 -> U+1F6D).
enum UnicodeForm: Normalizer {
  case nfc, nfd, nfkc, nfkd

  /// The Unicode version of the library's normalization tables (those of `unicode-normalization-alignments`).
  static let libraryVersion = Unicode.Version(major: 9, minor: 0)

  func normalize(_ text: inout NormalizedText) {
    let scalars = text.scalars
    guard scalars.contains(where: { $0.value >= 0x80 }) else { return }
    // Characters that normalization leaves alone and that nothing composes or reorders across: an ASCII character
    // followed by another, and characters the library's tables do not have. Only the runs between them are worked on.
    func isBoundary(_ i: Int) -> Bool {
      let value = scalars[i].value
      if value < 0x80 { return i + 1 == scalars.count || scalars[i + 1].value < 0x80 }
      return Self.isUnknownToLibrary(scalars[i])
    }
    var output: Scalars = []
    output.reserveCapacity(scalars.count)
    var i = 0
    while i < scalars.count {
      if isBoundary(i) {
        output.append(scalars[i])
        i += 1
        continue
      }
      var end = i + 1
      while end < scalars.count, !isBoundary(end) { end += 1 }
      output += normalized(String(scalars: scalars[i..<end]))
      i = end
    }
    text.scalars = output
  }

  /// Whether the library's normalization data lacks `scalar` (assigned after Unicode 9.0, or unassigned).
  static func isUnknownToLibrary(_ scalar: Unicode.Scalar) -> Bool {
    guard let age = scalar.properties.age else { return true }
    return (age.major, age.minor) > (libraryVersion.major, libraryVersion.minor)
  }

  private func normalized(_ string: String) -> Scalars {
    let decomposed: String
    switch self {
    case .nfc, .nfd: decomposed = string.decomposedStringWithCanonicalMapping
    case .nfkc, .nfkd: decomposed = string.decomposedStringWithCompatibilityMapping
    }
    let ordered = Self.reorderedCanonically(decomposed.scalars)
    switch self {
    case .nfd, .nfkd: return ordered
    case .nfc, .nfkc: return Self.composed(ordered)
    }
  }

  /// The canonical compositions, by (first << 32 | second).
  private static let compositions: [UInt64: Unicode.Scalar] = {
    let table = UnicodeTables.canonicalCompositions
    var map: [UInt64: Unicode.Scalar] = [:]
    for i in stride(from: 0, to: table.count, by: 3) {
      if let composite = Unicode.Scalar(table[i + 2]) { map[UInt64(table[i]) << 32 | UInt64(table[i + 1])] = composite }
    }
    return map
  }()

  /// The composite of `first` and `second`, if they have one (Hangul by arithmetic).
  private static func composite(_ first: Unicode.Scalar, _ second: Unicode.Scalar) -> Unicode.Scalar? {
    let (a, b) = (first.value, second.value)
    if (0x1100..<0x1113).contains(a), (0x1161..<0x1176).contains(b) {
      return Unicode.Scalar(0xAC00 + ((a - 0x1100) * 21 + (b - 0x1161)) * 28)
    }
    if (0xAC00..<0xD7A4).contains(a), (a - 0xAC00) % 28 == 0, (0x11A8..<0x11C3).contains(b) {
      return Unicode.Scalar(a + (b - 0x11A7))
    }
    return compositions[UInt64(a) << 32 | UInt64(b)]
  }

  /// Canonical composition of canonically ordered, decomposed text: each character joins the last starter when
  /// nothing between them blocks it (a starter, or a mark of the same or a higher class).
  static func composed(_ scalars: Scalars) -> Scalars {
    var output: Scalars = []
    output.reserveCapacity(scalars.count)
    var starter = -1  // index in `output` of the last starter
    var lastClass = 0  // combining class of the last character appended after it
    for scalar in scalars {
      let combiningClass = Int(scalar.properties.canonicalCombiningClass.rawValue)
      if starter >= 0 {
        let adjacent = output.count - 1 == starter
        if adjacent || (lastClass != 0 && lastClass < combiningClass),
           let composite = composite(output[starter], scalar) {
          output[starter] = composite
          continue
        }
      }
      if combiningClass == 0 {
        starter = output.count
        lastClass = 0
      } else {
        lastClass = combiningClass
      }
      output.append(scalar)
    }
    return output
  }

  /// Each run of non-starters sorted by combining class, keeping the order of equal classes.
  static func reorderedCanonically(_ scalars: Scalars) -> Scalars {
    var result = scalars
    let classes = scalars.map { Int($0.properties.canonicalCombiningClass.rawValue) }
    var i = 0
    while i < result.count {
      guard classes[i] != 0 else {
        i += 1
        continue
      }
      var end = i + 1
      while end < result.count, classes[end] != 0 { end += 1 }
      if end - i > 1 {
        let sorted = (i..<end).sorted { (classes[$0], $0) < (classes[$1], $1) }
        for (offset, index) in sorted.enumerated() { result[i + offset] = scalars[index] }
      }
      i = end
    }
    return result
  }
}
