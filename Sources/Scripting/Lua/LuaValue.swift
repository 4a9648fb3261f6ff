// Values crossing between Lua and Swift, and their conversion to the `ConfigValue` component factories take.

import Blip2Core

/// A Lua value as Swift sees it. Tables are copied (a table with keys `1...n` is a `.list`, a table with string
/// keys a `.table`); functions stay in Lua and are held by reference; objects made with `LuaState.defineType`
/// come back as the Swift value they wrap.
public enum LuaValue {
  /// `nil` (or no value).
  case `nil`
  /// `true` or `false`.
  case bool(Bool)
  /// An integer (Lua 5.4's integer subtype).
  case int(Int)
  /// A float (Lua 5.4's float subtype; `2.0` stays a float).
  case double(Double)
  /// A string.
  case string(String)
  /// A sequence: a table with keys `1...n` (an empty table reads as an empty `.table`).
  case list([LuaValue])
  /// A table with string keys.
  case table([String: LuaValue])
  /// A Lua function, kept alive in the registry while Swift holds it.
  case function(LuaFunction)
  /// A Swift value exposed to Lua as userdata of a type made with `LuaState.defineType`.
  case object(LuaObject)

  /// The kind with its article, for messages: "an integer", "a function", "an AttentionMask".
  public var kindName: String {
    switch self {
    case .nil: "nil"
    case .bool: "a boolean"
    case .int: "an integer"
    case .double: "a number"
    case .string: "a string"
    case .list: "a list"
    case .table: "a table"
    case .function: "a function"
    case let .object(object): LuaObject.article(object.typeName)
    }
  }

  /// The value a `ConfigValue` becomes in Lua (integers stay integers, floats stay floats).
  public init(_ config: ConfigValue) {
    switch config {
    case let .bool(flag): self = .bool(flag)
    case let .int(number): self = .int(number)
    case let .double(number): self = .double(number)
    case let .string(text): self = .string(text)
    case let .list(values): self = .list(values.map(LuaValue.init))
    case let .table(table): self = .table(table.mapValues(LuaValue.init))
    }
  }

  /// This value as a config value. `path` names it in messages (`lab.bridge.qformer.losses`).
  /// - Throws: `LabError` for nil, functions and objects, which a config cannot hold.
  public func configValue(path: String) throws -> ConfigValue {
    switch self {
    case let .bool(flag): return .bool(flag)
    case let .int(number): return .int(number)
    case let .double(number): return .double(number)
    case let .string(text): return .string(text)
    case let .list(values):
      return .list(try values.enumerated().map { try $1.configValue(path: "\(path)[\($0 + 1)]") })
    case let .table(table):
      var converted = [String: ConfigValue]()
      for (key, value) in table { converted[key] = try value.configValue(path: "\(path).\(key)") }
      return .table(converted)
    case .nil, .function, .object:
      throw LabError("\(path): \(kindName) cannot be an option value (use booleans, numbers, strings and tables)")
    }
  }

  /// The number, if this is one (an integer converts).
  public var number: Double? {
    switch self {
    case let .int(whole): Double(whole)
    case let .double(number): number
    default: nil
    }
  }
}

/// A Swift value living in Lua as a userdata of a registered type.
public struct LuaObject {
  /// The wrapped value (a struct such as `AttentionMask`, or a class instance such as a component).
  public let value: Any
  /// The Lua-visible type name (`AttentionMask`).
  public let typeName: String

  /// An object of type `typeName` (which must have been defined with `LuaState.defineType`) wrapping `value`.
  public init(_ value: Any, typeName: String) {
    self.value = value
    self.typeName = typeName
  }

  /// "an AttentionMask", "a LossMix".
  static func article(_ name: String) -> String {
    guard let first = name.first?.lowercased() else { return "a value" }
    return ("aeiou".contains(first) ? "an " : "a ") + name
  }
}
