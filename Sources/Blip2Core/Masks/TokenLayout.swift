// The order of the tokens inside the Q-Former's shared self-attention: named segments laid end to end,
// `[queries (32) | text (L)]` in stage 1 (PAPER.md, "Stage 1"); later layouts may add `instruction`.

/// An ordered list of named segments that together make the token sequence an attention mask ranges over.
///
/// Positions are global: segment `k` covers `start(k) ..< start(k) + length(k)`.
/// ```swift
/// let layout = try TokenLayout.queriesAndText(queries: 32, text: 8)   // [queries 32 | text 8]
/// layout.range(of: "text")      // 32..<40
/// layout.segmentName(at: 33)    // "text"
/// ```
public struct TokenLayout: Hashable, Sendable, CustomStringConvertible {
  /// One named run of consecutive tokens.
  public struct Segment: Hashable, Sendable {
    /// The segment's name, unique within its layout (`"queries"`, `"text"`, `"instruction"`).
    public let name: String
    /// How many tokens the segment holds (zero is allowed: an empty text, say).
    public let length: Int

    /// A segment named `name` of `length` tokens.
    public init(name: String, length: Int) {
      self.name = name
      self.length = length
    }
  }

  /// The name of the learned-query segment, which carries the image (through cross-attention).
  public static let queries = "queries"
  /// The name of the text segment.
  public static let text = "text"
  /// The name of an instruction segment (instruction-aware layouts).
  public static let instruction = "instruction"

  /// The segments in order.
  public let segments: [Segment]

  /// A layout from segments in order.
  /// - Throws: `MaskError.invalidSegment` for an empty name or a negative length,
  ///   `MaskError.duplicateSegment` when two segments share a name.
  public init(_ segments: [Segment]) throws {
    var seen = Set<String>()
    for segment in segments {
      guard !segment.name.isEmpty, segment.length >= 0 else {
        throw MaskError.invalidSegment(name: segment.name, length: segment.length)
      }
      guard seen.insert(segment.name).inserted else { throw MaskError.duplicateSegment(name: segment.name) }
    }
    self.segments = segments
  }

  /// The stage-1 layout of the paper: `[queries | text]`.
  public static func queriesAndText(queries: Int, text: Int) throws -> TokenLayout {
    try TokenLayout([Segment(name: Self.queries, length: queries), Segment(name: Self.text, length: text)])
  }

  /// The total number of tokens.
  public var count: Int { segments.reduce(0) { $0 + $1.length } }

  /// The segment names in order.
  public var segmentNames: [String] { segments.map(\.name) }

  /// Whether the layout has a segment called `name`.
  public func contains(segment name: String) -> Bool { segments.contains { $0.name == name } }

  /// The global positions of the segment called `name`, or `nil` if there is none.
  public func range(of name: String) -> Range<Int>? {
    var start = 0
    for segment in segments {
      if segment.name == name { return start ..< start + segment.length }
      start += segment.length
    }
    return nil
  }

  /// The global positions of the segment called `name`.
  /// - Throws: `MaskError.unknownSegment` if the layout has no such segment.
  public func requireRange(of name: String) throws -> Range<Int> {
    guard let range = range(of: name) else { throw MaskError.unknownSegment(name: name, known: segmentNames) }
    return range
  }

  /// The segment that holds global position `position`, or `nil` outside `0 ..< count`.
  public func segment(at position: Int) -> Segment? {
    guard position >= 0 else { return nil }
    var start = 0
    for segment in segments {
      if position < start + segment.length { return segment }
      start += segment.length
    }
    return nil
  }

  /// The name of the segment that holds global position `position`, or `nil` outside `0 ..< count`.
  public func segmentName(at position: Int) -> String? { segment(at: position)?.name }

  /// The segment name of every position, in order (`count` entries): one lookup table for whole-mask loops.
  public var segmentNamePerPosition: [String] {
    segments.flatMap { Array(repeating: $0.name, count: $0.length) }
  }

  /// The index of every position inside its own segment (`count` entries), e.g. `[0, 1, 0, 1, 2]`.
  public var offsetPerPosition: [Int] { segments.flatMap { Array(0 ..< $0.length) } }

  /// `[queries 32 | text 8]`.
  public var description: String {
    "[" + segments.map { "\($0.name) \($0.length)" }.joined(separator: " | ") + "]"
  }
}
