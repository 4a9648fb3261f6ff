import Foundation

/// What can go wrong when rendering: every message says what was wrong and what to do about it.
public enum RenderError: Error, LocalizedError, Equatable, Sendable {
  /// A format name that is not one of the formats Blip2Lab renders.
  case unknownFormat(String, known: [String])
  /// Graphviz could not parse the DOT text; `messages` are Graphviz's own lines.
  case invalidDOT(messages: [String])
  /// Graphviz could not lay the graph out (for example a malformed HTML-like label).
  case layoutFailed(messages: [String])
  /// Graphviz could not produce the format (a missing plugin, usually).
  case renderFailed(format: String, messages: [String])
  /// Graphviz returned no context, graph or data where it should have.
  case graphvizUnavailable(String)
  /// A file could not be written.
  case cannotWrite(path: String, reason: String)
  /// Inputs to a drawing do not fit together (sizes, counts).
  case invalidInput(String)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .unknownFormat(name, known):
      return "\"\(name)\" is not an output format: use one of \(known.joined(separator: ", "))."
    case let .invalidDOT(messages):
      return "Graphviz could not read the DOT text: \(Self.joined(messages)). Check the graph's syntax."
    case let .layoutFailed(messages):
      return "Graphviz could not lay out the graph: \(Self.joined(messages))."
    case let .renderFailed(format, messages):
      return "Graphviz could not render \(format): \(Self.joined(messages)). The Graphviz plugins for \(format) "
        + "may be missing: install libgvc6 (Debian) and, if its plugin list is stale, run `dot -c` once as root."
    case let .graphvizUnavailable(what):
      return "Graphviz failed: \(what). Check that libgvc6 is installed."
    case let .cannotWrite(path, reason):
      return "Cannot write \(path): \(reason). Check that its folder exists and is writable."
    case let .invalidInput(message):
      return message
    }
  }

  private static func joined(_ messages: [String]) -> String {
    messages.isEmpty ? "no message from Graphviz" : messages.joined(separator: "; ")
  }
}
