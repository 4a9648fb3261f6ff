// The C side of Swift functions and objects in Lua: boxes held by full userdata (released by __gc), and the
// one C entry point every Swift function goes through. Nothing here raises a Lua error.

import CLua

/// A Swift function callable from Lua.
final class FunctionBox {
  /// The Lua-visible name, for messages (`lab.losses`, `AttentionMask:render`).
  let name: String
  /// The state that made it. Weak: the state owns the box (through Lua), not the other way round.
  weak var state: LuaState?
  /// The body: the arguments in, the results out; what it throws becomes a Lua error.
  let body: (LuaArguments) throws -> [LuaValue]

  init(name: String, state: LuaState, body: @escaping (LuaArguments) throws -> [LuaValue]) {
    self.name = name
    self.state = state
    self.body = body
  }
}

/// A Swift value held by a Lua object.
final class ObjectBox {
  let object: LuaObject
  init(_ object: LuaObject) { self.object = object }
}

enum LuaBridge {
  /// The metatable of function boxes (only `__gc`).
  static let boxMetatable = "Blip2Lab.Box"

  /// The registry name of the metatable of object type `name`.
  static func metatableName(_ name: String) -> String { "Blip2Lab.\(name)" }

  /// Pushes a full userdata holding a retained reference to `box`, with a metatable whose `__gc` releases it.
  static func pushBox(_ box: AnyObject, on L: OpaquePointer, metatable: String = boxMetatable) {
    let memory = lua_newuserdatauv(L, MemoryLayout<UnsafeMutableRawPointer?>.size, 0)
    memory?.storeBytes(of: Unmanaged.passRetained(box).toOpaque(), as: UnsafeMutableRawPointer?.self)
    luaL_setmetatable(L, metatable)
  }

  /// The box held by the userdata at `index`, if it is one of ours and not yet released.
  static func box(_ L: OpaquePointer, at index: Int32) -> AnyObject? {
    guard lua_type(L, index) == LUA_TUSERDATA, let memory = lua_touserdata(L, index),
          let pointer = memory.load(as: UnsafeMutableRawPointer?.self) else { return nil }
    return Unmanaged<AnyObject>.fromOpaque(pointer).takeUnretainedValue()
  }

  /// `__gc` of every box: releases the Swift reference once.
  static let releaseBox: lua_CFunction = { L in
    guard let L, lua_type(L, 1) == LUA_TUSERDATA, let memory = lua_touserdata(L, 1) else { return 0 }
    if let pointer = memory.load(as: UnsafeMutableRawPointer?.self) {
      memory.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
      Unmanaged<AnyObject>.fromOpaque(pointer).release()
    }
    return 0
  }

  /// The C function behind every Swift function: upvalue 1 is its `FunctionBox`. Returns `true, results...`
  /// or `false, message, level` for the Lua wrapper (`CorePrelude`) to raise.
  static let callFunction: lua_CFunction = { L in
    guard let L else { return 0 }
    let count = lua_gettop(L)
    guard let box = LuaBridge.box(L, at: luaUpvalueIndex(1)) as? FunctionBox, let state = box.state else {
      return fail(L, message: "this function belongs to a Lua state that has ended", level: 2)
    }
    let saved = state.current
    state.current = L
    defer { state.current = saved }
    do {
      let results = try box.body(LuaArguments(state: state, L: L, count: Int(count), function: box.name))
      lua_settop(L, 0)
      guard lua_checkstack(L, Int32(results.count) + 1) != 0 else {
        return fail(L, message: "\(box.name): too many results for the Lua stack", level: 2)
      }
      lua_pushboolean(L, 1)
      let stack = LuaStack(state: state, L: L)
      for result in results { try stack.push(result) }
      return Int32(results.count) + 1
    } catch let error as ScriptError where error.file != nil {
      // Raised by a Lua callback: it already says where (level 0 keeps the position it has).
      return fail(L, message: error.errorDescription ?? error.message, level: 0)
    } catch {
      let sentence = error.sentence
      let message = sentence.hasPrefix(box.name) ? sentence : "\(box.name): \(sentence)"
      return fail(L, message: message, level: 2)
    }
  }

  private static func fail(_ L: OpaquePointer, message: String, level: Int) -> Int32 {
    lua_settop(L, 0)
    lua_pushboolean(L, 0)
    LuaStack.pushString(message, on: L)
    lua_pushinteger(L, lua_Integer(level))
    return 3
  }
}

/// A Lua function held by Swift (a registry reference). Calling it runs Lua through `lua_pcallk` with the
/// traceback handler; its errors come back as `ScriptError` with the script's file and line.
///
/// `@unchecked Sendable` so that it can sit in `@Sendable` closures (`LossMix` weights, custom `MaskSpec`s),
/// which the engine's types require. It is **not** thread-safe: Lua is single-threaded, so call it only from
/// the thread that runs the script (the trainers call loss weights and masks on that thread).
public final class LuaFunction: @unchecked Sendable {
  /// The state it lives in, kept alive while Swift holds the function.
  let state: LuaState
  /// The registry slot.
  let reference: Int32
  /// A name for messages (`the itg weight`).
  public let name: String

  init(state: LuaState, reference: Int32, name: String) {
    self.state = state
    self.reference = reference
    self.name = name
  }

  deinit {
    // On the thread Swift works on now (the registry is shared by all threads).
    if state.isOpen { luaL_unref(state.current, luaRegistryIndex, reference) }
  }

  /// Calls the function with `arguments`.
  /// - Returns: every value it returns.
  /// - Throws: `ScriptError` located at the failing line for an error inside the function.
  public func call(_ arguments: [LuaValue]) throws -> [LuaValue] {
    try state.call(reference: reference, arguments, name: name)
  }

  /// The same function under another name (for messages).
  func renamed(_ newName: String) -> LuaFunction {
    let L = state.current
    lua_rawgeti(L, luaRegistryIndex, lua_Integer(reference))
    return LuaFunction(state: state, reference: luaL_ref(L, luaRegistryIndex), name: newName)
  }
}
