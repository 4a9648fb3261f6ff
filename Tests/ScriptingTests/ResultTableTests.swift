// lab.table: mean and sample standard deviation per metric, and the three formats.

import Foundation
import Testing
@testable import Scripting

@Suite struct ResultTableTests {
  static let rows = """
    local rows = {
      { variant = "full", seed = 1, r1 = 0.50, cider = 1.0 },
      { variant = "full", seed = 2, r1 = 0.54, cider = 1.2 },
      { variant = "full", seed = 3, r1 = 0.52, cider = 1.1 },
      { variant = "no-itg", seed = 1, r1 = 0.40, cider = 0.9 },
      { variant = "no-itg", seed = 2, r1 = 0.44 },
    }
    """

  @Test func meanByGivesMeanAndSampleStandardDeviation() throws {
    let (engine, _) = try makeEngine()
    let table = try returnedObject(engine, Self.rows + "\nreturn lab.table(rows):mean_by('variant')", as: ResultTable.self)
    #expect(table.columns == ["variant", "n", "cider", "r1"])
    guard case let .summary(summary)? = table.rows[0]["r1"], let spread = summary.standardDeviation else {
      Issue.record("\(table.rows)")
      return
    }
    #expect(abs(summary.mean - 0.52) < 1e-12)
    #expect(abs(spread - 0.02) < 1e-12)   // sqrt(((-0.02)^2 + 0.02^2 + 0) / 2)
    #expect(summary.minimum == 0.50 && summary.maximum == 0.54 && summary.count == 3)
    guard case let .summary(single)? = table.rows[1]["cider"], single.mean == 0.9, single.standardDeviation == nil,
          single.count == 1, case .number(2)? = table.rows[1]["n"] else {
      Issue.record("\(table.rows)")
      return
    }
  }

  @Test func markdownGolden() throws {
    let (engine, _) = try makeEngine()
    let markdown = try returnedString(engine, Self.rows + "\nreturn lab.table(rows):mean_by('variant'):markdown()")
    #expect(markdown == """
      | variant | n | cider | r1 |
      |---|---:|---:|---:|
      | full | 3 | 1.1000 ± 0.1000 | 0.5200 ± 0.0200 |
      | no-itg | 2 | 0.9000 | 0.4200 ± 0.0283 |

      """)
  }

  @Test func writesEachFormatAtomically() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-results-\(UUID())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let (engine, _) = try makeEngine()
    try engine.run(Self.rows + """

      local summary = lab.table(rows):mean_by("variant")
      summary:write("\(directory.path)/out/table.md")
      summary:write("\(directory.path)/out/table.csv")
      lab.table(rows, { "variant", "seed", "r1" }):write("\(directory.path)/out/raw.json")
      """, chunkName: "w.lua")
    let csv = try String(contentsOf: directory.appendingPathComponent("out/table.csv"), encoding: .utf8)
    #expect(csv == """
      variant,n,cider,cider_std,cider_min,cider_max,cider_n,r1,r1_std,r1_min,r1_max,r1_n
      full,3,1.1,0.1,1,1.2,3,0.52,0.02,0.5,0.54,3
      no-itg,2,0.9,,0.9,0.9,1,0.42,0.0282842712475,0.4,0.44,2

      """)
    let json = try String(contentsOf: directory.appendingPathComponent("out/raw.json"), encoding: .utf8)
    #expect(json.hasPrefix("[\n  {\"variant\": \"full\", \"seed\": 1, \"r1\": 0.5},"))
    let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
    #expect(parsed?.count == 5)
    #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("out/table.md").path))
    let error = try #require(throws: ScriptError.self) {
      try engine.run("lab.table({}):write('x.txt')", chunkName: "x.lua")
    }
    #expect(error.message.hasPrefix("ResultTable:write: cannot tell the format of 'x.txt'"))
  }

  @Test func printsAsMarkdownAndRejectsBadRows() throws {
    let (engine, output) = try makeEngine()
    try engine.run("print(lab.table{ { variant = 'a', r1 = 1 } })", chunkName: "p.lua")
    #expect(output.text == "| variant | r1 |\n|---|---:|\n| a | 1 |\n")
    let error = try #require(throws: ScriptError.self) {
      try engine.run("lab.table{ { variant = 'a' }, 3 }", chunkName: "b.lua")
    }
    #expect(error.message == "lab.table: row 2 must be a table of named values, got an integer")
    let missing = try #require(throws: ScriptError.self) {
      try engine.run("lab.table{ { variant = 'a' } }:mean_by('varaint')", chunkName: "b.lua")
    }
    #expect(missing.message.hasPrefix("ResultTable:mean_by: mean_by: no row has a column 'varaint' (did you mean 'variant'?)"))
  }
}
