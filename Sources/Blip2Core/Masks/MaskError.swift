import Foundation

/// What can go wrong when building, combining or scheduling attention masks. Every message says what was
/// wrong and what to do about it.
public enum MaskError: Error, LocalizedError, Equatable, Sendable {
  /// A segment has an empty name or a negative length.
  case invalidSegment(name: String, length: Int)
  /// Two segments of one layout share a name.
  case duplicateSegment(name: String)
  /// A rule, padding or leak check names a segment the layout does not have.
  case unknownSegment(name: String, known: [String])
  /// A block rule's text is not one of `all`, `none`, `causal`, `diagonal`.
  case unknownBlockRule(String)
  /// A mask name (from a script or the command line) is not one of the built-in masks.
  case unknownMaskName(String, known: [String])
  /// Two masks over different layouts were combined.
  case layoutMismatch(TokenLayout, TokenLayout)
  /// A flat cell list does not have `count * count` entries.
  case wrongCellCount(expected: Int, got: Int)
  /// A key-padding list does not have one entry per token.
  case wrongPaddingLength(expected: Int, got: Int)
  /// A per-sample valid length is negative or longer than its segment.
  case invalidValidLength(segment: String, validLength: Int, segmentLength: Int)
  /// A leak check was asked to follow fewer than one layer.
  case invalidLayerCount(Int)
  /// A schedule entry covers no steps or starts before step 0.
  case invalidStepRange(objective: String, steps: Range<Int>)
  /// Two schedule entries of one objective cover the same step.
  case overlappingSteps(objective: String, existing: Range<Int>, new: Range<Int>)
  /// A schedule has neither an entry nor a default for an objective.
  case noMask(objective: String, step: Int, known: [String])

  public var errorDescription: String? {
    switch self {
    case let .invalidSegment(name, length):
      return name.isEmpty
        ? "A token-layout segment has an empty name: give every segment a name such as \"queries\" or \"text\"."
        : "Segment \"\(name)\" has length \(length): a segment length must be 0 or more."
    case let .duplicateSegment(name):
      return "The token layout has two segments named \"\(name)\": segment names must be unique."
    case let .unknownSegment(name, known):
      return "The token layout has no segment \"\(name)\"; its segments are \(Self.list(known)). "
        + "Use one of those names or add the segment to the layout."
    case let .unknownBlockRule(text):
      let rules = Self.list(BlockRule.allCases.map(\.rawValue), conjunction: "or")
      return "\"\(text)\" is not a block rule: use one of \(rules)."
    case let .unknownMaskName(name, known):
      return "\"\(name)\" is not a built-in mask: use one of \(Self.list(known, conjunction: "or")), or build a "
        + "custom mask from block rules or a function."
    case let .layoutMismatch(left, right):
      return "Cannot combine a mask over \(left) with a mask over \(right): build both for the same layout."
    case let .wrongCellCount(expected, got):
      return "A mask over this layout needs \(expected) cells (tokens x tokens, row-major), got \(got)."
    case let .wrongPaddingLength(expected, got):
      return "Key padding needs one entry per token (\(expected)), got \(got)."
    case let .invalidValidLength(segment, validLength, segmentLength):
      return "Segment \"\(segment)\" has \(segmentLength) tokens, so its valid length must be in "
        + "0...\(segmentLength), got \(validLength)."
    case let .invalidLayerCount(layers):
      return "The leak check follows attention through at least 1 layer, got \(layers): pass 1 or more."
    case let .invalidStepRange(objective, steps):
      return "The schedule entry for \"\(objective)\" covers steps \(steps.lowerBound)..<\(steps.upperBound): "
        + "give a non-empty range that starts at step 0 or later."
    case let .overlappingSteps(objective, existing, new):
      return "The schedule for \"\(objective)\" already has a mask for steps "
        + "\(existing.lowerBound)..<\(existing.upperBound), so steps \(new.lowerBound)..<\(new.upperBound) "
        + "overlap it: make the ranges of one objective disjoint."
    case let .noMask(objective, step, known):
      return "The mask schedule has no mask for objective \"\(objective)\" at step \(step) and no default for it; "
        + "scheduled objectives are \(Self.list(known)). Add an entry or a default for \"\(objective)\"."
    }
  }

  /// `"a", "b" and "c"` (or `"a", "b" or "c"`) for messages; `(none)` for no names.
  static func list(_ names: [String], conjunction: String = "and") -> String {
    names.isEmpty ? "(none)" : sentenceList(names.map { "\"\($0)\"" }, conjunction: conjunction)
  }

  /// `a, b and c` (or `a, b or c`).
  static func sentenceList(_ items: [String], conjunction: String = "and") -> String {
    items.count <= 1 ? items.joined()
      : items.dropLast().joined(separator: ", ") + " \(conjunction) " + items[items.count - 1]
  }
}
