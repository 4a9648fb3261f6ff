// Character classes as the `tokenizers` library uses them, and text helpers that compare exact code points.
//
// Text runs through the pipeline as `[Unicode.Scalar]` (the library works on Rust `char`s, which are scalars).
// Swift's `String` comparisons use canonical equivalence ("é" == "e\u{301}", and "##\u{301}" does not have the
// prefix "##" because "#\u{301}" is one Character), so vocabulary keys are UTF-8 bytes and every search and
// replacement here works on scalars.

/// Text as a sequence of Unicode scalars.
typealias Scalars = [Unicode.Scalar]

/// UTF-8 bytes as a dictionary key: equal only when the bytes are equal.
struct ByteKey: Hashable, Sendable {
  let bytes: [UInt8]

  init(_ bytes: [UInt8]) { self.bytes = bytes }
  init(_ text: String) { bytes = Array(text.utf8) }
  init(_ scalars: some Sequence<Unicode.Scalar>) {
    var bytes: [UInt8] = []
    for scalar in scalars { bytes.appendUTF8(scalar) }
    self.bytes = bytes
  }

  func hash(into hasher: inout Hasher) {
    bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
  }
}

extension Array where Element == UInt8 {
  /// Appends the UTF-8 encoding of `scalar`.
  mutating func appendUTF8(_ scalar: Unicode.Scalar) {
    let value = scalar.value
    if value < 0x80 {
      append(UInt8(value))
    } else if value < 0x800 {
      append(UInt8(0xC0 | (value >> 6)))
      append(UInt8(0x80 | (value & 0x3F)))
    } else if value < 0x10000 {
      append(UInt8(0xE0 | (value >> 12)))
      append(UInt8(0x80 | ((value >> 6) & 0x3F)))
      append(UInt8(0x80 | (value & 0x3F)))
    } else {
      append(UInt8(0xF0 | (value >> 18)))
      append(UInt8(0x80 | ((value >> 12) & 0x3F)))
      append(UInt8(0x80 | ((value >> 6) & 0x3F)))
      append(UInt8(0x80 | (value & 0x3F)))
    }
  }
}

extension String {
  /// The string of these scalars, exactly.
  init(scalars: some Sequence<Unicode.Scalar>) {
    var view = String.UnicodeScalarView()
    view.append(contentsOf: scalars)
    self.init(view)
  }

  /// This string's scalars.
  var scalars: Scalars { Array(unicodeScalars) }
}

extension Unicode.Scalar {
  /// Rust's `char::is_whitespace` (the White_Space property).
  var isWhitespace: Bool {
    if value < 0x80 { return value == 0x20 || (0x09...0x0D).contains(value) }
    return properties.isWhitespace
  }

  /// Oniguruma's `\p{L}` (any letter category).
  var isLetter: Bool {
    if value < 0x80 { return (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value) }
    switch properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
    default: return false
    }
  }

  /// Oniguruma's `\p{N}` (any number category).
  var isNumber: Bool {
    if value < 0x80 { return (0x30...0x39).contains(value) }
    switch properties.generalCategory {
    case .decimalNumber, .letterNumber, .otherNumber: return true
    default: return false
    }
  }

  /// The Rust regex crate's `\w`: alphabetic, marks, decimal digits, connector punctuation, join controls.
  var isWordCharacter: Bool {
    if value < 0x80 {
      return (0x30...0x39).contains(value) || (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value)
        || value == 0x5F
    }
    let properties = properties
    if properties.isAlphabetic || properties.isJoinControl { return true }
    switch properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
  }

  /// BertPreTokenizer's punctuation: ASCII punctuation (symbols such as `$` and `+` included) or the library's
  /// Unicode punctuation.
  var isBertPunctuation: Bool {
    if value < 0x80 {
      return (0x21...0x2F).contains(value) || (0x3A...0x40).contains(value) || (0x5B...0x60).contains(value)
        || (0x7B...0x7E).contains(value)
    }
    return UnicodeTables.bertPunctuation.containsScalar(value)
  }

  /// Removed by BertNormalizer's clean_text.
  var isBertRemoved: Bool {
    if value < 0x80 { return UnicodeTables.bertRemoved.containsScalar(value) }
    return value == 0xFFFD || UnicodeTables.bertRemoved.containsScalar(value)
  }

  /// Removed by BertNormalizer's strip_accents (non-spacing marks).
  var isBertNonspacingMark: Bool { value >= 0x300 && UnicodeTables.bertNonspacingMarks.containsScalar(value) }

  /// Removed by the StripAccents normalizer (combining marks of every kind).
  var isCombiningMark: Bool { value >= 0x300 && UnicodeTables.combiningMarks.containsScalar(value) }

  /// BertNormalizer's CJK ideographs, which it surrounds with spaces.
  var isChineseCharacter: Bool {
    switch value {
    case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
         0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
      return true
    default:
      return false
    }
  }

  /// Rust's `char::to_lowercase` (the full mapping, one character at a time: no final-sigma rule).
  func appendLowercase(to output: inout Scalars) {
    if value < 0x80 {
      output.append((0x41...0x5A).contains(value) ? Unicode.Scalar(value + 0x20)! : self)
    } else if properties.changesWhenLowercased {
      output.append(contentsOf: properties.lowercaseMapping.unicodeScalars)
    } else {
      output.append(self)
    }
  }
}

extension Array where Element == ClosedRange<UInt32> {
  /// Whether a sorted list of disjoint ranges contains `value` (binary search).
  func containsScalar(_ value: UInt32) -> Bool {
    var low = 0
    var high = count
    while low < high {
      let middle = (low + high) / 2
      if self[middle].upperBound < value {
        low = middle + 1
      } else if self[middle].lowerBound > value {
        high = middle
      } else {
        return true
      }
    }
    return false
  }
}

extension Array where Element == Unicode.Scalar {
  /// Every non-overlapping occurrence of `pattern` (left to right) replaced by `replacement`, exactly by scalars.
  func replacingOccurrences(of pattern: Scalars, with replacement: Scalars) -> Scalars {
    guard !pattern.isEmpty, count >= pattern.count else { return self }
    var result: Scalars = []
    result.reserveCapacity(count)
    var i = 0
    while i < count {
      if self[i] == pattern[0], i + pattern.count <= count, self[i..<i + pattern.count].elementsEqual(pattern) {
        result.append(contentsOf: replacement)
        i += pattern.count
      } else {
        result.append(self[i])
        i += 1
      }
    }
    return result
  }

  /// Whether these scalars begin with `prefix`, exactly.
  func hasScalarPrefix(_ prefix: Scalars) -> Bool { count >= prefix.count && self[..<prefix.count].elementsEqual(prefix) }
}
