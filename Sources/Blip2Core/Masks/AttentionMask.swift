// Attention masks are values (DESIGN.md): a boolean matrix over a token layout, built by name for the paper's
// three stage-1 masks (PAPER.md, "Stage 1") or from block rules or a function for anything else.

/// How one segment may attend to another, block by block. Also the text form scripts use (`"causal"`).
public enum BlockRule: String, CaseIterable, Hashable, Sendable {
  /// Every token of the row segment may attend to every token of the column segment.
  case all
  /// No token of the row segment may attend to the column segment.
  case none
  /// Token `i` may attend to token `j` when `j <= i` in global position.
  case causal
  /// The `k`-th token of the row segment may attend to the `k`-th token of the column segment only
  /// (within one segment: each token sees itself).
  case diagonal

  /// The rule spelled `text` (`"all"`, `"none"`, `"causal"`, `"diagonal"`).
  /// - Throws: `MaskError.unknownBlockRule` for any other text.
  public init(parsing text: String) throws {
    guard let rule = BlockRule(rawValue: text) else { throw MaskError.unknownBlockRule(text) }
    self = rule
  }

  /// Whether the rule lets global position `row` attend to `column`, given their offsets in their segments.
  func permits(row: Int, column: Int, rowOffset: Int, columnOffset: Int) -> Bool {
    switch self {
    case .all: true
    case .none: false
    case .causal: column <= row
    case .diagonal: rowOffset == columnOffset
    }
  }
}

/// Which token may attend to which: a boolean matrix `[attending token (row), attended token (column)]` over a
/// `TokenLayout`, `true` = may attend. Stored flat and row-major, which is what the attention kernel takes.
///
/// ```swift
/// let layout = try TokenLayout.queriesAndText(queries: 32, text: 8)
/// let itg = AttentionMask.multimodalCausal(layout)
/// itg[32, 3]                                   // true: text token 0 reads query 3
/// try itg.allowed(from: "queries", to: "text") // none
/// print(itg.render())
/// ```
public struct AttentionMask: Hashable, Sendable {
  /// The tokens the rows and columns stand for.
  public let layout: TokenLayout
  /// The cells, row-major: cell `(row, column)` is at `row * size + column`. `true` = may attend.
  public let flatBools: [Bool]

  /// A mask from its cells, row-major, `layout.count * layout.count` of them.
  /// - Throws: `MaskError.wrongCellCount` when the count is wrong.
  public init(layout: TokenLayout, flatBools: [Bool]) throws {
    guard flatBools.count == layout.count * layout.count else {
      throw MaskError.wrongCellCount(expected: layout.count * layout.count, got: flatBools.count)
    }
    self.init(checkedLayout: layout, cells: flatBools)
  }

  private init(checkedLayout layout: TokenLayout, cells: [Bool]) {
    self.layout = layout
    self.flatBools = cells
  }

  /// The number of tokens (rows, and columns).
  public var size: Int { layout.count }

  /// Whether token `row` may attend to token `column` (global positions).
  public subscript(row: Int, column: Int) -> Bool {
    precondition(row >= 0 && row < size && column >= 0 && column < size, "mask cell (\(row), \(column)) out of range")
    return flatBools[row * size + column]
  }

  /// How many cells allow attention.
  public var allowedCount: Int { flatBools.reduce(0) { $1 ? $0 + 1 : $0 } }

  /// The rows that may attend to nothing at all. Softmax over such a row has no finite entry, so a kernel must
  /// treat them specially; they appear, for example, when a segment attends only to itself and is all padding.
  public var rowsWithoutKeys: [Int] {
    (0 ..< size).filter { row in !(0 ..< size).contains { self[row, $0] } }
  }

  // MARK: - The paper's masks and other named ones

  /// ITC's mask: every segment attends only within itself (queries see only queries, text sees only text).
  public static func unimodal(_ layout: TokenLayout) -> AttentionMask {
    custom(layout) { _, _, rowSegment, columnSegment in rowSegment == columnSegment }
  }

  /// ITM's mask: everyone sees everyone.
  public static func bidirectional(_ layout: TokenLayout) -> AttentionMask {
    AttentionMask(checkedLayout: layout, cells: Array(repeating: true, count: layout.count * layout.count))
  }

  /// ITG's mask: the queries see the queries only; every other token sees all the queries and the non-query
  /// tokens at or before itself. So text reads the image only through the queries, and never a later token.
  /// - Parameter queries: the name of the query segment; a layout without it gives a plain causal mask.
  public static func multimodalCausal(_ layout: TokenLayout, queries: String = TokenLayout.queries) -> AttentionMask {
    custom(layout) { row, column, rowSegment, columnSegment in
      if columnSegment == queries { return true }  // everyone reads the queries
      if rowSegment == queries { return false }    // the queries never read text
      return column <= row                         // text reads itself and earlier text
    }
  }

  /// A plain causal mask over all tokens: token `i` sees tokens `0...i`.
  public static func causal(_ layout: TokenLayout) -> AttentionMask {
    custom(layout) { row, column, _, _ in column <= row }
  }

  // MARK: - Custom masks

  /// A mask from block rules: `rules[rowSegment][columnSegment]` says how the row segment attends to the column
  /// segment. Pairs without a rule are `.none`.
  /// ```swift
  /// try .blocks(layout, ["queries": ["queries": .all], "text": ["queries": .all, "text": .causal]])
  /// ```
  /// - Throws: `MaskError.unknownSegment` for a rule that names a segment the layout does not have.
  public static func blocks(_ layout: TokenLayout, _ rules: [String: [String: BlockRule]]) throws -> AttentionMask {
    for (rowSegment, row) in rules.sorted(by: { $0.key < $1.key }) {
      for columnSegment in [rowSegment] + row.keys.sorted() where !layout.contains(segment: columnSegment) {
        throw MaskError.unknownSegment(name: columnSegment, known: layout.segmentNames)
      }
    }
    let offsets = layout.offsetPerPosition
    return custom(layout) { row, column, rowSegment, columnSegment in
      let rule = rules[rowSegment]?[columnSegment] ?? .none
      return rule.permits(row: row, column: column, rowOffset: offsets[row], columnOffset: offsets[column])
    }
  }

  /// A mask from a function of each pair: `allowing(row, column, rowSegment, columnSegment)` with global
  /// positions and segment names says whether token `row` may attend to token `column`.
  /// ```swift
  /// AttentionMask.custom(layout) { row, column, rowSegment, _ in rowSegment == "text" || column <= row }
  /// ```
  public static func custom(
    _ layout: TokenLayout,
    allowing: (_ row: Int, _ column: Int, _ rowSegment: String, _ columnSegment: String) throws -> Bool
  ) rethrows -> AttentionMask {
    let names = layout.segmentNamePerPosition
    var cells = [Bool]()
    cells.reserveCapacity(names.count * names.count)
    for row in names.indices {
      for column in names.indices {
        cells.append(try allowing(row, column, names[row], names[column]))
      }
    }
    return AttentionMask(checkedLayout: layout, cells: cells)
  }

  // MARK: - Summaries

  /// How many cells of one block allow attention, and which block rule (if any) the block follows exactly.
  public struct BlockSummary: Hashable, Sendable, CustomStringConvertible {
    /// Cells of the block that allow attention.
    public let allowed: Int
    /// All cells of the block.
    public let cells: Int
    /// The block rule that reproduces this block exactly (the first of `all`, `none`, `causal`, `diagonal`
    /// that does), or `nil` for a block no single rule describes.
    public let rule: BlockRule?

    /// `all`, `causal`, or `5 of 12` for a block no rule describes.
    public var description: String { rule?.rawValue ?? "\(allowed) of \(cells)" }
  }

  /// How the segment `rowSegment` may attend to the segment `columnSegment`.
  /// - Throws: `MaskError.unknownSegment` for a name the layout does not have.
  public func allowed(from rowSegment: String, to columnSegment: String) throws -> BlockSummary {
    let rows = try layout.requireRange(of: rowSegment)
    let columns = try layout.requireRange(of: columnSegment)
    let rule = BlockRule.allCases.first { rule in
      rows.allSatisfy { row in
        columns.allSatisfy { column in
          self[row, column] == rule.permits(
            row: row, column: column, rowOffset: row - rows.lowerBound, columnOffset: column - columns.lowerBound)
        }
      }
    }
    let allowed = rows.reduce(0) { sum, row in sum + columns.filter { self[row, $0] }.count }
    return BlockSummary(allowed: allowed, cells: rows.count * columns.count, rule: rule)
  }

  // MARK: - Combining

  /// The cells both masks allow.
  /// - Throws: `MaskError.layoutMismatch` when the masks have different layouts.
  public func intersection(_ other: AttentionMask) throws -> AttentionMask {
    try combined(with: other) { $0 && $1 }
  }

  /// The cells either mask allows.
  /// - Throws: `MaskError.layoutMismatch` when the masks have different layouts.
  public func union(_ other: AttentionMask) throws -> AttentionMask {
    try combined(with: other) { $0 || $1 }
  }

  private func combined(with other: AttentionMask, _ combine: (Bool, Bool) -> Bool) throws -> AttentionMask {
    guard layout == other.layout else { throw MaskError.layoutMismatch(layout, other.layout) }
    return AttentionMask(checkedLayout: layout, cells: zip(flatBools, other.flatBools).map(combine))
  }

  /// This mask with padded keys removed: where `valid[column]` is false, no row may attend to that column.
  /// - Throws: `MaskError.wrongPaddingLength` unless `valid` has one entry per token.
  public func applyingKeyPadding(valid: [Bool]) throws -> AttentionMask {
    guard valid.count == size else { throw MaskError.wrongPaddingLength(expected: size, got: valid.count) }
    let cells = flatBools.enumerated().map { index, allowed in allowed && valid[index % size] }
    return AttentionMask(checkedLayout: layout, cells: cells)
  }

  /// This mask for a sample whose `segment` holds only `validLength` real tokens, the rest padding: no row may
  /// attend to the padding.
  /// - Throws: `MaskError.unknownSegment`, or `MaskError.invalidValidLength` unless
  ///   `0 <= validLength <= segment length`.
  public func applyingPadding(segment: String = TokenLayout.text, validLength: Int) throws -> AttentionMask {
    let range = try layout.requireRange(of: segment)
    guard validLength >= 0, validLength <= range.count else {
      throw MaskError.invalidValidLength(segment: segment, validLength: validLength, segmentLength: range.count)
    }
    let valid = (0 ..< size).map { !range.contains($0) || $0 < range.lowerBound + validLength }
    return try applyingKeyPadding(valid: valid)
  }

  /// One mask per sample of a batch, sample `b` with `validLengths[b]` real tokens in `segment`.
  /// `masks.flatBools` then gives the `[B, T, T]` cells the attention kernel takes.
  /// - Throws: as `applyingPadding(segment:validLength:)`.
  public func paddedPerSample(validLengths: [Int], segment: String = TokenLayout.text) throws -> [AttentionMask] {
    try validLengths.map { try applyingPadding(segment: segment, validLength: $0) }
  }

  // MARK: - For kernels

  /// The cells as numbers, row-major: `allowed` where attention is allowed, `blocked` where not.
  /// The defaults give a multiplicative 1/0 mask; `flattenedFloats(allowed: 0, blocked: -10_000)` gives the
  /// additive bias LAVIS adds to attention scores.
  public func flattenedFloats(allowed: Float = 1, blocked: Float = 0) -> [Float] {
    flatBools.map { $0 ? allowed : blocked }
  }
}

extension Array where Element == AttentionMask {
  /// The masks' cells one after the other: `[B, T, T]` row-major, as the attention kernel takes them.
  public var flatBools: [Bool] { flatMap(\.flatBools) }
}

extension AttentionMask: CustomStringConvertible {
  /// The layout, the allowed-cell count and one block summary per segment pair, e.g.
  /// `AttentionMask [queries 2 | text 3], 13 of 25 allowed: queries->queries all, queries->text none, ...`.
  public var description: String {
    let names = layout.segmentNames
    let blocks = names.flatMap { row in
      names.compactMap { column in
        (try? allowed(from: row, to: column)).map { "\(row)->\(column) \($0)" }
      }
    }
    return "AttentionMask \(layout), \(allowedCount) of \(flatBools.count) allowed: " + blocks.joined(separator: ", ")
  }
}
