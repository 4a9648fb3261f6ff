// `lab.layout` and `lab.mask.*`: attention masks as values a script builds, combines, checks and prints.
// Positions in Lua are 1-based (Lua's convention): the custom mask function gets `i, j` in `1...size`, and
// `mask:allowed(i, j)` takes them the same way. Segment names are the layout's (`"queries"`, `"text"`).

import Blip2Core

/// The Lua type names of the `lab` module's objects, for code that reads them back with `LuaArguments.object`.
public enum LabTypeName {
  /// `TokenLayout` (from `lab.layout`).
  public static let layout = "TokenLayout"
  /// `AttentionMask` (from `lab.mask.*`).
  public static let mask = "AttentionMask"
  /// `MaskSchedule` (from `lab.schedule`).
  public static let schedule = "MaskSchedule"
  /// `LossMix` (from `lab.losses`).
  public static let lossMix = "LossMix"
  /// `ResultTable` (from `lab.table`).
  public static let resultTable = "ResultTable"
  /// A component built from the registry (`lab.encoder.*`, `lab.bridge.*`, `lab.lm.*`).
  public static let component = "Component"
  /// A dataset built from the registry (`lab.data.*`).
  public static let dataset = "Dataset"
  /// Anything else a registry factory builds.
  public static let object = "Object"
}

extension ScriptEngine {
  /// The segments `lab.layout` knows, in the order they take in the sequence.
  static let layoutSegments = [TokenLayout.queries, TokenLayout.instruction, TokenLayout.text]

  func defineMaskTypes() throws {
    try lua.defineType(TokenLayout.self, name: LabTypeName.layout, describe: { "TokenLayout \($0)" }, methods: [
      "size": { layout, _ in [.int(layout.count)] },
      "segments": { layout, _ in
        [.list(layout.segments.map { .table(["name": .string($0.name), "length": .int($0.length)]) })]
      },
    ])
    try lua.defineType(AttentionMask.self, name: LabTypeName.mask, describe: Self.describe(mask:), methods: [
      "render": { mask, arguments in
        let options = try OptionTable(try Self.optionalTable(arguments, 1), function: "AttentionMask:render",
                                      keys: ["compact", "ascii"])
        return [.string(mask.render(compact: try options.bool("compact", default: false),
                                    ascii: try options.bool("ascii", default: false)))]
      },
      "leaks": { mask, arguments in
        let options = try OptionTable(try Self.optionalTable(arguments, 1), function: "AttentionMask:leaks",
                                      keys: ["image", "text", "layers"])
        let leaks = try mask.imageLeaks(
          imageSegment: try options.string("image", default: TokenLayout.queries),
          textSegments: try options.strings("text", default: [TokenLayout.text]),
          layers: try options.int("layers", default: 2, range: 1 ... 64))
        return [.list(leaks.map { .string($0.description) })]
      },
      "allowed": { mask, arguments in
        let row = try arguments.int(1, "i"), column = try arguments.int(2, "j")
        guard (1 ... mask.size).contains(row), (1 ... mask.size).contains(column) else {
          throw LabError("AttentionMask:allowed: positions are 1...\(mask.size), got (\(row), \(column))")
        }
        return [.bool(mask[row - 1, column - 1])]
      },
      "block": { mask, arguments in
        [.string(try mask.allowed(from: try arguments.string(1, "the row segment"),
                                  to: try arguments.string(2, "the column segment")).description)]
      },
      "count": { mask, _ in [.int(mask.allowedCount)] },
      "size": { mask, _ in [.int(mask.size)] },
      "layout": { mask, _ in [.object(LuaObject(mask.layout, typeName: LabTypeName.layout))] },
      "intersect": { mask, arguments in
        [Self.object(try mask.intersection(try arguments.object(1, as: AttentionMask.self, typeName: LabTypeName.mask)))]
      },
      "union": { mask, arguments in
        [Self.object(try mask.union(try arguments.object(1, as: AttentionMask.self, typeName: LabTypeName.mask)))]
      },
    ])
  }

  /// `AttentionMask [queries 32 | text 8]: 1234 of 1600 allowed`.
  static func describe(mask: AttentionMask) -> String {
    "AttentionMask \(mask.layout): \(mask.allowedCount) of \(mask.flatBools.count) allowed"
  }

  static func object(_ mask: AttentionMask) -> LuaValue { .object(LuaObject(mask, typeName: LabTypeName.mask)) }

  func maskFunctions() throws -> [String: LuaValue] {
    func named(_ key: String, _ make: @escaping (TokenLayout) -> AttentionMask) throws -> (String, LuaValue) {
      let name = "lab.mask." + key.dropFirst("mask_".count)
      return (key, try native(name) { _, arguments in
        [Self.object(make(try Self.layout(arguments, 1, function: name)))]
      })
    }
    var functions = Dictionary(uniqueKeysWithValues: [
      try named("mask_itc", AttentionMask.unimodal), try named("mask_itm", AttentionMask.bidirectional),
      try named("mask_itg") { .multimodalCausal($0) }, try named("mask_causal", AttentionMask.causal),
    ])
    functions["layout"] = try native("lab.layout") { _, arguments in
      [.object(LuaObject(try Self.layout(fromOptions: try arguments.table(1, "the layout"), function: "lab.layout"),
                         typeName: LabTypeName.layout))]
    }
    functions["mask_blocks"] = try native("lab.mask.blocks") { _, arguments in
      let layout = try Self.layout(arguments, 1, function: "lab.mask.blocks")
      let rules = try Self.blockRules(try arguments.value(2), function: "lab.mask.blocks")
      return [Self.object(try AttentionMask.blocks(layout, rules))]
    }
    functions["mask_custom"] = try native("lab.mask.custom") { _, arguments in
      let layout = try Self.layout(arguments, 1, function: "lab.mask.custom")
      let allowing = Self.allowing(try arguments.function(2, "the mask function (i, j, segI, segJ)"),
                                   function: "lab.mask.custom")
      return [Self.object(try AttentionMask.custom(layout, allowing: allowing))]
    }
    return functions
  }

  // MARK: - Reading masks from Lua

  /// Argument `index` as a layout: a `TokenLayout` object, or an option table `{ queries = 32, text = 8 }`.
  static func layout(_ arguments: LuaArguments, _ index: Int, function: String) throws -> TokenLayout {
    switch try arguments.value(index) {
    case let .object(object) where object.value is TokenLayout:
      return try arguments.object(index, as: TokenLayout.self, typeName: LabTypeName.layout)
    case .table, .list:
      return try layout(fromOptions: try arguments.table(index, "the layout"), function: function)
    case let other:
      throw LabError("\(function): argument #\(index) must be a layout (lab.layout{ queries = 32, text = 8 }), "
        + "got \(other.kindName)")
    }
  }

  /// `{ queries = 32, instruction = 4, text = 8 }` in the order queries, instruction, text.
  static func layout(fromOptions table: [String: LuaValue], function: String) throws -> TokenLayout {
    let options = try OptionTable(table, function: function, keys: layoutSegments)
    var segments = [TokenLayout.Segment]()
    for name in layoutSegments where options.contains(name) || name != TokenLayout.instruction {
      segments.append(.init(name: name, length: try options.int(name, range: 0 ... 65536)))
    }
    return try TokenLayout(segments)
  }

  /// `{ text = { queries = "all", text = "causal" } }`: row segment -> column segment -> rule.
  static func blockRules(_ value: LuaValue, function: String) throws -> [String: [String: BlockRule]] {
    let expected = "a table of rules such as { text = { queries = \"all\", text = \"causal\" } }"
    guard case let .table(rows) = value else { throw LabError("\(function): the rules must be \(expected)") }
    return try rows.mapValues { row in
      guard case let .table(columns) = row else { throw LabError("\(function): the rules must be \(expected)") }
      return try columns.mapValues { rule in
        guard case let .string(text) = rule else {
          throw LabError("\(function): a rule must be a string ('all', 'none', 'causal' or 'diagonal'), got \(rule.kindName)")
        }
        return try BlockRule(parsing: text)
      }
    }
  }

  /// A Swift mask function calling the Lua `function(i, j, segI, segJ)` (1-based), which must return a boolean.
  static func allowing(_ lua: LuaFunction, function: String) -> @Sendable (Int, Int, String, String) throws -> Bool {
    { row, column, rowSegment, columnSegment in
      let cell = "(i=\(row + 1), j=\(column + 1), '\(rowSegment)', '\(columnSegment)')"
      let results: [LuaValue]
      do {
        results = try lua.call([.int(row + 1), .int(column + 1), .string(rowSegment), .string(columnSegment)])
      } catch var error as ScriptError {
        error.message = "\(function): the mask function failed at \(cell): \(error.message)"
        throw error
      }
      guard case let .bool(allowed)? = results.first else {
        throw LabError("\(function): the mask function must return true or false, got "
          + "\(results.first?.kindName ?? "nil") at \(cell)")
      }
      return allowed
    }
  }

  /// Argument `index` as a table, or an empty one when absent.
  static func optionalTable(_ arguments: LuaArguments, _ index: Int) throws -> [String: LuaValue] {
    if case .nil = try arguments.value(index) { return [:] }
    return try arguments.table(index, "the options")
  }
}
