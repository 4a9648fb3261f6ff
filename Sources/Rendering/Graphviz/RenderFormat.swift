/// An output format: DOT text, or a drawing Graphviz renders from it.
public enum RenderFormat: String, CaseIterable, Sendable {
  /// The DOT text itself (no Graphviz call).
  case dot
  /// Scalable vector graphics.
  case svg
  /// A raster image (Graphviz's cairo renderer).
  case png
  /// A PDF page (Graphviz's cairo renderer).
  case pdf

  /// The format called `name` (case-insensitive), or the one a file name ends with (`"out/itg.svg"`).
  /// - Throws: `RenderError.unknownFormat` for anything else.
  public init(parsing name: String) throws {
    let lowered = name.lowercased()
    if let format = RenderFormat(rawValue: lowered) {
      self = format
    } else if let dot = lowered.lastIndex(of: "."),
      let format = RenderFormat(rawValue: String(lowered[lowered.index(after: dot)...]))
    {
      self = format
    } else {
      throw RenderError.unknownFormat(name, known: Self.allCases.map(\.rawValue))
    }
  }

  /// The file extension, without the dot.
  public var fileExtension: String { rawValue }
}
