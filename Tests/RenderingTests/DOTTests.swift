import Blip2Core
import Foundation
import Testing

@testable import Rendering

/// The DOT layer: escaping, deterministic text, and the golden files of small drawings.
@Suite struct DOTTests {
  @Test func quotedEscapesQuotesBackslashesAndNewlines() {
    #expect(DOT.quoted("plain") == "\"plain\"")
    #expect(DOT.quoted("say \"hi\"") == "\"say \\\"hi\\\"\"")
    #expect(DOT.quoted("a\\nb") == "\"a\\\\nb\"")         // a literal backslash-n stays literal
    #expect(DOT.quoted("two\nlines") == "\"two\\nlines\"")  // a real line break becomes \n
    #expect(DOT.quoted("x -> y; }") == "\"x -> y; }\"")
  }

  @Test func htmlEscapeEscapesMarkup() {
    #expect(HTML.escape("<B>&\"'</B>") == "&lt;B&gt;&amp;&quot;&#39;&lt;/B&gt;")
    #expect(HTML.escape("a\nb") == "a<BR/>b")
  }

  @Test func awkwardLabelsStillRender() throws {
    var graph = DOTGraph(name: "awkward \"graph\"")
    graph.addNode("n\"1", ["label": "quote \" backslash \\ brace } arrow -> semicolon ;\nnew line"])
    graph.addNode("n2", ["label": .html("<B>" + HTML.escape("<table> & </TD>") + "</B>")])
    graph.addEdge("n\"1", "n2", ["label": "[B, 32, 768]"])
    let svg = String(decoding: try Graphviz.render(dot: graph.text, format: .svg), as: UTF8.self)
    #expect(svg.contains("quote &quot; backslash \\ brace } arrow &#45;&gt; semicolon ;"))
    #expect(svg.contains("&lt;table&gt; &amp; &lt;/TD&gt;"))
  }

  @Test func attributesKeepOrderAndReplaceInPlace() {
    var attributes: DOTAttributes = ["shape": "box", "style": "filled"]
    attributes["shape"] = "circle"
    attributes["color"] = "red"
    attributes["style"] = nil
    #expect(attributes.dotText == "[shape=\"circle\", color=\"red\"]")
  }

  @Test func graphTextNestsSubgraphs() {
    var graph = DOTGraph(name: "g", attributes: ["rankdir": "LR"], nodeDefaults: ["shape": "box"])
    var cluster = DOTGraph(name: "cluster_a", attributes: ["label": "A"])
    cluster.addNode("a1")
    graph.addSubgraph(cluster)
    graph.addEdge("a1", "b", ["label": "x"])
    #expect(graph.text == """
      digraph "g" {
        rankdir="LR";
        node [shape="box"];
        subgraph "cluster_a" {
          label="A";
          "a1";
        }
        "a1" -> "b" [label="x"];
      }

      """)
    #expect(graph.edgeCount == 1)
  }

  @Test func maskGridMatchesGoldenFile() throws {
    let layout = try TokenLayout.queriesAndText(queries: 2, text: 2)
    let grid = try MaskGrid(.multimodalCausal(layout), title: "ITG", valid: [true, true, true, false])
    try expectGolden(grid.dot.text, "mask-grid-itg-q2-t2.dot")
  }

  @Test func paperMasksMatchGoldenFile() throws {
    try expectGolden(MaskGrid.paperMasks(queries: 2, text: 2, textValid: 1).text, "paper-masks-q2-t2.dot")
  }

  @Test func qformerDiagramMatchesGoldenFile() throws {
    let diagram = try QFormerDiagram(.init(layers: 2, crossAttentionEvery: 2, queries: 4, hidden: 8, imageWidth: 6,
                                           contrastiveWidth: 3), imageTokens: 5, languageModel: ("toy LM", 10))
    try expectGolden(diagram.dot.text, "qformer-diagram-toy.dot")
  }

  @Test func modelGraphMatchesGoldenFile() throws {
    let graph = ModelGraph(title: "toy", nodes: [
      ModelGraphNode(name: "encoder", kind: "ViT", frozen: true, parameters: 5_000_000),
      ModelGraphNode(name: "bridge", kind: "Q-Former", parameters: 1_200_000, children: [
        ModelGraphNode(name: "layers", kind: "layer", parameters: 1_000_000, repeats: 4, id: "bridge.layers"),
        ModelGraphNode(name: "queries", parameters: 200_000, id: "bridge.queries"),
      ]),
    ], edges: [ModelGraphEdge(from: "encoder", to: "bridge", shape: ["B", "65", "192"])])
    try expectGolden(graph.dot.text, "model-graph-toy.dot")
  }
}

/// Compares `text` with `Fixtures/<name>`; with `BLIP2LAB_UPDATE_GOLDEN=1` rewrites the file in the source tree.
func expectGolden(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
  if ProcessInfo.processInfo.environment["BLIP2LAB_UPDATE_GOLDEN"] == "1" {
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    try text.write(to: source, atomically: true, encoding: .utf8)
    return
  }
  let url = try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"),
                         "missing golden file Fixtures/\(name)", sourceLocation: sourceLocation)
  let golden = try String(contentsOf: url, encoding: .utf8)
  #expect(text == golden, "differs from Fixtures/\(name); rerun with BLIP2LAB_UPDATE_GOLDEN=1 if the change is intended",
          sourceLocation: sourceLocation)
}
