// `lab.schedule` (which mask each objective uses at each step) and `lab.losses` (how much each objective counts,
// possibly as a Lua function of the step). Steps count from 0, as the trainer counts them; `steps = { 0, 500 }`
// covers steps 0 to 499.

import Blip2Core

extension ScriptEngine {
  static let objectives = Objective.allCases.map(\.rawValue)

  func defineTrainingTypes() throws {
    try lua.defineType(MaskSchedule.self, name: LabTypeName.schedule, describe: { schedule in
      "MaskSchedule\n" + schedule.description.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
    }, methods: [
      "describe": { schedule, arguments in
        [.string(schedule.describeTimeline(totalSteps: try arguments.int(1, "the total steps")))]
      },
      "mask": { schedule, arguments in
        let objective = try arguments.string(1, "the objective")
        let step = try arguments.int(2, "the step")
        let layout = try Self.layout(arguments, 3, function: "MaskSchedule:mask")
        return [Self.object(try schedule.mask(for: objective, step: step, layout: layout))]
      },
    ])
    try lua.defineType(LossMix.self, name: LabTypeName.lossMix, describe: { "LossMix \($0)" }, methods: [
      "weight": { mix, arguments in
        [.double(try mix.weight(try arguments.string(1, "the objective"), step: try arguments.int(2, "the step")))]
      },
    ])
  }

  func trainingFunctions() throws -> [String: LuaValue] {
    [
      "schedule": try native("lab.schedule") { _, arguments in
        [.object(LuaObject(try Self.schedule(from: try arguments.table(1, "the schedule")), typeName: LabTypeName.schedule))]
      },
      "losses": try native("lab.losses") { _, arguments in
        [.object(LuaObject(try Self.lossMix(from: try arguments.table(1, "the loss weights")), typeName: LabTypeName.lossMix))]
      },
    ]
  }

  // MARK: - Loss mixes

  /// `{ itc = 1, itm = 1, itg = function(step) ... end }`: constant weights >= 0, or functions of the step.
  static func lossMix(from table: [String: LuaValue]) throws -> LossMix {
    let function = "lab.losses"
    let options = try OptionTable(table, function: function, keys: objectives)
    var weights = [String: LossMix.Weight]()
    for (key, value) in options.values {
      switch value {
      case let .function(lua):
        let weight = lua.renamed("the \(key) weight")
        weights[key] = .schedule { step in
          let result = try weight.call([.int(step)]).first ?? .nil
          guard let number = result.number, number.isFinite, number >= 0 else {
            throw LabError("\(function): the \(key) weight at step \(step) must be a number >= 0, got \(Self.show(result))")
          }
          return number
        }
      default:
        weights[key] = .constant(try options.double(key, range: 0 ... Double.greatestFiniteMagnitude))
      }
    }
    return LossMix(weights)
  }

  /// A value for a message: its text for scalars, its kind otherwise.
  static func show(_ value: LuaValue) -> String {
    switch value {
    case let .int(number): String(number)
    case let .double(number): String(number)
    case let .bool(flag): String(flag)
    case let .string(text): "'\(text)'"
    default: value.kindName
    }
  }

  // MARK: - Mask schedules

  /// `{ itg = { { steps = { 0, 500 }, mask = "multimodalCausal" }, { steps = { 500, 1000 }, mask = f } } }`.
  /// Per objective: a mask name (its default), a list of entries, `{ default = ..., entries = { ... } }`, or a
  /// function of the step returning the mask for that step. A mask is a built-in name, block rules, or a
  /// function `(i, j, segI, segJ)` (1-based).
  static func schedule(from table: [String: LuaValue]) throws -> MaskSchedule {
    let function = "lab.schedule"
    let options = try OptionTable(table, function: function, keys: objectives)
    var schedule = MaskSchedule()
    for objective in objectives {
      let place = "\(function): \(objective)"
      var entries = [LuaValue]()
      switch options.value(objective) {
      case .nil: continue
      case let .string(name): schedule.setDefault(try MaskSpec(named: name), for: objective)
      case let .function(lua):
        schedule.choose(for: objective, chooser(lua.renamed("the \(objective) mask schedule"), place: place))
      case let .list(list): entries = list
      case let .table(parts):
        let part = try OptionTable(parts, function: place, keys: ["default", "entries"])
        if part.contains("default") { schedule.setDefault(try maskSpec(part.value("default"), name: nil, place: place), for: objective) }
        if case let .list(list) = part.value("entries") { entries = list }
        else if part.contains("entries") { throw part.mismatch("entries", "a list of entries", part.value("entries")) }
      case let other:
        throw LabError("\(place) must be a mask name, a list of { steps = { from, to }, mask = ... } or a function "
          + "of the step, got \(other.kindName)")
      }
      for (index, entry) in entries.enumerated() {
        let where_ = "\(place)[\(index + 1)]"
        guard case let .table(fields) = entry else {
          throw LabError("\(where_) must be a table { steps = { from, to }, mask = ... }, got \(entry.kindName)")
        }
        let item = try OptionTable(fields, function: where_, keys: ["steps", "mask", "name"])
        let steps = try stepRange(item.value("steps"), place: where_)
        let name = item.contains("name") ? try item.string("name") : nil
        try schedule.use(try maskSpec(item.value("mask"), name: name, place: where_), for: objective, steps: steps)
      }
    }
    return schedule
  }

  /// A Swift chooser calling the Lua `function(step)` (0-based, as the trainer counts), which returns a mask
  /// name, block rules or a function `(i, j, segI, segJ)`.
  static func chooser(_ lua: LuaFunction, place: String) -> @Sendable (Int) throws -> MaskSpec {
    { step in
      let result = try lua.call([.int(step)]).first ?? .nil
      let where_ = "\(place) at step \(step)"
      switch result {
      case .string, .table, .function: return try maskSpec(result, name: nil, place: where_)
      case let .object(object) where object.value is AttentionMask:
        throw LabError("\(where_): the function returned an AttentionMask, which fits only the layout it was built "
          + "for, while text lengths change from batch to batch; return a mask name, block rules or a function "
          + "(i, j, segI, segJ) instead")
      default:
        throw LabError("\(where_): the function must return a mask name (\(MaskSpec.builtInNames.joined(separator: ", "))), "
          + "block rules or a function (i, j, segI, segJ), got \(result.kindName)")
      }
    }
  }

  /// `{ from, to }` as `from ..< to`.
  static func stepRange(_ value: LuaValue, place: String) throws -> Range<Int> {
    guard case let .list(bounds) = value, bounds.count == 2, case let .int(from) = bounds[0], case let .int(to) = bounds[1] else {
      throw LabError("\(place): 'steps' must be { from, to } (integers, from included, to excluded), got \(value.kindName)")
    }
    guard from >= 0, from < to else {
      throw LabError("\(place): 'steps' must be { from, to } with 0 <= from < to, got { \(from), \(to) }")
    }
    return from ..< to
  }

  /// A mask name, block rules, or a Lua function as a `MaskSpec`.
  static func maskSpec(_ value: LuaValue, name: String?, place: String) throws -> MaskSpec {
    switch value {
    case let .string(text): return try MaskSpec(named: text)
    case .table: return .blocks(name: name ?? "blocks", rules: try blockRules(value, function: place))
    case let .function(lua):
      return .custom(name: name ?? "custom", allowing: allowing(lua.renamed("the mask function"), function: place))
    default:
      throw LabError("\(place): 'mask' must be a mask name (\(MaskSpec.builtInNames.joined(separator: ", "))), "
        + "block rules or a function (i, j, segI, segJ), got \(value.kindName)")
    }
  }
}
