// `lab.capfilt` and `lab.data.noisy` from a script, through the engine `blip2lab run` uses (a dry run of tiny
// parts): the bootstrapped dataset and the report come back, the report is written in the run's folder, and
// a misspelt or misplaced option is an error at the script's line.

import Blip2Core
import Foundation
import LabKit
import Scripting
import Testing

@Suite("CapFilt from Lua", .serialized)
struct CapFiltScriptTests {
  static let script = """
    local data = lab.data.shapes{ train = 64, val = 8, test = 8, captionNoise = 0.5 }
    local encoder = lab.encoder.vit{ size = "tiny", width = 64, layers = 2, heads = 2 }
    local lm = lab.lm.decoder{ width = 64, layers = 2, heads = 2, feedForwardWidth = 128 }
    local bridge = lab.bridge.qformer{ size = "sandbox", hidden = 64, layers = 2, heads = 2, intermediate = 128,
                                       queries = 8, embedDim = 32, imageWidth = 64 }
    local run = lab.run{ name = "tiny", model = lab.compose{ encoder = encoder, bridge = bridge, lm = lm }, data = data }
    run:stage1{ steps = 2, batch = 8 }
    run:stage2{ steps = 2, batch = 8 }
    local again = lab.data.noisy{ data = data, fraction = 0.2, seed = 3, kinds = { "relation" } }
    local bootstrapped, report = lab.capfilt{ run = run, samples = 3, keep = 2, method = "itc-topk" }
    return report.dropped, report.precision, report.keptOriginals + report.keptSynthetic, bootstrapped:count("train"), report.file, again:name()
    """

  static func run(_ text: String) throws -> [LuaValue] {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-capfilt-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    let script = root.appendingPathComponent("capfilt.lua")
    try text.write(to: script, atomically: true, encoding: .utf8)
    let engine = try makeExperimentEngine(script: script.path, runsDirectory: root.appendingPathComponent("runs"),
                                          dryRun: true, output: { _ in })
    var values = try engine.run(file: script.path)
    if case let .string(path) = values[4] { values[4] = .bool(FileManager.default.fileExists(atPath: path)) }
    return values
  }

  @Test func aDryRunBootstrapsEightImagesAndWritesTheReport() throws {
    let values = try Self.run(Self.script)
    guard case let .double(dropped) = values[0], case let .double(precision) = values[1],
          case let .double(kept) = values[2], case let .int(images) = values[3], case let .bool(written) = values[4],
          case let .string(name) = values[5] else {
      Issue.record("unexpected results \(values)")
      return
    }
    #expect(images == 8 && kept == 16, "the dry run filters 8 images, two captions kept each")
    #expect(dropped >= 40 - 16, "5 originals an image, at most 2 kept")
    #expect((0...1).contains(precision))
    #expect(written)
    #expect(name.contains("fraction 0.2") && name.contains("relation"))
  }

  @Test(arguments: [
    ("samples = 3, keep = 2", "sample = 3, keep = 2", "unknown key 'sample' (did you mean 'samples'?)"),
    ("keep = 2, method = \"itc-topk\"", "keep = 2, method = \"itm\"", "'keep' is for method = \"itc-topk\""),
    ("method = \"itc-topk\" }", "method = \"itc\" }", "'method' must be one of 'none', 'itm', 'itc-topk'"),
    ("fraction = 0.2", "fraction = 1.2", "'fraction' must be a number in 0.0...1.0"),
    ("kinds = { \"relation\" }", "kinds = { \"relations\" }", "no kind of corruption 'relations' (did you mean 'relation'?)"),
  ])
  func aWrongOptionIsAnErrorAtItsLine(original: String, wrong: String, message: String) throws {
    #expect(Self.script.contains(original))
    #expect {
      _ = try Self.run(Self.script.replacingOccurrences(of: original, with: wrong))
    } throws: { error in
      let text = (error as? ScriptError)?.errorDescription ?? "\(error)"
      return text.contains(message) && (text.contains("capfilt.lua:9:") || text.contains("capfilt.lua:10:"))
    }
  }
}
