// A model graph: parts as boxes (clusters when they have parts inside), frozen parts grey and dashed,
// trainable parts blue, parameter counts in every box, tensor shapes on the edges.

import Blip2Core
import Tensor

/// A model drawn as a graph of its parts.
///
/// ```swift
/// let graph = ModelGraph(title: "toy", nodes: [
///   ModelGraphNode(name: "encoder", kind: "ViT", frozen: true, parameters: 5_000_000),
///   ModelGraphNode(name: "bridge", kind: "Q-Former", parameters: 1_200_000),
/// ], edges: [ModelGraphEdge(from: "encoder", to: "bridge", shape: ["B", "65", "192"])])
/// try graph.write(to: URL(fileURLWithPath: "model.svg"))
/// ```
public struct ModelGraph: GraphvizDrawing, Sendable {
  /// The title above the graph.
  public var title: String
  /// The top-level parts, in order.
  public var nodes: [ModelGraphNode]
  /// The connections between parts (by node id, at any depth).
  public var edges: [ModelGraphEdge]
  /// `LR` (left to right, the default) or `TB` (top to bottom).
  public var direction: String
  /// Whether a legend explaining the styles is drawn.
  public var showsLegend: Bool

  /// A graph of `nodes` and `edges`.
  public init(title: String, nodes: [ModelGraphNode], edges: [ModelGraphEdge] = [], direction: String = "LR",
              showsLegend: Bool = true) {
    self.title = title
    self.nodes = nodes
    self.edges = edges
    self.direction = direction
    self.showsLegend = showsLegend
  }

  // MARK: - Styles

  /// The DOT attributes of a part with `status`: frozen grey and dashed, trainable blue and bold, partial amber.
  public static func style(_ status: ModelGraphNode.Status) -> DOTAttributes {
    switch status {
    case .frozen: ["style": "filled,dashed", "fillcolor": "#EEEEEE", "color": "#888888", "fontcolor": "#555555"]
    case .trainable: ["style": "filled,bold", "fillcolor": "#CFE2FF", "color": "#1F5FBF", "fontcolor": "#0B2E6B"]
    case .partial: ["style": "filled", "fillcolor": "#FFF0C2", "color": "#B8860B", "fontcolor": "#5C4300"]
    case .none: ["style": "solid", "color": "#444444", "fontcolor": "#222222"]
    }
  }

  /// The lighter fill of a part drawn as a cluster, so the boxes inside stand out.
  static func clusterFill(_ status: ModelGraphNode.Status) -> String {
    switch status {
    case .frozen: "#F7F7F7"
    case .trainable: "#EEF4FF"
    case .partial: "#FFF9E6"
    case .none: "white"
    }
  }

  /// The text of a part: name, kind (×repeats), parameter counts and status.
  public static func label(_ node: ModelGraphNode) -> String {
    var lines = [node.name]
    var kind = node.kind
    if node.repeats > 1 { kind += (kind.isEmpty ? "" : " ") + "×\(node.repeats)" }
    if !kind.isEmpty && kind != node.name { lines.append(kind) }
    if let detail = node.detail { lines.append(detail) }
    if let parameters = node.parameters, parameters > 0 {
      let trainable = node.trainableCount ?? 0
      switch node.status {
      case .frozen: lines.append("\(formatCount(parameters)) params, frozen")
      case .trainable: lines.append("\(formatCount(parameters)) params, trainable")
      case .partial, .none: lines.append("\(formatCount(trainable)) of \(formatCount(parameters)) params trainable")
      }
    } else if node.frozen {
      lines.append("frozen")
    }
    return lines.joined(separator: "\n")
  }

  // MARK: - DOT

  /// The graph: a box per leaf part, a cluster per part with children, edges with shape labels.
  public var dot: DOTGraph {
    let total = nodes.compactMap(\.parameters).reduce(0, +)
    let trainable = nodes.compactMap(\.trainableCount).reduce(0, +)
    var heading = title
    if total > 0 { heading += "\ntrainable \(formatCount(trainable)) of \(formatCount(total)) parameters" }
    var graph = DOTGraph(
      name: "model",
      attributes: ["label": .text(heading), "labelloc": "t", "fontname": "Helvetica", "fontsize": "16",
                   "rankdir": .text(direction), "compound": "true", "nodesep": "0.3", "ranksep": "0.45"],
      nodeDefaults: ["shape": "box", "fontname": "Helvetica", "fontsize": "11", "margin": "0.15,0.06"],
      edgeDefaults: ["fontname": "Helvetica", "fontsize": "10", "color": "#333333"])
    var clusters = Set<String>()
    var anchors = [String: String]()
    for node in nodes { Self.add(node, to: &graph, clusters: &clusters, anchors: &anchors) }
    for edge in edges {
      var attributes: DOTAttributes = [:]
      if let label = edge.label { attributes["label"] = .text(" " + label + " ") }
      if edge.dashed { attributes["style"] = "dashed" }
      if clusters.contains(edge.from) { attributes["ltail"] = .text(Self.clusterName(edge.from)) }
      if clusters.contains(edge.to) { attributes["lhead"] = .text(Self.clusterName(edge.to)) }
      graph.addEdge(anchors[edge.from] ?? edge.from, anchors[edge.to] ?? edge.to, attributes)
    }
    if showsLegend { graph.addSubgraph(Self.legend()) }
    return graph
  }

  static func clusterName(_ id: String) -> String { "cluster_" + id }

  /// Adds `node` (a box, or a cluster of its children) and records where edges to it attach.
  private static func add(
    _ node: ModelGraphNode, to graph: inout DOTGraph, clusters: inout Set<String>, anchors: inout [String: String]
  ) {
    guard !node.children.isEmpty else {
      var attributes = style(node.status)
      attributes["label"] = .text(label(node))
      if node.status == .none { attributes["shape"] = "ellipse" }
      graph.addNode(node.id, attributes)
      return
    }
    var cluster = DOTGraph(name: clusterName(node.id), attributes: style(node.status))
    cluster.attributes["fillcolor"] = .text(clusterFill(node.status))
    cluster.attributes["label"] = .text(label(node))
    cluster.attributes["fontname"] = "Helvetica"
    cluster.attributes["fontsize"] = "12"
    for child in node.children { add(child, to: &cluster, clusters: &clusters, anchors: &anchors) }
    graph.addSubgraph(cluster)
    clusters.insert(node.id)
    if let first = node.children.first { anchors[node.id] = anchors[first.id] ?? first.id }
  }

  /// A small legend: one box per style.
  static func legend() -> DOTGraph {
    var legend = DOTGraph(
      name: "cluster_legend", attributes: ["label": "legend", "style": "rounded", "color": "#BBBBBB", "fontsize": "10"])
    for (id, status, text) in [("legend_trainable", ModelGraphNode.Status.trainable, "trainable"),
                               ("legend_frozen", .frozen, "frozen")] {
      var attributes = style(status)
      attributes["label"] = .text(text)
      attributes["fontsize"] = "10"
      legend.addNode(id, attributes)
    }
    // No edge between the two: they share a rank, so the legend stays one box wide (or high) whatever the
    // ranks of the model beside it are.
    return legend
  }
}

extension ModelGraph {
  /// The pipeline of a composed model: image → encoder → bridge → projection → LM → text, with shapes
  /// (`B` for the batch) and, to `depth` levels, the parts inside each component.
  public init(model: Blip2Model, depth: Int = 0, title: String = "BLIP-2 model") {
    let encoder = model.encoder, bridge = model.bridge
    var nodes = [ModelGraphNode(name: "image", kind: "RGB \(encoder.imageSize)×\(encoder.imageSize)")]
    var edges = [ModelGraphEdge]()
    func component(_ id: String, _ module: Module, _ kind: String, _ summary: String) -> ModelGraphNode {
      var node = ModelGraphNode(module: module, name: id, kind: kind, depth: depth)
      node.detail = Self.wrapped(summary)
      return node
    }
    nodes.append(component("encoder", encoder.module, encoder.kind, encoder.summary))
    edges.append(ModelGraphEdge(from: "image", to: "encoder", shape: ["B", "3", "\(encoder.imageSize)", "\(encoder.imageSize)"]))
    nodes.append(component("bridge", bridge.module, bridge.kind, bridge.summary))
    edges.append(ModelGraphEdge(from: "encoder", to: "bridge", shape: ["B", "\(encoder.tokenCount)", "\(encoder.featureDim)"]))
    if let projection = model.projection, let lm = model.languageModel {
      nodes.append(component("projection", projection, "Linear", "\(projection.inFeatures) → \(projection.outFeatures)"))
      edges.append(ModelGraphEdge(from: "bridge", to: "projection", shape: ["B", "\(bridge.outputTokens)", "\(bridge.outputDim)"]))
      nodes.append(component("lm", lm.module, lm.kind, lm.summary))
      edges.append(ModelGraphEdge(from: "projection", to: "lm", shape: ["B", "\(bridge.outputTokens)", "\(lm.embeddingDim)"]))
      nodes.append(ModelGraphNode(name: "text", kind: "generated text"))
      edges.append(ModelGraphEdge(from: "lm", to: "text"))
    } else {
      nodes.append(ModelGraphNode(name: "features", kind: "query outputs"))
      edges.append(ModelGraphEdge(from: "bridge", to: "features", shape: ["B", "\(bridge.outputTokens)", "\(bridge.outputDim)"]))
    }
    self.init(title: title, nodes: nodes, edges: edges)
  }

  /// `text` broken into lines of about `width` characters after its commas (a component's one-line summary
  /// would otherwise make its box as wide as the whole drawing).
  public static func wrapped(_ text: String, width: Int = 44) -> String {
    var lines = [String](), line = ""
    for piece in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
      let candidate = line.isEmpty ? piece : line + "," + piece
      if !line.isEmpty && candidate.count > width {
        lines.append(line + ",")
        line = String(piece.drop { $0 == " " })
      } else {
        line = candidate
      }
    }
    return (lines + [line]).joined(separator: "\n")
  }

  /// The pipeline of a preset's sizes (no model built): image → encoder → Q-Former → projection → LM.
  public init(preset: ModelPreset) {
    let q = preset.qformer
    let imageTokens = preset.imageTokens
    let nodes = [
      ModelGraphNode(name: "image", kind: "RGB \(preset.imageSize)×\(preset.imageSize)"),
      ModelGraphNode(name: "encoder", kind: preset.encoderName, frozen: true, parameters: preset.encoderParameters,
                     detail: "\(imageTokens) tokens × \(preset.encoderWidth)"),
      ModelGraphNode(name: "bridge", kind: "Q-Former", parameters: preset.qformerParameters,
                     detail: "\(q.queries) queries × \(q.hidden), \(q.layers) layers, cross-attention every \(q.crossAttentionEvery)"),
      ModelGraphNode(name: "projection", kind: "Linear", parameters: q.hidden * preset.lmWidth + preset.lmWidth,
                     detail: "\(q.hidden) → \(preset.lmWidth)"),
      ModelGraphNode(name: "lm", kind: preset.lmName, frozen: true, parameters: preset.lmParameters,
                     detail: "width \(preset.lmWidth)"),
      ModelGraphNode(name: "text", kind: "generated text"),
    ]
    let edges = [
      ModelGraphEdge(from: "image", to: "encoder", shape: ["B", "3", "\(preset.imageSize)", "\(preset.imageSize)"]),
      ModelGraphEdge(from: "encoder", to: "bridge", shape: ["B", "\(imageTokens)", "\(preset.encoderWidth)"]),
      ModelGraphEdge(from: "bridge", to: "projection", shape: ["B", "\(q.queries)", "\(q.hidden)"]),
      ModelGraphEdge(from: "projection", to: "lm", shape: ["B", "\(q.queries)", "\(preset.lmWidth)"]),
      ModelGraphEdge(from: "lm", to: "text"),
    ]
    self.init(title: "\(preset.name): \(preset.encoderName) → Q-Former → \(preset.lmName)", nodes: nodes, edges: edges)
  }
}
