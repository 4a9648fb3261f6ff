// A mask as a graph, for small sizes: which token can read which, as arrows. Edges point the way information
// flows: an edge j -> i means token i may attend to (read) token j.

import Blip2Core

/// An attention mask as a token graph: a node per token (`q0`, `t3`, ...), a box (cluster) per segment, and an
/// edge `j -> i` for every allowed pair, meaning token `i` may attend to (reads) token `j`: arrows follow the
/// information. Self-attention (a token reading itself) is a loop, drawn unless `selfLoops` is off.
/// Edges are coloured like the grid's cells: by (reading segment, read segment).
public struct TokenGraph: GraphvizDrawing, Sendable {
  /// The largest mask drawn by default; beyond it the graph is an unreadable tangle (use `MaskGrid`).
  public static let defaultMaxTokens = 16

  /// The mask drawn.
  public let mask: AttentionMask
  /// The title above the graph.
  public var title: String
  /// Whether a token reading itself is drawn as a loop (then edges = allowed cells exactly).
  public var selfLoops: Bool

  /// A token graph of `mask`.
  /// - Throws: `RenderError.invalidInput` when the mask has more than `maxTokens` tokens.
  public init(_ mask: AttentionMask, title: String? = nil, selfLoops: Bool = true, maxTokens: Int = defaultMaxTokens) throws {
    guard mask.size <= maxTokens else {
      throw RenderError.invalidInput(
        "A token graph of \(mask.size) tokens would have up to \(mask.size * mask.size) edges; it is drawn for at "
          + "most \(maxTokens) tokens. Draw a MaskGrid instead, or pass a larger maxTokens.")
    }
    self.mask = mask
    self.title = title ?? "\(mask.layout)"
    self.selfLoops = selfLoops
  }

  /// The node id of global position `position`: `"tok7"`.
  public static func nodeID(_ position: Int) -> String { "tok\(position)" }

  /// The graph: a cluster per segment holding its tokens, then one edge per allowed (row, column) pair.
  public var dot: DOTGraph {
    let layout = mask.layout
    var graph = DOTGraph(
      name: "tokens",
      attributes: [
        "label": .text(title + "\nedge j → i: token i reads token j"), "labelloc": "t", "fontname": "Helvetica",
        "rankdir": "LR", "nodesep": "0.15", "ranksep": "1.2", "newrank": "true",
      ],
      nodeDefaults: ["shape": "circle", "style": "filled", "fontname": "Helvetica", "fontsize": "10",
                     "width": "0.35", "fixedsize": "true", "fontcolor": "white"],
      edgeDefaults: ["arrowsize": "0.5", "penwidth": "0.8"])
    let names = layout.segmentNames
    let abbreviations = Self.abbreviations(names)
    for (index, segment) in layout.segments.enumerated() {
      guard let range = layout.range(of: segment.name), !range.isEmpty else { continue }
      let color = MaskGrid.pairColor(row: index, column: index, segmentCount: names.count)
      var cluster = DOTGraph(
        name: "cluster_\(index)",
        attributes: ["label": .text(segment.name), "style": "rounded", "color": .text(color), "fontcolor": .text(color)])
      for position in range {
        cluster.addNode(Self.nodeID(position), [
          "label": .text("\(abbreviations[index])\(position - range.lowerBound)"), "fillcolor": .text(color),
        ])
      }
      graph.addSubgraph(cluster)
    }
    let segmentIndex = layout.segments.indices.flatMap { index in
      Array(repeating: index, count: layout.segments[index].length)
    }
    for row in 0 ..< mask.size {
      for column in 0 ..< mask.size where mask[row, column] && (selfLoops || row != column) {
        let color = MaskGrid.pairColor(row: segmentIndex[row], column: segmentIndex[column], segmentCount: names.count)
        graph.addEdge(Self.nodeID(column), Self.nodeID(row), ["color": .text(color)])
      }
    }
    return graph
  }

  /// Short token prefixes: each segment's first letter, or its whole name where first letters clash.
  static func abbreviations(_ names: [String]) -> [String] {
    let initials = names.map { String($0.prefix(1)) }
    return names.indices.map { index in
      initials.filter { $0 == initials[index] }.count == 1 ? initials[index] : names[index] + " "
    }
  }
}
