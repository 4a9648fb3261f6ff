// lab.schedule and lab.losses: values the trainers use, with Lua functions called back from Swift.

import Blip2Core
import Testing
@testable import Scripting

@Suite struct LabTrainingTests {
  @Test func lossMixWithALuaFunctionWeight() throws {
    let (engine, _) = try makeEngine()
    let mix = try returnedObject(engine, """
      return lab.losses{ itc = 1, itm = 0.5, itg = function(step) return step < 100 and 0 or 1 end }
      """, as: LossMix.self)
    #expect(try mix.weight("itc", step: 0) == 1)
    #expect(try mix.weight("itm", step: 7) == 0.5)
    #expect(try mix.weight("itg", step: 99) == 0)
    #expect(try mix.weight("itg", step: 100) == 1)
    #expect(mix.description == "itc=1.0 itg=f(step) itm=0.5")
    let printed = try returnedString(engine, "return tostring(lab.losses{ itc = 1, itg = 0 })")
    #expect(printed == "LossMix itc=1.0 itg=0.0")
  }

  @Test func badWeightFunctionsFailWhenEvaluated() throws {
    let (engine, _) = try makeEngine()
    let mix = try returnedObject(engine, """
      return lab.losses{
        itc = function(step) return "one" end,
        itg = function(step)
          return step.size
        end,
      }
      """, as: LossMix.self)
    #expect(throws: LabError("lab.losses: the itc weight at step 3 must be a number >= 0, got 'one'")) {
      try mix.weight("itc", step: 3)
    }
    let error = try #require(throws: ScriptError.self) { try mix.weight("itg", step: 3) }
    #expect(error.file == "test.lua")
    #expect(error.line == 4)
  }

  @Test func scheduleWithNamedAndLuaMasks() throws {
    let (engine, _) = try makeEngine()
    let schedule = try returnedObject(engine, """
      local queriesSeeText = function(i, j, segI, segJ) return segI == "queries" or segJ == "queries" or j <= i end
      return lab.schedule{
        itg = {
          { steps = { 0, 500 }, mask = "multimodalCausal" },
          { steps = { 500, 1000 }, mask = queriesSeeText, name = "queriesSeeText" },
        },
        itc = "bidirectional",
      }
      """, as: MaskSchedule.self)
    let layout = try TokenLayout.queriesAndText(queries: 2, text: 3)
    #expect(try schedule.mask(for: .itg, step: 10, layout: layout) == .multimodalCausal(layout))
    let late = try schedule.mask(for: .itg, step: 700, layout: layout)
    #expect(late[0, 3] && !late[2, 3] && late[3, 2])
    #expect(try schedule.mask(for: .itc, step: 0, layout: layout) == .bidirectional(layout))
    let timeline = try returnedString(engine, """
      return lab.schedule{ itg = { { steps = { 0, 500 }, mask = "causal" } } }:describe(1000)
      """)
    #expect(timeline.contains("itg: steps 0..<500 causal, 500..<1000 multimodalCausal (default)"))
  }

  @Test(arguments: [
    ("lab.schedule{ itgg = 'causal' }", "lab.schedule: unknown key 'itgg' (did you mean 'itg'?)"),
    ("lab.schedule{ itg = { { steps = { 5, 1 }, mask = 'causal' } } }",
     "lab.schedule: itg[1]: 'steps' must be { from, to } with 0 <= from < to, got { 5, 1 }"),
    ("lab.schedule{ itg = { { steps = { 0, 10 }, mask = 'casual' } } }", "lab.schedule: \"casual\" is not a built-in mask"),
    ("lab.schedule{ itg = { { steps = { 0, 10 }, mask = 3 } } }", "lab.schedule: itg[1]: 'mask' must be a mask name"),
    ("lab.schedule{ itg = { { step = { 0, 10 }, mask = 'causal' } } }",
     "lab.schedule: itg[1]: unknown key 'step' (did you mean 'steps'?)"),
    ("lab.schedule{ itg = { { steps = { 0, 10 }, mask = 'causal' }, { steps = { 5, 20 }, mask = 'causal' } } }",
     "lab.schedule: The schedule for \"itg\" already has a mask for steps 0..<10"),
  ])
  func scheduleErrors(code: String, expected: String) throws {
    let (engine, _) = try makeEngine()
    let error = try #require(throws: ScriptError.self) { try engine.run(code, chunkName: "s.lua") }
    #expect(error.line == 1)
    #expect(error.message.hasPrefix(expected), "\(error.message)")
  }
}
