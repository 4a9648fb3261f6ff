// The leak check. BLIP-2's ITG rests on two facts about its mask (PAPER.md, "Stage 1"): the text can read the
// image only through the queries, and a text token never learns a later one (it has to predict it). Within
// one layer a mask is easy to read; across a stack of layers information also flows along paths (text 0
// reads a query that read text 2 in the layer below), so the check follows paths, one attention edge per layer.

extension AttentionMask {
  /// One finding of the leak check, with a plain-sentence `description`.
  public struct Leak: Hashable, Sendable, CustomStringConvertible {
    /// What kind of finding this is.
    public enum Kind: Hashable, Sendable {
      /// A text token can receive information from a later text token: in ITG, the token it must predict.
      case futureText
      /// No text token can read any query, so the text cannot use the image (intended for ITC, not ITM/ITG).
      case imageUnreachable
    }

    /// What kind of finding this is.
    public let kind: Kind
    /// For `.futureText`: the global positions along the path, the reading text token first and the later text
    /// token last; each position reads the next one, one layer per step. Empty for `.imageUnreachable`.
    public let path: [Int]
    /// The finding as a sentence, e.g. "text token 0 can read text token 2 (a later token) through query 1 at
    /// depth 2: in ITG this leaks a token it has to predict."
    public let description: String

    /// The number of layers the path needs (0 for `.imageUnreachable`).
    public var depth: Int { max(path.count - 1, 0) }
  }

  /// Checks the information flow this mask allows through `layers` stacked attention layers: every path on
  /// which a text token reads a later text token (a future leak), and whether any text token can read the
  /// image (the `imageSegment`) at all.
  ///
  /// A token's output after `layers` layers depends on every token it reaches in at most `layers` attention
  /// edges (rows read columns; the residual stream keeps what a token had). Each reported path is a shortest
  /// one, ties broken towards lower positions. With the paper's multimodal-causal mask nothing leaks; letting
  /// the queries also see the text opens a leak at depth 2.
  /// - Parameters:
  ///   - imageSegment: the segment that carries the image (the queries, through cross-attention).
  ///   - textSegments: the segments whose tokens must not read later ones; "later" is by global position.
  ///   - layers: how many attention layers to follow (at least 1).
  /// - Throws: `MaskError.unknownSegment` for a segment the layout lacks, `MaskError.invalidLayerCount`.
  public func imageLeaks(
    imageSegment: String = TokenLayout.queries, textSegments: [String] = [TokenLayout.text], layers: Int = 2
  ) throws -> [Leak] {
    guard layers >= 1 else { throw MaskError.invalidLayerCount(layers) }
    let image = try layout.requireRange(of: imageSegment)
    let text = try textSegments.flatMap { try layout.requireRange(of: $0) }.sorted()

    var leaks = [Leak]()
    var textReadsImage = false
    for reader in text {
      let parent = shortestReadPaths(from: reader, maxDepth: layers)
      if image.contains(where: { parent[$0] != nil }) { textReadsImage = true }
      for source in text where source > reader && parent[source] != nil {
        leaks.append(futureLeak(path: Self.path(to: source, parents: parent)))
      }
    }
    if !text.isEmpty && !textReadsImage {
      let readers = MaskError.sentenceList(textSegments, conjunction: "or")
      let imageToken = imageSegment == TokenLayout.queries ? "query" : "\(imageSegment) token"
      let sentence = "No \(readers) token can read any \(imageToken) within \(layers) layer\(layers == 1 ? "" : "s"): "
        + "the text cannot use the image (intended for ITC's unimodal mask; for ITM and ITG the image is lost)."
      leaks.append(Leak(kind: .imageUnreachable, path: [], description: sentence))
    }
    return leaks
  }

  /// Breadth-first search along "reads" edges from `start`, at most `maxDepth` edges deep. Entry `p` is the
  /// position from which `p` was first reached (`start` for itself), or `nil` if `p` is out of reach.
  private func shortestReadPaths(from start: Int, maxDepth: Int) -> [Int?] {
    var parent = [Int?](repeating: nil, count: size)
    parent[start] = start
    var frontier = [start]
    for _ in 0 ..< maxDepth where !frontier.isEmpty {
      var next = [Int]()
      for position in frontier {
        for column in 0 ..< size where self[position, column] && parent[column] == nil {
          parent[column] = position
          next.append(column)
        }
      }
      frontier = next.sorted()
    }
    return parent
  }

  /// The path from the search's start to `end`, following `parents` back.
  private static func path(to end: Int, parents: [Int?]) -> [Int] {
    var path = [end]
    while let previous = parents[path[path.count - 1]], previous != path[path.count - 1] { path.append(previous) }
    return path.reversed()
  }

  private func futureLeak(path: [Int]) -> Leak {
    let reader = tokenName(path[0]), source = tokenName(path[path.count - 1])
    let via = path.dropFirst().dropLast().map(tokenName)
    let route = via.isEmpty ? "directly" : "through " + MaskError.sentenceList(via) + " at depth \(path.count - 1)"
    let sentence = "\(reader) can read \(source) (a later token) \(route): in ITG this leaks a token it has to "
      + "predict."
    return Leak(kind: .futureText, path: path, description: sentence)
  }

  /// "query 1" for a position in the queries, "text token 2" elsewhere (offsets within the segment).
  private func tokenName(_ position: Int) -> String {
    guard let name = layout.segmentName(at: position), let range = layout.range(of: name) else {
      return "token \(position)"
    }
    return name == TokenLayout.queries ? "query \(position - range.lowerBound)"
      : "\(name) token \(position - range.lowerBound)"
  }
}
