// The training loop: it learns, resumes bit-identically, refuses a changed configuration, skips a
// finished phase, and stops with a clear error on a non-finite loss.

import Foundation
import Testing

@testable import Blip2Core

/// A small regression problem: an MLP with dropout learns y = sin(x₀) + x₁² from 64 fixed points.
struct RegressionProblem {
  let inputs: [[Float]]
  let targets: [Float]

  init() {
    var rng = RandomGenerator(seed: 11)
    inputs = (0..<64).map { _ in [rng.nextFloat() * 4 - 2, rng.nextFloat() * 2 - 1] }
    targets = inputs.map { Foundation.sin($0[0]) + $0[1] * $0[1] }
  }

  func makeModel() -> (MLP, Dropout, RandomSource) {
    var rng = RandomGenerator(seed: 3)
    let source = RandomSource(seed: 0)
    return (MLP(2, hidden: 32, 1, rng: &rng), Dropout(0.1, source: source), source)
  }

  func loss(_ model: MLP, _ dropout: Dropout, indices: [Int]) -> ObjectiveLosses {
    let x = Tensor(shape: [indices.count, 2], data: indices.flatMap { inputs[$0] })
    let y = Tensor(shape: [indices.count, 1], data: indices.map { targets[$0] })
    let prediction = model.fc2(dropout(model.activation(model.fc1(x))))
    let difference = prediction - y
    let mse = (difference * difference).mean()
    return ObjectiveLosses(total: mse, values: ["mse": mse.item])
  }
}

func temporaryRunDirectory() -> URL {
  FileManager.default.temporaryDirectory.appendingPathComponent("blip2lab-test-\(UUID().uuidString)")
}

@Suite("Trainer")
struct TrainerTests {
  let problem = RegressionProblem()

  func train(directory: URL?, steps: Int = 60, stopAfter: Int? = nil, hash: String = "h1") throws -> (MLP, TrainingState) {
    let (model, dropout, source) = problem.makeModel()
    let settings = TrainerSettings(steps: steps, batchSize: 16, learningRate: 1e-2, checkpointEvery: 7, seed: 5)
    let trainer = try Trainer(phase: "fit", settings: settings, directory: directory, configurationHash: hash,
                              parameters: model.namedParameters(), randomSources: [source])
    trainer.stopAfterStep = stopAfter
    let state = try trainer.run(datasetCount: problem.inputs.count) { input, _ in
      problem.loss(model, dropout, indices: input.indices)
    }
    return (model, state)
  }

  @Test("the loss falls well below its start")
  func learns() throws {
    let (model, dropout, _) = problem.makeModel()
    dropout.eval()
    let before = GradMode.noGrad { problem.loss(model, dropout, indices: Array(0..<64)).values["mse"]! }
    let (trained, _) = try train(directory: nil, steps: 300)
    let after = GradMode.noGrad { problem.loss(trained, dropout, indices: Array(0..<64)).values["mse"]! }
    #expect(after < before * 0.2, "mse \(before) -> \(after)")
  }

  @Test("an interrupted run resumes to exactly the numbers of an uninterrupted one")
  func resumeIsExact() throws {
    let straight = temporaryRunDirectory(), interrupted = temporaryRunDirectory()
    defer { try? FileManager.default.removeItem(at: straight); try? FileManager.default.removeItem(at: interrupted) }
    let (reference, referenceState) = try train(directory: straight)
    let (_, partial) = try train(directory: interrupted, stopAfter: 23)
    #expect(partial.step == 23 && !partial.finished)
    let (resumed, resumedState) = try train(directory: interrupted)
    #expect(resumedState.finished && resumedState.step == 60)
    for ((name, a), (_, b)) in zip(reference.namedParameters(), resumed.namedParameters()) {
      #expect(a.data == b.data, "parameter \(name) differs after resume")
    }
    #expect(resumedState.lastLosses == referenceState.lastLosses)
    let lines = try String(contentsOf: interrupted.appendingPathComponent("fit.metrics.jsonl"), encoding: .utf8)
      .split(separator: "\n")
    #expect(lines.count == 60, "one metrics line per step, no duplicates after resume")
  }

  @Test("a finished phase is not recomputed")
  func finishedIsNoOp() throws {
    let directory = temporaryRunDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let (first, _) = try train(directory: directory, steps: 10)
    let (model, dropout, source) = problem.makeModel()
    let trainer = try Trainer(phase: "fit", settings: TrainerSettings(steps: 10, batchSize: 16, learningRate: 1e-2, checkpointEvery: 7, seed: 5),
                              directory: directory, configurationHash: "h1", parameters: model.namedParameters(),
                              randomSources: [source])
    var calls = 0
    try trainer.run(datasetCount: 64) { input, _ in
      calls += 1
      return problem.loss(model, dropout, indices: input.indices)
    }
    #expect(calls == 0)
    #expect(model.fc1.weight.data == first.fc1.weight.data, "the finished parameters are restored")
  }

  @Test("a checkpoint of another configuration is refused with a clear message")
  func configurationChangeRefused() throws {
    let directory = temporaryRunDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    _ = try train(directory: directory, steps: 5)
    #expect(throws: TrainingError.self) { _ = try train(directory: directory, steps: 5, hash: "h2") }
  }

  @Test("a NaN loss stops the run naming the step and the objective")
  func nonFiniteLossStops() throws {
    let (model, dropout, _) = problem.makeModel()
    let trainer = try Trainer(phase: "stage1", settings: TrainerSettings(steps: 10, batchSize: 4), directory: nil,
                              configurationHash: "x", parameters: model.namedParameters())
    let error = #expect(throws: TrainingError.self) {
      try trainer.run(datasetCount: 64) { input, _ in
        var losses = problem.loss(model, dropout, indices: input.indices)
        if input.step == 3 { losses.values["itm"] = .nan }
        return losses
      }
    }
    #expect(error == .nonFiniteLoss(phase: "stage1", step: 3, objective: "itm", value: .nan) || {
      if case .nonFiniteLoss(let phase, let step, let objective, _)? = error { return phase == "stage1" && step == 3 && objective == "itm" }
      return false
    }())
    #expect(error?.localizedDescription.contains("step 3") == true)
  }

  @Test("batches cover each epoch exactly once and depend only on the seed and step")
  func batchesArePermutations() throws {
    let trainer = try Trainer(phase: "p", settings: TrainerSettings(steps: 1, batchSize: 5, seed: 9), directory: nil,
                              configurationHash: "", parameters: [])
    let epoch = (0..<4).flatMap { trainer.batchIndices(step: $0, count: 20) }
    #expect(Set(epoch) == Set(0..<20) && epoch.count == 20)
    #expect(trainer.batchIndices(step: 2, count: 20) == trainer.batchIndices(step: 2, count: 20))
  }
}
