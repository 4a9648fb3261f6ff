// The Q-Former's inside (PAPER.md, "Model architecture"): learned queries and text share the self-attention
// layers; only the queries cross-attend to the frozen image features, every `crossAttentionEvery` layers;
// queries and text have their own feed-forward layers. Stage 1 trains three heads on the outputs (ITC, ITM,
// ITG, each with its own self-attention mask); stage 2 keeps only the query outputs, projects them to the
// frozen LLM's width and feeds them to it as a soft prompt. Driven by sizes alone, so it does not depend on the
// Q-Former plugin's code.

import Blip2Core

/// A diagram of the Q-Former's layers, its three stage-1 heads and its stage-2 path into the LLM.
public struct QFormerDiagram: GraphvizDrawing, Sendable {
  /// The sizes the diagram is drawn for.
  public struct Configuration: Hashable, Sendable {
    /// Transformer layers (12 in the paper).
    public var layers: Int
    /// Cross-attention to the image in layers 0, N, 2N, ... (2 in the paper: every other layer).
    public var crossAttentionEvery: Int
    /// Learned queries (32).
    public var queries: Int
    /// Hidden width (768, BERT-base).
    public var hidden: Int
    /// Width of the image features the queries cross-attend to (1408 for ViT-g).
    public var imageWidth: Int
    /// Width of the ITC embedding both sides are projected to (256).
    public var contrastiveWidth: Int

    /// Sizes for the diagram.
    public init(layers: Int, crossAttentionEvery: Int, queries: Int, hidden: Int, imageWidth: Int, contrastiveWidth: Int = 256) {
      self.layers = layers
      self.crossAttentionEvery = crossAttentionEvery
      self.queries = queries
      self.hidden = hidden
      self.imageWidth = imageWidth
      self.contrastiveWidth = contrastiveWidth
    }

    /// Whether layer `index` (from 0) has cross-attention to the image.
    public func hasCrossAttention(_ index: Int) -> Bool {
      crossAttentionEvery > 0 && index % crossAttentionEvery == 0
    }

    /// A rough parameter count: per layer 4h² (self-attention) + 2·8h² (query and text feed-forward), plus
    /// 2h² + 2·h·imageWidth per cross-attention layer, plus word embeddings, queries and the ITC projections.
    public func estimatedParameters(vocabulary: Int = 30_522) -> Int {
      let h = hidden
      let crossLayers = (0 ..< layers).filter(hasCrossAttention).count
      return layers * (4 * h * h + 16 * h * h) + crossLayers * (2 * h * h + 2 * h * imageWidth)
        + vocabulary * h + queries * h + 2 * h * contrastiveWidth
    }
  }

  /// The sizes.
  public var configuration: Configuration
  /// The frozen LLM's name and input width for the stage-2 path, or `nil` to leave stage 2 out.
  public var languageModel: (name: String, width: Int)?
  /// The number of image tokens the queries cross-attend to (257 for ViT-g at 224 px).
  public var imageTokens: Int

  /// A diagram for `configuration`.
  /// - Throws: `RenderError.invalidInput` for non-positive sizes.
  public init(_ configuration: Configuration, imageTokens: Int, languageModel: (name: String, width: Int)? = nil) throws {
    let sizes = [configuration.layers, configuration.queries, configuration.hidden, configuration.imageWidth, imageTokens]
    guard sizes.allSatisfy({ $0 > 0 }), configuration.crossAttentionEvery >= 0 else {
      throw RenderError.invalidInput(
        "A Q-Former diagram needs positive sizes (layers, queries, hidden, image width, image tokens) and "
          + "crossAttentionEvery >= 0; got \(configuration) with \(imageTokens) image tokens.")
    }
    self.configuration = configuration
    self.imageTokens = imageTokens
    self.languageModel = languageModel
  }

  /// The diagram of a preset's Q-Former, with its LLM.
  public init(preset: ModelPreset) throws {
    try self.init(preset.qformer, imageTokens: preset.imageTokens, languageModel: (preset.lmName, preset.lmWidth))
  }

  /// The DOT graph: inputs at the top, the layer stack, then the heads grouped by the stage that uses them.
  public var dot: DOTGraph {
    let c = configuration
    let trainable = ModelGraph.style(.trainable), frozen = ModelGraph.style(.frozen), plain = ModelGraph.style(.none)
    var graph = DOTGraph(
      name: "qformer",
      attributes: ["label": .text("Q-Former inside: \(c.layers) layers × \(c.hidden), \(c.queries) queries, "
                                  + "cross-attention every \(c.crossAttentionEvery) layer\(c.crossAttentionEvery == 1 ? "" : "s")"),
                   "labelloc": "t", "fontname": "Helvetica", "fontsize": "16", "rankdir": "TB", "compound": "true", "newrank": "true",
                   "nodesep": "0.4", "ranksep": "0.35"],
      nodeDefaults: ["shape": "box", "fontname": "Helvetica", "fontsize": "11"],
      edgeDefaults: ["fontname": "Helvetica", "fontsize": "10", "color": "#333333"])

    var inputs = DOTGraph(name: "inputs", attributes: ["rank": "same"])
    inputs.addNode("queries", trainable.merging(["label": .text("learned queries\n[\(c.queries), \(c.hidden)]")]))
    inputs.addNode("text", plain.merging(["label": "text tokens\n[CLS] w1 … wL", "shape": "ellipse"]))
    graph.addSubgraph(inputs)

    var stack = DOTGraph(
      name: "cluster_layers",
      attributes: trainable.merging(["label": "Q-Former layers (trainable)\nself-attention shared by queries and text",
                                     "fillcolor": "#EAF2FF", "style": "filled,rounded"]))
    for index in 0 ..< c.layers { stack.addNode("layer\(index)", ["shape": "plaintext", "label": .html(layerHTML(index))]) }
    graph.addSubgraph(stack)
    graph.addEdge("queries", "layer0", ["label": " queries "])
    graph.addEdge("text", "layer0", ["label": " text "])
    for index in 1 ..< max(c.layers, 1) { graph.addEdge("layer\(index - 1)", "layer\(index)") }
    // The frozen image features beside every layer that reads them (rank=same across the cluster: newrank).
    for index in 0 ..< c.layers where c.hasCrossAttention(index) {
      var row = DOTGraph(name: "cross\(index)", attributes: ["rank": "same"])
      row.addNode("layer\(index)")
      row.addNode("image\(index)", frozen.merging([
        "label": .text("frozen image features\n[B, \(imageTokens), \(c.imageWidth)]"), "fontsize": "10",
      ]))
      graph.addSubgraph(row)
      graph.addEdge("image\(index)", "layer\(index)", ["headport": "cross:e", "color": "#888888", "style": "dashed"])
    }

    let last = "layer\(c.layers - 1)"
    graph.addNode("queryOut", trainable.merging(["label": .text("query outputs\n[B, \(c.queries), \(c.hidden)]")]))
    graph.addNode("textOut", plain.merging(["label": .text("text outputs\n[B, L, \(c.hidden)]"), "shape": "ellipse"]))
    graph.addEdge(last, "queryOut")
    graph.addEdge(last, "textOut")

    var stage1 = DOTGraph(
      name: "cluster_stage1",
      attributes: ["label": "stage 1: representation learning\n(one self-attention mask per objective)", "style": "rounded",
                   "color": "#1F5FBF", "fontcolor": "#1F5FBF"])
    let heads = [
      ("itc", "ITC head\nproject to \(c.contrastiveWidth),\nmax similarity over queries\nmask: unimodal"),
      ("itm", "ITM head\nlinear 2-way per query,\naveraged\nmask: bidirectional"),
      ("itg", "ITG head\nlanguage-model head\non the text\nmask: multimodal causal"),
    ]
    for (id, text) in heads { stage1.addNode(id, trainable.merging(["label": .text(text)])) }
    graph.addSubgraph(stage1)
    graph.addEdge("queryOut", "itc")
    graph.addEdge("textOut", "itc")
    graph.addEdge("queryOut", "itm")
    graph.addEdge("textOut", "itg")

    if let languageModel {
      var stage2 = DOTGraph(
        name: "cluster_stage2",
        attributes: ["label": "stage 2: generative learning\n(query outputs only)", "style": "rounded",
                     "color": "#8E44AD", "fontcolor": "#8E44AD"])
      stage2.addNode("projection", trainable.merging(["label": .text("projection (Linear)\n\(c.hidden) → \(languageModel.width)")]))
      stage2.addNode("llm", frozen.merging(["label": .text("\(languageModel.name)\nfrozen LLM")]))
      stage2.addEdge("projection", "llm", ["label": .text(" soft prompt [B, \(c.queries), \(languageModel.width)] ")])
      graph.addSubgraph(stage2)
      graph.addEdge("queryOut", "projection", ["color": "#8E44AD"])
    }
    return graph
  }

  /// One layer as a small table: self-attention, cross-attention (port `cross`) when present, feed-forwards.
  func layerHTML(_ index: Int) -> String {
    let cross = configuration.hasCrossAttention(index)
    var html = "<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"3\" BGCOLOR=\"white\" COLOR=\"#1F5FBF\">"
    html += "<TR><TD COLSPAN=\"2\" BGCOLOR=\"#CFE2FF\"><B>layer \(index)</B></TD></TR>"
    html += "<TR><TD COLSPAN=\"2\">self-attention (queries + text, masked)</TD></TR>"
    if cross {
      html += "<TR><TD COLSPAN=\"2\" PORT=\"cross\" BGCOLOR=\"#FFF0C2\">cross-attention: queries read the image</TD></TR>"
    }
    html += "<TR><TD>feed-forward (queries)</TD><TD>feed-forward (text)</TD></TR>"
    return html + "</TABLE>"
  }
}

extension DOTAttributes {
  /// These attributes with `other`'s added (replacing any of the same name).
  public func merging(_ other: DOTAttributes) -> DOTAttributes {
    var result = self
    for (name, value) in other.pairs { result[name] = value }
    return result
  }
}
