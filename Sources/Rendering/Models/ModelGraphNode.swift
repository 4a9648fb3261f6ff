// The values a model graph is drawn from: parts with frozen/trainable status and parameter counts, nested,
// and edges with tensor shapes. Plain values, so a graph can be drawn for a preset or a script's description
// before (or without) building the model; `init(module:)` reads them off a `Module` tree.

import Tensor

/// One part of a model in a model graph: a box, or a cluster of boxes when it has children.
public struct ModelGraphNode: Hashable, Sendable {
  /// Whether a part trains.
  public enum Status: Hashable, Sendable {
    /// Every parameter frozen (grey, dashed).
    case frozen
    /// Every parameter trains (blue, bold).
    case trainable
    /// Some parameters train (amber).
    case partial
    /// No parameters (inputs, outputs, parameter-free steps): plain.
    case none
  }

  /// A unique id (edges refer to it); defaults to the name.
  public var id: String
  /// The name shown (`"encoder"`, `"layer.0..11"`).
  public var name: String
  /// What it is (`"ViT-g/14"`, `"Linear"`).
  public var kind: String
  /// Whether every parameter is frozen.
  public var frozen: Bool
  /// Parameter elements in total, `nil` when unknown or parameter-free.
  public var parameters: Int?
  /// Trainable parameter elements; `nil` means all of `parameters` unless `frozen`.
  public var trainableParameters: Int?
  /// How many identical copies this node stands for (`layer.0..11` is 12); counts cover all copies.
  public var repeats: Int
  /// An optional extra line (`"width 1408, 39 layers"`).
  public var detail: String?
  /// The parts inside, drawn inside this node's box.
  public var children: [ModelGraphNode]

  /// A node from its parts.
  public init(
    name: String, kind: String = "", frozen: Bool = false, parameters: Int? = nil, trainableParameters: Int? = nil,
    repeats: Int = 1, detail: String? = nil, children: [ModelGraphNode] = [], id: String? = nil
  ) {
    self.id = id ?? name
    self.name = name
    self.kind = kind
    self.frozen = frozen
    self.parameters = parameters
    self.trainableParameters = trainableParameters
    self.repeats = repeats
    self.detail = detail
    self.children = children
  }

  /// The trainable parameter count, derived when not given (0 when frozen, else all).
  public var trainableCount: Int? {
    trainableParameters ?? parameters.map { frozen ? 0 : $0 }
  }

  /// Frozen, trainable, partly trainable, or without parameters.
  public var status: Status {
    guard let parameters, parameters > 0 else { return frozen ? .frozen : .none }
    let trainable = trainableCount ?? 0
    if frozen || trainable == 0 { return .frozen }
    return trainable >= parameters ? .trainable : .partial
  }

  /// A node for `module` and (down to `depth` levels) its children, with counts from the module's parameters.
  /// Runs of children named `prefix0`, `prefix1`, ... (as `layer.0` ... `layer.11`) with equal parameter counts
  /// and status collapse into one node `layer.0..11` with `repeats` 12 (their children drawn once).
  /// - Parameters:
  ///   - name: the name shown; `id` is `path` (a dotted path for children).
  ///   - kind: what it is; by default the module's class name.
  ///   - depth: how many levels of children to draw (0: just this node).
  public init(module: Module, name: String, kind: String? = nil, depth: Int = 1, path: String? = nil) {
    let path = path ?? name
    self.init(
      name: name, kind: kind ?? String(describing: type(of: module)), frozen: module.isFrozen,
      parameters: module.parameterCount, trainableParameters: module.trainableParameterCount, id: path)
    guard depth > 0 else { return }
    children = Self.collapsedRuns(module.children()).map { run in
      let first = run[0].1
      let childPath = path + "." + run[0].0
      var node = ModelGraphNode(module: first, name: run[0].0, depth: depth - 1, path: childPath)
      if run.count > 1, let last = run.last {
        let lastIndex = Self.splitIndex(last.0)?.index ?? run.count - 1
        node.name = run[0].0 + ".." + String(lastIndex)
        node.id = path + "." + node.name
        node.repeats = run.count
        node.parameters = run.reduce(0) { $0 + $1.1.parameterCount }
        node.trainableParameters = run.reduce(0) { $0 + $1.1.trainableParameterCount }
        node.children = node.children.map { $0.reparented(from: childPath, to: node.id) }
      }
      return node
    }
  }

  private func reparented(from old: String, to new: String) -> ModelGraphNode {
    var copy = self
    if copy.id.hasPrefix(old) { copy.id = new + copy.id.dropFirst(old.count) }
    copy.children = children.map { $0.reparented(from: old, to: new) }
    return copy
  }

  /// Children grouped into runs: consecutive children `prefixN`, `prefixN+1`, ... of equal size and status.
  static func collapsedRuns(_ children: [(String, Module)]) -> [[(String, Module)]] {
    var runs = [[(String, Module)]]()
    for child in children {
      if let previous = runs.last?.last, let a = splitIndex(previous.0), let b = splitIndex(child.0),
        a.prefix == b.prefix, b.index == a.index + 1, previous.1.parameterCount == child.1.parameterCount,
        previous.1.isFrozen == child.1.isFrozen, previous.1.trainableParameterCount == child.1.trainableParameterCount
      {
        runs[runs.count - 1].append(child)
      } else {
        runs.append([child])
      }
    }
    return runs
  }

  /// `("layer.", 11)` for `"layer.11"`; `nil` for a name not ending in digits.
  static func splitIndex(_ name: String) -> (prefix: Substring, index: Int)? {
    let digits = name.reversed().prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty, let index = Int(String(digits.reversed())) else { return nil }
    return (name.dropLast(digits.count), index)
  }
}

/// A connection between two parts, optionally labelled with the tensor shape that flows along it.
public struct ModelGraphEdge: Hashable, Sendable {
  /// The id of the node the data comes from.
  public var from: String
  /// The id of the node the data goes to.
  public var to: String
  /// The label (`"[B, 257, 1408]"`), if any.
  public var label: String?
  /// Whether the edge is drawn dashed (a path used only in some stage, say).
  public var dashed: Bool

  /// An edge with an optional label.
  public init(from: String, to: String, label: String? = nil, dashed: Bool = false) {
    self.from = from
    self.to = to
    self.label = label
    self.dashed = dashed
  }

  /// An edge labelled with a shape: `shape: ["B", "257", "1408"]` reads `[B, 257, 1408]`.
  public init(from: String, to: String, shape: [String], dashed: Bool = false) {
    self.init(from: from, to: to, label: "[" + shape.joined(separator: ", ") + "]", dashed: dashed)
  }
}
