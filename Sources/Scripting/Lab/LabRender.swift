// `lab.render(subject, file, options)`: the drawings of `blip2lab masks` and `blip2lab graph` from a script,
// with the same Rendering code: a mask (as a grid, or a token graph with `tokens = true`), the paper's masks by
// name ("itc", "itm", "itg", or "paper" for the three side by side), a mask schedule as a timeline, a composed
// model's pipeline. The format is the file's extension (dot, svg, png, pdf, txt) or the `format` key; txt
// writes what `print` would show. Other parts of the module add renderers for their own objects with
// `addRenderer` (LabKit adds a run's cross-attention maps, which need the Q-Former plugin).

import Blip2Core
import Foundation
import Rendering

/// What a renderer made of its subject.
public enum LabDrawing {
  /// Text, written as it is (the `txt` format).
  case text(String)
  /// A Graphviz graph, written as DOT or rendered to SVG, PNG or PDF.
  case graph(DOTGraph)
  /// A drawing that writes itself to a file in a format (cross-attention maps: SVG/PNG/PDF).
  case file((URL, RenderFormat) throws -> Void)
}

/// How `lab.render` draws one kind of Lua object.
public struct LabRenderer {
  /// What the subject is called in messages (`a mask`, `a run`).
  public var subject: String
  /// The option keys it takes (besides `format`).
  public var keys: [String]
  /// The formats it writes (`txt`, `dot`, `svg`, `png`, `pdf`).
  public var formats: [String]
  /// Draws `value` in `format` with `options`.
  public var draw: (_ value: Any, _ options: OptionTable, _ format: String) throws -> LabDrawing

  /// A renderer from its parts.
  public init(subject: String, keys: [String], formats: [String] = LabRenderer.allFormats,
              draw: @escaping (Any, OptionTable, String) throws -> LabDrawing) {
    self.subject = subject
    self.keys = keys
    self.formats = formats
    self.draw = draw
  }

  /// Every format `lab.render` knows.
  public static let allFormats = ["txt"] + RenderFormat.allCases.map(\.rawValue)
}

extension ScriptEngine {
  /// The paper's masks by name: an objective, or all three.
  static let paperMaskNames = Objective.allCases.map(\.rawValue) + ["paper"]

  /// Makes `lab.render` draw objects of the Lua type `typeName` with `renderer` (replacing any earlier one).
  public func addRenderer(typeName: String, _ renderer: LabRenderer) {
    renderers[typeName] = renderer
  }

  func addStandardRenderers() {
    addRenderer(typeName: LabTypeName.mask, LabRenderer(subject: "a mask", keys: ["title", "tokens"]) { value, options, format in
      guard let mask = value as? AttentionMask else { throw LabError("lab.render: not a mask") }
      if format == "txt" { return .text(mask.render()) }
      let title = try options.string("title", default: "\(mask.layout)")
      if try options.bool("tokens", default: false) { return .graph(try TokenGraph(mask, title: title).dot) }
      return .graph(try MaskGrid(mask, title: title).dot)
    })
    addRenderer(typeName: LabTypeName.schedule, LabRenderer(subject: "a mask schedule", keys: ["steps", "title"]) { value, options, format in
      guard let schedule = value as? MaskSchedule else { throw LabError("lab.render: not a mask schedule") }
      let steps = try options.int("steps", range: 1 ... 100_000_000)
      if format == "txt" { return .text(schedule.describeTimeline(totalSteps: steps)) }
      return .graph(try ScheduleTimeline(schedule, totalSteps: steps, title: try options.string("title", default: "Mask schedule")).dot)
    })
    addRenderer(typeName: LabTypeName.model, LabRenderer(subject: "a model", keys: ["depth", "direction", "title"]) { value, options, format in
      guard let model = value as? Blip2Model else { throw LabError("lab.render: not a model") }
      if format == "txt" { return .text(model.summary) }
      let title = try options.string("title", default: "BLIP-2 model: " + model.parts.map(\.kind).joined(separator: " → "))
      var graph = ModelGraph(model: model, depth: try options.int("depth", default: 0, range: 0 ... 4), title: title)
      graph.direction = try options.string("direction", default: "LR", allowed: ["LR", "TB"])
      return .graph(graph.dot)
    })
  }

  /// The paper's masks by name (`itc`, `itm`, `itg`, `paper`) over `[queries | text]`.
  static var paperMaskRenderer: LabRenderer {
    LabRenderer(subject: "the paper's masks", keys: ["queries", "text", "textValid", "tokens"], draw: drawPaperMasks)
  }

  private static func drawPaperMasks(_ value: Any, _ options: OptionTable, _ format: String) throws -> LabDrawing {
    let name = value as? String ?? ""
    let queries = try options.int("queries", default: 32, range: 1 ... 4096)
    let text = try options.int("text", default: 8, range: 0 ... 4096)
    let textValid = options.contains("textValid") ? try options.int("textValid", range: 0 ... text) : nil
    let objectives = name == "paper" ? Objective.allCases : Objective.allCases.filter { $0.rawValue == name }
    if format == "txt" {
      return .text(try MaskGrid.paperMasksText(objectives, queries: queries, text: text, textValid: textValid))
    }
    if name == "paper" { return .graph(try MaskGrid.paperMasks(queries: queries, text: text, textValid: textValid)) }
    guard let objective = objectives.first else { throw LabError("lab.render: no mask called '\(name)'") }
    let grid = try MaskGrid.paperGrid(objective, queries: queries, text: text, textValid: textValid)
    if try options.bool("tokens", default: false) { return .graph(try TokenGraph(grid.mask, title: grid.title).dot) }
    return .graph(grid.dot)
  }

  func renderFunctions() throws -> [String: LuaValue] {
    ["render": try native("lab.render") { engine, arguments in [.string(try engine.render(arguments))] }]
  }

  /// `lab.render(subject, file [, options])`: writes the drawing, returns the file's path.
  private func render(_ arguments: LuaArguments) throws -> String {
    let subject = try arguments.value(1)
    let renderer: LabRenderer, value: Any
    switch subject {
    case let .string(name):
      guard Self.paperMaskNames.contains(name) else {
        throw LabError("lab.render: no mask called '\(name)'\(Suggestions.hint(for: name, in: Self.paperMaskNames)); "
          + "the paper's are " + Self.paperMaskNames.map { "'\($0)'" }.joined(separator: ", "))
      }
      (renderer, value) = (Self.paperMaskRenderer, name)
    case let .object(object):
      guard let found = renderers[object.typeName] else { throw cannotDraw(subject) }
      (renderer, value) = (found, object.value)
    default:
      throw cannotDraw(subject)
    }
    let file = try arguments.string(2, "the file to write")
    let function = "lab.render(\(renderer.subject))"
    let options = try OptionTable(try Self.optionalTable(arguments, 3), function: function, keys: renderer.keys + ["format"])
    let url = URL(fileURLWithPath: file)
    let fromExtension = url.pathExtension.lowercased()
    guard options.contains("format") || !fromExtension.isEmpty else {
      throw LabError("\(function): \(file) has no extension; end it in ." + renderer.formats.joined(separator: ", .")
        + " or give format = ...")
    }
    let format = try options.string("format", default: fromExtension, allowed: renderer.formats)
    guard renderer.formats.contains(format) else {
      throw LabError("\(function): \(file): .\(format) is not a format it writes; end the file in ."
        + renderer.formats.joined(separator: ", .") + " or give format = ...")
    }
    let drawing = try renderer.draw(value, options, format)
    try RenderOutput.createFolder(url.deletingLastPathComponent())
    switch drawing {
    case let .text(text):
      try RenderOutput.write(text.hasSuffix("\n") ? text : text + "\n", to: url)
    case let .graph(graph):
      if format == "txt" { throw LabError("\(function): txt is not available for this drawing") }
      try Graphviz.render(dot: graph.text, format: try RenderFormat(parsing: format), to: url)
    case let .file(write):
      try write(url, try RenderFormat(parsing: format))
    }
    return url.path
  }

  private func cannotDraw(_ subject: LuaValue) -> LabError {
    let kinds = renderers.values.map(\.subject).sorted().joined(separator: ", ")
    return LabError("lab.render: cannot draw \(subject.kindName); give \(kinds), or one of the paper's masks by name: "
      + Self.paperMaskNames.map { "'\($0)'" }.joined(separator: ", "))
  }
}
