// `lab.compose`, `lab.pretrain.encoder` / `lab.pretrain.lm` / `lab.pretrain.bridge`, `lab.probe` (a linear probe of
// the frozen encoder), and `lab.run` with `:stage1`, `:stage2`,
// `:evaluate`: the Lua face of `Blip2Model`, `FrozenPartsPretraining` and `Run`.
//
// Runs live under `<runs>/<experiment>/<name>/seed-<n>/` (inside a `lab.sweep`, under the sweep's folder:
// `<runs>/<experiment>/<sweep>/<name>/seed-<n>/`); a finished phase with the same configuration is not
// recomputed, an interrupted one resumes (the trainer's rules), and an evaluation of the same weights is read
// back. `stopAt = k` stops a phase after k steps (the next call continues), to evaluate along the way.
// `--dry-run` caps every phase at 2 steps of at most 8 examples and evaluation at 8 examples, in a separate
// `dry-run` folder, so a script is checked in seconds.

import Blip2Core
import Foundation
import Tensor

extension LabTypeName {
  /// A composed model (`lab.compose`).
  public static let model = "Model"
  /// A run (`lab.run`).
  public static let run = "Run"
}

extension ScriptEngine {
  /// Installs `lab.compose`, `lab.pretrain.*`, `lab.run`, `lab.sweep`, `lab.data.noisy`, `lab.capfilt` and `lab.folder()` (the experiment's folder,
  /// for files a script writes itself). Runs go under `runsDirectory/experiment`. `runMethods` adds methods to runs that need more than Scripting knows (LabKit's
  /// `run:export`); a built-in method of the same name wins.
  public func installRunFunctions(runsDirectory: URL, experiment: String,
                                  runMethods: [String: (Run, LuaArguments) throws -> [LuaValue]] = [:]) throws {
    let root = runsDirectory.appendingPathComponent(dryRun ? "dry-run/\(experiment)" : experiment)
    let cache = runsDirectory.appendingPathComponent("cache")
    let recorder = SweepRecorder()
    try lua.defineType(Blip2Model.self, name: LabTypeName.model, describe: { $0.summary }, methods: [
      "summary": { model, _ in [.string(model.summary)] },
      "parameters": { model, _ in
        [.int(model.parts.reduce(0) { $0 + $1.parameters }), .int(model.parts.reduce(0) { $0 + $1.trainable })]
      },
    ])
    try lua.defineType(Run.self, name: LabTypeName.run, describe: { "Run \($0.name) (seed \($0.seed))" }, methods: [
      "stage1": { run, arguments in try Self.stage1(run, try arguments.table(1, "the stage-1 options"), dryRun: self.dryRun) },
      "stage2": { run, arguments in try Self.stage2(run, try arguments.table(1, "the stage-2 options"), dryRun: self.dryRun) },
      "evaluate": { run, arguments in try Self.evaluate(run, try arguments.table(1, "the evaluation options"), dryRun: self.dryRun) },
      "directory": { run, _ in [.string(run.directory?.path ?? "")] },
    ].merging(runMethods) { builtIn, _ in builtIn })
    try addFunction("folder") { _, _ in  // where a script writes files of its own (created on first use)
      try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
      return [.string(root.path)]
    }
    try addFunction("compose") { _, arguments in
      let options = try OptionTable(try arguments.table(1, "the parts"), function: "lab.compose", keys: ["encoder", "bridge", "lm", "seed"])
      let encoder: any ImageEncoder = try Self.component(options, "encoder", function: "lab.compose")
      let bridge: any Bridge = try Self.component(options, "bridge", function: "lab.compose")
      let lm: (any LanguageModel)? = options.contains("lm") ? try Self.component(options, "lm", function: "lab.compose") : nil
      guard bridge.imageFeatureDim == encoder.featureDim else {
        throw LabError("lab.compose: the bridge reads \(bridge.imageFeatureDim)-wide image features but the encoder "
          + "gives \(encoder.featureDim); set the bridge's imageWidth = \(encoder.featureDim)")
      }
      let model = Blip2Model(encoder: encoder, bridge: bridge, languageModel: lm, seed: UInt64(try options.int("seed", default: 0)))
      return [.object(LuaObject(model, typeName: LabTypeName.model))]
    }
    try addFunction("pretrain.encoder") { engine, arguments in
      let (options, data) = try Self.pretrainingOptions(arguments, part: "encoder")
      let encoder: any ImageEncoder = try Self.component(options, "encoder", function: "lab.pretrain.encoder")
      let name = try options.string("objective", default: ImagePretrainingMethod.masked.rawValue,
                                    allowed: ImagePretrainingMethod.allCases.map(\.rawValue))
      let method = ImagePretrainingMethod(rawValue: name) ?? .masked
      if method.needsMaskedObjective && !(encoder is any SelfSupervisedImageEncoder) {
        throw LabError("lab.pretrain.encoder: \(encoder.kind) has no masked-patch objective; use objective = \"contrastive\" or \"clip\"")
      }
      _ = try engine.pretraining("encoder", cache: cache).pretrainEncoder(encoder, data: data, settings: try Self.settings(
        options, dryRun: engine.dryRun, defaults: (steps: 500, batch: 32, lr: 1e-3)), method: method,
        hardNegatives: try options.bool("hardNegatives", default: true))
      return [options.value("encoder")]
    }
    try addFunction("pretrain.lm") { engine, arguments in
      let (options, data) = try Self.pretrainingOptions(arguments, part: "lm")
      let lm: any LanguageModel = try Self.component(options, "lm", function: "lab.pretrain.lm")
      _ = try engine.pretraining("lm", cache: cache).pretrainLanguageModel(
        lm, texts: try FrozenPartsPretraining.languageCorpus(data), corpusName: Self.corpusName(data),
        settings: try Self.settings(options, dryRun: engine.dryRun, defaults: (steps: 1000, batch: 32, lr: 1e-3)))
      return [options.value("lm")]
    }
    try addFunction("pretrain.bridge") { engine, arguments in
      let (options, data) = try Self.pretrainingOptions(arguments, part: "bridge")
      let bridge: any Bridge = try Self.component(options, "bridge", function: "lab.pretrain.bridge")
      guard let learner = bridge as? any TextPretrainableBridge else {
        throw LabError("lab.pretrain.bridge: \(bridge.kind) has no text-only objective to pre-train with")
      }
      _ = try engine.pretraining("bridge text", cache: cache).pretrainBridgeText(
        learner, texts: try FrozenPartsPretraining.languageCorpus(data), corpusName: Self.corpusName(data),
        settings: try Self.settings(options, dryRun: engine.dryRun, defaults: (steps: 1000, batch: 32, lr: 1e-3)))
      return [options.value("bridge")]
    }
    try addFunction("probe") { engine, arguments in  // a linear probe of the frozen encoder's features
      let options = try OptionTable(try arguments.table(1, "the probe options"), function: "lab.probe",
                                    keys: ["encoder", "data", "examples"])
      let encoder: any ImageEncoder = try Self.component(options, "encoder", function: "lab.probe")
      guard let data = try Self.dataset(options, function: "lab.probe") as? any ProbeLabelledDataset else {
        throw LabError("lab.probe: 'data' must label what its images show (lab.data.shapes does); this one does not")
      }
      let examples = try options.int("examples", default: 2000, range: 50...1_000_000)
      let scores = try LinearProbe.evaluate(encoder, data: data, examples: engine.dryRun ? min(examples, 120) : examples)
      engine.output("linear probe of \(encoder.summary): " + scores.map {
        "\($0.attribute) \(String(format: "%.1f", 100 * $0.accuracy))% (majority \(String(format: "%.1f", 100 * $0.majority))%)"
      }.joined(separator: ", "))
      return [.table(Dictionary(uniqueKeysWithValues: scores.map { score in
        (score.attribute, LuaValue.table(["accuracy": .double(score.accuracy), "majority": .double(score.majority),
                                          "classes": .int(score.classes), "scored": .int(score.scored)]))
      }))]
    }
    try addFunction("run") { engine, arguments in
      let options = try OptionTable(try arguments.table(1, "the run options"), function: "lab.run",
                                    keys: ["name", "model", "data", "seed"])
      try engine.checkSettingsWereRead(file: nil, orDeclared: true)   // a misspelt --set fails before training
      let name = try Self.folderName(try options.string("name"), what: "'name'", function: "lab.run")
      let seed = try options.int("seed", default: 1, range: 0...Int.max)
      guard case let .object(object) = options.value("model"), let model = object.value as? Blip2Model else {
        throw LabError("lab.run: 'model' must be a Model from lab.compose")
      }
      let data = try Self.dataset(options, function: "lab.run")
      let directory = (recorder.directory ?? root).appendingPathComponent(name).appendingPathComponent("seed-\(seed)")
      let run = Run(name: name, directory: directory, model: model, data: data, seed: UInt64(seed))
      if recorder.directory != nil { recorder.runs.append(run) }
      run.log = engine.output
      let progress = [ProgressPrinter(title: "\(name) stage 1"), ProgressPrinter(title: "\(name) stage 2")]
      run.onStep = { phase, report in progress[phase == "stage1" ? 0 : 1].update(report) }
      return [.object(LuaObject(run, typeName: LabTypeName.run))]
    }
    try installSweepFunction(root: root, recorder: recorder)
    try installCapFiltFunctions(cache: cache)
  }

  /// The options of `lab.pretrain.<part>` (the part, data, steps, batch, lr, seed) and its dataset.
  static func pretrainingOptions(_ arguments: LuaArguments, part: String) throws -> (OptionTable, any Dataset) {
    let function = "lab.pretrain.\(part)"
    let options = try OptionTable(try arguments.table(1, "the pre-training options"), function: function,
                                  keys: [part, "data", "steps", "batch", "lr", "seed"] + (part == "encoder" ? ["objective", "hardNegatives"] : []))
    return (options, try dataset(options, function: function))
  }

  /// The name of the text-only corpus made from `data` (part of the pre-training cache keys).
  static func corpusName(_ data: any Dataset) -> String { data.name + " (captions, questions, captions + questions)" }

  /// A pre-training helper caching under `cache`, logging to the script's output with a progress bar.
  func pretraining(_ title: String, cache: URL) -> FrozenPartsPretraining {
    var pretraining = FrozenPartsPretraining(cacheDirectory: cache)
    pretraining.log = output
    let progress = ProgressPrinter(title: "pretrain \(title)")
    pretraining.onStep = { progress.update($1) }
    return pretraining
  }

  static func component<T>(_ options: OptionTable, _ key: String, function: String) throws -> T {
    guard case let .object(object) = options.value(key) else {
      throw LabError("\(function): '\(key)' is required: build it with lab.\(key == "lm" ? "lm" : key).<name>{...}")
    }
    guard let typed = object.value as? T else {
      throw LabError("\(function): '\(key)' must be \(String(describing: T.self)), got \(LuaObject.article(object.typeName))")
    }
    return typed
  }

  static func dataset(_ options: OptionTable, function: String) throws -> any Dataset {
    guard case let .object(object) = options.value("data"), let data = object.value as? any Dataset else {
      throw LabError("\(function): 'data' must be a dataset from lab.data.<name>{...}")
    }
    return data
  }

  static func settings(_ options: OptionTable, dryRun: Bool, defaults: (steps: Int, batch: Int, lr: Double),
                       minLearningRate: Double = 0) throws -> TrainerSettings {
    var steps = try options.int("steps", default: defaults.steps, range: 0...10_000_000)
    var batch = try options.int("batch", default: defaults.batch, range: 1...100_000)
    if dryRun { (steps, batch) = (Swift.min(steps, 2), Swift.min(batch, 8)) }
    return TrainerSettings(steps: steps, batchSize: batch,
                           learningRate: try options.double("lr", default: defaults.lr, range: 1e-9...10),
                           minLearningRate: minLearningRate, checkpointEvery: Swift.max(1, steps / 10),
                           seed: UInt64(try options.int("seed", default: 0)))
  }

  static func stage1(_ run: Run, _ table: [String: LuaValue], dryRun: Bool) throws -> [LuaValue] {
    let options = try OptionTable(table, function: "Run:stage1",
                                  keys: ["steps", "batch", "lr", "losses", "masks", "textLength", "seed", "stopAt"])
    var mix = LossMix.paper
    if case let .object(object) = options.value("losses") {
      guard let given = object.value as? LossMix else { throw LabError("Run:stage1: 'losses' must come from lab.losses{...}") }
      mix = given
    } else if case .table = options.value("losses") {
      throw LabError("Run:stage1: give the losses as lab.losses{ itc = 1, itm = 1, itg = 1 }")
    }
    var masks = MaskSchedule()
    if case let .object(object) = options.value("masks") {
      guard let given = object.value as? MaskSchedule else { throw LabError("Run:stage1: 'masks' must come from lab.schedule{...}") }
      masks = given
    }
    let state = try run.stage1(settings: try settings(options, dryRun: dryRun, defaults: (steps: 1000, batch: 32, lr: 1e-4)),
                               mix: mix, masks: masks, textLength: try options.int("textLength", default: 32, range: 2...512),
                               stopAfterStep: try stopAt(options))
    return [.table(state.lastLosses.mapValues { .double(Double($0)) })]
  }

  static func stage2(_ run: Run, _ table: [String: LuaValue], dryRun: Bool) throws -> [LuaValue] {
    let options = try OptionTable(table, function: "Run:stage2",
                                  keys: ["steps", "batch", "lr", "minLr", "prompt", "textLength", "seed", "stopAt"])
    let state = try run.stage2(settings: try settings(options, dryRun: dryRun, defaults: (steps: 1000, batch: 32, lr: 1e-4),
                                                      minLearningRate: try options.double("minLr", default: 0, range: 0...10)),
                               prompt: try options.string("prompt", default: ""),
                               textLength: try options.int("textLength", default: 32, range: 2...512),
                               stopAfterStep: try stopAt(options))
    return [.table(state.lastLosses.mapValues { .double(Double($0)) })]
  }

  /// `stopAt`: stop the phase after this many steps (at or past `steps`, it runs to the end).
  static func stopAt(_ options: OptionTable) throws -> Int? {
    options.contains("stopAt") ? try options.int("stopAt", range: 1...10_000_000) : nil
  }

  static func evaluate(_ run: Run, _ table: [String: LuaValue], dryRun: Bool) throws -> [LuaValue] {
    let options = try OptionTable(table, function: "Run:evaluate", keys: ["tasks", "split", "limit", "prompt", "rerank"])
    let names = try options.strings("tasks", default: EvaluationTask.allCases.map(\.rawValue))
    let tasks = try names.map { name -> EvaluationTask in
      guard let task = EvaluationTask(rawValue: name) else {
        throw LabError("Run:evaluate: no task '\(name)'; tasks are \(EvaluationTask.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      return task
    }
    let splitName = try options.string("split", default: "test", allowed: Split.allCases.map(\.rawValue))
    var limit = options.contains("limit") ? try options.int("limit", range: 1...1_000_000) : nil
    if dryRun { limit = Swift.min(limit ?? 8, 8) }
    let result = try run.evaluate(tasks, split: Split(rawValue: splitName) ?? .test, limit: limit,
                                  captionPrompt: try options.string("prompt", default: ""),
                                  rerankCandidates: try options.int("rerank", default: 32, range: 1...100_000))
    return [.table(result.mapValues { .double($0) })]
  }
}
