// Moving values between Swift and one Lua thread's stack. Raw access only (`lua_rawget`, `lua_next`): no
// metamethod runs, so nothing here can raise a Lua error (other than Lua running out of memory).

import CLua

/// Pushes and reads values on the stack of `L`.
struct LuaStack {
  let state: LuaState
  let L: OpaquePointer

  /// Tables nested deeper than this are refused (a runaway structure, not a config).
  static let maximumDepth = 64

  // MARK: - Pushing

  static func pushString(_ text: String, on L: OpaquePointer) {
    var text = text
    text.withUTF8 { buffer in
      _ = buffer.baseAddress.map { base in
        base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { lua_pushlstring(L, $0, buffer.count) }
      } ?? lua_pushstring(L, "")
    }
  }

  /// Pushes `value`: lists as sequences `1...n`, tables with string keys, functions by reference, objects as
  /// new userdata of their type.
  /// - Throws: `LabError` for an object whose type was never defined, or a structure too deep for the stack.
  func push(_ value: LuaValue, depth: Int = 0) throws {
    guard depth < Self.maximumDepth, lua_checkstack(L, 3) != 0 else {
      throw LabError("a value is nested too deeply to pass to Lua")
    }
    switch value {
    case .nil: lua_pushnil(L)
    case let .bool(flag): lua_pushboolean(L, flag ? 1 : 0)
    case let .int(number): lua_pushinteger(L, lua_Integer(number))
    case let .double(number): lua_pushnumber(L, number)
    case let .string(text): Self.pushString(text, on: L)
    case let .list(values):
      lua_createtable(L, Int32(values.count), 0)
      for (index, element) in values.enumerated() {
        try push(element, depth: depth + 1)
        lua_rawseti(L, -2, lua_Integer(index + 1))
      }
    case let .table(table):
      lua_createtable(L, 0, Int32(table.count))
      for (key, element) in table {
        Self.pushString(key, on: L)
        try push(element, depth: depth + 1)
        lua_rawset(L, -3)
      }
    case let .function(function):
      lua_rawgeti(L, luaRegistryIndex, lua_Integer(function.reference))
    case let .object(object):
      guard state.definedTypes.contains(object.typeName) else {
        throw LabError("no Lua type \(object.typeName) is defined (a bug: define it before pushing one)")
      }
      LuaBridge.pushBox(ObjectBox(object), on: L, metatable: LuaBridge.metatableName(object.typeName))
    }
  }

  // MARK: - Reading

  /// The string at `index` if it is a string or a number (numbers are not converted in place).
  func string(at index: Int32) -> String? {
    switch lua_type(L, index) {
    case LUA_TSTRING:
      var length = 0
      guard let pointer = lua_tolstring(L, index, &length) else { return nil }
      return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    case LUA_TNUMBER:
      return lua_isinteger(L, index) != 0 ? String(lua_tointegerx(L, index, nil)) : String(lua_tonumberx(L, index, nil))
    default:
      return nil
    }
  }

  /// `table[key]` (raw) as a string, for a table at absolute index `table`.
  func rawString(_ table: Int32, _ key: String) -> String? {
    Self.pushString(key, on: L)
    lua_rawget(L, table)
    defer { lua_settop(L, -2) }
    return lua_type(L, -1) == LUA_TSTRING ? string(at: -1) : nil
  }

  /// `table[key]` (raw) as an integer, for a table at absolute index `table`.
  func rawInteger(_ table: Int32, _ key: String) -> Int? {
    Self.pushString(key, on: L)
    lua_rawget(L, table)
    defer { lua_settop(L, -2) }
    var isNumber: Int32 = 0
    let value = lua_tointegerx(L, -1, &isNumber)
    return isNumber != 0 ? Int(value) : nil
  }

  /// The values at `first...last`.
  func values(from first: Int32, to last: Int32, path: String) throws -> [LuaValue] {
    guard first <= last else { return [] }
    return try (first ... last).map { try value(at: $0, path: path) }
  }

  /// The value at `index`, tables copied. `path` names it in messages.
  /// - Throws: `LabError` for a table mixing list entries and names, a list with holes, keys that are neither
  ///   strings nor positions, a table that contains itself, or a value Swift cannot hold (a coroutine, a
  ///   userdata of another library).
  func value(at index: Int32, path: String) throws -> LuaValue {
    var open = Set<UnsafeRawPointer>()
    return try value(at: lua_absindex(L, index), path: path, open: &open)
  }

  private func value(at index: Int32, path: String, open: inout Set<UnsafeRawPointer>) throws -> LuaValue {
    switch lua_type(L, index) {
    case LUA_TNIL, LUA_TNONE: return .nil
    case LUA_TBOOLEAN: return .bool(lua_toboolean(L, index) != 0)
    case LUA_TNUMBER:
      return lua_isinteger(L, index) != 0 ? .int(Int(lua_tointegerx(L, index, nil))) : .double(lua_tonumberx(L, index, nil))
    case LUA_TSTRING: return .string(string(at: index) ?? "")
    case LUA_TFUNCTION:
      lua_pushvalue(L, index)
      return .function(LuaFunction(state: state, reference: luaL_ref(L, luaRegistryIndex), name: path))
    case LUA_TTABLE: return try table(at: index, path: path, open: &open)
    case LUA_TUSERDATA:
      if let box = LuaBridge.box(L, at: index) as? ObjectBox { return .object(box.object) }
      throw LabError("\(path): a userdata of another library cannot be passed to Blip2Lab")
    default:
      let kind = String(cString: lua_typename(L, lua_type(L, index)))
      throw LabError("\(path): a \(kind) cannot be passed to Blip2Lab")
    }
  }

  private func table(at index: Int32, path: String, open: inout Set<UnsafeRawPointer>) throws -> LuaValue {
    guard let identity = lua_topointer(L, index) else { return .table([:]) }
    guard !open.contains(identity) else { throw LabError("\(path): the table contains itself (a cycle)") }
    guard open.count < Self.maximumDepth, lua_checkstack(L, 4) != 0 else {
      throw LabError("\(path): tables are nested too deeply")
    }
    open.insert(identity)
    defer { open.remove(identity) }

    var named = [String: LuaValue]()
    var positional = [Int: LuaValue]()
    lua_pushnil(L)
    while lua_next(L, index) != 0 {
      defer { lua_settop(L, -2) }  // pop the value, keep the key for lua_next
      switch lua_type(L, -2) {
      case LUA_TSTRING:
        let key = string(at: -2) ?? ""
        named[key] = try value(at: lua_absindex(L, -1), path: "\(path).\(key)", open: &open)
      case LUA_TNUMBER where lua_isinteger(L, -2) != 0:
        let position = Int(lua_tointegerx(L, -2, nil))
        positional[position] = try value(at: lua_absindex(L, -1), path: "\(path)[\(position)]", open: &open)
      default:
        let kind = String(cString: lua_typename(L, lua_type(L, -2)))
        throw LabError("\(path): table keys must be names or list positions 1, 2, 3...; found a \(kind) key")
      }
    }
    if positional.isEmpty { return .table(named) }
    guard named.isEmpty else {
      let names = named.keys.sorted().prefix(3).joined(separator: ", ")
      throw LabError("\(path): the table mixes list entries (1, 2, ...) with named keys (\(names)); use one or the other")
    }
    let count = positional.count
    guard let hole = (1 ... count).first(where: { positional[$0] == nil }) else {
      return .list((1 ... count).compactMap { positional[$0] })
    }
    throw LabError("\(path): a list must have entries 1...n without gaps; entry \(hole) is missing")
  }
}
