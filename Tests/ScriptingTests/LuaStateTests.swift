// The embedding itself: running chunks, located errors, values both ways, Swift functions and objects.

import Blip2Core
import Foundation
import Testing
@testable import Scripting

@Suite struct LuaStateTests {
  @Test func runsAChunkAndReturnsItsValues() throws {
    let lua = try LuaState()
    let results = try lua.run("return 1 + 1, 2.5, 'text', true, nil", chunkName: "chunk.lua")
    #expect(results.count == 5)
    guard case .int(2) = results[0], case .double(2.5) = results[1], case .string("text") = results[2],
          case .bool(true) = results[3], case .nil = results[4] else {
      Issue.record("unexpected results \(results)")
      return
    }
  }

  @Test func syntaxErrorNamesFileAndLine() throws {
    let lua = try LuaState()
    let error = try #require(throws: ScriptError.self) {
      try lua.run("local x = 1\nlocal y = = 2\n", chunkName: "broken.lua")
    }
    #expect(error.kind == .syntax)
    #expect(error.file == "broken.lua")
    #expect(error.line == 2)
    #expect(error.message.hasPrefix("syntax error: "))
  }

  @Test func runtimeErrorNamesFileAndLine() throws {
    let lua = try LuaState()
    let error = try #require(throws: ScriptError.self) {
      try lua.run("local t = {}\n\nlocal x = t.a.b\n", chunkName: "experiments/oops.lua")
    }
    #expect(error.kind == .runtime)
    #expect(error.file == "experiments/oops.lua")
    #expect(error.line == 3)
    #expect(error.message.contains("attempt to index a nil value"))
    #expect(error.errorDescription?.hasPrefix("experiments/oops.lua:3: ") == true)
    #expect(error.traceback?.contains("stack traceback") == true)
  }

  @Test func longFileNamesAreStillRecognized() throws {
    let lua = try LuaState()
    let name = "/a/very/long/directory/name/that/goes/on/and/on/experiments/ablation_script.lua"
    let error = try #require(throws: ScriptError.self) { try lua.run("\nerror('boom')", chunkName: name) }
    #expect(error.file == name)
    #expect(error.line == 2)
    #expect(error.message == "boom")
  }

  @Test func runsAFile() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-lua-\(UUID()).lua")
    try "local a = 40\nreturn a + 2\n".write(to: url, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: url) }
    let lua = try LuaState()
    let results = try lua.run(file: url.path)
    guard case .int(42)? = results.first else { Issue.record("got \(results)"); return }
    let missing = try #require(throws: ScriptError.self) { try lua.run(file: "/nonexistent/x.lua") }
    #expect(missing.file == "/nonexistent/x.lua")
  }

  @Test func swiftFunctionsAreCallableAndTheirErrorsArePcallable() throws {
    let lua = try LuaState()
    try lua.setGlobal("half", lua.function(named: "half") { arguments in
      let number = try arguments.int(1)
      guard number % 2 == 0 else { throw LabError("half: \(number) is odd") }
      return [.int(number / 2)]
    })
    let results = try lua.run("""
      local ok, message = pcall(half, 3)
      return half(42), ok, message
      """, chunkName: "f.lua")
    guard case .int(21) = results[0], case .bool(false) = results[1], case let .string(message) = results[2] else {
      Issue.record("got \(results)")
      return
    }
    #expect(message == "half: 3 is odd")
    // Uncaught, it points at the calling line.
    let error = try #require(throws: ScriptError.self) { try lua.run("local x = 1\nhalf('a')", chunkName: "g.lua") }
    #expect(error.file == "g.lua")
    #expect(error.line == 2)
    #expect(error.message == "half: argument #1 must be an integer, got a string")
  }

  @Test func swiftFunctionsWorkInsideCoroutines() throws {
    let lua = try LuaState()
    try lua.setGlobal("twice", lua.function(named: "twice") { arguments in [.int(try arguments.int(1) * 2)] })
    let results = try lua.run("""
      local co = coroutine.wrap(function(a) local b = coroutine.yield(twice(a)); return twice(b) end)
      return co(2), co(5)
      """, chunkName: "co.lua")
    guard case .int(4) = results[0], case .int(10) = results[1] else { Issue.record("got \(results)"); return }
  }

  @Test func luaFunctionsCalledFromSwiftReportTheirLine() throws {
    let lua = try LuaState()
    try lua.run("""
      function weight(step)
        if step > 10 then
          error('too far')
        end
        return step * 0.5
      end
      """, chunkName: "w.lua")
    guard case let .function(weight) = try lua.global("weight") else { Issue.record("no function"); return }
    guard case .double(2.0)? = try weight.call([.int(4)]).first else { Issue.record("bad result"); return }
    let error = try #require(throws: ScriptError.self) { try weight.call([.int(11)]) }
    #expect(error.file == "w.lua")
    #expect(error.line == 3)
    #expect(error.message == "too far")
  }

  @Test(arguments: [
    ("local x = 1\nerror('plain', 0)", 2, "plain"),
    ("local x = 1\nerror({ code = 1 })", 2, "a table value was raised as an error"),
    ("local t = setmetatable({}, { __index = function() error('inner', 0) end })\nlocal y = 2\nlocal z = t.a", 1, "inner"),
    ("local x = 1\nlocal s = string.rep()", 2, "bad argument #1 to 'rep'"),
  ])
  func errorsWithoutAPositionTakeTheInnermostUserLine(code: String, line: Int, message: String) throws {
    let lua = try LuaState()
    let error = try #require(throws: ScriptError.self) { try lua.run(code, chunkName: "pos.lua") }
    #expect(error.file == "pos.lua")
    #expect(error.line == line)
    #expect(error.message.hasPrefix(message), "\(error.message)")
  }

  @Test func settingGlobalsIgnoresAStrictGlobalTable() throws {
    let lua = try LuaState()
    try lua.run("setmetatable(_G, { __newindex = function() error('no new globals') end })", chunkName: "s.lua")
    try lua.setGlobal("fromSwift", .int(7))
    guard case .int(7)? = try lua.run("return fromSwift", chunkName: "s.lua").first else {
      Issue.record("global not set")
      return
    }
  }

  @Test func closedStateRefusesWork() throws {
    let lua = try LuaState()
    try lua.run("function f() return 1 end", chunkName: "c.lua")
    guard case let .function(function) = try lua.global("f") else { Issue.record("no function"); return }
    lua.close()
    #expect(throws: ScriptError.self) { try function.call([]) }
    #expect(throws: ScriptError.self) { try lua.run("return 1", chunkName: "c.lua") }
  }
}
