// lab.option with --set overrides, strict option tables, and errors raised at the script's line.

import Blip2Core
import Foundation
import Testing
@testable import Scripting

@Suite struct LabOptionTests {
  @Test func defaultsApplyWithoutOverrides() throws {
    let (engine, _) = try makeEngine()
    let results = try engine.run("return lab.option('steps', 3000, 'training steps'), lab.option('lr', 1e-4)",
                                 chunkName: "o.lua")
    guard case .int(3000) = results[0], case .double(1e-4) = results[1] else { Issue.record("got \(results)"); return }
    #expect(engine.options.map(\.name) == ["steps", "lr"])
    #expect(engine.options.first?.help == "training steps")
  }

  @Test func setOverridesWithTheDefaultsType() throws {
    let (engine, _) = try makeEngine(settings: ["steps=10", "lr=1", "name=12", "fast=true", "losses={\"itc\":2}"])
    let results = try engine.run("""
      return lab.option('steps', 3000), lab.option('lr', 1e-4), lab.option('name', 'full'),
        lab.option('fast', false), lab.option('losses', { itc = 1 }).itc, math.type(lab.option('lr', 1e-4))
      """, chunkName: "o.lua")
    guard case .int(10) = results[0], case .double(1.0) = results[1], case .string("12") = results[2],
          case .bool(true) = results[3], case .int(2) = results[4], case .string("float") = results[5] else {
      Issue.record("got \(results)")
      return
    }
    try engine.checkSettingsWereRead(file: "o.lua")
  }

  @Test func typeMismatchIsAnErrorAtTheLine() throws {
    let (engine, _) = try makeEngine(settings: ["steps=fast"])
    let error = try #require(throws: ScriptError.self) {
      try engine.run("local a = 1\nlocal steps = lab.option('steps', 3000)", chunkName: "o.lua")
    }
    #expect(error.file == "o.lua")
    #expect(error.line == 2)
    #expect(error.message == "lab.option: --set steps=fast gives a string, but 'steps' takes an integer (its default is 3000)")
  }

  @Test func unknownSetKeyIsAnErrorWithSuggestion() throws {
    let (engine, _) = try makeEngine(settings: ["stpes=10"])
    try engine.run("local steps = lab.option('steps', 3000)\nlocal lr = lab.option('lr', 1e-4)", chunkName: "o.lua")
    let error = try #require(throws: ScriptError.self) { try engine.checkSettingsWereRead(file: "o.lua") }
    #expect(error.kind == .setup)
    #expect(error.errorDescription
      == "o.lua: --set stpes: the script never reads an option 'stpes' with lab.option (did you mean 'steps'?); "
      + "the options it reads are steps, lr")
  }

  @Test func runningAFileRequiresNeighboursAndChecksSettings() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-script-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try "return { twice = function(x) return 2 * x end }".write(
      to: directory.appendingPathComponent("helpers.lua"), atomically: true, encoding: .utf8)
    let script = directory.appendingPathComponent("main.lua").path
    try "local helpers = require 'helpers'\nreturn helpers.twice(lab.option('steps', 3))".write(
      toFile: script, atomically: true, encoding: .utf8)
    let (engine, _) = try makeEngine(settings: ["steps=5"])
    guard case .int(10)? = try engine.run(file: script).first else { Issue.record("wrong result"); return }
    let (typo, _) = try makeEngine(settings: ["step=5"])
    let error = try #require(throws: ScriptError.self) { try typo.run(file: script) }
    #expect(error.file == script)
    #expect(error.message.contains("(did you mean 'steps'?)"))
  }

  @Test func aSetKeyReadLaterPassesAnEarlyCheckAndATypoFailsIt() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-script-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let script = directory.appendingPathComponent("late.lua").path
    // lab.run checks like lab.check does here: before training, so a typo does not cost a run.
    try """
      local early = lab.option("early", 1)
      lab.check()
      return early + lab.option( 'late', 2 )
      """.write(toFile: script, atomically: true, encoding: .utf8)
    func engine(_ settings: [String]) throws -> ScriptEngine {
      let (engine, _) = try makeEngine(settings: settings)
      try engine.addFunction("check") { engine, _ in
        try engine.checkSettingsWereRead(file: nil, orDeclared: true)
        return []
      }
      return engine
    }
    guard case .int(6)? = try engine(["late=5"]).run(file: script).first else { Issue.record("late=5 not applied"); return }
    let error = try #require(throws: ScriptError.self) { try engine(["lat=5"]).run(file: script) }
    #expect(error.errorDescription == "\(script):2: lab.check: --set lat: the script never reads an option 'lat' with "
      + "lab.option (did you mean 'late'?); the options it reads are early, late")
    #expect(ScriptEngine.optionNames(in: "lab.option(\"a\", 1) lab . option ( 'b.c', 2) lab.option(name, 3)") == ["a", "b.c"])
  }

  @Test func syntaxAndRuntimeErrorsInAScriptFileNameItsPathAndLine() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-script-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    for (code, line, message) in [("local steps = 10\nif steps > 5 them\n", 2, "syntax error: "),
                                  ("local t = {}\n\nprint(t.model.name)\n", 3, "attempt to index a nil value")] {
      let script = directory.appendingPathComponent("broken.lua").path
      try code.write(toFile: script, atomically: true, encoding: .utf8)
      let (engine, _) = try makeEngine()
      let error = try #require(throws: ScriptError.self) { try engine.run(file: script) }
      #expect(error.errorDescription?.hasPrefix("\(script):\(line): \(message)") == true, "\(error)")
    }
  }

  @Test func malformedSetIsASetupError() {
    #expect(throws: ScriptError.self) { try ScriptEngine(settings: ["steps"]) }
  }

  @Test func unknownKeyInALabTableIsPcallable() throws {
    let (engine, _) = try makeEngine()
    let results = try engine.run("return pcall(lab.losses, { itgg = 1 })", chunkName: "p.lua")
    guard case .bool(false) = results[0], case let .string(message) = results[1] else { Issue.record("got \(results)"); return }
    #expect(message == "lab.losses: unknown key 'itgg' (did you mean 'itg'?); known keys: itc, itm, itg")
  }

  @Test func uncaughtLabErrorsPointAtTheCallingLine() throws {
    let (engine, _) = try makeEngine()
    let error = try #require(throws: ScriptError.self) {
      try engine.run("local x = 1\n\nlocal mix = lab.losses{ itc = 1, itgg = 1 }\n", chunkName: "experiments/a.lua")
    }
    #expect(error.errorDescription
      == "experiments/a.lua:3: lab.losses: unknown key 'itgg' (did you mean 'itg'?); known keys: itc, itm, itg")
  }

  @Test(arguments: [
    ("lab.losses{ itc = 'one' }", "lab.losses: 'itc' must be a number in 0.0...1.7976931348623157e+308, got a string"),
    ("lab.losses{ itc = -1 }", "lab.losses: 'itc' must be a number in 0.0...1.7976931348623157e+308, got -1.0"),
    ("lab.layout{ queries = 32 }", "lab.layout: 'text' is required: give an integer in 0...65536"),
    ("lab.layout{ queries = -1, text = 8 }", "lab.layout: 'queries' must be an integer in 0...65536, got -1"),
    ("lab.layout{ queries = 2.5, text = 8 }", "lab.layout: 'queries' must be an integer in 0...65536, got a number"),
    ("lab.mask.itg(lab.layout{ queries = 2, text = 2 }):render{ ascci = true }",
     "AttentionMask:render: unknown key 'ascci' (did you mean 'ascii'?); known keys: compact, ascii"),
    ("lab.losess{}", "lab has no field 'losess' (did you mean 'losses'?)"),
    ("lab.mask.itgg()", "lab.mask has no field 'itgg' (did you mean 'itg'?)"),
    ("lab.render('itgg', 'x.svg')", "lab.render: no mask called 'itgg' (did you mean 'itg'?)"),
    ("lab.render('itg', 'x.svg', { querie = 2 })",
     "lab.render(the paper's masks): unknown key 'querie' (did you mean 'queries'?)"),
  ])
  func labErrorsAreLocatedPlainSentences(code: String, expected: String) throws {
    let (engine, _) = try makeEngine()
    let error = try #require(throws: ScriptError.self) { try engine.run("\n" + code, chunkName: "e.lua") }
    #expect(error.file == "e.lua")
    #expect(error.line == 2)
    #expect(error.message.hasPrefix(expected), "\(error.message)")
  }

  @Test func otherPartsCanAddLabFunctions() throws {
    let (engine, _) = try makeEngine()
    try engine.addFunction("pretrain.encoder") { _, arguments in
      let options = try OptionTable(try arguments.table(1), function: "lab.pretrain.encoder", keys: ["steps"])
      return [.int(try options.int("steps", default: 10))]
    }
    guard case .int(4)? = try engine.run("return lab.pretrain.encoder{ steps = 4 }", chunkName: "x.lua").first else {
      Issue.record("lab.pretrain.encoder did not run")
      return
    }
    let error = try #require(throws: ScriptError.self) {
      try engine.run("local a\nlab.pretrain.encoder{ step = 4 }", chunkName: "x.lua")
    }
    #expect(error.errorDescription == "x.lua:2: lab.pretrain.encoder: unknown key 'step' (did you mean 'steps'?); known keys: steps")
  }

  @Test func dryRunAndPrintReachTheScript() throws {
    let (engine, output) = try makeEngine(dryRun: true)
    try engine.run("print('dry', lab.dry_run, 3)", chunkName: "d.lua")
    #expect(output.text == "dry\ttrue\t3")
  }
}
