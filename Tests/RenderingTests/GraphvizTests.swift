import Blip2Core
import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

@testable import Rendering

/// Rendering through libgvc: the three formats, what the drawings hold, and errors.
@Suite struct GraphvizTests {
  let layout: TokenLayout

  init() throws { layout = try TokenLayout.queriesAndText(queries: 4, text: 3) }

  @Test func svgHoldsSegmentLabelsAndOneCellPerAllowedPair() throws {
    let mask = AttentionMask.multimodalCausal(layout)
    let data = try MaskGrid(mask, title: "ITG").render(.svg)
    let svg = String(decoding: data, as: UTF8.self)
    #expect(svg.contains("<svg"))
    #expect(svg.contains(">queries<") && svg.contains(">text<"))
    // Allowed cells are the only polygons filled with a pair colour; the legend adds one swatch per pair.
    let pairColors = (0 ..< 2).flatMap { row in (0 ..< 2).map { MaskGrid.pairColor(row: row, column: $0, segmentCount: 2) } }
    let filled = pairColors.map { svg.components(separatedBy: "fill=\"\($0.lowercased())\"").count - 1 }.reduce(0, +)
    #expect(filled == mask.allowedCount + pairColors.count)
    let document = try XMLDocument(data: data)   // parses as XML
    #expect(document.rootElement()?.name == "svg")
  }

  @Test func pngStartsWithTheSignatureAndHasASize() throws {
    let data = try MaskGrid(.bidirectional(layout)).render(.png)
    #expect(Array(data.prefix(8)) == PNGEncoder.signature)
    let png = try PNGFile(data)
    #expect(png.width > 100 && png.height > 100)
  }

  @Test(arguments: [2, 5, 9])
  func pngHasTheSizeOfTheSVGAt96DPI(_ queries: Int) throws {
    // Graphviz lays out in points (72 per inch) and rasterizes at 96 dpi: the PNG is the SVG's size × 4/3.
    let grid = try MaskGrid.paperGrid(.itg, queries: queries, text: 3)
    let svg = try XMLDocument(data: try grid.render(.svg))
    func points(_ name: String) throws -> Double {
      let text = try #require(svg.rootElement().flatMap { attribute($0, name) })
      return try #require(Double(text.replacingOccurrences(of: "pt", with: "")))
    }
    let png = try PNGFile(try grid.render(.png))
    #expect(abs(Double(png.width) - (try points("width")) * 4 / 3) <= 1)
    #expect(abs(Double(png.height) - (try points("height")) * 4 / 3) <= 1)
    #expect(png.bitDepth == 8)
  }

  @Test func paperMasksSVGHasOneCellPerAllowedPairOfEachMask() throws {
    let data = try Graphviz.render(dot: MaskGrid.paperMasks(queries: 3, text: 2).text, format: .svg)
    #expect(try XMLDocument(data: data).rootElement()?.name == "svg")
    let svg = String(decoding: data, as: UTF8.self)
    let layout = try TokenLayout.queriesAndText(queries: 3, text: 2)
    let allowed = try Objective.allCases.map { try $0.paperMask.mask(for: layout).allowedCount }.reduce(0, +)
    let pairColors = (0 ..< 2).flatMap { row in (0 ..< 2).map { MaskGrid.pairColor(row: row, column: $0, segmentCount: 2) } }
    let filled = pairColors.map { svg.components(separatedBy: "fill=\"\($0.lowercased())\"").count - 1 }.reduce(0, +)
    #expect(filled == allowed + pairColors.count)   // the grids' allowed cells, and one legend swatch per pair
    #expect(svg.contains(">queries read text<") && svg.contains(">text reads queries<"))
  }

  @Test func pdfStartsWithPDFMarker() throws {
    let data = try MaskGrid(.unimodal(layout)).render(.pdf)
    #expect(String(decoding: data.prefix(5), as: UTF8.self) == "%PDF-")
  }

  @Test func paperMasksSideBySideHaveTitles() throws {
    let svg = String(decoding: try Graphviz.render(dot: MaskGrid.paperMasks(queries: 4, text: 3, textValid: 2).text, format: .svg), as: UTF8.self)
    for title in ["ITC: unimodal", "ITM: bidirectional", "ITG: multimodal causal", "padding (never read)"] {
      #expect(svg.contains(title), "missing \(title)")
    }
  }

  @Test func invalidDOTIsARenderErrorWithGraphvizMessage() {
    #expect {
      try Graphviz.render(dot: "digraph { a -> ", format: .svg)
    } throws: { error in
      guard case let .invalidDOT(messages) = error as? RenderError else { return false }
      return messages.contains { $0.contains("syntax error") }
        && (error as? RenderError)?.errorDescription?.contains("could not read the DOT text") == true
    }
    // Graphviz keeps working after an error.
    #expect(throws: Never.self) { try Graphviz.render(dot: "digraph { a -> b }", format: .svg) }
  }

  @Test func malformedHTMLLabelFailsLayout() {
    #expect(throws: RenderError.self) {
      try Graphviz.render(dot: "digraph { n [label=<<TABLE><TR><TD>x</TD></TABLE>>] }", format: .svg)
    }
  }

  @Test func unknownFormatIsAClearError() {
    #expect(throws: RenderError.unknownFormat("bmp", known: ["dot", "svg", "png", "pdf"])) {
      try RenderFormat(parsing: "bmp")
    }
    #expect(throws: RenderError.self) { try Graphviz.render(dot: "digraph { a }", graphvizFormat: "no-such-format") }
    let message = RenderError.unknownFormat("bmp", known: ["svg"]).errorDescription ?? ""
    #expect(message.contains("\"bmp\" is not an output format"))
  }

  @Test func installedGraphvizOffersTheFormatsWeUse() {
    let formats = Graphviz.availableFormats()
    for format in ["svg", "png", "pdf"] { #expect(formats.contains(format), "Graphviz offers \(formats)") }
  }

  @Test func formatFromFileName() throws {
    #expect(try RenderFormat(parsing: "out/itg.SVG") == .svg)
    #expect(try RenderFormat(parsing: "png") == .png)
  }

  @Test func unwritablePathIsAClearError() throws {
    let grid = try MaskGrid(.bidirectional(layout))
    let url = URL(fileURLWithPath: "/nonexistent-folder-\(UUID().uuidString)/mask.svg")
    #expect {
      try grid.write(to: url)
    } throws: { error in
      (error as? RenderError)?.errorDescription?.contains("does not exist") == true
    }
  }

  @Test func aFolderThatCannotBeCreatedIsAClearError() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("render-file-\(UUID().uuidString)")
    try Data("x".utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    #expect(throws: RenderError.cannotWrite(path: file.path, reason: "\(file.path) is a file, not a folder")) {
      try RenderOutput.createFolder(file)
    }
    let inside = file.appendingPathComponent("inside/deeper")
    #expect(throws: RenderError.cannotWrite(path: inside.path, reason: "\(file.path) is a file, not a folder")) {
      try RenderOutput.createFolder(inside)
    }
    #expect {
      try RenderOutput.createFolder(URL(fileURLWithPath: "/proc/blip2lab-\(UUID().uuidString)/x"))
    } throws: { error in
      guard case let .cannotWrite(_, reason)? = error as? RenderError else { return false }
      return reason.contains("cannot be created (")
    }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("render-\(UUID().uuidString)/a/b")
    defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent().deletingLastPathComponent()) }
    try RenderOutput.createFolder(folder)
    try RenderOutput.createFolder(folder)   // already there: fine
    #expect(FileManager.default.fileExists(atPath: folder.path))
  }

  @Test func writeIsAtomicAndLeavesNoTemporaryFile() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("render-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("mask.dot")
    try MaskGrid(.bidirectional(layout)).write(to: url)
    try MaskGrid(.unimodal(layout)).write(to: url)
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["mask.dot"])
    #expect(try String(contentsOf: url, encoding: .utf8).hasPrefix("digraph \"mask\""))
  }

  @Test func paddingFlagsMustMatchTheLayout() {
    #expect(throws: RenderError.self) { try MaskGrid(.bidirectional(layout), valid: [true]) }
  }

  @Test func scheduleTimelineShowsEveryPhase() throws {
    var schedule = MaskSchedule()
    try schedule.use(.bidirectional, for: .itg, steps: 1500 ..< 3000)
    let timeline = try ScheduleTimeline(schedule, totalSteps: 3000)
    let svg = String(decoding: try timeline.render(.svg), as: UTF8.self)
    for text in ["itc", "itm", "itg", "multimodalCausal", "steps 1500..&lt;3000", "(default)"] {
      #expect(svg.contains(text), "missing \(text)")
    }
  }
}
