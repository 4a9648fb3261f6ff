// ConfigValue <-> Lua: integers vs floats, lists vs tables, nesting, and the errors for what a config cannot be.

import Blip2Core
import Testing
@testable import Scripting

@Suite struct LuaValueTests {
  /// Lua -> Swift -> Lua -> Swift gives the same config.
  @Test func configRoundTripsThroughLua() throws {
    let lua = try LuaState()
    let config: ConfigValue = [
      "queries": 32, "lr": 1e-4, "two": 2.0, "name": "full", "frozen": true,
      "sizes": [1, 2, 3], "losses": ["itc": 1, "itg": 0.5], "nested": ["deeper": ["list": ["a", "b"]]],
    ]
    try lua.setGlobal("config", LuaValue(config))
    let results = try lua.run("""
      return config, math.type(config.queries), math.type(config.two), #config.sizes, config.nested.deeper.list[2]
      """, chunkName: "round.lua")
    #expect(try results[0].configValue(path: "config") == config)
    guard case .string("integer") = results[1], case .string("float") = results[2], case .int(3) = results[3],
          case .string("b") = results[4] else {
      Issue.record("got \(results)")
      return
    }
  }

  @Test func integersAndFloatsKeepTheirSubtype() throws {
    let lua = try LuaState()
    let value = try lua.run("return { a = 1, b = 1.0, c = 2^53, d = 7 // 2 }", chunkName: "n.lua")[0]
    guard case let .table(table) = value else { Issue.record("not a table"); return }
    guard case .int(1)? = table["a"], case .double(1.0)? = table["b"], case .double? = table["c"], case .int(3)? = table["d"] else {
      Issue.record("got \(table)")
      return
    }
  }

  @Test func sequencesAreListsAndEmptyTablesAreTables() throws {
    let lua = try LuaState()
    let values = try lua.run("return { 'x', 'y' }, {}", chunkName: "l.lua")
    #expect(try values[0].configValue(path: "v") == ["x", "y"])
    #expect(try values[1].configValue(path: "v") == .table([:]))
  }

  @Test(arguments: [
    ("return { 1, 2, itc = 3 }", "mixes list entries"),
    ("return { [1] = 'a', [3] = 'c' }", "entry 2 is missing"),
    ("return { [true] = 1 }", "found a boolean key"),
    ("return { [1.5] = 1 }", "found a number key"),
    ("local t = {}; t.self = t; return t", "contains itself"),
  ])
  func badTablesAreErrorsNamingThePath(code: String, expected: String) throws {
    let lua = try LuaState()
    try lua.setGlobal("probe", lua.function(named: "probe") { arguments in
      _ = try arguments.value(1)
      return []
    })
    let error = try #require(throws: ScriptError.self) {
      try lua.run("local function make() \(code) end\nprobe({ outer = make() })", chunkName: "bad.lua")
    }
    #expect(error.line == 2)
    #expect(error.message.contains("argument #1.outer"), "\(error.message)")
    #expect(error.message.contains(expected), "\(error.message)")
  }

  @Test func functionsAreNotConfigValues() throws {
    let lua = try LuaState()
    let value = try lua.run("return { f = function() end }", chunkName: "f.lua")[0]
    #expect(throws: LabError("opts.f: a function cannot be an option value (use booleans, numbers, strings and tables)")) {
      try value.configValue(path: "opts")
    }
  }
}
