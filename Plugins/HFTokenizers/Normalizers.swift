// Normalizers: the first step of the pipeline, text to text (lowercasing, accents, Unicode forms, replacements).
// Each is the library's component of the same `type`; `Normalizers.make` reads one from its JSON.

/// Text during normalization.
struct NormalizedText {
  /// The text.
  var scalars: Scalars
  /// Whether the first scalar still comes from the first one of the input (not after a removed one): Metaspace's
  /// `prepend_scheme: "first"` prepends only then, as the library checks the original offset.
  var startsAtOrigin: Bool

  /// Keeps the scalars for which `keep` is true.
  mutating func filter(_ keep: (Unicode.Scalar) -> Bool) {
    if let first = scalars.first, !keep(first) { startsAtOrigin = false }
    scalars.removeAll { !keep($0) }
  }
}

/// A normalizer of the pipeline.
protocol Normalizer: Sendable {
  func normalize(_ text: inout NormalizedText)
}

/// The normalizer types, by the name tokenizer.json uses.
enum Normalizers {
  typealias Factory = @Sendable (JSONNode) throws -> any Normalizer

  static let factories: [String: Factory] = [
    "BertNormalizer": { node in
      let lowercase = try node.bool("lowercase", default: true)
      return BertNormalizer(
        cleanText: try node.bool("clean_text", default: true),
        handleChineseCharacters: try node.bool("handle_chinese_chars", default: true),
        stripAccents: try node.member("strip_accents")?.bool() ?? lowercase, lowercase: lowercase)
    },
    "Sequence": { node in
      SequenceNormalizer(steps: try node.required("normalizers").elements().map(make))
    },
    "NFC": { _ in UnicodeForm.nfc },
    "NFD": { _ in UnicodeForm.nfd },
    "NFKC": { _ in UnicodeForm.nfkc },
    "NFKD": { _ in UnicodeForm.nfkd },
    "Lowercase": { _ in Lowercase() },
    "StripAccents": { _ in StripAccents() },
    "Strip": { node in
      Strip(left: try node.bool("strip_left", default: true), right: try node.bool("strip_right", default: true))
    },
    "Replace": { node in
      ReplaceNormalizer(pattern: try TextPattern(node.required("pattern")),
                        content: try node.required("content").string().scalars)
    },
    "Prepend": { node in Prepend(prefix: try node.required("prepend").string().scalars) },
    "Precompiled": { node in try PrecompiledCharsmap(node.required("precompiled_charsmap")) },
  ]

  /// The normalizer `node` describes.
  /// - Throws: `HFTokenizerError.unsupportedType` for a type not in `factories`, or the component's own errors.
  static func make(_ node: JSONNode) throws -> any Normalizer { try node.component(type: node.typeName(), from: factories) }
}

/// BERT's normalizer: remove control characters and map whitespace to spaces, put spaces around CJK ideographs,
/// strip accents (NFD, then drop non-spacing marks), lowercase; in that order.
struct BertNormalizer: Normalizer {
  let cleanText: Bool
  let handleChineseCharacters: Bool
  let stripAccents: Bool
  let lowercase: Bool

  func normalize(_ text: inout NormalizedText) {
    if cleanText {
      text.filter { !$0.isBertRemoved }
      for i in text.scalars.indices where text.scalars[i] != " " && text.scalars[i].isWhitespace { text.scalars[i] = " " }
    }
    if handleChineseCharacters, text.scalars.contains(where: \.isChineseCharacter) {
      var spaced: Scalars = []
      spaced.reserveCapacity(text.scalars.count)
      for scalar in text.scalars {
        if scalar.isChineseCharacter {
          spaced += [" ", scalar, " "]
        } else {
          spaced.append(scalar)
        }
      }
      text.scalars = spaced
    }
    if stripAccents {
      UnicodeForm.nfd.normalize(&text)
      text.filter { !$0.isBertNonspacingMark }
    }
    if lowercase { Lowercase().normalize(&text) }
  }
}

/// A chain of normalizers, applied in order.
struct SequenceNormalizer: Normalizer {
  let steps: [any Normalizer]

  func normalize(_ text: inout NormalizedText) {
    for step in steps { step.normalize(&text) }
  }
}

/// Lowercase, one character at a time (Rust's `char::to_lowercase`).
struct Lowercase: Normalizer {
  func normalize(_ text: inout NormalizedText) {
    var lowered: Scalars = []
    lowered.reserveCapacity(text.scalars.count)
    for scalar in text.scalars { scalar.appendLowercase(to: &lowered) }
    text.scalars = lowered
  }
}

/// Removes combining marks (without decomposing first: put NFD before it).
struct StripAccents: Normalizer {
  func normalize(_ text: inout NormalizedText) { text.filter { !$0.isCombiningMark } }
}

/// Removes whitespace at the start and/or the end.
struct Strip: Normalizer {
  let left: Bool
  let right: Bool

  func normalize(_ text: inout NormalizedText) {
    if right {
      while let last = text.scalars.last, last.isWhitespace { text.scalars.removeLast() }
    }
    if left {
      let start = text.scalars.firstIndex { !$0.isWhitespace } ?? text.scalars.count
      if start > 0 {
        text.scalars.removeFirst(start)
        text.startsAtOrigin = false
      }
    }
  }
}

/// Replaces every match of a literal or regular-expression pattern.
struct ReplaceNormalizer: Normalizer {
  let pattern: TextPattern
  let content: Scalars

  func normalize(_ text: inout NormalizedText) {
    let matches = pattern.matches(in: text.scalars)
    if content.isEmpty, matches.first?.lowerBound == 0 { text.startsAtOrigin = false }
    text.scalars = pattern.replacing(matches, in: text.scalars, with: content)
  }
}

/// Puts a prefix before non-empty text.
struct Prepend: Normalizer {
  let prefix: Scalars

  func normalize(_ text: inout NormalizedText) {
    if !text.scalars.isEmpty { text.scalars = prefix + text.scalars }
  }
}
