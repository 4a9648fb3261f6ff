// `lab.data.noisy{...}` (any caption dataset with a fraction of its training captions corrupted in known ways)
// and `lab.capfilt{...}` (a trained run captions the training images and filters the captions into a new
// dataset): the Lua face of `NoisyCaptionDataset` and `CapFilt`.
//
//   local noisy = lab.data.noisy{ data = data, fraction = 0.4, seed = 1 }
//   local clean, report = lab.capfilt{ run = r, data = noisy, samples = 10, keep = 2, method = "itc-topk" }
//
// `--dry-run` caption and filter at most 8 images with at most 2 samples of at most 8 tokens.

import Blip2Core
import Foundation
import Tensor

extension ScriptEngine {
  /// Installs `lab.data.noisy` and `lab.capfilt`, caching CapFilt's candidates under `cache`.
  func installCapFiltFunctions(cache: URL) throws {
    try addFunction("data.noisy") { _, arguments in
      let data = try Self.noisyDataset(try arguments.table(1, "the noise options"))
      return [.object(LuaObject(data, typeName: LabTypeName.dataset))]
    }
    try addFunction("capfilt") { engine, arguments in
      let options = try OptionTable(try arguments.table(1, "the CapFilt options"), function: "lab.capfilt", keys: [
        "run", "data", "samples", "method", "keep", "threshold", "decoding", "topP", "temperature", "beams",
        "maxTokens", "prompt", "limit", "chunk", "seed",
      ])
      guard case let .object(object) = options.value("run"), let run = object.value as? Run else {
        throw LabError("lab.capfilt: 'run' must be a trained Run from lab.run{...} (its model captions and filters)")
      }
      let data = options.contains("data") ? try Self.dataset(options, function: "lab.capfilt") : run.data
      var settings = try Self.capFiltSettings(options, seed: run.seed)
      if engine.dryRun {
        settings.limit = Swift.min(settings.limit ?? 8, 8)
        settings.samples = Swift.min(settings.samples, 2)
        settings.generation.maxTokens = Swift.min(settings.generation.maxTokens, 8)
      }
      var capfilt = CapFilt(cacheDirectory: cache)
      capfilt.log = engine.output
      let result = try capfilt.run(model: try RunCapFiltModel(run: run), data: data, settings: settings, reportFile: nil)
      let reportFile = run.directory?.appendingPathComponent("capfilt-\(result.label).json")
      if let reportFile { try result.write(extraReport: reportFile) }
      engine.output(result.report.summary + (reportFile.map { "\n  report: \($0.path)" } ?? ""))
      var report = result.report.metrics.mapValues { LuaValue.double($0) }
      report["filter"] = .string(result.report.filter)
      report["file"] = reportFile.map { .string($0.path) } ?? .nil
      return [.object(LuaObject(result.dataset(base: data), typeName: LabTypeName.dataset)), .table(report)]
    }
  }

  /// `lab.data.noisy{ data, fraction, seed, kinds, splits, colours, shapes, relations }`.
  static func noisyDataset(_ table: [String: LuaValue]) throws -> NoisyCaptionDataset {
    let function = "lab.data.noisy"
    let options = try OptionTable(table, function: function,
                                  keys: ["data", "fraction", "seed", "kinds", "splits", "colours", "shapes", "relations"])
    let base = try dataset(options, function: function)
    let kindNames = try options.strings("kinds", default: CorruptionKind.allCases.map(\.rawValue))
    let kinds = try kindNames.map { name -> CorruptionKind in
      guard let kind = CorruptionKind(rawValue: name) else {
        let names = CorruptionKind.allCases.map(\.rawValue)
        throw LabError("\(function): no kind of corruption '\(name)'\(Suggestions.hint(for: name, in: names)); "
          + "kinds are \(names.joined(separator: ", "))")
      }
      return kind
    }
    let splits = try options.strings("splits", default: [Split.train.rawValue]).map { name -> Split in
      guard let split = Split(rawValue: name) else {
        let names = Split.allCases.map(\.rawValue)
        throw LabError("\(function): no split '\(name)'\(Suggestions.hint(for: name, in: names)); "
          + "splits are \(names.joined(separator: ", "))")
      }
      return split
    }
    let known = (base as? any CorruptionVocabularyProviding)?.corruptionVocabulary ?? .english
    var relations = known.relations
    if options.contains("relations") {
      guard case let .list(pairs) = options.value("relations") else {
        throw options.mismatch("relations", "a list of word pairs such as { { \"left\", \"right\" } }", options.value("relations"))
      }
      relations = try pairs.map { pair in
        try OptionTable(["pair": pair], function: function, keys: ["pair"]).strings("pair")
      }
    }
    do {
      let vocabulary = try CorruptionVocabulary(colours: try options.strings("colours", default: known.colours),
                                                shapes: try options.strings("shapes", default: known.shapes),
                                                relations: relations)
      let corrupter = try CaptionCorrupter(fraction: try options.double("fraction", range: 0...1),
                                           seed: UInt64(try options.int("seed", default: 0, range: 0...Int.max)),
                                           kinds: kinds, vocabulary: vocabulary)
      return NoisyCaptionDataset(base: base, corrupter: corrupter, splits: Set(splits))
    } catch let error as TrainingError {
      throw LabError("\(function): \(error.errorDescription ?? "\(error)")")
    }
  }

  /// The settings of `lab.capfilt` (the run's seed by default).
  static func capFiltSettings(_ options: OptionTable, seed: UInt64) throws -> CapFiltSettings {
    var settings = CapFiltSettings()
    settings.samples = try options.int("samples", default: 10, range: 0...1000)
    let method = try options.string("method", default: "itc-topk", allowed: CaptionFilter.methodNames)
    switch method {
    case "none": settings.filter = .keepAll
    case "itm": settings.filter = .itmThreshold(try options.double("threshold", default: 0.5, range: 0...1))
    default: settings.filter = .itcTopK(try options.int("keep", default: 2, range: 1...1000))
    }
    if method != "itc-topk", options.contains("keep") {
      throw LabError("lab.capfilt: 'keep' is for method = \"itc-topk\"; method \"\(method)\" does not take it")
    }
    if method != "itm", options.contains("threshold") {
      throw LabError("lab.capfilt: 'threshold' is for method = \"itm\"; method \"\(method)\" does not take it")
    }
    let decoding = try options.string("decoding", default: "nucleus", allowed: ["nucleus", "beam", "greedy"])
    var generation = GenerationOptions(maxTokens: try options.int("maxTokens", default: 30, range: 1...512))
    switch decoding {
    case "nucleus":
      generation.topP = Float(try options.double("topP", default: 0.9, range: 1e-6...1))
      generation.temperature = Float(try options.double("temperature", default: 1, range: 1e-6...100))
    case "beam":
      generation.beams = try options.int("beams", default: 3, range: 1...64)
    default:
      break
    }
    for (key, needs) in [("topP", "nucleus"), ("temperature", "nucleus"), ("beams", "beam")]
    where decoding != needs && options.contains(key) {
      throw LabError("lab.capfilt: '\(key)' is for decoding = \"\(needs)\"; decoding \"\(decoding)\" does not take it")
    }
    settings.generation = generation
    settings.prompt = try options.string("prompt", default: "")
    settings.limit = options.contains("limit") ? try options.int("limit", range: 1...100_000_000) : nil
    settings.chunkSize = try options.int("chunk", default: 64, range: 1...100_000)
    settings.seed = UInt64(try options.int("seed", default: Int(truncatingIfNeeded: seed), range: 0...Int.max))
    return settings
  }
}
