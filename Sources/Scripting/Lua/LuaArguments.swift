// The arguments of a Swift function called from Lua, read with checks whose failures are plain sentences.

import CLua

/// The arguments a Swift function received from Lua (1-based, as Lua counts). Reading one that was not given
/// reads `nil`. Every accessor throws a `LabError` that names the argument and what was expected; the
/// function's name is added in front when the error reaches Lua.
public struct LuaArguments {
  let state: LuaState
  let L: OpaquePointer
  /// How many arguments were passed.
  public let count: Int
  /// The Lua-visible function name (`lab.mask.blocks`).
  public let function: String
  /// Stack positions skipped (1 for methods: `self` is read separately).
  var offset = 0

  init(state: LuaState, L: OpaquePointer, count: Int, function: String, offset: Int = 0) {
    self.state = state
    self.L = L
    self.count = count
    self.function = function
    self.offset = offset
  }

  /// The arguments after the first (a method's arguments after `self`).
  func droppingSelf() -> LuaArguments {
    LuaArguments(state: state, L: L, count: max(count - 1, 0), function: function, offset: offset + 1)
  }

  /// The engine state the call runs in (to call back into Lua, define results).
  public var lua: LuaState { state }

  /// Argument `index` (1-based) as a value; `nil` beyond the last argument.
  public func value(_ index: Int) throws -> LuaValue {
    guard index >= 1, index <= count else { return .nil }
    return try LuaStack(state: state, L: L).value(at: Int32(index + offset), path: "argument #\(index)")
  }

  /// Argument `index` as an integer (a float with no fraction counts).
  public func int(_ index: Int, _ what: String? = nil) throws -> Int {
    let argument = try value(index)
    switch argument {
    case let .int(number): return number
    case let .double(number) where Int(exactly: number) != nil: return Int(number)
    default: throw mismatch(index, what, expected: "an integer", got: argument)
    }
  }

  /// Argument `index` as a number.
  public func double(_ index: Int, _ what: String? = nil) throws -> Double {
    let argument = try value(index)
    guard let number = argument.number else { throw mismatch(index, what, expected: "a number", got: argument) }
    return number
  }

  /// Argument `index` as a string.
  public func string(_ index: Int, _ what: String? = nil) throws -> String {
    let argument = try value(index)
    guard case let .string(text) = argument else { throw mismatch(index, what, expected: "a string", got: argument) }
    return text
  }

  /// Argument `index` as a table with string keys (`{}` counts).
  public func table(_ index: Int, _ what: String? = nil) throws -> [String: LuaValue] {
    let argument = try value(index)
    switch argument {
    case let .table(table): return table
    case let .list(list) where list.isEmpty: return [:]
    default: throw mismatch(index, what, expected: "a table of named options", got: argument)
    }
  }

  /// Argument `index` as a function.
  public func function(_ index: Int, _ what: String? = nil) throws -> LuaFunction {
    let argument = try value(index)
    guard case let .function(function) = argument else {
      throw mismatch(index, what, expected: "a function", got: argument)
    }
    return function
  }

  /// Argument `index` as the Swift value of an object of type `typeName`.
  public func object<Value>(_ index: Int, as type: Value.Type, typeName: String, role: String? = nil) throws -> Value {
    let argument = try value(index)
    guard case let .object(object) = argument, let typed = object.value as? Value else {
      throw mismatch(index, role, expected: LuaObject.article(typeName), got: argument)
    }
    return typed
  }

  private func mismatch(_ index: Int, _ what: String?, expected: String, got: LuaValue) -> LabError {
    let name = what ?? "argument #\(index)"
    let given = index > count ? "nothing" : got.kindName
    return LabError("\(function): \(name) must be \(expected), got \(given)")
  }
}
