// The training loop shared by both stages: AdamW with warm-up + cosine learning rate, gradient clipping,
// metrics per step to `<phase>.metrics.jsonl`, atomic checkpoints, and exact resume.
//
// Exact resume without saving generator states: every random draw of step s (the batch's examples,
// hard negatives, dropout) comes from generators seeded by (seed, s), so re-running step s after a
// restart draws exactly what the uninterrupted run drew.

import Foundation
import Tensor

/// The settings of one training phase (camelCase, as in Lua and `--set`).
public struct TrainerSettings: Codable, Equatable, Sendable {
  /// Optimizer steps.
  public var steps: Int
  /// Examples per step.
  public var batchSize: Int
  /// Peak learning rate (paper: 1e-4).
  public var learningRate: Double
  /// Linear warm-up steps (paper: 2000 of 250k; scaled down for small runs).
  public var warmupSteps: Int
  /// The cosine schedule's floor (paper: 0 in stage 1, 5e-5 in stage 2).
  public var minLearningRate: Double
  /// AdamW weight decay (paper: 0.05).
  public var weightDecay: Double
  /// AdamW β₂ (paper: 0.98).
  public var beta2: Double
  /// Global gradient-norm limit (0 = no clipping).
  public var clipNorm: Double
  /// Steps between checkpoints (the last step always checkpoints).
  public var checkpointEvery: Int
  /// The seed of every random draw in the phase.
  public var seed: UInt64

  /// Settings with BLIP-2's optimizer choices and a schedule scaled to `steps`.
  public init(steps: Int, batchSize: Int, learningRate: Double = 1e-4, warmupSteps: Int? = nil,
              minLearningRate: Double = 0, weightDecay: Double = 0.05, beta2: Double = 0.98,
              clipNorm: Double = 1, checkpointEvery: Int = 500, seed: UInt64 = 0) {
    self.steps = steps
    self.batchSize = batchSize
    self.learningRate = learningRate
    // The paper warms up over 2000 of 250k steps (0.8%); small runs need a few percent to be stable.
    self.warmupSteps = warmupSteps ?? Swift.max(1, steps / 20)
    self.minLearningRate = minLearningRate
    self.weightDecay = weightDecay
    self.beta2 = beta2
    self.clipNorm = clipNorm
    self.checkpointEvery = checkpointEvery
    self.seed = seed
  }

  /// Throws when a setting cannot work.
  public func validate() throws {
    if steps < 0 { throw TrainingError.invalidSetting("steps must be ≥ 0, got \(steps)") }
    if batchSize < 1 { throw TrainingError.invalidSetting("batchSize must be ≥ 1, got \(batchSize)") }
    if !(learningRate > 0) { throw TrainingError.invalidSetting("learningRate must be > 0, got \(learningRate)") }
    if checkpointEvery < 1 { throw TrainingError.invalidSetting("checkpointEvery must be ≥ 1, got \(checkpointEvery)") }
  }
}

/// A deterministic 64-bit mix of a seed and integers (SplitMix64 finalizer): seeds for per-step generators.
public func mixSeed(_ seed: UInt64, _ values: Int...) -> UInt64 {
  var z = seed
  for value in values {
    z = z &+ 0x9E37_79B9_7F4A_7C15 &+ UInt64(bitPattern: Int64(value))
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z >> 31
  }
  return z
}

/// What the step function receives.
public struct StepInput {
  /// The step (0-based).
  public var step: Int
  /// The dataset indices of this step's examples.
  public var indices: [Int]
  /// The learning rate of this step.
  public var learningRate: Float
}

/// Reported after every step.
public struct StepReport: Sendable {
  /// The step just completed (0-based).
  public var step: Int
  /// Total steps.
  public var totalSteps: Int
  /// Loss values by objective (and `total`).
  public var losses: [String: Float]
  /// The learning rate used.
  public var learningRate: Float
  /// Gradient norm before clipping.
  public var gradientNorm: Float
}

/// Runs one training phase of a set of trainable parameters.
public final class Trainer {
  /// The phase name (file names and messages).
  public let phase: String
  /// Settings.
  public let settings: TrainerSettings
  /// Where checkpoints and metrics go; nil = in memory only.
  public let directory: URL?
  /// A fingerprint of everything that defines the run; a checkpoint with another one is refused.
  public let configurationHash: String
  /// The trainable parameters, by name.
  public let parameters: [(String, Tensor)]
  /// Stochastic modules' generators (dropout): reseeded from (seed, step) before each step.
  public let randomSources: [RandomSource]
  /// For tests and `--dry-run`: stop (after checkpointing) once this many steps have completed.
  public var stopAfterStep: Int?
  /// The optimizer.
  public let optimizer: AdamW
  /// Process-wide (`blip2lab run --profile N`): profile the last N steps of every phase (steady state; at
  /// least 2 steps after the first are left as warm-up) with the op profiler, and write the report to
  /// `<phase>.profile.txt` (and print it). 0: off.
  nonisolated(unsafe) public static var profileSteps = 0
  /// Where profile reports are printed (the run command sets it to its log).
  nonisolated(unsafe) public static var profileOutput: (String) -> Void = { print($0) }

  /// A trainer over `parameters` (frozen ones are ignored).
  public init(phase: String, settings: TrainerSettings, directory: URL?, configurationHash: String,
              parameters: [(String, Tensor)], randomSources: [RandomSource] = []) throws {
    try settings.validate()
    self.phase = phase
    self.settings = settings
    self.directory = directory
    self.configurationHash = configurationHash
    self.parameters = parameters.filter { $0.1.requiresGrad }
    self.randomSources = randomSources
    optimizer = AdamW(self.parameters, configuration: .init(beta1: 0.9, beta2: Float(settings.beta2), epsilon: 1e-8,
                                                            weightDecay: Float(settings.weightDecay)))
  }

  /// The dataset indices of `step` for a dataset of `count` examples: consecutive slices of a seeded
  /// permutation per epoch (an epoch's permutation depends only on the seed and the epoch).
  public func batchIndices(step: Int, count: Int) -> [Int] {
    precondition(count > 0, "batchIndices: empty dataset")
    var result: [Int] = []
    var cachedEpoch = -1
    var permutation: [Int] = []
    for position in (step * settings.batchSize)..<((step + 1) * settings.batchSize) {
      let epoch = position / count
      if epoch != cachedEpoch {
        permutation = Array(0..<count)
        var rng = RandomGenerator(seed: mixSeed(settings.seed, 1, epoch))
        rng.shuffle(&permutation)
        cachedEpoch = epoch
      }
      result.append(permutation[position % count])
    }
    return result
  }

  /// Trains, resuming from a checkpoint when there is one; a finished phase with the same configuration
  /// is not recomputed (its parameters are restored). Returns the final state.
  @discardableResult
  public func run(datasetCount: Int, report: ((StepReport) -> Void)? = nil,
                  step body: (StepInput, inout RandomGenerator) throws -> ObjectiveLosses) throws -> TrainingState {
    guard datasetCount > 0 else { throw TrainingError.invalidSetting("\(phase): the training set is empty") }
    let store = directory.map { CheckpointStore(directory: $0, phase: phase) }
    var state = TrainingState(phase: phase, step: 0, totalSteps: settings.steps, seed: settings.seed,
                              configurationHash: configurationHash, optimizerStep: 0)
    if let store, let saved = try store.loadState() {
      guard saved.configurationHash == configurationHash else {
        throw TrainingError.configurationChanged(directory: store.directory.path, saved: saved.configurationHash,
                                                 current: configurationHash)
      }
      try store.restore(parameters: parameters, optimizer: optimizer, state: saved)
      state = saved
      if saved.finished { return saved }
    }
    let metrics = try MetricsLog(url: directory?.appendingPathComponent("\(phase).metrics.jsonl"), keepThrough: state.step)
    // The phase's last N steps (steady state: caches filled), or after 2 warm-up steps when the phase is short.
    let profileStart = Swift.max(state.step + 2, settings.steps - Trainer.profileSteps)
    let profiled = Trainer.profileSteps > 0 ? profileStart..<Swift.min(settings.steps, profileStart + Trainer.profileSteps) : 0..<0
    var profiling = false
    defer { if profiling { finishProfile(OpProfiler.end(), steps: state.step - profiled.lowerBound) } }
    while state.step < settings.steps {
      let step = state.step
      if step == profiled.lowerBound && !profiled.isEmpty {
        OpProfiler.begin()
        profiling = true
      }
      let rate = warmupCosineLearningRate(step: step, warmupSteps: settings.warmupSteps, totalSteps: settings.steps,
                                          peak: Float(settings.learningRate), floor: Float(settings.minLearningRate))
      var rng = RandomGenerator(seed: mixSeed(settings.seed, 2, step))
      for (index, source) in randomSources.enumerated() {
        source.generator = RandomGenerator(seed: mixSeed(settings.seed, 3, step, index))
      }
      optimizer.zeroGrad()
      let input = StepInput(step: step, indices: batchIndices(step: step, count: datasetCount), learningRate: rate)
      let losses = try body(input, &rng)
      for (objective, value) in losses.values where !value.isFinite {
        throw TrainingError.nonFiniteLoss(phase: phase, step: step, objective: objective, value: value)
      }
      guard losses.total.item.isFinite else {
        throw TrainingError.nonFiniteLoss(phase: phase, step: step, objective: "total", value: losses.total.item)
      }
      losses.total.backward()
      let norm = OpProfiler.section("clip gradients") {
        clipGradientNorm(parameters.map(\.1), maxNorm: settings.clipNorm > 0 ? Float(settings.clipNorm) : .infinity)
      }
      guard norm.isFinite else {
        throw TrainingError.nonFiniteLoss(phase: phase, step: step, objective: "gradient norm", value: norm)
      }
      optimizer.update(learningRate: rate)
      var values = losses.values
      values["total"] = losses.total.item
      state.step = step + 1
      state.optimizerStep = optimizer.step
      state.lastLosses = values
      try OpProfiler.section("metrics log") {
        try metrics.append(step: step, values: values, learningRate: rate, gradientNorm: norm)
        report?(StepReport(step: step, totalSteps: settings.steps, losses: values, learningRate: rate, gradientNorm: norm))
      }
      let stopping = stopAfterStep.map { state.step >= $0 } ?? false
      state.finished = state.step == settings.steps
      if let store, state.finished || stopping || state.step % settings.checkpointEvery == 0 {
        try OpProfiler.section("checkpoint") { try store.save(parameters: parameters, optimizer: optimizer, state: state) }
      }
      if profiling && state.step == profiled.upperBound {
        profiling = false
        finishProfile(OpProfiler.end(), steps: profiled.count)
      }
      if stopping && !state.finished { return state }
    }
    if let store, !state.finished || settings.steps == 0 {
      state.finished = true
      try store.save(parameters: parameters, optimizer: optimizer, state: state)
    }
    return state
  }
}

extension Trainer {
  /// Prints a profile and writes it beside the phase's checkpoints.
  func finishProfile(_ profile: OpProfile, steps: Int) {
    guard steps > 0 else { return }
    let text = "\(phase): \(steps) step(s) profiled\n" + profile.report(divideBy: steps) + "\n"
    Trainer.profileOutput(text)
    if let directory {
      try? writeAtomically(Data(text.utf8), to: directory.appendingPathComponent("\(phase).profile.txt"))
    }
  }
}

/// Appends one JSON line per step; on resume, drops lines past the checkpoint (they will be recomputed).
final class MetricsLog {
  private let url: URL?

  init(url: URL?, keepThrough step: Int) throws {
    self.url = url
    guard let url else { return }
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    if let existing = try? String(contentsOf: url, encoding: .utf8) {
      let kept = existing.split(separator: "\n").filter { line in
        guard let data = line.data(using: .utf8),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let logged = object["step"] as? Int
        else { return false }
        return logged < step
      }
      try writeAtomically(Data((kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).utf8), to: url)
    }
  }

  func append(step: Int, values: [String: Float], learningRate: Float, gradientNorm: Float) throws {
    guard let url else { return }
    var fields = ["\"step\":\(step)", "\"lr\":\(learningRate)", "\"gradNorm\":\(gradientNorm)"]
    for key in values.keys.sorted() { fields.append("\"\(key)\":\(values[key]!)") }
    let line = "{" + fields.joined(separator: ",") + "}\n"
    if !FileManager.default.fileExists(atPath: url.path) {
      _ = FileManager.default.createFile(atPath: url.path, contents: nil)
    }
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(line.utf8))
  }
}
