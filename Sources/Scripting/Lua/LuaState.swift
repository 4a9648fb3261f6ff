// One embedded Lua 5.4 interpreter: running chunks, errors located in the script, Swift functions and objects.
//
// The one rule of this file and its neighbours: a Lua error must never `longjmp` across a Swift frame (Swift's
// frames would be skipped without releasing what they hold). So Swift never calls `lua_error`, `luaL_error`
// or `luaL_check*`, reads tables only with raw accessors (no metamethods run), and calls into Lua only through
// `lua_pcallk`. Swift functions report failure with a marker that a Lua wrapper turns into an error
// (`CorePrelude`).

import CLua
import Foundation

/// `LUA_REGISTRYINDEX` (`-LUAI_MAXSTACK - 1000` with the 32-bit-int `LUAI_MAXSTACK` of 1,000,000 in
/// Debian's luaconf.h); not imported into Swift because it is a macro expression.
let luaRegistryIndex: Int32 = -1_001_000

/// `lua_upvalueindex(i)`.
func luaUpvalueIndex(_ index: Int32) -> Int32 { luaRegistryIndex - index }

/// A Lua 5.4 state with the standard libraries, owned by Swift and closed when released (or by `close()`).
///
/// ```swift
/// let lua = try LuaState()
/// try lua.setGlobal("double", lua.function(named: "double") { arguments in
///   [.int(try arguments.int(1) * 2)]
/// })
/// let results = try lua.run("return double(21)", chunkName: "example.lua")   // [.int(42)]
/// ```
///
/// Lua is single-threaded: use a state from one thread at a time. It is a class (its identity is the
/// interpreter); `LuaFunction`s keep it alive so that Swift can call back into Lua later (loss weights, masks).
/// When Lua itself holds Swift values that hold `LuaFunction`s, that is a cycle: call `close()` when done
/// (`ScriptEngine` does).
///
/// Limitation: Lua reports running out of memory by raising an error from the allocating API call; the raw
/// calls Swift makes are not protected against that one case.
public final class LuaState {
  /// The main thread.
  let mainThread: OpaquePointer
  /// The thread Swift works on now: the main thread, or the coroutine whose call into Swift is in progress.
  var current: OpaquePointer
  /// False once `close()` ran; nothing touches the state after that.
  public private(set) var isOpen = true
  /// Registry references to the core helpers.
  private var wrapReference: Int32 = 0
  private var handlerReference: Int32 = 0
  private var defineTypeReference: Int32 = 0
  /// The chunk names (without `@`) run so far, to recognize them in error messages.
  private var chunkNames = Set<String>()
  /// The object types defined with `defineType`.
  var definedTypes = Set<String>()

  /// A fresh state with Lua's standard libraries open.
  /// - Throws: `ScriptError` if Lua cannot allocate a state or the built-in helpers fail to load.
  public init() throws {
    guard let state = luaL_newstate() else {
      throw ScriptError(kind: .setup, file: nil, line: nil, message: "Lua could not allocate a state (out of memory)")
    }
    mainThread = state
    current = state
    luaL_openlibs(state)
    luaL_newmetatable(state, LuaBridge.boxMetatable)
    lua_pushcclosure(state, LuaBridge.releaseBox, 0)
    lua_setfield(state, -2, "__gc")
    lua_settop(state, 0)
    try loadCore()
  }

  deinit { close() }

  /// Closes the interpreter, running every finalizer (releasing the Swift values Lua held). Later calls into
  /// this state throw; `LuaFunction`s made from it become inert.
  public func close() {
    guard isOpen else { return }
    isOpen = false
    lua_close(mainThread)
  }

  // MARK: - Running chunks

  /// Runs the Lua file at `path`; errors name it as given (`experiments/a.lua:12: ...`).
  /// - Returns: the values the chunk returns.
  /// - Throws: `ScriptError` for a file that cannot be read, a syntax error or a runtime error.
  @discardableResult
  public func run(file path: String) throws -> [LuaValue] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ScriptError(kind: .setup, file: path, line: nil, message: "cannot read the script (does the file exist?)")
    }
    return try run(String(decoding: data, as: UTF8.self), chunkName: path)
  }

  /// Runs `code` as a chunk called `chunkName` (errors read `chunkName:line: message`).
  /// - Returns: the values the chunk returns.
  /// - Throws: `ScriptError` for a syntax error or a runtime error.
  @discardableResult
  public func run(_ code: String, chunkName: String) throws -> [LuaValue] {
    try requireOpen()
    chunkNames.insert(chunkName)
    let L = current
    let base = lua_gettop(L)
    defer { lua_settop(L, base) }
    lua_rawgeti(L, luaRegistryIndex, lua_Integer(handlerReference))
    let status = Self.load(code, chunkName: "@" + chunkName, on: L)
    guard status == LUA_OK else { throw scriptError(L, at: -1, kind: .syntax) }
    guard lua_pcallk(L, 0, LUA_MULTRET, base + 1, 0, nil) == LUA_OK else {
      throw scriptError(L, at: -1, kind: .runtime)
    }
    return try LuaStack(state: self, L: L).values(from: base + 2, to: lua_gettop(L), path: "result")
  }

  /// Runs `code` as library code (chunk `=lab`, whose frames never count as the user's) with `arguments`.
  /// - Throws: `ScriptError` if it fails to compile or run.
  func runLibrary(_ code: String, arguments: [LuaValue]) throws {
    try requireOpen()
    let L = current
    let base = lua_gettop(L)
    defer { lua_settop(L, base) }
    lua_rawgeti(L, luaRegistryIndex, lua_Integer(handlerReference))
    let status = Self.load(code, chunkName: CorePrelude.chunkName, on: L)
    guard status == LUA_OK else { throw scriptError(L, at: -1, kind: .syntax) }
    let stack = LuaStack(state: self, L: L)
    for argument in arguments { try stack.push(argument) }
    guard lua_pcallk(L, Int32(arguments.count), 0, base + 1, 0, nil) == LUA_OK else {
      throw scriptError(L, at: -1, kind: .runtime)
    }
  }

  // MARK: - Globals and functions

  /// Sets the global `name` to `value`.
  /// - Throws: `LabError` for an object of an undefined type.
  public func setGlobal(_ name: String, _ value: LuaValue) throws {
    try requireOpen()
    let L = current
    let base = lua_gettop(L)
    defer { lua_settop(L, base) }
    // Raw: a script may have given _G a metatable whose __newindex raises, and nothing here is protected.
    lua_rawgeti(L, luaRegistryIndex, lua_Integer(LUA_RIDX_GLOBALS))
    LuaStack.pushString(name, on: L)
    try LuaStack(state: self, L: L).push(value)
    lua_rawset(L, -3)
  }

  /// The global `name` (copied, as `LuaValue`s are).
  /// - Throws: `LabError` for a value Swift cannot take (a table with mixed keys, a coroutine).
  public func global(_ name: String) throws -> LuaValue {
    try requireOpen()
    let L = current
    let base = lua_gettop(L)
    defer { lua_settop(L, base) }
    lua_rawgeti(L, luaRegistryIndex, lua_Integer(LUA_RIDX_GLOBALS))
    lua_pushstring(L, name)
    lua_rawget(L, -2)
    return try LuaStack(state: self, L: L).value(at: -1, path: name)
  }

  /// A Lua function that runs `body`. What `body` throws becomes a Lua error raised at the calling line, with
  /// the message prefixed by `name` (`lab.losses: ...`) unless it already starts with it; a `ScriptError`
  /// (from a Lua callback) keeps its own position.
  public func function(named name: String, _ body: @escaping (LuaArguments) throws -> [LuaValue]) throws -> LuaValue {
    try requireOpen()
    let L = current
    let base = lua_gettop(L)
    defer { lua_settop(L, base) }
    try pushFunction(named: name, body, on: L)
    return try LuaStack(state: self, L: L).value(at: -1, path: name)
  }

  /// Pushes the wrapped Lua function running `body` onto `L`.
  func pushFunction(named name: String, _ body: @escaping (LuaArguments) throws -> [LuaValue], on L: OpaquePointer) throws {
    LuaBridge.pushBox(FunctionBox(name: name, state: self, body: body), on: L)
    lua_pushcclosure(L, LuaBridge.callFunction, 1)
    // core.wrap(raw) -> the raising wrapper.
    lua_rawgeti(L, luaRegistryIndex, lua_Integer(wrapReference))
    lua_rotate(L, -2, 1)
    guard lua_pcallk(L, 1, 1, 0, 0, nil) == LUA_OK else {
      let message = LuaStack(state: self, L: L).string(at: -1) ?? "unknown error"
      lua_settop(L, -2)
      throw LabError("could not make the Lua function \(name): \(message)")
    }
  }

  // MARK: - Object types

  /// Defines the Lua type `name` for Swift values of type `Value`: values pushed as `LuaObject(value,
  /// typeName: name)` become userdata that print with `describe` (`print(mask)`), answer `methods` (called
  /// with `:`, receiving the value and the arguments after `self`), reject unknown method names with a
  /// suggestion, and release the Swift value when Lua collects them.
  /// - Throws: `ScriptError` if the state is closed, `LabError` if Lua rejects the definition.
  public func defineType<Value>(
    _ type: Value.Type, name: String, describe: @escaping (Value) -> String,
    methods: [String: (Value, LuaArguments) throws -> [LuaValue]]
  ) throws {
    try requireOpen()
    let L = current
    let base = lua_gettop(L)
    defer { lua_settop(L, base) }
    definedTypes.insert(name)
    lua_rawgeti(L, luaRegistryIndex, lua_Integer(defineTypeReference))
    lua_pushstring(L, name)
    luaL_newmetatable(L, LuaBridge.metatableName(name))
    lua_pushcclosure(L, LuaBridge.releaseBox, 0)
    lua_setfield(L, -2, "__gc")
    lua_createtable(L, 0, Int32(methods.count))
    for (method, body) in methods {
      let qualified = "\(name):\(method)"
      try pushFunction(named: qualified, { arguments in
        let this = try arguments.object(1, as: Value.self, typeName: name, role: "self (call it as object:\(method)(...))")
        return try body(this, arguments.droppingSelf())
      }, on: L)
      lua_setfield(L, -2, method)
    }
    try pushFunction(named: "tostring", { arguments in
      [.string(describe(try arguments.object(1, as: Value.self, typeName: name, role: "self")))]
    }, on: L)
    guard lua_pcallk(L, 4, 0, 0, 0, nil) == LUA_OK else {
      throw LabError("could not define the Lua type \(name): \(LuaStack(state: self, L: L).string(at: -1) ?? "")")
    }
  }

  // MARK: - Calling Lua from Swift

  /// Calls the function in registry slot `reference` with `arguments` through `lua_pcallk` with the traceback
  /// handler, on the current thread.
  func call(reference: Int32, _ arguments: [LuaValue], name: String) throws -> [LuaValue] {
    try requireOpen()
    let L = current
    let base = lua_gettop(L)
    defer { lua_settop(L, base) }
    guard lua_checkstack(L, Int32(arguments.count) + 4) != 0 else { throw LabError("\(name): the Lua stack is full") }
    lua_rawgeti(L, luaRegistryIndex, lua_Integer(handlerReference))
    lua_rawgeti(L, luaRegistryIndex, lua_Integer(reference))
    let stack = LuaStack(state: self, L: L)
    for argument in arguments { try stack.push(argument) }
    guard lua_pcallk(L, Int32(arguments.count), LUA_MULTRET, base + 1, 0, nil) == LUA_OK else {
      throw scriptError(L, at: -1, kind: .runtime)
    }
    return try stack.values(from: base + 2, to: lua_gettop(L), path: "the result of \(name)")
  }

  func requireOpen() throws {
    guard isOpen else {
      throw ScriptError(kind: .setup, file: nil, line: nil, message: "the Lua state is closed (its script has ended)")
    }
  }

  // MARK: - Setup

  private func loadCore() throws {
    let L = mainThread
    let loaded = Self.load(CorePrelude.source, chunkName: CorePrelude.chunkName, on: L)
    guard loaded == LUA_OK else { throw coreFailure(L) }
    // `closest(word, names)` -> " (did you mean 'x'?)" or "", passed to the prelude, which wraps it.
    LuaBridge.pushBox(FunctionBox(name: "closest", state: self, body: Suggestions.hintFunction), on: L)
    lua_pushcclosure(L, LuaBridge.callFunction, 1)
    guard lua_pcallk(L, 1, 1, 0, 0, nil) == LUA_OK else { throw coreFailure(L) }
    for (key, slot) in [("wrap", \LuaState.wrapReference), ("handler", \.handlerReference),
                        ("defineType", \.defineTypeReference)] {
      lua_pushstring(L, key)
      lua_rawget(L, -2)
      self[keyPath: slot] = luaL_ref(L, luaRegistryIndex)
    }
    lua_settop(L, 0)
  }

  private func coreFailure(_ L: OpaquePointer) -> ScriptError {
    ScriptError(kind: .setup, file: nil, line: nil,
                message: "the built-in Lua helpers failed to load: \(LuaStack(state: self, L: L).string(at: -1) ?? "")")
  }

  /// Compiles `code` (text only, never bytecode) as the chunk `chunkName` and pushes it, or the error message.
  private static func load(_ code: String, chunkName: String, on L: OpaquePointer) -> Int32 {
    code.withCString { luaL_loadbufferx(L, $0, code.utf8.count, chunkName, "t") }
  }

  // MARK: - Errors

  /// The error object at `index` (a string, or the handler's table) as a located `ScriptError`.
  func scriptError(_ L: OpaquePointer, at index: Int32, kind: ScriptError.Kind) -> ScriptError {
    let stack = LuaStack(state: self, L: L)
    var message = stack.string(at: index) ?? "an error without a message"
    var traceback: String?
    var frames = [(file: String, line: Int)]()
    if lua_type(L, index) == LUA_TTABLE {
      let table = lua_absindex(L, index)
      message = stack.rawString(table, "message") ?? message
      traceback = stack.rawString(table, "traceback")
      lua_pushstring(L, "frames")
      lua_rawget(L, table)
      if lua_type(L, -1) == LUA_TTABLE {
        var position: lua_Integer = 1
        while lua_rawgeti(L, -1, position) == LUA_TTABLE {
          if let file = stack.rawString(lua_absindex(L, -1), "file"), let line = stack.rawInteger(lua_absindex(L, -1), "line") {
            frames.append((file, line))
          }
          lua_settop(L, -2)
          position += 1
        }
        lua_settop(L, -2)
      }
      lua_settop(L, -2)
    }
    return locate(message, frames: frames, kind: kind, traceback: traceback)
  }

  /// Splits `file:line: text` when `file` is a user chunk; otherwise (an error raised inside the `lab`
  /// helpers or a C function) places it at the innermost user frame of the traceback.
  func locate(_ message: String, frames: [(file: String, line: Int)], kind: ScriptError.Kind,
              traceback: String?) -> ScriptError {
    var text = message
    if let (source, line, rest) = Self.splitPosition(message) {
      let candidates = frames.map(\.file) + chunkNames.sorted()
      if let file = candidates.first(where: { Self.shortSource($0) == source }) {
        let sentence = kind == .syntax ? "syntax error: \(rest)" : rest
        return ScriptError(kind: kind, file: file, line: line, message: sentence, traceback: traceback)
      }
      if source == String(CorePrelude.chunkName.dropFirst()) || source == "[C]" { text = rest }
    }
    let frame = frames.first
    return ScriptError(kind: kind, file: frame?.file, line: frame?.line, message: text, traceback: traceback)
  }

  /// `("a.lua", 12, "message")` from `a.lua:12: message`: the first `:digits: ` in the text.
  static func splitPosition(_ message: String) -> (String, Int, String)? {
    let characters = Array(message)
    var index = 0
    while index < characters.count {
      if characters[index] == ":" {
        var end = index + 1
        while end < characters.count, characters[end].isASCII, characters[end].isNumber { end += 1 }
        if end > index + 1, end + 1 < characters.count, characters[end] == ":", characters[end + 1] == " ",
           let line = Int(String(characters[(index + 1) ..< end])) {
          return (String(characters[..<index]), line, String(characters[(end + 2)...]))
        }
      }
      index += 1
    }
    return nil
  }

  /// What Lua shows for the chunk `@name` in messages (`luaO_chunkid`): the name, or `...` and its tail when
  /// longer than `LUA_IDSIZE - 1` (59) bytes.
  static func shortSource(_ name: String) -> String {
    let bytes = Array(name.utf8)
    let limit = Int(LUA_IDSIZE) - 1
    if bytes.count <= limit { return name }
    return "..." + String(decoding: bytes.suffix(limit - 3), as: UTF8.self)
  }
}
