// `blip2lab bench stage2`: one BLIP-2 stage-2 training step of a decoder-only LM (LAVIS's blip2_opt): the
// Q-Former's query pass, the projection, the frozen LM's captioning loss after the soft prompt, backward
// through the frozen LM, AdamW on the Q-Former and the projection; against `Tests/bench/torch_stage2_bench.py`
// doing the same step, in one run.

import ArgumentParser
import Blip2Core
import DecoderLM
import Foundation
import QFormer
import Tensor

/// The shapes of a stage-2 benchmark (the same table as the PyTorch script's `CONFIGS`).
struct Stage2BenchConfig {
  let qformer: QFormerConfiguration
  let lm: DecoderLMConfiguration
  let imageTokens: Int
  let textLength: Int
  let batch: Int

  /// An OPT-style LM of OPT's vocabulary.
  static func opt(width: Int, layers: Int, heads: Int, feedForward: Int) -> DecoderLMConfiguration {
    var c = DecoderLMConfiguration()
    (c.vocabularySize, c.width, c.layers, c.heads, c.feedForwardWidth, c.maxPositions) =
      (50272, width, layers, heads, feedForward, 2048)
    return c
  }

  static let all: [String: Stage2BenchConfig] = [
    "sandbox": Stage2BenchConfig(
      qformer: Stage1BenchConfig.all["sandbox"]!.qformer,
      lm: opt(width: 256, layers: 4, heads: 4, feedForward: 1024), imageTokens: 197, textLength: 32, batch: 16),
    "paper": Stage2BenchConfig(
      qformer: Stage1BenchConfig.all["paper"]!.qformer,
      lm: opt(width: 768, layers: 12, heads: 12, feedForward: 3072), imageTokens: 257, textLength: 32, batch: 8),
  ]
}

/// `blip2lab bench stage2`.
struct BenchStage2: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stage2",
    abstract: "ms per stage-2 step (Q-Former → projection → frozen OPT-style LM, captioning loss, AdamW) vs PyTorch.",
    discussion: """
      sandbox: the stage-1 sandbox Q-Former and an LM of width 256, 4 layers, batch 16. paper: the paper's \
      Q-Former (768 hidden, 12 layers, 257 image tokens of width 1024) and an LM of OPT-125m's shape (width 768, \
      12 layers), batch 8; OPT-2.7B itself would take minutes per step on 2 cores. LM vocabulary 50,272 (OPT's), \
      captions of 16-32 tokens between [BOS] and [EOS], no dropout, frozen image features as inputs. Threads: \
      OPENBLAS_NUM_THREADS when set, else all cores; PyTorch gets the same count.
      """)

  @OptionGroup var options: StepBenchOptions

  func run() throws {
    try runStepBenchmark(phase: "stage2", names: options.config, known: Stage2BenchConfig.all.keys.sorted(), steps: options.steps,
                         torch: options.torch, script: "Tests/bench/torch_stage2_bench.py") { name in
      guard let bench = Stage2BenchConfig.all[name] else { return nil }
      return (bench.batch, try Self.measure(bench, steps: max(1, options.steps), profile: options.profile))
    }
  }

  /// Median ms of a full step on random features and captions (lengths L/2...L, as the PyTorch script).
  static func measure(_ bench: Stage2BenchConfig, steps: Int, profile: Bool = false) throws -> Double {
    let qformer = try QFormer(bench.qformer, seed: 0)
    qformer.train()
    var rng = RandomGenerator(seed: 1)
    let projection = Linear(bench.qformer.hidden, bench.lm.width, rng: &rng)
    let lm = try DecoderLM(bench.lm, tokenizer: ByteTokenizer(padId: 1, bosId: 2, eosId: 2), seed: 2)
    lm.module.freeze()
    lm.module.eval()
    let optimizer = AdamW(qformer.namedParameters() + projection.namedParameters(prefix: "projection."))
    let features = Tensor.randn([bench.batch, bench.imageTokens, bench.qformer.imageWidth], rng: &rng)
    let captions = (0..<bench.batch).map { _ -> [Int] in
      let length = bench.textLength / 2 + rng.nextInt(below: bench.textLength / 2 + 1)
      return (0..<length).map { _ in 1000 + rng.nextInt(below: 49000) }
    }
    // The LM adds [BOS] before and [EOS] after each caption; the labels are the caption and [EOS].
    let target = TokenBatch(captions, padId: 1)
    return try medianStepMilliseconds(steps: steps, profile: profile) {
      optimizer.zeroGrad()
      let prompt = projection(try qformer.queryOutputs(features))
      let loss = try lm.loss(prefix: prompt, input: .empty(batch: bench.batch), target: target)
      loss.backward()
      optimizer.update(learningRate: 1e-4)
    }
  }
}
