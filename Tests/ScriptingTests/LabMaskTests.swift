// Masks built from Lua are exactly the Swift constructors' masks; custom Lua masks; methods; printing.

import Blip2Core
import Testing
@testable import Scripting

@Suite struct LabMaskTests {
  static let layout = try! TokenLayout.queriesAndText(queries: 2, text: 3)
  static let prelude = "local layout = lab.layout{ queries = 2, text = 3 }\n"

  @Test(arguments: [
    ("itc", AttentionMask.unimodal(layout)), ("itm", AttentionMask.bidirectional(layout)),
    ("itg", AttentionMask.multimodalCausal(layout)), ("causal", AttentionMask.causal(layout)),
  ])
  func paperMasksMatchTheSwiftConstructors(name: String, expected: AttentionMask) throws {
    let (engine, _) = try makeEngine()
    #expect(try returnedObject(engine, Self.prelude + "return lab.mask.\(name)(layout)", as: AttentionMask.self) == expected)
    // A plain option table works as the layout too.
    #expect(try returnedObject(engine, "return lab.mask.\(name){ queries = 2, text = 3 }", as: AttentionMask.self) == expected)
  }

  @Test func blockMasksMatchTheSwiftConstructor() throws {
    let (engine, _) = try makeEngine()
    let mask = try returnedObject(engine, Self.prelude + """
      return lab.mask.blocks(layout, { queries = { queries = "all" }, text = { queries = "all", text = "causal" } })
      """, as: AttentionMask.self)
    #expect(mask == AttentionMask.multimodalCausal(Self.layout))
    let error = try #require(throws: ScriptError.self) {
      try engine.run(Self.prelude + "lab.mask.blocks(layout, { text = { image = 'all' } })", chunkName: "b.lua")
    }
    #expect(error.line == 2)
    #expect(error.message.hasPrefix("lab.mask.blocks: The token layout has no segment \"image\""))
  }

  @Test func customLuaMaskIsOneBased() throws {
    let (engine, _) = try makeEngine()
    let mask = try returnedObject(engine, Self.prelude + """
      return lab.mask.custom(layout, function(i, j, segI, segJ)
        return segJ == "queries" or (segI == "text" and j <= i)
      end)
      """, as: AttentionMask.self)
    #expect(mask == AttentionMask.multimodalCausal(Self.layout))
    let corner = try engine.run(Self.prelude + """
      local seen = {}
      lab.mask.custom(layout, function(i, j) seen[#seen + 1] = i .. "," .. j; return true end)
      return seen[1], seen[#seen], lab.mask.itg(layout):allowed(3, 1), lab.mask.itg(layout):allowed(1, 3)
      """, chunkName: "c.lua")
    guard case .string("1,1") = corner[0], case .string("5,5") = corner[1], case .bool(true) = corner[2],
          case .bool(false) = corner[3] else {
      Issue.record("got \(corner)")
      return
    }
  }

  @Test func errorInsideTheMaskFunctionIsReportedWithItsLine() throws {
    let (engine, _) = try makeEngine()
    let error = try #require(throws: ScriptError.self) {
      try engine.run(Self.prelude + """
        local mask = lab.mask.custom(layout, function(i, j, segI, segJ)
          local limit = nil
          return j <= limit
        end)
        """, chunkName: "experiments/custom.lua")
    }
    #expect(error.file == "experiments/custom.lua")
    #expect(error.line == 4)
    #expect(error.message.hasPrefix("lab.mask.custom: the mask function failed at (i=1, j=1, 'queries', 'queries'): "
      + "attempt to compare"), "\(error.message)")
    // Caught in the script, it is an ordinary Lua error.
    let caught = try engine.run(Self.prelude + "return pcall(lab.mask.custom, layout, function() error('no') end)",
                                chunkName: "p.lua")
    guard case .bool(false) = caught[0], case let .string(message) = caught[1] else { Issue.record("got \(caught)"); return }
    #expect(message.contains("p.lua:2:"))
  }

  @Test func maskFunctionMustReturnABoolean() throws {
    let (engine, _) = try makeEngine()
    let error = try #require(throws: ScriptError.self) {
      try engine.run(Self.prelude + "lab.mask.custom(layout, function(i, j) if i == j then return true end end)",
                     chunkName: "n.lua")
    }
    #expect(error.line == 2)
    #expect(error.message == "lab.mask.custom: the mask function must return true or false, got nil at "
      + "(i=1, j=2, 'queries', 'queries')")
  }

  @Test func masksPrintRenderCombineAndCheckLeaks() throws {
    let (engine, _) = try makeEngine()
    let itg = AttentionMask.multimodalCausal(Self.layout)
    let results = try engine.run(Self.prelude + """
      local itg, itm = lab.mask.itg(layout), lab.mask.itm(layout)
      local seeText = itg:union(lab.mask.blocks(layout, { queries = { text = "all" } }))
      return tostring(itg), itg:render{ ascii = true }, #itg:leaks(), seeText:leaks()[1],
        itg:intersect(itm):count(), itg:block("text", "text"), tostring(layout)
      """, chunkName: "m.lua")
    guard case let .string(printed) = results[0], case let .string(rendered) = results[1], case .int(0) = results[2],
          case let .string(leak) = results[3], case let .int(count) = results[4], case .string("causal") = results[5],
          case .string("TokenLayout [queries 2 | text 3]") = results[6] else {
      Issue.record("got \(results)")
      return
    }
    #expect(printed == "AttentionMask [queries 2 | text 3]: \(itg.allowedCount) of 25 allowed")
    #expect(rendered == itg.render(ascii: true))
    #expect(leak.contains("a later token"))
    #expect(count == itg.allowedCount)
  }

  @Test func unknownMethodSuggestsTheClosest() throws {
    let (engine, _) = try makeEngine()
    let error = try #require(throws: ScriptError.self) {
      try engine.run(Self.prelude + "local mask = lab.mask.itg(layout)\nprint(mask:rendr())", chunkName: "u.lua")
    }
    #expect(error.line == 3)
    #expect(error.message.hasPrefix("AttentionMask has no method 'rendr' (did you mean 'render'?); its methods are "))
  }

  @Test func combiningMasksOfDifferentLayoutsIsAnError() throws {
    let (engine, _) = try makeEngine()
    let error = try #require(throws: ScriptError.self) {
      try engine.run("local a = lab.mask.itg{ queries = 2, text = 3 }\nlocal b = a:union(lab.mask.itg{ queries = 2, text = 4 })",
                     chunkName: "l.lua")
    }
    #expect(error.line == 2)
    #expect(error.message.hasPrefix("AttentionMask:union: Cannot combine a mask over [queries 2 | text 3]"))
  }
}
