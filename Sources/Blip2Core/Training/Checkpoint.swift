// Checkpoints: trainable parameters and optimizer moments in one safetensors file, and the training
// state as JSON, both written atomically (temporary file, then rename), so an interrupted write never
// leaves a half checkpoint.

import Foundation
import Tensor

/// What a run needs, besides tensors, to continue exactly where it stopped.
public struct TrainingState: Codable, Equatable, Sendable {
  /// The phase (e.g. `"stage1"`, `"stage2"`).
  public var phase: String
  /// Steps completed in this phase.
  public var step: Int
  /// Steps the phase runs in all.
  public var totalSteps: Int
  /// The run's seed (every per-step random draw derives from it and the step).
  public var seed: UInt64
  /// A fingerprint of the configuration; resuming with a different one is refused.
  public var configurationHash: String
  /// The optimizer's own step count.
  public var optimizerStep: Int
  /// The most recent logged loss values.
  public var lastLosses: [String: Float]
  /// Whether the phase has finished.
  public var finished: Bool

  /// A state from its parts.
  public init(phase: String, step: Int, totalSteps: Int, seed: UInt64, configurationHash: String,
              optimizerStep: Int, lastLosses: [String: Float] = [:], finished: Bool = false) {
    self.phase = phase
    self.step = step
    self.totalSteps = totalSteps
    self.seed = seed
    self.configurationHash = configurationHash
    self.optimizerStep = optimizerStep
    self.lastLosses = lastLosses
    self.finished = finished
  }
}

/// Errors from training and checkpoints.
public enum TrainingError: Error, LocalizedError, Equatable {
  /// A loss became NaN or infinite.
  case nonFiniteLoss(phase: String, step: Int, objective: String, value: Float)
  /// A checkpoint belongs to another configuration.
  case configurationChanged(directory: String, saved: String, current: String)
  /// A checkpoint file is unreadable or inconsistent.
  case badCheckpoint(path: String, reason: String)
  /// A setting is unusable.
  case invalidSetting(String)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .nonFiniteLoss(phase, step, objective, value):
      return "\(phase): the \(objective) loss is \(value) at step \(step); training stopped. Lower the learning "
        + "rate, check the inputs of that step, or clip gradients harder; the last checkpoint is intact"
    case let .configurationChanged(directory, saved, current):
      return "\(directory) holds a run with another configuration (\(saved), now \(current)); "
        + "use a new run name or delete the directory to start over"
    case let .badCheckpoint(path, reason):
      return "\(path): \(reason); delete it to restart this phase from the beginning"
    case let .invalidSetting(message):
      return message
    }
  }
}

/// Reads and writes a phase's checkpoint in a run directory.
public struct CheckpointStore: Sendable {
  /// The run directory (e.g. `runs/quickstart/full/seed-1`).
  public var directory: URL
  /// The phase name; files are `<phase>.safetensors` and `<phase>.state.json`.
  public var phase: String

  /// A store for `phase` under `directory`.
  public init(directory: URL, phase: String) {
    self.directory = directory
    self.phase = phase
  }

  /// The tensor file.
  public var tensorsURL: URL { directory.appendingPathComponent("\(phase).safetensors") }
  /// The state file.
  public var stateURL: URL { directory.appendingPathComponent("\(phase).state.json") }

  /// Writes tensors then state (the state is written last: a state file always has its tensors).
  public func save(parameters: [(String, Tensor)], optimizer: AdamW, state: TrainingState) throws {
    var tensors: [String: Tensor] = [:]
    for (name, tensor) in parameters { tensors["param." + name] = tensor.detached() }
    for (name, tensor) in optimizer.state().tensors { tensors["optim." + name] = tensor }
    try SafeTensors.save(tensors, to: tensorsURL, metadata: ["phase": phase, "step": "\(state.step)"])
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try writeAtomically(try encoder.encode(state), to: stateURL)
  }

  /// The saved state, or nil when there is none.
  public func loadState() throws -> TrainingState? {
    guard FileManager.default.fileExists(atPath: stateURL.path) else { return nil }
    do {
      return try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: stateURL))
    } catch {
      throw TrainingError.badCheckpoint(path: stateURL.path, reason: "unreadable state (\(error.localizedDescription))")
    }
  }

  /// Restores parameter values and optimizer moments saved by `save`.
  public func restore(parameters: [(String, Tensor)], optimizer: AdamW, state: TrainingState) throws {
    let tensors = try SafeTensors.load(tensorsURL)
    var params: [String: Tensor] = [:]
    var moments: [String: Tensor] = [:]
    for (key, tensor) in tensors {
      if key.hasPrefix("param.") { params[String(key.dropFirst(6))] = tensor }
      if key.hasPrefix("optim.") { moments[String(key.dropFirst(6))] = tensor }
    }
    for (name, parameter) in parameters {
      guard let saved = params[name] else {
        throw TrainingError.badCheckpoint(path: tensorsURL.path, reason: "parameter \(name) is missing")
      }
      guard saved.shape == parameter.shape else {
        throw TrainingError.badCheckpoint(path: tensorsURL.path,
                                          reason: "parameter \(name) has shape \(saved.shape), the model \(parameter.shape)")
      }
      parameter.data = saved.data
    }
    try optimizer.restore(tensors: moments, step: state.optimizerStep, source: tensorsURL.path)
  }
}

/// Writes `data` to `url` through a temporary file in the same directory and a rename.
public func writeAtomically(_ data: Data, to url: URL) throws {
  let directory = url.deletingLastPathComponent()
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
  try data.write(to: temporary)
  if rename(temporary.path, url.path) != 0 {
    try? FileManager.default.removeItem(at: temporary)
    throw TrainingError.badCheckpoint(path: url.path, reason: "could not move the new file into place (errno \(errno))")
  }
}
