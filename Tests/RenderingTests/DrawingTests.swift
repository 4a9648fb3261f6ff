import Blip2Core
import Foundation
import Tensor
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

@testable import Rendering

/// Token graphs, model graphs, the Q-Former diagram and cross-attention maps.
@Suite struct DrawingTests {
  @Test(arguments: [Objective.itc, .itm, .itg])
  func tokenGraphHasOneEdgePerAllowedPair(_ objective: Objective) throws {
    let layout = try TokenLayout.queriesAndText(queries: 3, text: 4)
    let mask = try objective.paperMask.mask(for: layout)
    let graph = try TokenGraph(mask).dot
    #expect(graph.edgeCount == mask.allowedCount)
    #expect(graph.text.components(separatedBy: " -> ").count - 1 == mask.allowedCount)
    let withoutLoops = try TokenGraph(mask, selfLoops: false).dot
    #expect(withoutLoops.edgeCount == mask.allowedCount - mask.size)
  }

  @Test func tokenGraphEdgesPointFromReadToReader() throws {
    let layout = try TokenLayout.queriesAndText(queries: 1, text: 2)
    let text = try TokenGraph(.multimodalCausal(layout)).dot.text
    #expect(text.contains("\"tok0\" -> \"tok2\""))    // text 1 reads the query
    #expect(!text.contains("\"tok2\" -> \"tok1\""))   // text 0 may not read text 1
    #expect(text.contains("subgraph \"cluster_0\"") && text.contains("label=\"queries\""))
  }

  @Test func tokenGraphRefusesLargeMasks() throws {
    let layout = try TokenLayout.queriesAndText(queries: 32, text: 8)
    #expect(throws: RenderError.self) { try TokenGraph(.bidirectional(layout)) }
  }

  @Test func modelGraphStylesFrozenAndTrainableDifferently() throws {
    let graph = ModelGraph(title: "t", nodes: [
      ModelGraphNode(name: "vit", kind: "ViT", frozen: true, parameters: 1000),
      ModelGraphNode(name: "qformer", kind: "Q-Former", parameters: 500),
      ModelGraphNode(name: "mixed", parameters: 500, trainableParameters: 100),
    ], edges: [ModelGraphEdge(from: "vit", to: "qformer", shape: ["B", "257", "1408"])])
    let statements = graph.dot.statements
    func attributes(_ id: String) -> DOTAttributes? {
      for case let .node(nodeID, attributes) in statements where nodeID == id { return attributes }
      return nil
    }
    let frozen = try #require(attributes("vit")), trainable = try #require(attributes("qformer"))
    #expect(frozen["style"] == "filled,dashed" && trainable["style"] == "filled,bold")
    #expect(frozen["fillcolor"] != trainable["fillcolor"])
    #expect(attributes("mixed")?["fillcolor"] == ModelGraph.style(.partial)["fillcolor"])
    #expect(ModelGraph.label(graph.nodes[0]).contains("1.0K params, frozen"))
    #expect(ModelGraph.label(graph.nodes[2]).contains("100 of 500 params trainable"))
    #expect(graph.dot.text.contains("label=\" [B, 257, 1408] \""))
    #expect(String(decoding: try graph.render(.svg), as: UTF8.self).contains("<svg"))
  }

  @Test func moduleTreeCollapsesRepeatedLayers() throws {
    var rng = RandomGenerator(seed: 1)
    let stack = Stack(layers: (0 ..< 12).map { _ in Linear(4, 4, rng: &rng) }, head: Linear(4, 2, rng: &rng))
    stack.head.freeze()
    let node = ModelGraphNode(module: stack, name: "stack", depth: 1)
    #expect(node.children.map(\.name) == ["layer.0..11", "head"])
    #expect(node.children[0].repeats == 12 && node.children[0].parameters == 12 * 20)
    #expect(node.children[0].status == .trainable && node.children[1].status == .frozen)
    #expect(node.status == .partial && node.parameters == 12 * 20 + 10 && node.trainableCount == 240)
    #expect(ModelGraph.label(node.children[0]).contains("Linear ×12"))
    let dot = ModelGraph(title: "stack", nodes: [node]).dot.text
    #expect(dot.contains("subgraph \"cluster_stack\""))
  }

  @Test func qformerDiagramFollowsItsSizes() throws {
    let diagram = try QFormerDiagram(preset: .paper)
    let text = diagram.dot.text
    #expect((0 ..< 12).allSatisfy { text.contains("\"layer\($0)\" [") })
    #expect(text.components(separatedBy: "cross-attention: queries read the image").count - 1 == 6)
    #expect(text.contains("[B, 257, 1408]") && text.contains("OPT-2.7B") && text.contains("768 → 2560"))
    for head in ["ITC head", "ITM head", "ITG head", "stage 1", "stage 2"] { #expect(text.contains(head)) }
    #expect(throws: RenderError.self) {
      try QFormerDiagram(.init(layers: 0, crossAttentionEvery: 2, queries: 32, hidden: 768, imageWidth: 1408), imageTokens: 257)
    }
  }

  @Test func presetPipelineHasShapesAndCounts() throws {
    let text = ModelGraph(preset: .paper).dot.text
    #expect(text.contains("[B, 257, 1408]") && text.contains("[B, 32, 768]") && text.contains("[B, 32, 2560]"))
    #expect(text.contains("188.0M params, trainable") && text.contains("2.70B params, frozen"))
  }

  @Test func attentionMapsAverageHeadsAndDropTheClassToken() throws {
    let image = Image(width: 4, height: 4, pixels: [Float](repeating: 0.5, count: 48))
    // 2 heads, 1 query, 1 class token + 2×2 patches.
    let probabilities: [Float] = [0.9, 0.1, 0, 0, 0, /* head 1 */ 0.5, 0.3, 0.2, 0, 0]
    let maps = try CrossAttentionMaps(probabilities: probabilities, heads: 2, queries: 1, patches: 5,
                                      patchRows: 2, patchColumns: 2, image: image)
    #expect(maps.weights == [0.2, 0.1, 0, 0])
    #expect(maps.maximum(query: 0) == 0.2)
    let tile = maps.tile(query: 0, size: 8)
    // The attended patch (top left) is brighter than the ignored one (bottom right).
    let topLeft: Int = tile.bytes[0 ..< 3].reduce(0) { $0 + Int($1) }
    let bottomRight: Int = tile.bytes[(63 * 3) ..< (64 * 3)].reduce(0) { $0 + Int($1) }
    #expect(topLeft > bottomRight)
    #expect(throws: RenderError.self) {
      try CrossAttentionMaps(probabilities: probabilities, heads: 2, queries: 1, patches: 5, patchRows: 3, patchColumns: 3, image: image)
    }
  }

  @Test func attentionMapsRenderAsSVGAndPNG() throws {
    let maps = try Self.sampleMaps(queries: 6)
    let svg = String(decoding: try maps.render(.svg, tileSize: 32, columns: 3), as: UTF8.self)
    #expect(svg.components(separatedBy: "<image ").count - 1 == 6 + 2)   // tiles, the image and the colour bar
    #expect(svg.contains("q5 (max"))
    let png = try PNGFile(try maps.render(.png, tileSize: 32, columns: 3))
    #expect(png.width > 3 * 24 && png.height > 2 * 24)
    let mosaic = maps.mosaic(tileSize: 10, columns: 4, gap: 2)
    #expect(mosaic.width == 4 * 12 + 2 && mosaic.height == 2 * 12 + 2)
    #expect(throws: RenderError.self) { try maps.render(.dot) }
  }

  @Test func attentionSVGParsesAndHasAHeaderWithTheImage() throws {
    var maps = try Self.sampleMaps(queries: 5)
    maps.title = "Where <each> query looks"
    maps.subtitle = "test image 3 (a red circle); cross-attention layer 2 of 4, 4 heads averaged"
    let data = try maps.render(.svg, tileSize: 40, columns: 2)
    let document = try XMLDocument(data: data)
    let root = try #require(document.rootElement())
    #expect(root.name == "svg")
    let images = root.elements(forName: "image")
    #expect(images.count == 5 + 2)
    // The header's image comes first, at the top left, as large as a tile.
    #expect(images.first.map { attribute($0, "x") } == "8" && images.first.map { attribute($0, "width") } == "40")
    let texts = root.elements(forName: "text").compactMap(\.stringValue)
    #expect(texts.contains("Where <each> query looks"))
    #expect(texts.contains("test image 3 (a red circle)") && texts.contains("cross-attention layer 2 of 4, 4 heads averaged"))
    #expect((0 ..< 5).allSatisfy { query in texts.contains { $0.hasPrefix("q\(query) (max ") } })
    // Wide enough for the header, and exactly as high as the header and three rows of tiles with captions.
    #expect(attribute(root, "width") == "640")
    let header: Int = 40 + 2 * 8, row: Int = 40 + 18 + 8
    let height: Int = header + 3 * row + 8
    #expect(attribute(root, "height") == String(height))
  }

  @Test func attentionPNGIsAsLargeAsItsTiles() throws {
    let maps = try Self.sampleMaps(queries: 8)
    let data = try maps.render(.png, tileSize: 48, columns: 4)
    #expect(Array(data.prefix(8)) == PNGEncoder.signature)
    let png = try PNGFile(data)
    // Four tiles of 48 px with 5 pt (6.7 px) between them; two rows plus the header (one tile high).
    #expect(png.width >= 4 * 48 + 5 * 6 && png.height >= 3 * 48 + 2 * 14)
    #expect(png.width < 1200 && png.height < 400)
  }

  @Test func attentionMapsToAnUnwritablePathOrAsDOTAreClearErrors() throws {
    let maps = try Self.sampleMaps(queries: 2)
    #expect {
      try maps.write(to: URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/maps.png"))
    } throws: { error in
      guard case .cannotWrite? = error as? RenderError else { return false }
      return (error as? RenderError)?.errorDescription?.contains("does not exist") == true
    }
    #expect(throws: RenderError.unknownFormat("dot", known: ["svg", "png", "pdf"])) {
      try maps.write(to: URL(fileURLWithPath: "/tmp/maps.dot"))
    }
    #expect(throws: RenderError.self) { try maps.write(to: URL(fileURLWithPath: "/tmp/maps.bmp")) }
  }

  /// Maps whose query q looks at patch q of a 4×4 grid, over a gradient image.
  static func sampleMaps(queries: Int) throws -> CrossAttentionMaps {
    let size = 32
    var pixels = [Float](repeating: 0, count: 3 * size * size)
    for y in 0 ..< size { for x in 0 ..< size {
      pixels[y * size + x] = Float(x) / Float(size)
      pixels[size * size + y * size + x] = Float(y) / Float(size)
      pixels[2 * size * size + y * size + x] = 0.5
    } }
    var probabilities = [Float](repeating: 0.01, count: queries * 17)
    for query in 0 ..< queries { probabilities[query * 17 + 1 + (query * 5) % 16] = 0.8 }
    return try CrossAttentionMaps(probabilities: probabilities, queries: queries, patches: 17, patchRows: 4,
                                  patchColumns: 4, image: Image(width: size, height: size, pixels: pixels))
  }
}

/// The attribute `name` of `element` (FoundationXML on Linux does not find unprefixed attributes of elements in
/// a default namespace by name, so this looks through them).
func attribute(_ element: XMLElement, _ name: String) -> String? {
  element.attributes?.first { $0.name == name || $0.localName == name }?.stringValue
}

/// A module with twelve identical layers and a head, named as checkpoints name them.
final class Stack: Module, @unchecked Sendable {
  let layers: [Linear]
  let head: Linear
  init(layers: [Linear], head: Linear) {
    self.layers = layers
    self.head = head
    super.init()
  }
  override func children() -> [(String, Module)] {
    layers.enumerated().map { ("layer.\($0.offset)", $0.element as Module) } + [("head", head)]
  }
}
