// A run: one model, one dataset, one seed; its phases (stage 1, stage 2) and its evaluation, with files
// under `runs/<experiment>/<variant>/seed-<n>/`. Skipping stage 1 is simply not calling `stage1`.

import Foundation
import Tensor

/// What to evaluate.
public enum EvaluationTask: String, Sendable, CaseIterable, Codable {
  /// Image↔text retrieval: ITC top-k re-ranked by ITM (needs a stage-1 capable bridge).
  case retrieval
  /// Captioning scored with BLEU-4 and CIDEr-D (needs an LM).
  case caption
  /// Zero-shot VQA with the prompt "Question: {} Answer:", scored with VQA accuracy (needs an LM).
  case vqa
}

/// Evaluation numbers by name (`retrieval.r1ImageToText`, `caption.cider`, `vqa.accuracy`, ...).
public typealias EvaluationResult = [String: Double]

/// One model trained and evaluated on one dataset with one seed.
public final class Run {
  /// The run's name (its directory under the experiment).
  public let name: String
  /// Where checkpoints, metrics and results go (nil: in memory only).
  public let directory: URL?
  /// The model.
  public let model: Blip2Model
  /// The data.
  public let data: any Dataset
  /// The seed of every random draw of the run.
  public let seed: UInt64
  /// Where progress lines go.
  public var log: (String) -> Void = { print($0) }
  /// Called after every training step (progress bars, curves).
  public var onStep: ((String, StepReport) -> Void)?

  /// The bridge's weights at the end of stage 1. Retrieval is evaluated with them (as in BLIP-2, where
  /// retrieval uses the stage-1 model: stage 2 trains the bridge for the LM only, and its ITC/ITM heads drift).
  private var stage1Weights: [[Float]]?

  /// A run.
  public init(name: String, directory: URL?, model: Blip2Model, data: any Dataset, seed: UInt64) {
    self.name = name
    self.directory = directory
    self.model = model
    self.data = data
    self.seed = seed
  }

  private func examples(_ split: Split, _ indices: [Int]) throws -> [Example] {
    try indices.map { try data.example(split, $0) }
  }

  /// A fingerprint of what defines a phase, so a changed configuration is not resumed from the wrong files:
  /// the settings, the data, the seed, and the exact weights every part starts the phase with (a re-trained
  /// frozen encoder, or a stage 1 run differently, makes a different stage 1 or stage 2).
  private func fingerprint(_ phase: String, _ parts: [String]) -> String {
    var modules = [model.encoder.module, model.bridge.module]
    if let projection = model.projection { modules.append(projection) }
    if let lm = model.languageModel { modules.append(lm.module) }
    return stableHash([phase, data.name, "\(seed)"] + model.parts.map { "\($0.role):\($0.kind):\($0.summary):\($0.parameters)" }
      + modules.map(\.contentFingerprint) + parts)
  }

  /// Stage 1: trains the bridge alone with its objectives (ITC, ITM, ITG for the Q-Former).
  @discardableResult
  public func stage1(settings: TrainerSettings, mix: LossMix = .paper, masks: MaskSchedule = MaskSchedule(),
                     textLength: Int = 32, stopAfterStep: Int? = nil) throws -> TrainingState {
    guard let learner = model.bridge as? any RepresentationLearner else {
      throw TrainingError.invalidSetting(
        "stage 1 needs a bridge that can learn on its own (the Q-Former); \(model.bridge.kind) cannot: skip stage 1 for it")
    }
    var settings = settings
    settings.seed = mixSeed(seed, 100)
    let trainer = try Trainer(phase: "stage1", settings: settings, directory: directory,
                              configurationHash: fingerprint("stage1", ["\(settings)", "\(mix)", masks.description, "\(textLength)"]),
                              parameters: learner.module.namedParameters(), randomSources: learner.randomSources)
    trainer.stopAfterStep = stopAfterStep
    learner.module.train()
    defer { learner.module.eval() }
    log("\(name): stage 1, \(settings.steps) steps of \(settings.batchSize), losses \(mix)")
    defer { stage1Weights = learner.module.namedParameters().map(\.1.data) }
    return try trainer.run(datasetCount: data.count(.train), report: { self.onStep?("stage1", $0) }) { input, rng in
      let batch = try examples(.train, input.indices)
      let captions = batch.map { $0.captions[rng.nextInt(below: $0.captions.count)] }
      let features = try model.imageFeatures(batch)
      let text = learner.tokenizeText(captions, maxLength: textLength)
      return try learner.stage1Losses(Stage1Batch(imageFeatures: features, text: text), mix: mix, masks: masks,
                                      step: input.step, rng: &rng)
    }
  }

  /// Stage 2: trains the bridge and the projection through the frozen LM on captions. A decoder-only LM
  /// predicts the caption after the soft prompt (and `prompt`); an encoder-decoder LM gets a prefix-LM split
  /// of each caption, sampled between 1 and the middle of the caption (as the BLIP-2 authors describe).
  @discardableResult
  public func stage2(settings: TrainerSettings, prompt: String = "", textLength: Int = 32,
                     stopAfterStep: Int? = nil) throws -> TrainingState {
    guard let lm = model.languageModel else {
      throw TrainingError.invalidSetting("stage 2 needs a language model: compose the model with an lm")
    }
    var settings = settings
    settings.seed = mixSeed(seed, 200)
    let trainer = try Trainer(phase: "stage2", settings: settings, directory: directory,
                              configurationHash: fingerprint("stage2", ["\(settings)", prompt, "\(textLength)"]),
                              parameters: model.stage2Parameters, randomSources: model.bridge.randomSources)
    trainer.stopAfterStep = stopAfterStep
    model.bridge.module.train()
    defer { model.bridge.module.eval() }
    let tokenizer = lm.tokenizer
    let promptIds = tokenizer.encode(prompt)
    let end = tokenizer.eosId.map { [$0] } ?? []
    log("\(name): stage 2 (\(lm.architecture.rawValue) LM), \(settings.steps) steps of \(settings.batchSize)")
    return try trainer.run(datasetCount: data.count(.train), report: { self.onStep?("stage2", $0) }) { input, rng in
      let batch = try examples(.train, input.indices)
      let captions = batch.map { tokenizer.encode($0.captions[rng.nextInt(below: $0.captions.count)]) }
      var inputs: [[Int]] = [], targets: [[Int]] = []
      for caption in captions {
        let words = Array(caption.prefix(textLength))
        switch lm.architecture {
        case .decoderOnly:
          inputs.append(promptIds)
          targets.append(words + end)
        case .encoderDecoder:
          let split = words.count < 2 ? 0 : 1 + rng.nextInt(below: Swift.max(1, words.count / 2))
          inputs.append(promptIds + words.prefix(split))
          targets.append(Array(words.dropFirst(split)) + end)
        }
      }
      let features = try model.imageFeatures(batch)
      let loss = try model.stage2Loss(features: features, input: TokenBatch(inputs, padId: tokenizer.padId),
                                      target: TokenBatch(targets, padId: tokenizer.padId))
      return ObjectiveLosses(total: loss, values: ["lm": loss.item])
    }
  }

  /// Evaluates on `split` (at most `limit` examples) and writes `eval.json` when the run has a directory.
  /// Retrieval ranks by ITC, then ITM re-scores the `rerankCandidates` best of each query (LAVIS's `k_test`).
  public func evaluate(_ tasks: [EvaluationTask], split: Split = .test, limit: Int? = nil, batchSize: Int = 32,
                       captionPrompt: String = "", rerankCandidates: Int = 32) throws -> EvaluationResult {
    let count = Swift.min(data.count(split), limit ?? Int.max)
    guard count > 0 else { throw TrainingError.invalidSetting("evaluate: the \(split.rawValue) split is empty") }
    let items = try examples(split, Array(0..<count))
    var result: EvaluationResult = [:]
    model.bridge.module.eval()
    for task in tasks {
      switch task {
      case .retrieval: result.merge(try evaluateRetrieval(items, batchSize: batchSize, candidates: rerankCandidates)) { $1 }
      case .caption: result.merge(try evaluateCaptions(items, batchSize: batchSize, prompt: captionPrompt)) { $1 }
      case .vqa: result.merge(try evaluateVQA(items, batchSize: batchSize)) { $1 }
      }
    }
    if let directory {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      try writeAtomically(try encoder.encode(result), to: directory.appendingPathComponent("eval-\(split.rawValue).json"))
    }
    return result
  }

  private func batches<T>(_ items: [T], _ size: Int) -> [[T]] {
    stride(from: 0, to: items.count, by: size).map { Array(items[$0..<Swift.min($0 + size, items.count)]) }
  }

  private func evaluateRetrieval(_ items: [Example], batchSize: Int, candidates: Int) throws -> EvaluationResult {
    guard let learner = model.bridge as? any RepresentationLearner else {
      throw TrainingError.invalidSetting("retrieval needs ITC/ITM, which \(model.bridge.kind) does not have")
    }
    // Every caption of every image is a text; text t belongs to image textImages[t].
    var texts: [String] = [], textImages: [Int] = []
    for (i, example) in items.enumerated() {
      for caption in example.captions {
        texts.append(caption)
        textImages.append(i)
      }
    }
    // Stage-1 weights (when stage 1 ran) while retrieval runs, the current ones afterwards.
    let parameters = learner.module.namedParameters().map(\.1)
    let current = parameters.map(\.data)
    for (tensor, saved) in zip(parameters, stage1Weights ?? current) { tensor.data = saved }
    defer { for (tensor, data) in zip(parameters, current) { tensor.data = data } }
    let features = try GradMode.noGrad { try model.imageFeatures(items) }  // [I, N, D]
    let tokens = learner.tokenizeText(texts, maxLength: 32)
    let similarity = try GradMode.noGrad { try learner.contrastiveSimilarity(imageFeatures: features, text: tokens) }
    let itc = ScoreMatrix(rows: items.count, columns: texts.count, values: similarity.data)
    let perImage = features.count / items.count
    let reranked = try Retrieval.rerank(itc: itc, k: candidates) { pairs in
      var scores: [Float] = []
      for chunk in batches(pairs, batchSize) {
        let chunkFeatures = Tensor(shape: [chunk.count] + Array(features.shape.dropFirst()),
                                   data: chunk.flatMap { features.data[($0.image * perImage)..<(($0.image + 1) * perImage)] })
        let chunkText = tokens.selecting(chunk.map(\.text))
        scores += try GradMode.noGrad { try learner.matchScores(imageFeatures: chunkFeatures, text: chunkText) }
      }
      return scores
    }
    let plain = Retrieval.evaluate(similarity: itc, textImages: textImages)
    let scores = Retrieval.evaluate(imageToText: reranked.imageToText, textToImage: reranked.textToImage, textImages: textImages)
    return [
      "retrieval.r1ImageToText": scores.imageToText.r1, "retrieval.r5ImageToText": scores.imageToText.r5,
      "retrieval.r10ImageToText": scores.imageToText.r10, "retrieval.r1TextToImage": scores.textToImage.r1,
      "retrieval.r5TextToImage": scores.textToImage.r5, "retrieval.r10TextToImage": scores.textToImage.r10,
      "retrieval.itcOnlyR1ImageToText": plain.imageToText.r1, "retrieval.itcOnlyR1TextToImage": plain.textToImage.r1,
    ]
  }

  private func evaluateCaptions(_ items: [Example], batchSize: Int, prompt: String) throws -> EvaluationResult {
    var candidates: [String] = []
    var rng = RandomGenerator(seed: mixSeed(seed, 300))
    for chunk in batches(items, batchSize) {
      let features = try model.imageFeatures(chunk)
      candidates += try model.generate(features: features, prompts: chunk.map { _ in prompt },
                                       options: GenerationOptions(maxTokens: 30), rng: &rng)
    }
    let references = items.map(\.captions)
    let tokenizedCandidates = candidates.map { CaptionTokenizer.tokenize($0) }
    let tokenizedReferences = references.map { $0.map { CaptionTokenizer.tokenize($0) } }
    let bleu = Bleu.score(candidates: tokenizedCandidates, references: tokenizedReferences)
    let cider = CiderD.score(candidates: tokenizedCandidates, references: tokenizedReferences)
    if let directory {
      let lines = zip(items, candidates).map { ["image_id": $0.id, "caption": $1] }
      try writeAtomically(try JSONSerialization.data(withJSONObject: lines, options: [.prettyPrinted, .sortedKeys]),
                          to: directory.appendingPathComponent("captions.json"))
    }
    return ["caption.bleu4": bleu.corpus[3], "caption.cider": cider.corpus]
  }

  private func evaluateVQA(_ items: [Example], batchSize: Int) throws -> EvaluationResult {
    let questions = items.flatMap { example in example.questions.map { (example, $0) } }
    var vqaItems: [VQAItem] = []
    var rng = RandomGenerator(seed: mixSeed(seed, 400))
    for chunk in batches(questions, batchSize) {
      let features = try model.imageFeatures(chunk.map(\.0))
      let answers = try model.generate(features: features, prompts: chunk.map { "Question: \($0.1.question) Answer:" },
                                       options: GenerationOptions(maxTokens: 5), rng: &rng)
      vqaItems += zip(chunk, answers).map {
        VQAItem(prediction: $1, answers: $0.1.answers, questionType: $0.1.questionType)
      }
    }
    // Built-in datasets answer in words ("two"); normalize the references like the predictions.
    let scores = VQAAccuracy.evaluate(vqaItems, normalizeReferences: true)
    // The baseline a model must beat to show it looks at the image: always give the training split's most
    // frequent answer (over the first 2,000 training examples).
    let majority = try majorityTrainingAnswer()
    let baseline = VQAAccuracy.evaluate(vqaItems.map { VQAItem(prediction: majority, answers: $0.answers) },
                                        normalizeReferences: true)
    if let directory {
      let lines = zip(questions, vqaItems).map { pair, item -> [String: Any] in
        ["image_id": pair.0.id, "question": pair.1.question, "prediction": item.prediction,
         "normalized": VQAAccuracy.normalize(item.prediction), "answers": item.answers]
      }
      try writeAtomically(try JSONSerialization.data(withJSONObject: lines, options: [.prettyPrinted, .sortedKeys]),
                          to: directory.appendingPathComponent("vqa-answers.json"))
    }
    var result: EvaluationResult = ["vqa.accuracy": scores.overall, "vqa.majorityBaseline": baseline.overall]
    for (type, value) in scores.perQuestionType { result["vqa.\(type)"] = value }
    return result
  }

  /// The most frequent (normalized) answer over the first 2,000 training examples; ties go to the
  /// alphabetically first.
  private func majorityTrainingAnswer() throws -> String {
    var counts: [String: Int] = [:]
    for index in 0..<min(2000, data.count(.train)) {
      for question in try data.example(.train, index).questions {
        for answer in question.answers { counts[VQAAccuracy.normalize(answer), default: 0] += 1 }
      }
    }
    return counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key ?? ""
  }

}
