// The filter of CapFilt: which of an image's candidate captions (the originals, then the synthetic ones) to
// keep, from their scores. BLIP keeps every caption whose image-text matching probability passes a
// threshold; BLIP-2 ranks the original and the synthetic captions by image-text similarity and keeps the best
// few (two of 1 + 10).

/// A rule deciding which candidate captions of one image to keep.
public enum CaptionFilter: Sendable, Equatable, CustomStringConvertible {
  /// Keep every candidate (the captioner alone).
  case keepAll
  /// Keep the candidates whose ITM probability of "match" is above the threshold (BLIP).
  case itmThreshold(Double)
  /// Keep the `n` candidates with the highest ITC similarity (BLIP-2); ties go to the earlier candidate,
  /// so an original caption wins a tie against a synthetic one.
  case itcTopK(Int)

  /// The names scripts use: `none`, `itm`, `itc-topk`.
  public static let methodNames = ["none", "itm", "itc-topk"]

  /// E.g. `itc-topk 2`, `itm > 0.5`, `none`.
  public var description: String {
    switch self {
    case .keepAll: "none"
    case let .itmThreshold(threshold): "itm > \(threshold)"
    case let .itcTopK(count): "itc-topk \(count)"
    }
  }

  /// Which candidates to keep, given each one's ITC similarity and ITM probability (same order).
  public func keeps(itc: [Float], itm: [Float]) -> [Bool] {
    switch self {
    case .keepAll:
      return [Bool](repeating: true, count: itc.count)
    case let .itmThreshold(threshold):
      return itm.map { Double($0) > threshold }
    case let .itcTopK(count):
      let ranked = itc.indices.sorted { itc[$0] > itc[$1] || (itc[$0] == itc[$1] && $0 < $1) }
      let kept = Set(ranked.prefix(count))
      return itc.indices.map { kept.contains($0) }
    }
  }
}
