// Patterns of the Replace normalizer and decoder: a literal string or a regular expression.

import Foundation

/// A pattern of the Replace normalizer and decoder: `{"String": "..."}` or `{"Regex": "..."}`.
enum TextPattern: Sendable {
  case literal(Scalars)
  case regex(RegularExpression)

  init(_ node: JSONNode) throws {
    if let literal = try node.member("String") {
      self = .literal(try literal.string().scalars)
    } else if let regex = try node.member("Regex") {
      self = .regex(try RegularExpression(regex))
    } else {
      throw node.invalid("should be {\"String\": ...} or {\"Regex\": ...}")
    }
  }

  /// The non-overlapping matches in `text`, left to right, as scalar ranges.
  func matches(in text: Scalars) -> [Range<Int>] {
    switch self {
    case let .literal(pattern):
      guard !pattern.isEmpty else { return [] }
      var found: [Range<Int>] = []
      var i = 0
      while i + pattern.count <= text.count {
        if text[i] == pattern[0], text[i..<i + pattern.count].elementsEqual(pattern) {
          found.append(i..<i + pattern.count)
          i += pattern.count
        } else {
          i += 1
        }
      }
      return found
    case let .regex(expression):
      return expression.matches(in: text)
    }
  }

  /// `text` with each of `matches` replaced by `content`.
  func replacing(_ matches: [Range<Int>], in text: Scalars, with content: Scalars) -> Scalars {
    guard !matches.isEmpty else { return text }
    var result: Scalars = []
    result.reserveCapacity(text.count)
    var position = 0
    for match in matches {
      result += text[position..<match.lowerBound]
      result += content
      position = match.upperBound
    }
    result += text[position...]
    return result
  }
}

/// A compiled regular expression (ICU's, through Foundation; tokenizer.json patterns such as `" {2,}"` and `"\s+"`
/// mean the same there as in Oniguruma, which the library uses).
final class RegularExpression: @unchecked Sendable {
  // NSRegularExpression is immutable and documented as safe to use from several threads.
  private let expression: NSRegularExpression

  init(_ node: JSONNode) throws {
    let pattern = try node.string()
    do {
      expression = try NSRegularExpression(pattern: pattern)
    } catch {
      throw node.invalid("is not a regular expression this implementation can compile: \(pattern)")
    }
  }

  /// The matches in `text` as scalar ranges (empty matches skipped).
  func matches(in text: Scalars) -> [Range<Int>] {
    let string = String(scalars: text)
    let utf16 = string.utf16
    // UTF-16 offset -> scalar index.
    var scalarIndex = [Int](repeating: 0, count: utf16.count + 1)
    var offset = 0
    for (i, scalar) in text.enumerated() {
      let width = scalar.value > 0xFFFF ? 2 : 1
      for k in 0..<width { scalarIndex[offset + k] = i }
      offset += width
    }
    scalarIndex[offset] = text.count
    return expression.matches(in: string, range: NSRange(location: 0, length: utf16.count)).compactMap { match in
      let range = match.range
      guard range.location != NSNotFound, range.length > 0 else { return nil }
      return scalarIndex[range.location]..<scalarIndex[range.location + range.length]
    }
  }
}
