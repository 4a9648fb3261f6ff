import Foundation

/// Something drawn as a DOT graph: masks, token graphs, timelines, model graphs.
public protocol GraphvizDrawing {
  /// The drawing as a DOT graph.
  var dot: DOTGraph { get }
}

extension GraphvizDrawing {
  /// The drawing in `format` (the DOT text itself for `.dot`).
  /// - Throws: `RenderError` from Graphviz.
  public func render(_ format: RenderFormat) throws -> Data {
    try Graphviz.render(dot: dot.text, format: format)
  }

  /// Writes the drawing to `url`, atomically, in `format` or else the format its extension names.
  /// - Throws: `RenderError.unknownFormat` for an unknown extension, `RenderError` from Graphviz, or
  ///   `RenderError.cannotWrite`.
  public func write(to url: URL, format: RenderFormat? = nil) throws {
    let format = try format ?? RenderFormat(parsing: url.pathExtension)
    try RenderOutput.write(render(format), to: url)
  }
}

/// Colours shared by the drawings, chosen to stay apart for common colour-vision deficiencies (Tableau 10).
public enum Palette {
  /// Ten distinct fill colours.
  public static let colors = [
    "#4E79A7", "#B07AA1", "#59A14F", "#F28E2B", "#E15759", "#76B7B2", "#EDC948", "#9C755F", "#FF9DA7", "#BAB0AC",
  ]

  /// The colour of the `index`-th thing (wrapping around).
  public static func color(_ index: Int) -> String { colors[((index % colors.count) + colors.count) % colors.count] }

  /// A stable colour for a name (the same name always gets the same colour).
  public static func color(named name: String) -> String {
    color(name.unicodeScalars.reduce(0) { ($0 &* 31 &+ Int($1.value)) & 0xFFFF })
  }
}
