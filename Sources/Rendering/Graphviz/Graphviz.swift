// DOT text to SVG / PNG / PDF, in-process through libgvc (no `dot` subprocess). Graphviz keeps global state
// (its error buffer, the parser, plugin tables), so every call goes through one lock.

import CGraphviz
import Foundation
import Synchronization

/// Renders DOT text with Graphviz's `dot` layout, in-process.
///
/// ```swift
/// let svg = try Graphviz.render(dot: "digraph { a -> b }", format: .svg)
/// try Graphviz.render(dot: grid.dot.text, format: .png, to: URL(fileURLWithPath: "out/itg.png"))
/// ```
public enum Graphviz {
  /// Serializes every libgvc call; Graphviz is not thread-safe.
  private static let gate = Mutex(())

  /// The drawing of `dot` in `format`: the bytes of an SVG, PNG or PDF file (`.dot` returns the text itself).
  /// - Throws: `RenderError.invalidDOT` when Graphviz cannot parse the text, `.layoutFailed` when it cannot lay
  ///   it out, `.renderFailed` when it cannot produce the format.
  public static func render(dot: String, format: RenderFormat) throws -> Data {
    if format == .dot { return Data(dot.utf8) }
    return try render(dot: dot, graphvizFormat: format.rawValue)
  }

  /// Renders `dot` in `format` and writes the file atomically (a temporary file, then a rename).
  /// - Throws: as `render(dot:format:)`, or `RenderError.cannotWrite`.
  public static func render(dot: String, format: RenderFormat, to url: URL) throws {
    try RenderOutput.write(render(dot: dot, format: format), to: url)
  }

  /// Renders with any Graphviz output format name (`"svg"`, `"png"`, `"plain"`, ...).
  static func render(dot: String, graphvizFormat format: String) throws -> Data {
    try gate.withLock { _ in
      let previousHandler = agseterrf(collectGraphvizMessage)
      defer { agseterrf(previousHandler) }
      capturedMessages = []
      _ = agreseterrors()

      guard let context = gvContext() else { throw RenderError.graphvizUnavailable("gvContext returned nothing") }
      defer { gvFreeContext(context) }

      guard let graph = agmemread(dot), agreseterrors() < Int32(AGERR.rawValue) else {
        throw RenderError.invalidDOT(messages: takeMessages())
      }
      defer { agclose(graph) }

      guard gvLayout(context, graph, "dot") == 0, agreseterrors() < Int32(AGERR.rawValue) else {
        throw RenderError.layoutFailed(messages: takeMessages())
      }
      defer { gvFreeLayout(context, graph) }

      var bytes: UnsafeMutablePointer<CChar>?
      var length: UInt32 = 0
      let status = gvRenderData(context, graph, format, &bytes, &length)
      defer { if let bytes { gvFreeRenderData(bytes) } }
      guard status == 0, agreseterrors() < Int32(AGERR.rawValue) else {
        throw RenderError.renderFailed(format: format, messages: takeMessages())
      }
      guard let bytes, length > 0 else {
        throw RenderError.renderFailed(format: format, messages: ["Graphviz returned no data"] + takeMessages())
      }
      return Data(bytes: bytes, count: Int(length))
    }
  }

  /// The output formats this Graphviz installation offers (`"svg"`, `"png"`, ...), for diagnostics.
  public static func availableFormats() -> [String] {
    gate.withLock { _ in
      guard let context = gvContext() else { return [] }
      defer { gvFreeContext(context) }
      var count: Int32 = 0
      guard let list = gvPluginList(context, "device", &count, nil) else { return [] }
      var names = [String]()
      for index in 0 ..< Int(count) {
        if let entry = list[index] {
          names.append(String(cString: entry))
          free(entry)
        }
      }
      free(list)
      return names
    }
  }

  /// The messages collected since the last call, as lines ("Error: syntax error in line 1 near '->'").
  private static func takeMessages() -> [String] {
    let lines = capturedMessages.joined().split(separator: "\n").map {
      $0.trimmingCharacters(in: .whitespaces)
    }.filter { !$0.isEmpty }
    capturedMessages = []
    return lines
  }
}

/// Graphviz's error output while `Graphviz.gate` is held. Graphviz hands messages over in pieces
/// ("Error", ": ", "syntax error in line 1\n"); they are joined and split into lines afterwards.
nonisolated(unsafe) private var capturedMessages: [String] = []

/// The `agusererrf` handler: collects instead of printing to stderr. Only called with `Graphviz.gate` held.
private func collectGraphvizMessage(_ message: UnsafeMutablePointer<CChar>?) -> Int32 {
  if let message { capturedMessages.append(String(cString: message)) }
  return 0
}
