// Trained runs exported in transformers' BLIP-2 layout (`blip2lab export --run`, `run:export{...}`) load back with
// `Blip2Checkpoint.load` and generate what the run's own model generates; `lab.checkpoints` finds checkpoint
// folders and `Experiments/real_checkpoints.lua` compares them.

import Blip2Checkpoints
import Blip2Core
import Foundation
import LabKit
import QFormer
import Scripting
import Tensor
import Testing
import ViT

/// A fresh temporary folder.
func scratchFolder(_ name: String) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("blip2-\(name)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// A whole BLIP-2 folder Shapes can feed (32-pixel images; the fixtures' towers take 30): a random BLIP-2-named
/// tower, a Q-Former of the OPT fixture's sizes, and the OPT fixture's LM with its tokenizer.json.
func shapesSizedBlip2Folder(in parent: URL, name: String = "blip2-opt-32px") throws -> URL {
  let loaded = try Blip2Checkpoint.load(directory: try fixturesDirectory().appendingPathComponent("blip2_opt_tiny"))
  let tower = try VisionTransformer(VisionTransformerConfiguration(
    imageSize: 32, patchSize: 8, width: 32, layers: 2, heads: 2, intermediateSize: 64, featureLayer: -1,
    postNormFeatures: false, naming: .blip2), seed: 3)
  var configuration = try QFormer.huggingFaceBlip2Configuration(directory: loaded.directory)
  configuration.initStd = 0.3
  let model = Blip2Model(encoder: tower, bridge: try QFormer(configuration, seed: 5), languageModel: loaded.languageModel,
                         seed: 5)
  let folder = parent.appendingPathComponent(name)
  let report = try Blip2Checkpoint.export(model, imageTokenId: loaded.imageTokenId, to: folder)
  #expect(report.omitted.isEmpty, "\(report.omitted)")
  return folder
}

@Suite("Exporting trained runs; real checkpoints in Lua", .serialized)
struct RunExportTests {
  static let script = """
    local folder = lab.option("folder", "")
    local data = lab.data.shapes{ train = 16, val = 0, test = 4, imageSize = 32 }
    local model = lab.compose{
      encoder = lab.encoder.vit{ checkpoint = folder, featureLayer = -1 },
      bridge = lab.bridge.qformer{ huggingFace = folder, dropout = 0 },
      lm = lab.lm.decoder{ checkpoint = folder },
    }
    local run = lab.run{ name = "tiny", model = model, data = data, seed = 3 }
    run:stage2{ steps = 3, batch = 4, lr = 1e-2 }
    local written = run:export{ out = lab.option("out", "") }
    print("exported", written.out, written.tensors, #written.omitted)
    """

  @Test("a trained run exported from Lua and from its folder loads back and generates the run's own tokens")
  func exportedRunsLoadBack() throws {
    let root = try scratchFolder("export")
    defer { try? FileManager.default.removeItem(at: root) }
    let start = try shapesSizedBlip2Folder(in: root)
    let script = root.appendingPathComponent("export_run.lua")
    try Self.script.write(to: script, atomically: true, encoding: .utf8)
    let runs = root.appendingPathComponent("runs"), fromLua = root.appendingPathComponent("from-lua")
    var printed: [String] = []
    let engine = try makeExperimentEngine(script: script.path, runsDirectory: runs,
                                          settings: ["folder=\(start.path)", "out=\(fromLua.path)"],
                                          output: { printed.append($0) })
    try engine.run(file: script.path)
    #expect(printed.contains { $0.hasPrefix("exported\t\(fromLua.path)\t") && $0.hasSuffix("\t0") }, "\(printed)")

    // As `blip2lab export --run DIR --out DIR` does it: the run rebuilt from its folder, then exported.
    let fromFolder = root.appendingPathComponent("from-folder")
    let (rebuilt, report) = try RunExport.export(run: runs.appendingPathComponent("export_run/tiny/seed-3"), to: fromFolder)
    #expect(rebuilt.phase == "stage2" && rebuilt.step == 3)
    #expect(report.omitted.isEmpty, "\(report.omitted)")

    // Training changed the Q-Former, and both exports hold the trained one.
    let before = try SafeTensors.load(start.appendingPathComponent("model.safetensors"))
    let lua = try SafeTensors.load(fromLua.appendingPathComponent("model.safetensors"))
    let folder = try SafeTensors.load(fromFolder.appendingPathComponent("model.safetensors"))
    let queries = try #require(folder["query_tokens"])
    #expect(queries.data != before["query_tokens"]?.data, "stage 2 should have changed the query tokens")
    #expect(lua["query_tokens"]?.data == queries.data)
    #expect(lua["language_projection.weight"]?.data == folder["language_projection.weight"]?.data)

    // Loaded back, each generates what the run's model generates.
    let examples = try (0..<4).map { try rebuilt.data.example(.test, $0) }
    let pixels = Tensor(shape: [4, 3, 32, 32], data: examples.flatMap(\.image.pixels))
    let lm = try #require(rebuilt.model.languageModel)
    let prompts = ["", "Question: what colour is the circle? Answer:", "a photo of", ""]
    let options = GenerationOptions(maxTokens: 6)
    var rng = RandomGenerator(seed: 0)
    let expected: [[Int]] = try GradMode.noGrad {
      let prefix = try rebuilt.model.softPrompt(try rebuilt.model.encoder.encode(pixels))
      return try lm.generate(prefix: prefix, prompt: TokenBatch(prompts.map { lm.tokenizer.encode($0) }, padId: lm.tokenizer.padId),
                             options: options, rng: &rng)
    }
    for exported in [fromLua, fromFolder] {
      let back = try Blip2Checkpoint.load(directory: exported)
      expectMatches(try back.softPrompt(pixels),
                    try GradMode.noGrad { try rebuilt.model.softPrompt(try rebuilt.model.encoder.encode(pixels)) },
                    "soft prompt of \(exported.lastPathComponent)")
      #expect(try back.generate(pixels: pixels, prompts: prompts, options: options) == expected,
              "\(exported.lastPathComponent) generates other tokens than the run")
    }
  }

  @Test("an untrained run folder, or a model without an LM, is refused with the reason")
  func refusals() throws {
    let root = try scratchFolder("export-refused")
    defer { try? FileManager.default.removeItem(at: root) }
    #expect(throws: RunRebuildError.self) {
      try RunExport.export(run: root.appendingPathComponent("nothing/seed-1"), to: root.appendingPathComponent("out"))
    }
    let script = root.appendingPathComponent("no_lm.lua")
    try """
      local data = lab.data.shapes{ train = 8, val = 0, test = 4, imageSize = 32 }
      local model = lab.compose{ encoder = lab.encoder.vit{ imageSize = 32, width = 32, layers = 1, heads = 2 },
                                 bridge = lab.bridge.qformer{ size = "sandbox", hidden = 32, layers = 2, heads = 2,
                                                              intermediate = 64, queries = 4, embedDim = 16,
                                                              imageWidth = 32 } }
      local run = lab.run{ name = "nolm", model = model, data = data, seed = 1 }
      run:stage1{ steps = 1, batch = 4 }
      run:export{ out = lab.folder() .. "/hf" }
      """.write(to: script, atomically: true, encoding: .utf8)
    let engine = try makeExperimentEngine(script: script.path, runsDirectory: root.appendingPathComponent("runs"),
                                          output: { _ in })
    #expect {
      try engine.run(file: script.path)
    } throws: { error in
      (error as? ScriptError)?.message.contains("no language model") == true
    }
  }

  @Test("lab.checkpoints finds folders by kind; real_checkpoints.lua compares them in one table")
  func realCheckpointsScript() throws {
    let root = try scratchFolder("real")
    defer { try? FileManager.default.removeItem(at: root) }
    let checkpoints = root.appendingPathComponent("checkpoints")
    let blip2 = try shapesSizedBlip2Folder(in: checkpoints)
    try FileManager.default.createDirectory(at: checkpoints.appendingPathComponent("notes"), withIntermediateDirectories: true)
    let found = CheckpointScan.scan(checkpoints)
    #expect(found.map(\.path) == [blip2.path])
    #expect(found.first?.kind == .blip2 && found.first?.imageSize == 32 && found.first?.languageModel == .decoder)
    #expect(CheckpointScan.scan(root.appendingPathComponent("missing")).isEmpty)

    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Experiments/real_checkpoints.lua").path
    var printed: [String] = []
    let runs = root.appendingPathComponent("runs")
    let engine = try makeExperimentEngine(
      script: script, runsDirectory: runs, settings: ["checkpoints=\(checkpoints.path)", "images=4", "trainImages=8"],
      dryRun: true, output: { printed.append($0) })
    try engine.run(file: script)
    let table = try String(contentsOf: runs.appendingPathComponent("dry-run/real_checkpoints/comparison.md"), encoding: .utf8)
    // The whole checkpoint, and its tower paired with its LM through a fresh Q-Former, each with its metrics.
    #expect(table.contains("| blip2-opt-32px |") && table.contains("| blip2-opt-32px + blip2-opt-32px |"), "\(table)")
    #expect(table.contains("CIDEr") && table.contains("VQA") && table.contains("i2t R@1"), "\(table)")
    #expect(!table.contains("note"), "a row failed: \(table)")

    // Without checkpoints: a message saying what to put there, and success.
    printed = []
    let empty = try makeExperimentEngine(script: script, runsDirectory: runs,
                                         settings: ["checkpoints=\(root.appendingPathComponent("missing").path)"],
                                         dryRun: true, output: { printed.append($0) })
    try empty.run(file: script)
    #expect(printed.contains { $0.contains("no checkpoint in") && $0.contains("Blip2ForConditionalGeneration") }, "\(printed)")
  }
}
