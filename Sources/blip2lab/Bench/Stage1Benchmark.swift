// `blip2lab bench stage1`: one BLIP-2 stage-1 training step (ITC + ITM with hard negatives + ITG, then
// AdamW) of the Q-Former, against `Tests/bench/torch_stage1_bench.py` doing the same step, in one run.

import ArgumentParser
import Blip2Core
import Foundation
import QFormer
import Tensor

/// The shapes of a stage-1 benchmark (the same table as the PyTorch script's `CONFIGS`).
struct Stage1BenchConfig {
  let name: String
  let qformer: QFormerConfiguration
  let imageTokens: Int
  let textLength: Int
  let batch: Int

  static let all: [String: Stage1BenchConfig] = [
    "sandbox": Stage1BenchConfig(
      name: "sandbox",
      qformer: QFormerConfiguration(hidden: 256, layers: 4, heads: 4, intermediate: 1024, queries: 32, crossEvery: 2,
                                    imageWidth: 384, vocabularySize: 30523, dropout: 0, embedDim: 256),
      imageTokens: 197, textLength: 32, batch: 16),
    "paper": Stage1BenchConfig(
      name: "paper",
      qformer: QFormerConfiguration(hidden: 768, layers: 12, heads: 12, intermediate: 3072, queries: 32, crossEvery: 2,
                                    imageWidth: 1024, vocabularySize: 30523, dropout: 0, embedDim: 256),
      imageTokens: 257, textLength: 32, batch: 8),
  ]
}

/// `blip2lab bench stage1`.
struct BenchStage1: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stage1",
    abstract: "ms per stage-1 step (ITC + ITM + ITG + AdamW) of the Q-Former vs the same step in PyTorch.",
    discussion: """
      sandbox: hidden 256, 4 layers, 32 queries, 197 image tokens of width 384, text 32, batch 16. paper: hidden \
      768, 12 layers, 257 image tokens of width 1024, batch 8. Vocabulary 30,523 (BERT + [DEC]), no dropout (as \
      the PyTorch script), frozen image features as inputs. Threads: OPENBLAS_NUM_THREADS when set, else all \
      cores; PyTorch gets the same count.
      """)

  @OptionGroup var options: StepBenchOptions

  func run() throws {
    try runStepBenchmark(phase: "stage1", names: options.config, known: Stage1BenchConfig.all.keys.sorted(), steps: options.steps,
                         torch: options.torch, script: "Tests/bench/torch_stage1_bench.py") { name in
      guard let bench = Stage1BenchConfig.all[name] else { return nil }
      return (bench.batch, try Self.measure(bench, steps: max(1, options.steps), profile: options.profile))
    }
  }

  /// Median ms of a full step on random features and texts (lengths L/2...L, as the PyTorch script).
  static func measure(_ bench: Stage1BenchConfig, steps: Int, profile: Bool = false) throws -> Double {
    let qformer = try QFormer(bench.qformer, seed: 0)
    qformer.train()
    let optimizer = AdamW(qformer.namedParameters())
    var rng = RandomGenerator(seed: 1)
    let features = Tensor.randn([bench.batch, bench.imageTokens, bench.qformer.imageWidth], rng: &rng)
    let sequences = (0..<bench.batch).map { _ -> [Int] in
      let length = bench.textLength / 2 + rng.nextInt(below: bench.textLength / 2 + 1)
      return [101] + (1..<length).map { _ in 1000 + rng.nextInt(below: 29000) }
    }
    let text = TokenBatch(sequences, padId: 0)
    func step() throws {
      optimizer.zeroGrad()
      let losses = try qformer.stageOneLosses(imageFeatures: features, text: text, rng: &rng)
      losses.total.backward()
      optimizer.update(learningRate: 1e-4)
    }
    return try medianStepMilliseconds(steps: steps, profile: profile, step)
  }
}
