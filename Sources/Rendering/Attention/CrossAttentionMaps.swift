// Where each query looks: the Q-Former's cross-attention probabilities [queries, patches] (averaged over
// heads) drawn as heat maps over the image, one tile per query. Choices:
// - each query's map is scaled to its own maximum (the tile's caption gives that maximum), so every tile
//   uses the full colour range; compare absolute values through the captions;
// - the heat is upsampled bilinearly from the patch grid (sampled at patch centres) and blended half and half
//   with the image in an "inferno"-like colour map (dark = ignored, yellow = attended);
// - a header shows the image itself (the tiles cover it with heat), the title, a subtitle (which image, which
//   layer) and the colour bar, so a tile can be read against the plain image;
// - SVG is written here, tiles embedded as base64 PNGs from `PNGEncoder` (self-contained, no Graphviz);
//   PNG and PDF go through Graphviz: tiles written as PNG files to a temporary folder and placed with <IMG>
//   cells of an HTML-like table, so the captions are typeset like the other drawings.

import Blip2Core
import Foundation

/// Cross-attention heat maps of the queries over one image, as a grid of tiles.
public struct CrossAttentionMaps: Sendable {
  /// The image the queries looked at.
  public let image: Image
  /// How many queries.
  public let queries: Int
  /// The patch grid (rows, columns) the image tokens came from.
  public let patchRows: Int, patchColumns: Int
  /// `[queries, patchRows * patchColumns]` attention weights, averaged over heads, class token removed.
  public let weights: [Float]
  /// The title above the grid.
  public var title: String = "Where each query looks"
  /// Lines under the title (which image, which layer); a line break or `; ` starts a new line.
  public var subtitle: String?

  /// Maps from attention probabilities.
  /// - Parameters:
  ///   - probabilities: `[heads, queries, patches]` row-major (`heads` 1 for maps already averaged).
  ///   - patches: image tokens per query: `patchRows * patchColumns`, or one more when a leading class token
  ///     is included (it is dropped: it has no place in the image).
  /// - Throws: `RenderError.invalidInput` when the counts do not fit together.
  public init(probabilities: [Float], heads: Int = 1, queries: Int, patches: Int, patchRows: Int, patchColumns: Int, image: Image) throws {
    let grid = patchRows * patchColumns
    guard heads > 0, queries > 0, patchRows > 0, patchColumns > 0 else {
      throw RenderError.invalidInput("Attention maps need positive heads, queries and patch grid sizes.")
    }
    guard patches == grid || patches == grid + 1 else {
      throw RenderError.invalidInput(
        "\(patches) image tokens do not fit a \(patchRows)×\(patchColumns) patch grid: expected \(grid) "
          + "(or \(grid + 1) with a class token first).")
    }
    guard probabilities.count == heads * queries * patches else {
      throw RenderError.invalidInput(
        "Attention probabilities [heads \(heads), queries \(queries), patches \(patches)] need "
          + "\(heads * queries * patches) values, got \(probabilities.count).")
    }
    guard image.width > 0, image.height > 0 else { throw RenderError.invalidInput("The image is empty.") }
    let skip = patches - grid
    var averaged = [Float](repeating: 0, count: queries * grid)
    for head in 0 ..< heads {
      for query in 0 ..< queries {
        let source = (head * queries + query) * patches + skip
        for patch in 0 ..< grid { averaged[query * grid + patch] += probabilities[source + patch] / Float(heads) }
      }
    }
    self.image = image
    self.queries = queries
    self.patchRows = patchRows
    self.patchColumns = patchColumns
    self.weights = averaged
  }

  /// The largest weight of `query`.
  public func maximum(query: Int) -> Float {
    weights[(query * patchRows * patchColumns) ..< ((query + 1) * patchRows * patchColumns)].max() ?? 0
  }

  // MARK: - Rasters

  /// One query's tile: the image resized to `size`×`size`, blended with the query's heat map.
  public func tile(query: Int, size: Int) -> RGBImage {
    var tile = RGBImage(width: size, height: size)
    let grid = patchRows * patchColumns
    let peak = max(maximum(query: query), .leastNonzeroMagnitude)
    let heat = weights[(query * grid) ..< ((query + 1) * grid)].map { $0 / peak }
    for y in 0 ..< size {
      for x in 0 ..< size {
        let u = (Float(x) + 0.5) / Float(size), v = (Float(y) + 0.5) / Float(size)
        let level = Self.bilinear(Array(heat), rows: patchRows, columns: patchColumns, u: u, v: v)
        let map = Self.inferno(level)
        var color = [UInt8](repeating: 0, count: 3)
        for channel in 0 ..< 3 {
          let pixel = imageSample(channel: channel, u: u, v: v)
          color[channel] = UInt8(max(0, min(255, (0.5 * pixel + 0.5 * map[channel]) * 255)).rounded())
        }
        tile.set(x: x, y: y, (color[0], color[1], color[2]))
      }
    }
    return tile
  }

  /// The image alone, resized to `size`×`size` (bilinear), for the header.
  public func imageTile(size: Int) -> RGBImage {
    var tile = RGBImage(width: size, height: size)
    for y in 0 ..< size {
      for x in 0 ..< size {
        let u = (Float(x) + 0.5) / Float(size), v = (Float(y) + 0.5) / Float(size)
        let color = (0 ..< 3).map { UInt8(max(0, min(255, imageSample(channel: $0, u: u, v: v) * 255)).rounded()) }
        tile.set(x: x, y: y, (color[0], color[1], color[2]))
      }
    }
    return tile
  }

  /// All tiles in a grid of `columns` per row, `gap` white pixels apart, without captions (query order is
  /// row-major: query 0 top left).
  public func mosaic(tileSize: Int = 96, columns: Int = 8, gap: Int = 4) -> RGBImage {
    let columns = max(1, min(columns, queries)), rows = (queries + columns - 1) / columns
    var result = RGBImage(width: columns * (tileSize + gap) + gap, height: rows * (tileSize + gap) + gap)
    for query in 0 ..< queries {
      let tile = tile(query: query, size: tileSize)
      let left = gap + (query % columns) * (tileSize + gap), top = gap + (query / columns) * (tileSize + gap)
      for y in 0 ..< tileSize {
        let source = y * tileSize * 3, target = ((top + y) * result.width + left) * 3
        result.bytes.replaceSubrange(target ..< target + tileSize * 3, with: tile.bytes[source ..< source + tileSize * 3])
      }
    }
    return result
  }

  /// The colour bar: `width`×`height`, low (left) to high (right).
  static func colorBar(width: Int, height: Int) -> RGBImage {
    var bar = RGBImage(width: width, height: height)
    for x in 0 ..< width {
      let c = inferno(Float(x) / Float(max(width - 1, 1))).map { UInt8(max(0, min(255, $0 * 255)).rounded()) }
      for y in 0 ..< height { bar.set(x: x, y: y, (c[0], c[1], c[2])) }
    }
    return bar
  }

  // MARK: - Output

  /// The maps in `format`: SVG written directly; PNG and PDF through Graphviz.
  /// - Throws: `RenderError.unknownFormat` for `.dot` (the maps are images, not a graph), or a Graphviz error.
  public func render(_ format: RenderFormat, tileSize: Int = 96, columns: Int = 8) throws -> Data {
    switch format {
    case .svg: return Data(svg(tileSize: tileSize, columns: columns).utf8)
    case .png, .pdf: return try renderWithGraphviz(format, tileSize: tileSize, columns: columns)
    case .dot: throw RenderError.unknownFormat("dot", known: ["svg", "png", "pdf"])
    }
  }

  /// Writes the maps to `url`, atomically, in `format` or else the format its extension names.
  /// - Throws: as `render`, or `RenderError.cannotWrite`.
  public func write(to url: URL, format: RenderFormat? = nil, tileSize: Int = 96, columns: Int = 8) throws {
    let format = try format ?? RenderFormat(parsing: url.pathExtension)
    try RenderOutput.write(render(format, tileSize: tileSize, columns: columns), to: url)
  }

  /// The subtitle's lines.
  var subtitleLines: [String] {
    (subtitle ?? "").replacingOccurrences(of: "; ", with: "\n").split(separator: "\n").map(String.init)
  }

  static let captionNote = "each tile: the image under one query's attention, scaled to that query's maximum (max)"

  /// A self-contained SVG: a header (the image, title, subtitle, colour bar), then the tiles as embedded PNGs
  /// with captions.
  public func svg(tileSize: Int = 96, columns: Int = 8) -> String {
    let columns = max(1, min(columns, queries)), rows = (queries + columns - 1) / columns
    let gap = 8, caption = 18
    let header = tileSize + 2 * gap, textX = 2 * gap + tileSize + 4
    // Wide enough for the grid and for the header's text (estimated: Helvetica averages ~0.58 em a character).
    let textWidth = max(Int(Double(title.count) * 18 * 0.6),
                        subtitleLines.map { Int(Double($0.count) * 13 * 0.56) }.max() ?? 0,
                        Int(Double(Self.captionNote.count) * 11 * 0.56))
    let width = max(columns * (tileSize + gap) + gap, textX + textWidth + gap, 640)
    let height = header + rows * (tileSize + caption + gap) + gap
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
      + "width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"Helvetica, Arial, sans-serif\">\n"
    svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    func image(_ raster: RGBImage, x: Int, y: Int, width: Int, height: Int) -> String {
      let data = PNGEncoder.encode(raster).base64EncodedString()
      return "<image x=\"\(x)\" y=\"\(y)\" width=\"\(width)\" height=\"\(height)\" "
        + "href=\"data:image/png;base64,\(data)\" xlink:href=\"data:image/png;base64,\(data)\"/>\n"
    }
    // Header: the image, then title, subtitle lines and the colour bar beside it.
    svg += image(imageTile(size: tileSize), x: gap, y: gap, width: tileSize, height: tileSize)
    svg += "<rect x=\"\(gap)\" y=\"\(gap)\" width=\"\(tileSize)\" height=\"\(tileSize)\" fill=\"none\" stroke=\"#888888\"/>\n"
    svg += "<text x=\"\(textX)\" y=\"\(gap + 20)\" font-size=\"18\" font-weight=\"bold\">" + HTML.escape(title) + "</text>\n"
    for (index, line) in subtitleLines.enumerated() {
      svg += "<text x=\"\(textX)\" y=\"\(gap + 42 + 17 * index)\" font-size=\"13\" fill=\"#444444\">"
        + HTML.escape(line) + "</text>\n"
    }
    let barY = gap + tileSize - 26, barWidth = 160
    svg += "<text x=\"\(textX)\" y=\"\(barY + 11)\" font-size=\"12\">low</text>\n"
    svg += image(Self.colorBar(width: barWidth, height: 12), x: textX + 30, y: barY, width: barWidth, height: 12)
    svg += "<text x=\"\(textX + 36 + barWidth)\" y=\"\(barY + 11)\" font-size=\"12\">high</text>\n"
    svg += "<text x=\"\(textX)\" y=\"\(barY + 27)\" font-size=\"11\" fill=\"#444444\">"
      + HTML.escape(Self.captionNote) + "</text>\n"
    for query in 0 ..< queries {
      let x = gap + (query % columns) * (tileSize + gap), y = header + (query / columns) * (tileSize + caption + gap)
      svg += image(tile(query: query, size: tileSize), x: x, y: y, width: tileSize, height: tileSize)
      svg += "<text x=\"\(x + tileSize / 2)\" y=\"\(y + tileSize + 13)\" text-anchor=\"middle\" font-size=\"11\">"
        + "q\(query) (max \(Self.format(maximum(query: query))))</text>\n"
    }
    return svg + "</svg>\n"
  }

  private func renderWithGraphviz(_ format: RenderFormat, tileSize: Int, columns: Int) throws -> Data {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-attention-\(UUID().uuidString)")
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    } catch {
      throw RenderError.cannotWrite(path: folder.path, reason: error.localizedDescription)
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    func imageFile(_ name: String, _ raster: RGBImage) throws -> String {
      let file = folder.appendingPathComponent("\(name).png")
      try RenderOutput.write(PNGEncoder.encode(raster), to: file)
      return HTML.escape(file.path)
    }
    // Sizes are in points; Graphviz rasterizes at 96 dpi, so a tile of `tileSize` pixels is tileSize·3/4 points.
    let points = tileSize * 3 / 4
    let columns = max(1, min(columns, queries))
    // Two tables stacked in one: the header's widths must not stretch the grid's columns.
    var html = "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"0\"><TR><TD ALIGN=\"LEFT\">"
    // Header: the image, then title, subtitle lines, colour bar and a note beside it.
    html += "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"5\" CELLPADDING=\"0\"><TR>"
      + "<TD FIXEDSIZE=\"TRUE\" WIDTH=\"\(points)\" HEIGHT=\"\(points)\" BORDER=\"1\" COLOR=\"#888888\">"
      + "<IMG SRC=\"\(try imageFile("image", imageTile(size: tileSize)))\" SCALE=\"TRUE\"/></TD>"
      + "<TD ALIGN=\"LEFT\" VALIGN=\"TOP\" CELLPADDING=\"3\">"
      + "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"2\" CELLPADDING=\"0\">"
    html += "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"15\"><B>\(HTML.escape(title))</B></FONT></TD></TR>"
    for line in subtitleLines {
      html += "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"10\" COLOR=\"#444444\">\(HTML.escape(line))</FONT></TD></TR>"
    }
    let bar = try imageFile("colorbar", Self.colorBar(width: 160, height: 12))
    // Nested tables stretch to fill their cell unless their size is fixed: sizes below are exact sums.
    html += "<TR><TD ALIGN=\"LEFT\"><TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"3\" CELLPADDING=\"0\" "
      + "ALIGN=\"LEFT\" FIXEDSIZE=\"TRUE\" WIDTH=\"\(20 + 120 + 24 + 4 * 3)\" HEIGHT=\"\(12 + 2 * 3)\"><TR>"
      + "<TD FIXEDSIZE=\"TRUE\" WIDTH=\"20\" HEIGHT=\"12\"><FONT POINT-SIZE=\"9\">low</FONT></TD>"
      + "<TD FIXEDSIZE=\"TRUE\" WIDTH=\"120\" HEIGHT=\"12\"><IMG SRC=\"\(bar)\" SCALE=\"TRUE\"/></TD>"
      + "<TD FIXEDSIZE=\"TRUE\" WIDTH=\"24\" HEIGHT=\"12\"><FONT POINT-SIZE=\"9\">high</FONT></TD></TR></TABLE></TD></TR>"
    html += "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\" COLOR=\"#444444\">\(HTML.escape(Self.captionNote))</FONT></TD></TR>"
    html += "</TABLE></TD></TR></TABLE>"
    html += "</TD></TR><TR><TD ALIGN=\"LEFT\">"
    // The grid: a row of tiles, then a row of their captions.
    let rows = (queries + columns - 1) / columns, spacing = 5, captionHeight = 11
    html += "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"\(spacing)\" CELLPADDING=\"0\" ALIGN=\"LEFT\" FIXEDSIZE=\"TRUE\" "
      + "WIDTH=\"\(columns * points + (columns + 1) * spacing)\" "
      + "HEIGHT=\"\(rows * (points + captionHeight) + (2 * rows + 1) * spacing)\">"
    for rowStart in stride(from: 0, to: queries, by: columns) {
      let row = rowStart ..< min(rowStart + columns, queries)
      html += "<TR>"
      for query in row {
        html += "<TD FIXEDSIZE=\"TRUE\" WIDTH=\"\(points)\" HEIGHT=\"\(points)\">"
          + "<IMG SRC=\"\(try imageFile("query\(query)", tile(query: query, size: tileSize)))\" SCALE=\"TRUE\"/></TD>"
      }
      html += "</TR><TR>"
      for query in row {
        html += "<TD FIXEDSIZE=\"TRUE\" WIDTH=\"\(points)\" HEIGHT=\"\(captionHeight)\"><FONT POINT-SIZE=\"8.5\">q\(query) "
          + "(max \(Self.format(maximum(query: query))))</FONT></TD>"
      }
      html += "</TR>"
    }
    html += "</TABLE></TD></TR></TABLE>"
    var graph = MaskGrid.graph(name: "attention")
    graph.addNode("maps", ["label": .html(html)])
    return try Graphviz.render(dot: graph.text, format: format)
  }

  // MARK: - Sampling

  /// Channel `channel` of the image at (`u`, `v`) in [0, 1]², bilinear.
  private func imageSample(channel: Int, u: Float, v: Float) -> Float {
    let plane = image.width * image.height
    let values = image.pixels[(channel * plane) ..< ((channel + 1) * plane)]
    return Self.bilinear(values, rows: image.height, columns: image.width, u: u, v: v)
  }

  /// A `rows`×`columns` grid sampled at (`u`, `v`) in [0, 1]², cells' values at their centres, edges clamped.
  static func bilinear<C: Collection>(_ values: C, rows: Int, columns: Int, u: Float, v: Float) -> Float
  where C.Element == Float, C.Index == Int {
    let x = min(max(u * Float(columns) - 0.5, 0), Float(columns - 1))
    let y = min(max(v * Float(rows) - 0.5, 0), Float(rows - 1))
    let x0 = Int(x), y0 = Int(y), x1 = min(x0 + 1, columns - 1), y1 = min(y0 + 1, rows - 1)
    let fx = x - Float(x0), fy = y - Float(y0)
    let base = values.startIndex
    func at(_ row: Int, _ column: Int) -> Float { values[base + row * columns + column] }
    let top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
    let bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
    return top * (1 - fy) + bottom * fy
  }

  /// An "inferno"-like colour map (black, purple, red-orange, yellow) at `level` in [0, 1], as RGB in [0, 1].
  static func inferno(_ level: Float) -> [Float] {
    let stops: [[Float]] = [[0.0, 0.0, 0.02], [0.34, 0.06, 0.43], [0.73, 0.21, 0.33], [0.98, 0.55, 0.04], [0.99, 1.0, 0.64]]
    let position = min(max(level, 0), 1) * Float(stops.count - 1)
    let index = min(Int(position), stops.count - 2), fraction = position - Float(index)
    return (0 ..< 3).map { stops[index][$0] * (1 - fraction) + stops[index + 1][$0] * fraction }
  }

  private static func format(_ value: Float) -> String { String(format: "%.3f", Double(value)) }
}
