// DOT text: a tiny builder that quotes every identifier and escapes every label, so text from users and
// scripts (quotes, backslashes, `<`, newlines) can never break the graph. Output is deterministic: attributes
// and statements come out in the order they were added, which is what golden tests compare.

/// An attribute value: quoted text, or an HTML-like label written between `<` and `>`.
public enum DOTValue: Hashable, Sendable, ExpressibleByStringLiteral {
  /// Plain text, written as a quoted DOT string with `"`, `\` and line breaks escaped.
  case text(String)
  /// An HTML-like label body (`<TABLE>...</TABLE>`), written as `<...>`; escape text inside with `HTML.escape`.
  case html(String)

  /// Plain text.
  public init(stringLiteral value: String) { self = .text(value) }

  /// The value as it appears after `=`.
  public var dotText: String {
    switch self {
    case let .text(text): DOT.quoted(text)
    case let .html(html): "<" + html + ">"
    }
  }
}

/// Attributes in the order they were set; setting an existing name replaces its value in place.
public struct DOTAttributes: Hashable, Sendable, ExpressibleByDictionaryLiteral {
  /// The name-value pairs in order.
  public private(set) var pairs: [(name: String, value: DOTValue)] = []

  /// No attributes.
  public init() {}

  /// Attributes in literal order: `["shape": "box", "style": "filled"]`.
  public init(dictionaryLiteral elements: (String, DOTValue)...) {
    for (name, value) in elements { self[name] = value }
  }

  /// The value of `name`; setting `nil` removes it.
  public subscript(name: String) -> DOTValue? {
    get { pairs.first { $0.name == name }?.value }
    set {
      let index = pairs.firstIndex { $0.name == name }
      switch (index, newValue) {
      case let (index?, value?): pairs[index].value = value
      case let (index?, nil): pairs.remove(at: index)
      case let (nil, value?): pairs.append((name, value))
      case (nil, nil): break
      }
    }
  }

  /// Whether there are none.
  public var isEmpty: Bool { pairs.isEmpty }

  /// `[name="value", ...]`, or the empty string when there are none.
  public var dotText: String {
    isEmpty ? "" : "[" + pairs.map { "\($0.name)=\($0.value.dotText)" }.joined(separator: ", ") + "]"
  }

  /// Equal when the same names have the same values in the same order.
  public static func == (left: DOTAttributes, right: DOTAttributes) -> Bool {
    left.pairs.map(\.name) == right.pairs.map(\.name) && left.pairs.map(\.value) == right.pairs.map(\.value)
  }

  /// Hashes the names and values in order.
  public func hash(into hasher: inout Hasher) {
    for pair in pairs {
      hasher.combine(pair.name)
      hasher.combine(pair.value)
    }
  }
}

/// A DOT graph or subgraph: attributes, node and edge defaults, and statements in order.
///
/// ```swift
/// var graph = DOTGraph(name: "pipeline")
/// graph.attributes["rankdir"] = "LR"
/// graph.addNode("vit", ["label": "ViT-g (frozen)", "style": "dashed"])
/// graph.addEdge("vit", "qformer", ["label": "[B, 257, 1408]"])
/// print(graph.text)
/// ```
public struct DOTGraph: Hashable, Sendable {
  /// One line of the graph body.
  public indirect enum Statement: Hashable, Sendable {
    /// `"id" [attributes];`
    case node(id: String, attributes: DOTAttributes)
    /// `"from" -> "to" [attributes];` (`--` in an undirected graph)
    case edge(from: String, to: String, attributes: DOTAttributes)
    /// `subgraph "name" { ... }`; a name starting with `cluster` draws a box around its nodes.
    case subgraph(DOTGraph)
  }

  /// The graph's name (its `<title>` in SVG).
  public var name: String
  /// `digraph` (arrows) or `graph`.
  public var directed: Bool
  /// Graph attributes (`rankdir`, `label`, `fontname`, ...).
  public var attributes: DOTAttributes
  /// Defaults for every node (`node [...]`).
  public var nodeDefaults: DOTAttributes
  /// Defaults for every edge (`edge [...]`).
  public var edgeDefaults: DOTAttributes
  /// The body, in order.
  public var statements: [Statement] = []

  /// An empty graph.
  public init(
    name: String, directed: Bool = true, attributes: DOTAttributes = [:], nodeDefaults: DOTAttributes = [:],
    edgeDefaults: DOTAttributes = [:]
  ) {
    self.name = name
    self.directed = directed
    self.attributes = attributes
    self.nodeDefaults = nodeDefaults
    self.edgeDefaults = edgeDefaults
  }

  /// Adds a node.
  public mutating func addNode(_ id: String, _ attributes: DOTAttributes = [:]) {
    statements.append(.node(id: id, attributes: attributes))
  }

  /// Adds an edge from `from` to `to`.
  public mutating func addEdge(_ from: String, _ to: String, _ attributes: DOTAttributes = [:]) {
    statements.append(.edge(from: from, to: to, attributes: attributes))
  }

  /// Adds a subgraph (a cluster when its name starts with `cluster`).
  public mutating func addSubgraph(_ subgraph: DOTGraph) {
    statements.append(.subgraph(subgraph))
  }

  /// The number of edges, subgraphs included.
  public var edgeCount: Int {
    statements.reduce(0) { count, statement in
      switch statement {
      case .edge: count + 1
      case let .subgraph(subgraph): count + subgraph.edgeCount
      case .node: count
      }
    }
  }

  /// The DOT text, two spaces of indentation per level, ending in a newline.
  public var text: String {
    lines(indent: "", isRoot: true).joined(separator: "\n") + "\n"
  }

  private func lines(indent: String, isRoot: Bool) -> [String] {
    let inner = indent + "  "
    let head = isRoot ? (directed ? "digraph " : "graph ") : "subgraph "
    var result = [indent + head + DOT.quoted(name) + " {"]
    for (name, value) in attributes.pairs { result.append(inner + "\(name)=\(value.dotText);") }
    if !nodeDefaults.isEmpty { result.append(inner + "node " + nodeDefaults.dotText + ";") }
    if !edgeDefaults.isEmpty { result.append(inner + "edge " + edgeDefaults.dotText + ";") }
    let arrow = directed ? " -> " : " -- "
    for statement in statements {
      switch statement {
      case let .node(id, attributes):
        result.append(inner + ([DOT.quoted(id), attributes.dotText].filter { !$0.isEmpty }.joined(separator: " ")) + ";")
      case let .edge(from, to, attributes):
        let edge = DOT.quoted(from) + arrow + DOT.quoted(to)
        result.append(inner + ([edge, attributes.dotText].filter { !$0.isEmpty }.joined(separator: " ")) + ";")
      case let .subgraph(subgraph):
        var child = subgraph
        child.directed = directed
        result += child.lines(indent: inner, isRoot: false)
      }
    }
    result.append(indent + "}")
    return result
  }
}

/// Escaping for DOT strings.
public enum DOT {
  /// `text` as a quoted DOT string showing exactly `text`: `"` and `\` escaped, line breaks as `\n`.
  /// (In labels Graphviz reads `\n`, `\l`, `\r` as line breaks, so a lone backslash must be doubled.)
  public static func quoted(_ text: String) -> String {
    var result = "\""
    for character in text {
      switch character {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n", "\r\n": result += "\\n"
      case "\r": result += "\\n"
      default: result.append(character)
      }
    }
    return result + "\""
  }
}

/// Escaping for the text inside HTML-like labels.
public enum HTML {
  /// `text` with `&`, `<`, `>`, `"` and `'` as entities and line breaks as `<BR/>`.
  public static func escape(_ text: String) -> String {
    var result = ""
    for character in text {
      switch character {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&#39;"
      case "\n", "\r\n", "\r": result += "<BR/>"
      default: result.append(character)
      }
    }
    return result
  }
}
