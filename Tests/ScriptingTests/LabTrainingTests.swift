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

  @Test func scheduleAsAFunctionOfTheStep() throws {
    let (engine, _) = try makeEngine()
    let schedule = try returnedObject(engine, """
      local textOnly = { queries = { queries = "all" }, text = { text = "causal" } }
      return lab.schedule{
        itg = function(step)
          if step < 10 then return textOnly end
          if step < 20 then return "multimodalCausal" end
          return function(i, j, segI, segJ) return true end
        end,
      }
      """, as: MaskSchedule.self)
    let layout = try TokenLayout.queriesAndText(queries: 2, text: 3)
    #expect(try schedule.mask(for: .itg, step: 0, layout: layout)
      == .blocks(layout, ["queries": ["queries": .all], "text": ["text": .causal]]))
    #expect(try schedule.mask(for: .itg, step: 15, layout: layout) == .multimodalCausal(layout))
    #expect(try schedule.mask(for: .itg, step: 25, layout: layout) == .bidirectional(layout))
    #expect(try schedule.mask(for: .itm, step: 25, layout: layout) == .bidirectional(layout))   // the paper's default
    #expect(schedule.describeTimeline(totalSteps: 30).contains("itg: steps 0..<10 blocks, 10..<20 multimodalCausal, 20..<30 custom"))
    #expect(schedule.description.contains("itg: f(step) (a function of the step)"))
    // The fingerprint runs use sees every mask's cells, so editing the function changes it.
    let edited = try returnedObject(engine, """
      return lab.schedule{ itg = function(step) return step < 10 and "causal" or "multimodalCausal" end }
      """, as: MaskSchedule.self)
    #expect(schedule.fingerprint(totalSteps: 30, layout: layout) != edited.fingerprint(totalSteps: 30, layout: layout))
    #expect(edited.fingerprint(totalSteps: 30, layout: layout) == edited.fingerprint(totalSteps: 30, layout: layout))
  }

  @Test func badScheduleFunctionsFailWhenAskedWithTheStep() throws {
    let (engine, _) = try makeEngine()
    let schedule = try returnedObject(engine, """
      return lab.schedule{
        itg = function(step)
          if step == 1 then return 3 end
          if step == 2 then return lab.mask.itg{ queries = 2, text = 3 } end
          if step == 3 then return "casual" end
          return step.size
        end,
      }
      """, as: MaskSchedule.self)
    #expect(throws: LabError("lab.schedule: itg at step 1: the function must return a mask name (unimodal, bidirectional, "
      + "multimodalCausal, causal), block rules or a function (i, j, segI, segJ), got an integer")) {
      try schedule.maskSpec(for: "itg", step: 1)
    }
    let object = try #require(throws: LabError.self) { try schedule.maskSpec(for: "itg", step: 2) }
    #expect(object.message.hasPrefix("lab.schedule: itg at step 2: the function returned an AttentionMask, which fits only"))
    #expect(throws: MaskError.self) { try schedule.maskSpec(for: "itg", step: 3) }
    let error = try #require(throws: ScriptError.self) { try schedule.maskSpec(for: "itg", step: 4) }
    #expect(error.file == "test.lua")
    #expect(error.line == 6)
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
