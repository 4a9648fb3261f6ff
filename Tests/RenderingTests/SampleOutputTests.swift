import Blip2Core
import Foundation
import Tensor
import Testing

@testable import Rendering

/// Writes one of every drawing to `$BLIP2LAB_RENDER_SAMPLES` (a folder) for looking at; does nothing without it.
@Suite struct SampleOutputTests {
  @Test func writeSamplesWhenAsked() throws {
    guard let path = ProcessInfo.processInfo.environment["BLIP2LAB_RENDER_SAMPLES"] else { return }
    let folder = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    let paper = try MaskGrid.paperMasks(queries: 8, text: 6, textValid: 4)
    try Graphviz.render(dot: paper.text, format: .png, to: url("paper-masks.png"))
    try Graphviz.render(dot: paper.text, format: .svg, to: url("paper-masks.svg"))
    try MaskGrid.paperGrid(.itg, queries: 32, text: 8).write(to: url("itg-32-8.png"))
    let layout = try TokenLayout.queriesAndText(queries: 4, text: 4)
    try TokenGraph(.multimodalCausal(layout), title: "ITG").write(to: url("itg-tokens.png"))
    var schedule = MaskSchedule()
    try schedule.use(.bidirectional, for: .itg, steps: 1500 ..< 3000)
    try ScheduleTimeline(schedule, totalSteps: 3000).write(to: url("schedule.png"))
    try ModelGraph(preset: .paper).write(to: url("pipeline-paper.png"))
    try QFormerDiagram(preset: .sandbox).write(to: url("qformer-sandbox.png"))
    var rng = RandomGenerator(seed: 3)
    let encoder = FakeEncoder(module: Stack(layers: (0 ..< 12).map { _ in Linear(6, 6, rng: &rng) }, head: Linear(6, 6, rng: &rng)))
    let model = Blip2Model(encoder: encoder, bridge: FakeBridge(module: Linear(6, 4, rng: &rng)),
                           languageModel: FakeLM(module: Linear(5, 5, rng: &rng)))
    try ModelGraph(model: model, depth: 1, title: "stand-in model").write(to: url("model-fake.png"))
    try DrawingTests.sampleMaps(queries: 8).write(to: url("attention.png"), columns: 4)
    try DrawingTests.sampleMaps(queries: 8).write(to: url("attention.svg"), columns: 4)
  }
}
