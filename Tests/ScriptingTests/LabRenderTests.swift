// `lab.render`: masks, the paper's masks by name and mask schedules drawn from a script with the same Rendering
// code as `blip2lab masks` (the DOT text is compared with what the Rendering types make), every format, and
// errors that name the key, the format or the subject.

import Blip2Core
import Foundation
import Rendering
import Testing
@testable import Scripting

@Suite struct LabRenderTests {
  /// A fresh folder for one test's files.
  static func folder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lab-render-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  @Test("a mask renders to the same DOT as MaskGrid, and to SVG, PNG, PDF and txt by the file's extension")
  func maskFormats() throws {
    let (engine, _) = try makeEngine()
    let dir = try Self.folder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let code = """
      local dir = ...
      local mask = lab.mask.itg(lab.layout{ queries = 3, text = 4 })
      for _, ext in ipairs({ "dot", "svg", "png", "pdf", "txt" }) do lab.render(mask, dir .. "/sub/itg." .. ext) end
      return lab.render(mask, dir .. "/itg-tokens", { format = "dot", tokens = true, title = "ITG tokens" })
      """
    try engine.lua.runLibrary(code, arguments: [.string(dir.path)])
    let mask = AttentionMask.multimodalCausal(try TokenLayout.queriesAndText(queries: 3, text: 4))
    let sub = dir.appendingPathComponent("sub")
    #expect(try String(contentsOf: sub.appendingPathComponent("itg.dot"), encoding: .utf8)
      == (try MaskGrid(mask, title: "\(mask.layout)")).dot.text)
    #expect(try String(contentsOf: sub.appendingPathComponent("itg.svg"), encoding: .utf8).contains("<svg"))
    #expect(try Data(contentsOf: sub.appendingPathComponent("itg.png")).starts(with: PNGEncoder.signature))
    #expect(try Data(contentsOf: sub.appendingPathComponent("itg.pdf")).starts(with: Array("%PDF".utf8)))
    #expect(try String(contentsOf: sub.appendingPathComponent("itg.txt"), encoding: .utf8) == mask.render() + "\n")
    #expect(try String(contentsOf: dir.appendingPathComponent("itg-tokens"), encoding: .utf8)
      == (try TokenGraph(mask, title: "ITG tokens")).dot.text)
  }

  @Test("the paper's masks by name: one objective or all three, with padding, as `blip2lab masks` draws them")
  func paperMasks() throws {
    let (engine, _) = try makeEngine()
    let dir = try Self.folder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try returnedString(engine, """
      return lab.render("paper", "\(dir.path)/masks.dot", { queries = 6, text = 5, textValid = 4 })
      """)
    #expect(path == dir.appendingPathComponent("masks.dot").path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == (try MaskGrid.paperMasks(queries: 6, text: 5, textValid: 4)).text)
    _ = try engine.run("lab.render('itc', '\(dir.path)/itc.dot', { queries = 2, text = 3 })", chunkName: "t.lua")
    #expect(try String(contentsOf: dir.appendingPathComponent("itc.dot"), encoding: .utf8)
      == (try MaskGrid.paperGrid(.itc, queries: 2, text: 3)).dot.text)
  }

  @Test("a mask schedule renders as a timeline over `steps`, which it requires")
  func schedule() throws {
    let (engine, _) = try makeEngine()
    let dir = try Self.folder()
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try engine.run("""
      local s = lab.schedule{ itm = { { steps = { 0, 50 }, mask = "unimodal" } } }
      lab.render(s, "\(dir.path)/s.dot", { steps = 100, title = "curriculum" })
      lab.render(s, "\(dir.path)/s.txt", { steps = 100 })
      """, chunkName: "t.lua")
    var schedule = MaskSchedule()
    try schedule.use(.unimodal, for: "itm", steps: 0 ..< 50)
    #expect(try String(contentsOf: dir.appendingPathComponent("s.dot"), encoding: .utf8)
      == (try ScheduleTimeline(schedule, totalSteps: 100, title: "curriculum")).dot.text)
    #expect(try String(contentsOf: dir.appendingPathComponent("s.txt"), encoding: .utf8)
      == schedule.describeTimeline(totalSteps: 100) + "\n")
    let error = try #require(throws: ScriptError.self) {
      try engine.run("lab.render(lab.schedule{}, 'x.svg')", chunkName: "t.lua")
    }
    #expect(error.message.contains("lab.render(a mask schedule): 'steps' is required"), "\(error.message)")
  }

  @Test(arguments: [
    ("lab.render(lab.mask.itc(lab.layout{ queries = 1, text = 1 }), 'x.svg', { tokenz = true })",
     "lab.render(a mask): unknown key 'tokenz' (did you mean 'tokens'?); known keys: title, tokens, format"),
    ("lab.render('itc', 'x.jpg')", "lab.render(the paper's masks): x.jpg: .jpg is not a format it writes; end the file in .txt, .dot, .svg, .png, .pdf"),
    ("lab.render('itc', 'x.svg', { format = 'gif' })", "lab.render(the paper's masks): 'format' must be one of 'txt', 'dot', 'svg', 'png', 'pdf', got 'gif'"),
    ("lab.render('itc', 'x')", "lab.render(the paper's masks): x has no extension"),
    ("lab.render(3, 'x.svg')", "lab.render: cannot draw an integer; give a mask, a mask schedule, a model, or one of the paper's masks"),
    ("lab.render('itc', 'x.svg', { text = 2, textValid = 3 })", "lab.render(the paper's masks): 'textValid' must be an integer in 0...2"),
  ])
  func errorsNameTheProblem(code: String, expected: String) throws {
    let (engine, _) = try makeEngine()
    let error = try #require(throws: ScriptError.self) { try engine.run(code, chunkName: "r.lua") }
    #expect(error.line == 1)
    #expect(error.message.hasPrefix(expected), "\(error.message)")
  }
}
