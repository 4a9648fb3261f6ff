import Testing

@testable import Blip2Core

/// Cells written by hand, one string per row, `1` = may attend (spaces are for reading only).
private func cells(_ rows: [String]) -> [Bool] {
  rows.joined().compactMap { $0 == "1" ? true : $0 == "0" ? false : nil }
}

/// The layout of the golden tests: [queries 2 | text 3]; positions 0-1 are queries, 2-4 text.
private func smallLayout() throws -> TokenLayout { try TokenLayout.queriesAndText(queries: 2, text: 3) }

private func message(_ error: any Error) -> String { (error as? MaskError)?.errorDescription ?? "\(error)" }

@Suite("Token layouts")
struct TokenLayoutTests {
  @Test("positions map to segments and segments to ranges")
  func lookups() throws {
    let layout = try TokenLayout([.init(name: "queries", length: 2), .init(name: "instruction", length: 0),
                                  .init(name: "text", length: 3)])
    #expect(layout.count == 5)
    #expect(layout.range(of: "text") == 2 ..< 5)
    #expect(layout.range(of: "instruction") == 2 ..< 2)
    #expect(layout.range(of: "image") == nil)
    #expect(layout.segmentName(at: 1) == "queries")
    #expect(layout.segmentName(at: 2) == "text")
    #expect(layout.segmentName(at: 5) == nil)
    #expect(layout.offsetPerPosition == [0, 1, 0, 1, 2])
    #expect(layout.description == "[queries 2 | instruction 0 | text 3]")
  }

  @Test("duplicate names and negative lengths are errors")
  func invalidLayouts() {
    #expect(throws: MaskError.duplicateSegment(name: "text")) {
      try TokenLayout([.init(name: "text", length: 1), .init(name: "text", length: 2)])
    }
    #expect(throws: MaskError.invalidSegment(name: "text", length: -1)) {
      try TokenLayout.queriesAndText(queries: 2, text: -1)
    }
  }
}

@Suite("Attention masks")
struct AttentionMaskTests {
  @Test("ITC's unimodal mask: queries see only queries, text sees only text")
  func unimodal() throws {
    let mask = AttentionMask.unimodal(try smallLayout())
    #expect(mask.flatBools == cells(["11 000", "11 000", "00 111", "00 111", "00 111"]))
  }

  @Test("ITM's bidirectional mask: everyone sees everyone")
  func bidirectional() throws {
    let mask = AttentionMask.bidirectional(try smallLayout())
    #expect(mask.flatBools == cells(["11 111", "11 111", "11 111", "11 111", "11 111"]))
  }

  @Test("ITG's multimodal-causal mask: queries see queries, text sees queries and earlier text")
  func multimodalCausal() throws {
    let mask = AttentionMask.multimodalCausal(try smallLayout())
    #expect(mask.flatBools == cells(["11 000", "11 000", "11 100", "11 110", "11 111"]))
    #expect(mask[2, 0] && !mask[0, 2] && !mask[2, 3])
  }

  @Test("the plain causal mask ignores segments")
  func causal() throws {
    let mask = AttentionMask.causal(try smallLayout())
    #expect(mask.flatBools == cells(["10 000", "11 000", "11 100", "11 110", "11 111"]))
  }

  @Test("block rules: unspecified pairs are none, diagonal pairs offsets within segments")
  func blockRules() throws {
    let mask = try AttentionMask.blocks(try smallLayout(), [
      "queries": ["queries": .diagonal, "text": .diagonal],
      "text": ["queries": .all, "text": .causal],
    ])
    #expect(mask.flatBools == cells(["10 100", "01 010", "11 100", "11 110", "11 111"]))
    #expect(try BlockRule(parsing: "causal") == .causal)
  }

  @Test("block rules naming an unknown segment are an error that lists the real ones")
  func blockRulesUnknownSegment() throws {
    let layout = try smallLayout()
    #expect(throws: MaskError.unknownSegment(name: "image", known: ["queries", "text"])) {
      try AttentionMask.blocks(layout, ["text": ["image": .all]])
    }
    #expect(message(MaskError.unknownSegment(name: "image", known: ["queries", "text"]))
      == "The token layout has no segment \"image\"; its segments are \"queries\" and \"text\". "
      + "Use one of those names or add the segment to the layout.")
    #expect(throws: MaskError.unknownBlockRule("some")) { try BlockRule(parsing: "some") }
  }

  @Test("a per-pair function gets global positions and segment names")
  func perPairFunction() throws {
    // Each segment sees itself; text also sees query 0 only.
    let mask = AttentionMask.custom(try smallLayout()) { _, column, rowSegment, columnSegment in
      rowSegment == columnSegment || (rowSegment == "text" && column == 0)
    }
    #expect(mask.flatBools == cells(["11 000", "11 000", "10 111", "10 111", "10 111"]))
  }

  @Test("a mask from cells checks the cell count")
  func fromCells() throws {
    let layout = try smallLayout()
    let mask = try AttentionMask(layout: layout, flatBools: cells(["11 000", "11 000", "11 100", "11 110", "11 111"]))
    #expect(mask == .multimodalCausal(layout))
    #expect(throws: MaskError.wrongCellCount(expected: 25, got: 3)) {
      try AttentionMask(layout: layout, flatBools: [true, false, true])
    }
  }

  @Test("key padding makes padded columns unattendable for every row")
  func padding() throws {
    let itg = AttentionMask.multimodalCausal(try smallLayout())
    let padded = try itg.applyingPadding(validLength: 2)  // text token 2 is padding
    #expect(padded.flatBools == cells(["11 000", "11 000", "11 100", "11 110", "11 110"]))
    #expect(try itg.applyingKeyPadding(valid: [false, true, true, true, true]).flatBools
      == cells(["01 000", "01 000", "01 100", "01 110", "01 111"]))
    #expect(throws: MaskError.wrongPaddingLength(expected: 5, got: 3)) {
      try itg.applyingKeyPadding(valid: [true, true, true])
    }
    #expect(throws: MaskError.invalidValidLength(segment: "text", validLength: 4, segmentLength: 3)) {
      try itg.applyingPadding(validLength: 4)
    }
  }

  @Test("a batch gets one padded mask per sample, flattened as [B, T, T]")
  func batchPadding() throws {
    let unimodal = AttentionMask.unimodal(try smallLayout())
    let masks = try unimodal.paddedPerSample(validLengths: [3, 0])
    #expect(masks[0] == unimodal)
    #expect(masks[1].flatBools == cells(["11 000", "11 000", "00 000", "00 000", "00 000"]))
    #expect(masks[1].rowsWithoutKeys == [2, 3, 4])
    #expect(masks.flatBools == unimodal.flatBools + masks[1].flatBools)
  }

  @Test("intersection and union combine cell by cell; different layouts are an error")
  func combining() throws {
    let layout = try smallLayout()
    #expect(try AttentionMask.bidirectional(layout).intersection(.causal(layout)) == .causal(layout))
    #expect(try AttentionMask.unimodal(layout).union(.multimodalCausal(layout)).flatBools
      == cells(["11 000", "11 000", "11 111", "11 111", "11 111"]))
    let other = try TokenLayout.queriesAndText(queries: 2, text: 4)
    #expect(throws: MaskError.layoutMismatch(layout, other)) {
      try AttentionMask.causal(layout).union(.causal(other))
    }
  }

  @Test("block summaries name the rule a block follows, or count its cells")
  func blockSummaries() throws {
    let layout = try smallLayout()
    let itg = AttentionMask.multimodalCausal(layout)
    #expect(try itg.allowed(from: "text", to: "text").rule == .causal)
    #expect(try itg.allowed(from: "queries", to: "text").rule == BlockRule.none)
    let odd = AttentionMask.custom(layout) { row, column, _, _ in row == 2 && column == 0 }
    #expect(try odd.allowed(from: "text", to: "queries").description == "1 of 6")
    #expect(itg.description == "AttentionMask [queries 2 | text 3], 16 of 25 allowed: queries->queries all, "
      + "queries->text none, text->queries all, text->text causal")
  }

  @Test("flattened floats for kernels: 1/0 by default, or an additive bias")
  func floats() throws {
    let mask = AttentionMask.causal(try TokenLayout([.init(name: "text", length: 2)]))
    #expect(mask.flattenedFloats() == [1, 0, 1, 1])
    #expect(mask.flattenedFloats(allowed: 0, blocked: -10_000) == [0, -10_000, 0, 0])
  }
}

@Suite("Leak check")
struct LeakCheckTests {
  @Test("the paper's ITG mask lets no text token read a later one")
  func paperMaskIsSafe() throws {
    let leaks = try AttentionMask.multimodalCausal(try smallLayout()).imageLeaks(layers: 4)
    #expect(leaks.isEmpty)
  }

  @Test("queries that also see text open a future leak at depth 2, not at depth 1")
  func queriesSeeingTextLeak() throws {
    let mask = try AttentionMask.blocks(try smallLayout(), [
      "queries": ["queries": .all, "text": .all],
      "text": ["queries": .all, "text": .causal],
    ])
    let leaks = try mask.imageLeaks()
    #expect(leaks.map(\.path) == [[2, 0, 3], [2, 0, 4], [3, 0, 4]])
    #expect(leaks.allSatisfy { $0.kind == .futureText && $0.depth == 2 })
    #expect(leaks[0].description == "text token 0 can read text token 1 (a later token) through query 0 at depth 2: "
      + "in ITG this leaks a token it has to predict.")
    #expect(try mask.imageLeaks(layers: 1).isEmpty)
  }

  @Test("a bidirectional mask leaks directly")
  func directLeak() throws {
    let leaks = try AttentionMask.bidirectional(try smallLayout()).imageLeaks()
    #expect(leaks.count == 3)
    #expect(leaks[0].path == [2, 3])
    #expect(leaks[0].description == "text token 0 can read text token 1 (a later token) directly: "
      + "in ITG this leaks a token it has to predict.")
  }

  @Test("with the unimodal mask the text cannot see the image, and that is reported")
  func unimodalHidesImage() throws {
    let layout = try smallLayout()
    let causalUnimodal = try AttentionMask.unimodal(layout).intersection(.causal(layout))
    let leaks = try causalUnimodal.imageLeaks()
    #expect(leaks.map(\.kind) == [.imageUnreachable])
    #expect(leaks[0].description == "No text token can read any query within 2 layers: the text cannot use the "
      + "image (intended for ITC's unimodal mask; for ITM and ITG the image is lost).")
  }

  @Test("unknown segments and zero layers are errors")
  func invalidArguments() throws {
    let mask = AttentionMask.causal(try smallLayout())
    #expect(throws: MaskError.unknownSegment(name: "caption", known: ["queries", "text"])) {
      try mask.imageLeaks(textSegments: ["caption"])
    }
    #expect(throws: MaskError.invalidLayerCount(0)) { try mask.imageLeaks(layers: 0) }
  }
}

@Suite("Mask rendering")
struct MaskRenderingTests {
  @Test("the ITG mask as a labelled grid")
  func renderITG() throws {
    let text = AttentionMask.multimodalCausal(try smallLayout()).render()
    #expect(text == """
      [queries 2 | text 3]: rows attend to columns (█ may attend, · may not)
                que │ text
                0 1 │ 0 1 2
      queries 0 █ █ │ · · ·
              1 █ █ │ · · ·
                ────┼──────
      text    0 █ █ │ █ · ·
              1 █ █ │ █ █ ·
              2 █ █ │ █ █ █
      """)
  }

  @Test("compact ASCII rendering has one character per cell and no spaces")
  func renderCompactASCII() throws {
    let text = AttentionMask.unimodal(try smallLayout()).render(compact: true, ascii: true)
    #expect(text == """
      [queries 2 | text 3]: rows attend to columns (# may attend, . may not)
                qu|tex
                01|012
      queries 0 ##|...
              1 ##|...
                --+---
      text    0 ..|###
              1 ..|###
              2 ..|###
      """)
  }
}

@Suite("Mask schedules")
struct MaskScheduleTests {
  private static let queriesSeeText = MaskSpec.blocks(name: "queriesSeeText", rules: [
    "queries": ["queries": .all, "text": .all], "text": ["queries": .all, "text": .causal],
  ])

  @Test("by default every objective uses the paper's mask at every step")
  func paperDefaults() throws {
    let layout = try smallLayout()
    let schedule = MaskSchedule()
    #expect(try schedule.mask(for: .itc, step: 0, layout: layout) == .unimodal(layout))
    #expect(try schedule.mask(for: .itm, step: 10, layout: layout) == .bidirectional(layout))
    #expect(try schedule.mask(for: .itg, step: 99_999, layout: layout) == .multimodalCausal(layout))
  }

  @Test("an entry replaces the default for its steps only")
  func entries() throws {
    let layout = try smallLayout()
    var schedule = MaskSchedule()
    try schedule.use(Self.queriesSeeText, for: .itg, steps: 1500 ..< 3000)
    #expect(try schedule.mask(for: .itg, step: 1499, layout: layout) == .multimodalCausal(layout))
    #expect(try schedule.mask(for: .itg, step: 1500, layout: layout) == Self.queriesSeeText.mask(for: layout))
    #expect(try schedule.mask(for: .itg, step: 3000, layout: layout) == .multimodalCausal(layout))
    #expect(try schedule.mask(for: .itc, step: 2000, layout: layout) == .unimodal(layout))
  }

  @Test("scripts can add objectives by name; one without any mask is an error")
  func customObjectives() throws {
    let layout = try smallLayout()
    var schedule = MaskSchedule()
    try schedule.use(.causal, for: "lm", steps: 0 ..< 100)
    #expect(try schedule.mask(for: "lm", step: 50, layout: layout) == .causal(layout))
    #expect(throws: MaskError.noMask(objective: "lm", step: 100, known: ["itc", "itm", "itg", "lm"])) {
      try schedule.mask(for: "lm", step: 100, layout: layout)
    }
    schedule.setDefault(.bidirectional, for: "lm")
    #expect(try schedule.mask(for: "lm", step: 100, layout: layout) == .bidirectional(layout))
  }

  @Test("overlapping ranges for one objective are an error that says which")
  func overlap() throws {
    var schedule = MaskSchedule()
    try schedule.use(Self.queriesSeeText, for: .itg, steps: 1500 ..< 3000)
    try schedule.use(.causal, for: .itm, steps: 2000 ..< 2500)  // another objective: fine
    let error = MaskError.overlappingSteps(objective: "itg", existing: 1500 ..< 3000, new: 2999 ..< 4000)
    #expect(throws: error) { try schedule.use(.causal, for: .itg, steps: 2999 ..< 4000) }
    #expect(message(error) == "The schedule for \"itg\" already has a mask for steps 1500..<3000, so steps "
      + "2999..<4000 overlap it: make the ranges of one objective disjoint.")
    #expect(throws: MaskError.invalidStepRange(objective: "itg", steps: 5 ..< 5)) {
      try schedule.use(.causal, for: .itg, steps: 5 ..< 5)
    }
  }

  @Test("the timeline as text")
  func timeline() throws {
    var schedule = MaskSchedule()
    try schedule.use(Self.queriesSeeText, for: .itg, steps: 1500 ..< 3000)
    try schedule.use(.causal, for: "lm", steps: 0 ..< 100)
    #expect(schedule.describeTimeline(totalSteps: 4000) == """
      itc: steps 0..<4000 unimodal (default)
      itm: steps 0..<4000 bidirectional (default)
      itg: steps 0..<1500 multimodalCausal (default), 1500..<3000 queriesSeeText, 3000..<4000 multimodalCausal (default)
      lm:  steps 0..<100 causal, 100..<4000 no mask
      """)
    #expect(schedule.description.contains("itg: multimodalCausal by default; queriesSeeText for steps 1500..<3000"))
  }

  @Test("built-in masks by name, for scripts and the command line")
  func maskNames() throws {
    #expect(try MaskSpec(named: "multimodalCausal").name == "multimodalCausal")
    #expect(throws: MaskError.unknownMaskName("itg", known: MaskSpec.builtInNames)) { try MaskSpec(named: "itg") }
  }
}
