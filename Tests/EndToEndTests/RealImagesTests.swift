// A script on real images: `lab.data.coco` over the committed PNG/JPEG fixtures of ImageFolderTests, a small
// model trained for two stage-1 steps on them, and `lab.render` drawing the composed model and the run's
// cross-attention maps (over an image of the dataset and over an image file).

import Blip2Core
import Foundation
import LabKit
import Rendering
import Scripting
import Testing

@Suite("Real images from a script", .serialized)
struct RealImagesTests {
  /// Tests/ImageFolderTests/Fixtures (made by make_fixtures.py there).
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("ImageFolderTests/Fixtures")

  static let script = """
    local fixtures, out = lab.option("fixtures", ""), lab.option("out", "")
    local data = lab.data.coco{ images = fixtures .. "/images", train = fixtures .. "/captions.json",
                                test = fixtures .. "/karpathy.json", imageSize = 16 }
    print(data)
    local encoder = lab.encoder.vit{ size = "tiny", imageSize = 16, patchSize = 4, width = 32, layers = 1, heads = 2 }
    local model = lab.compose{
      encoder = encoder,
      bridge = lab.bridge.qformer{ size = "sandbox", hidden = 32, layers = 2, heads = 2, intermediate = 64,
                                   queries = 4, embedDim = 16, imageWidth = 32, dropout = 0, crossEvery = 1 },
    }
    lab.render(model, out .. "/model.dot", { depth = 1, direction = "TB" })
    local run = lab.run{ name = "coco", model = model, data = data, seed = 1 }
    run:stage1{ steps = 2, batch = 2 }
    lab.render(run, out .. "/attention.svg", { image = "test:1", columns = 2 })
    lab.render(run, out .. "/photo.png", { image = fixtures .. "/images/photo.png", layer = 0, tileSize = 32 })
    lab.render(run, out .. "/x.png", { image = "test:7" })
    """

  @Test func aScriptTrainsOnRealImagesAndDrawsItsModelAndAttention() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-coco-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let script = root.appendingPathComponent("coco.lua")
    try Self.script.write(to: script, atomically: true, encoding: .utf8)
    var printed = [String]()
    let engine = try makeExperimentEngine(
      script: script.path, runsDirectory: root.appendingPathComponent("runs"),
      settings: ["fixtures=\(Self.fixtures.path)", "out=\(root.path)"], output: { printed.append($0) })
    let error = try #require(throws: ScriptError.self) { try engine.run(file: script.path) }
    // The last call asks for an image the test split does not have: a located, plain error.
    #expect(error.line == 16, "\(error)")
    #expect(error.message.contains("there is no test image 7; the run's test split has 2 (0...1)"), "\(error.message)")

    #expect(printed.first?.hasPrefix("Dataset coco(train 3, test 2; 16px bicubic crop;") == true, "\(printed)")
    let dot = try String(contentsOf: root.appendingPathComponent("model.dot"), encoding: .utf8)
    #expect(dot.contains("rankdir") && dot.contains("TB") && dot.contains("qformer"))
    let svg = try String(contentsOf: root.appendingPathComponent("attention.svg"), encoding: .utf8)
    #expect(svg.contains("Where each query looks: run coco (seed 1)") && svg.contains("test image 1 (a grey gradient)"))
    #expect(svg.contains("q3 (max"))
    #expect(try Data(contentsOf: root.appendingPathComponent("photo.png")).starts(with: PNGEncoder.signature))
  }
}
