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

  /// Training steps this run has computed (restored phases count nothing): how a sweep tells a re-run that
  /// recomputed nothing.
  public private(set) var stepsTrained = 0
  /// Evaluations this run has computed rather than read back from `evaluations/`.
  public private(set) var evaluationsComputed = 0

  /// The bridge's weights at the end of stage 1. Retrieval is evaluated with them (as in BLIP-2, where
  /// retrieval uses the stage-1 model: stage 2 trains the bridge for the LM only, and its ITC/ITM heads drift).
  private var stage1Weights: [[Float]]?
  /// The fingerprint of `stage1Weights` (part of an evaluation's cache key).
  private var stage1Fingerprint = "none"
  /// The training split's most frequent answer, once computed (see `majorityTrainingAnswer`).
  private var majorityAnswer: String?
  /// The weights' fingerprints at the first call of each phase (see `fingerprint`).
  private var startingWeights: [String: [String]] = [:]

  /// An evaluation, with where training stood when it was made.
  public struct Evaluation: Sendable {
    /// The phase trained last (`stage1`, `stage2`), or nil before any.
    public var phase: String?
    /// The steps that phase had completed.
    public var step: Int
    /// The numbers.
    public var result: EvaluationResult
  }
  /// The phase trained last and the steps it had completed (nil before any training).
  public private(set) var position: (phase: String, step: Int)?
  /// Every evaluation of this run, in order (read back ones too): a metric evaluated at several steps of a
  /// phase is a curve.
  public private(set) var evaluations: [Evaluation] = []

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

  /// Training examples `indices`, each with a caption (both stages train on captions; a VQA-only split has none).
  private func captionedExamples(_ indices: [Int]) throws -> [Example] {
    let batch = try examples(.train, indices)
    if let bare = batch.first(where: { $0.captions.isEmpty }) {
      throw TrainingError.invalidSetting(
        "training example \(bare.id) has no caption: stages 1 and 2 train on captions, so give the train split a caption file")
    }
    return batch
  }

  /// A fingerprint of what defines a phase, so a changed configuration is not resumed from the wrong files:
  /// the settings, the data, the seed, and the exact weights every part starts the phase with (a re-trained
  /// frozen encoder, or a stage 1 run differently, makes a different stage 1 or stage 2). The starting
  /// weights are those of the phase's first call on this run: a second call that continues the phase
  /// (`stopAfterStep`) starts from weights the phase itself trained. An evaluation (`startOfPhase` false)
  /// is fingerprinted with the weights it evaluates.
  private func fingerprint(_ phase: String, _ parts: [String], startOfPhase: Bool = true) -> String {
    let weights: [String]
    if startOfPhase, let remembered = startingWeights[phase] {
      weights = remembered
    } else {
      var modules = [model.encoder.module, model.bridge.module]
      if let projection = model.projection { modules.append(projection) }
      if let lm = model.languageModel { modules.append(lm.module) }
      weights = modules.map(\.contentFingerprint)
      if startOfPhase { startingWeights[phase] = weights }
    }
    return stableHash([phase, data.name, "\(seed)"] + model.parts.map { "\($0.role):\($0.kind):\($0.summary):\($0.parameters)" }
      + weights + parts)
  }

  /// What defines a stage-1 mix and schedule beyond their descriptions: the weights a function gives at every
  /// step, and every mask over the stage's layout (a Lua function or custom mask edited between two runs must
  /// not resume the other's files). Empty for constant weights and built-in masks, so such runs keep the
  /// fingerprints they had before functions were fingerprinted.
  private func stage1Details(mix: LossMix, masks: MaskSchedule, steps: Int, textLength: Int) throws -> [String] {
    var parts = [String]()
    let functions = mix.weights.keys.sorted().filter { if case .schedule? = mix.weights[$0] { true } else { false } }
    if !functions.isEmpty {
      parts.append(stableHash(try functions.flatMap { key in try (0..<steps).map { "\(key)@\($0)=\(try mix.weight(key, step: $0))" } }))
    }
    let builtIn = Set(MaskSpec.builtInNames)
    let custom = !masks.choosers.isEmpty || masks.entries.contains { !builtIn.contains($0.mask.name) }
      || masks.defaults.values.contains { !builtIn.contains($0.name) }
    if custom {
      let layout = try TokenLayout.queriesAndText(queries: model.bridge.outputTokens, text: textLength)
      parts.append(masks.fingerprint(totalSteps: steps, layout: layout))
    }
    return parts
  }

  /// Trains a phase with the trainer `makeTrainer(phaseName)` makes. With `stopAfterStep` short of the end,
  /// training stops there (the next call continues) and the weights at that step are also kept as a snapshot
  /// (`<phase>-step<k>.*`), so a re-run that stops there again gets them back even after the phase went on
  /// to its end: evaluating at several points of a phase gives the same numbers on every run.
  private func train(_ phase: String, steps: Int, stopAfterStep: Int?, makeTrainer: (String) throws -> Trainer,
                     run: (Trainer) throws -> TrainingState) throws -> TrainingState {
    let state = try trainOrRestore(phase, steps: steps, stopAfterStep: stopAfterStep, makeTrainer: makeTrainer, run: run)
    position = (phase, state.step)
    return state
  }

  private func trainOrRestore(_ phase: String, steps: Int, stopAfterStep: Int?, makeTrainer: (String) throws -> Trainer,
                              run: (Trainer) throws -> TrainingState) throws -> TrainingState {
    guard let stop = stopAfterStep, stop < steps, let directory else {
      let trainer = try makeTrainer(phase)
      trainer.stopAfterStep = stopAfterStep
      return try run(trainer)
    }
    let snapshot = CheckpointStore(directory: directory, phase: "\(phase)-step\(stop)")
    let trainer = try makeTrainer(phase)
    if let saved = try snapshot.loadState(), saved.configurationHash == trainer.configurationHash, saved.step == stop {
      try snapshot.restore(parameters: trainer.parameters, optimizer: trainer.optimizer, state: saved)
      return saved
    }
    let main = CheckpointStore(directory: directory, phase: phase)
    if let saved = try main.loadState(), saved.configurationHash == trainer.configurationHash, saved.step >= stop {
      if saved.step == stop {
        // Stopped exactly here before the snapshot was written (a trainer resumed here would train a step more).
        try main.restore(parameters: trainer.parameters, optimizer: trainer.optimizer, state: saved)
        try snapshot.save(parameters: trainer.parameters, optimizer: trainer.optimizer, state: saved)
        return saved
      }
      // The phase went past `stop` without a snapshot there: train up to `stop` again, in the snapshot's files.
      let again = try makeTrainer(snapshot.phase)
      again.stopAfterStep = stop
      return try run(again)
    }
    trainer.stopAfterStep = stop
    let state = try run(trainer)
    try snapshot.save(parameters: trainer.parameters, optimizer: trainer.optimizer, state: state)
    return state
  }

  /// Stage 1: trains the bridge alone with its objectives (ITC, ITM, ITG for the Q-Former). With
  /// `stopAfterStep`, stops after that many steps; the next call continues (see `train`).
  @discardableResult
  public func stage1(settings: TrainerSettings, mix: LossMix = .paper, masks: MaskSchedule = MaskSchedule(),
                     textLength: Int = 32, stopAfterStep: Int? = nil) throws -> TrainingState {
    guard let learner = model.bridge as? any RepresentationLearner else {
      throw TrainingError.invalidSetting(
        "stage 1 needs a bridge that can learn on its own (the Q-Former); \(model.bridge.kind) cannot: skip stage 1 for it")
    }
    var settings = settings
    settings.seed = mixSeed(seed, 100)
    let hash = fingerprint("stage1", ["\(settings)", "\(mix)", masks.description, "\(textLength)"]
      + (try stage1Details(mix: mix, masks: masks, steps: settings.steps, textLength: textLength)))
    learner.module.train()
    defer { learner.module.eval() }
    log("\(name): stage 1, \(settings.steps) steps of \(settings.batchSize), losses \(mix)")
    defer {
      stage1Weights = learner.module.namedParameters().map(\.1.data)
      stage1Fingerprint = learner.module.contentFingerprint
    }
    let report: (StepReport) -> Void = { self.stepsTrained += 1; self.onStep?("stage1", $0) }
    return try train("stage1", steps: settings.steps, stopAfterStep: stopAfterStep, makeTrainer: { phase in
      try Trainer(phase: phase, settings: settings, directory: directory, configurationHash: hash,
                  parameters: learner.module.namedParameters(), randomSources: learner.randomSources)
    }) { trainer in try trainer.run(datasetCount: data.count(.train), report: report) { input, rng in
      let (features, text) = try OpProfiler.section("batch") {
        let batch = try captionedExamples(input.indices)
        let captions = batch.map { $0.captions[rng.nextInt(below: $0.captions.count)] }
        return (try model.imageFeatures(batch), learner.tokenizeText(captions, maxLength: textLength))
      }
      return try learner.stage1Losses(Stage1Batch(imageFeatures: features, text: text), mix: mix, masks: masks,
                                      step: input.step, rng: &rng)
    } }
  }

  /// Stage 2: trains the bridge and the projection through the frozen LM on captions. A decoder-only LM
  /// predicts the caption after the soft prompt (and `prompt`); an encoder-decoder LM gets a prefix-LM split
  /// of each caption, sampled between 1 and the middle of the caption (as the BLIP-2 authors describe).
  /// With `stopAfterStep`, stops after that many steps; the next call continues (see `train`).
  @discardableResult
  public func stage2(settings: TrainerSettings, prompt: String = "", textLength: Int = 32,
                     stopAfterStep: Int? = nil) throws -> TrainingState {
    guard let lm = model.languageModel else {
      throw TrainingError.invalidSetting("stage 2 needs a language model: compose the model with an lm")
    }
    var settings = settings
    settings.seed = mixSeed(seed, 200)
    let hash = fingerprint("stage2", ["\(settings)", prompt, "\(textLength)"])
    model.bridge.module.train()
    defer { model.bridge.module.eval() }
    let tokenizer = lm.tokenizer
    let promptIds = tokenizer.encode(prompt)
    log("\(name): stage 2 (\(lm.architecture.rawValue) LM), \(settings.steps) steps of \(settings.batchSize)")
    let report: (StepReport) -> Void = { self.stepsTrained += 1; self.onStep?("stage2", $0) }
    return try train("stage2", steps: settings.steps, stopAfterStep: stopAfterStep, makeTrainer: { phase in
      try Trainer(phase: phase, settings: settings, directory: directory, configurationHash: hash,
                  parameters: model.stage2Parameters, randomSources: model.bridge.randomSources)
    }) { trainer in try trainer.run(datasetCount: data.count(.train), report: report) { input, rng in
      let batch = try OpProfiler.section("batch") { try captionedExamples(input.indices) }
      let captions = batch.map { tokenizer.encode($0.captions[rng.nextInt(below: $0.captions.count)]) }
      var inputs: [[Int]] = [], targets: [[Int]] = []
      for caption in captions {
        let words = Array(caption.prefix(textLength))
        switch lm.architecture {
        case .decoderOnly:
          inputs.append(promptIds)
          targets.append(words)  // the LM's loss appends its end token
        case .encoderDecoder:
          let split = words.count < 2 ? 0 : 1 + rng.nextInt(below: Swift.max(1, words.count / 2))
          inputs.append(promptIds + words.prefix(split))
          targets.append(Array(words.dropFirst(split)))
        }
      }
      let features = try OpProfiler.section("image features") { try model.imageFeatures(batch) }
      let loss = try model.stage2Loss(features: features, input: TokenBatch(inputs, padId: tokenizer.padId),
                                      target: TokenBatch(targets, padId: tokenizer.padId))
      return ObjectiveLosses(total: loss, values: ["lm": loss.item])
    } }
  }

  /// Evaluates on `split` (at most `limit` examples) and writes `eval-<split>.json` when the run has a
  /// directory. Retrieval ranks by ITC, then ITM re-scores the `rerankCandidates` best of each query
  /// (LAVIS's `k_test`). An evaluation of the same weights with the same settings is read back from
  /// `evaluations/<split>-<fingerprint>.json` instead of being computed again.
  public func evaluate(_ tasks: [EvaluationTask], split: Split = .test, limit: Int? = nil, batchSize: Int = 32,
                       captionPrompt: String = "", rerankCandidates: Int = 32) throws -> EvaluationResult {
    let count = Swift.min(data.count(split), limit ?? Int.max)
    guard count > 0 else { throw TrainingError.invalidSetting("evaluate: the \(split.rawValue) split is empty") }
    let latest = directory?.appendingPathComponent("eval-\(split.rawValue).json")
    let cached = directory.map { directory in
      let key = fingerprint("evaluate", tasks.map(\.rawValue) + [split.rawValue, "\(count)", "\(batchSize)", captionPrompt,
                                                                  "\(rerankCandidates)", stage1Fingerprint, "caption.names"],
                            startOfPhase: false)
      return directory.appendingPathComponent("evaluations/\(split.rawValue)-\(key).json")
    }
    if let cached, let latest, let data = try? Data(contentsOf: cached),
       let result = try? JSONDecoder().decode(EvaluationResult.self, from: data) {
      try writeAtomically(data, to: latest)
      evaluations.append(Evaluation(phase: position?.phase, step: position?.step ?? 0, result: result))
      return result
    }
    evaluationsComputed += 1
    let items = try examples(split, Array(0..<count))
    var result: EvaluationResult = [:]
    model.bridge.module.eval()
    for task in tasks {
      switch task {
      case .retrieval: result.merge(try evaluateRetrieval(items, batchSize: batchSize, candidates: rerankCandidates)) { $1 }
      case .caption:
        result.merge(try evaluateCaptions(items, split: split, batchSize: batchSize, prompt: captionPrompt)) { $1 }
      case .vqa: result.merge(try evaluateVQA(items, batchSize: batchSize)) { $1 }
      }
    }
    if let cached, let latest {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      let data = try encoder.encode(result)
      try writeAtomically(data, to: cached)
      try writeAtomically(data, to: latest)
    }
    evaluations.append(Evaluation(phase: position?.phase, step: position?.step ?? 0, result: result))
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
    let restore = loadStage1Weights(learner)
    defer { restore() }
    let features = try GradMode.noGrad { try model.imageFeatures(items) }  // [I, N, D]
    let tokens = learner.tokenizeText(texts, maxLength: 32)
    let similarity = try GradMode.noGrad { try learner.contrastiveSimilarity(imageFeatures: features, text: tokens) }
    let itc = ScoreMatrix(rows: items.count, columns: texts.count, values: similarity.data)
    let reranked = try Retrieval.rerank(itc: itc, k: candidates) { pairs in
      // Every distinct pair at once: chunks of at least 128 keep the ITM pass's products large.
      try GradMode.noGrad {
        try learner.matchScores(imageFeatures: features, texts: tokens, pairs: pairs, batchSize: Swift.max(batchSize, 128))
      }
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

  /// Puts the bridge's stage-1 weights in place (when stage 1 ran) and returns what puts the current ones back.
  private func loadStage1Weights(_ learner: any RepresentationLearner) -> () -> Void {
    let parameters = learner.module.namedParameters().map(\.1)
    let current = parameters.map(\.data)
    for (tensor, saved) in zip(parameters, stage1Weights ?? current) { tensor.data = saved }
    return { for (tensor, data) in zip(parameters, current) { tensor.data = data } }
  }

  /// Runs `body` with the bridge holding its stage-1 weights (the current ones if stage 1 did not run), as
  /// retrieval does: ITC and ITM are scored with the weights that trained them (stage 2 lets those heads drift).
  /// - Throws: `TrainingError.invalidSetting` if the bridge has no ITC/ITM; what `body` throws.
  public func withStage1Weights<T>(_ body: (any RepresentationLearner) throws -> T) throws -> T {
    guard let learner = model.bridge as? any RepresentationLearner else {
      throw TrainingError.invalidSetting("ITC/ITM scores need a bridge that has them (the Q-Former); \(model.bridge.kind) has not")
    }
    let restore = loadStage1Weights(learner)
    defer { restore() }
    return try body(learner)
  }

  /// BLEU-4 and CIDEr-D of greedy captions, and, when the dataset labels what its images show, how often a
  /// caption names it: `caption.names.<attribute>` is the fraction of the images whose references name the
  /// labelled value (as a word) where the generated caption names it too (for Shapes: a lone shape's kind,
  /// colour and size). BLEU and CIDEr reward the caption's frame ("a ... to the left of ..."); this asks whether
  /// it says what is in the picture.
  private func evaluateCaptions(_ items: [Example], split: Split, batchSize: Int, prompt: String) throws -> EvaluationResult {
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
      let lines = zip(items, candidates).map { ["image_id": $0.id, "caption": $1, "references": $0.captions] as [String: Any] }
      try writeAtomically(try JSONSerialization.data(withJSONObject: lines, options: [.prettyPrinted, .sortedKeys]),
                          to: directory.appendingPathComponent("captions.json"))
    }
    var result: EvaluationResult = ["caption.bleu4": bleu.corpus[3], "caption.cider": cider.corpus]
    if let labelled = data as? any ProbeLabelledDataset {
      var named: [String: (hits: Int, total: Int)] = [:]
      for (index, candidate) in tokenizedCandidates.enumerated() {
        let words = Set(candidate.split(separator: " "))
        for (attribute, value) in try labelled.probeLabels(split, index)
        where tokenizedReferences[index].contains(where: { $0.split(separator: " ").contains(Substring(value)) }) {
          named[attribute, default: (0, 0)].total += 1
          if words.contains(Substring(value)) { named[attribute, default: (0, 0)].hits += 1 }
        }
      }
      for (attribute, count) in named { result["caption.names.\(attribute)"] = Double(count.hits) / Double(count.total) }
    }
    return result
  }

  private func evaluateVQA(_ items: [Example], batchSize: Int) throws -> EvaluationResult {
    let questions = items.enumerated().flatMap { index, example in example.questions.map { (index, $0) } }
    // Each question is answered twice: about its own image, and about another one (the test image half the
    // split away). If the two accuracies are alike, the answers come from the question, not the image.
    func answer(imageOf: (Int) -> Int, seed stream: Int) throws -> [VQAItem] {
      var result: [VQAItem] = []
      var rng = RandomGenerator(seed: mixSeed(seed, stream))
      for chunk in batches(questions, batchSize) {
        let features = try model.imageFeatures(chunk.map { items[imageOf($0.0)] })
        let answers = try model.generate(features: features, prompts: chunk.map { ZeroShotPrompt.prompt($0.1.question) },
                                         options: GenerationOptions(maxTokens: 5), rng: &rng)
        result += zip(chunk, answers).map {
          VQAItem(prediction: $1, answers: $0.1.answers, questionType: $0.1.questionType)
        }
      }
      return result
    }
    let vqaItems = try answer(imageOf: { $0 }, seed: 400)
    let otherImage = try answer(imageOf: { ($0 + items.count / 2) % items.count }, seed: 401)
    // Built-in datasets answer in words ("two"); normalize the references like the predictions.
    let scores = VQAAccuracy.evaluate(vqaItems, normalizeReferences: true)
    let otherScores = VQAAccuracy.evaluate(otherImage, normalizeReferences: true)
    // The baseline a model must beat to show it looks at the image: always give the training split's most
    // frequent answer (over the first 2,000 training examples).
    let majority = try majorityAnswer ?? majorityTrainingAnswer()
    majorityAnswer = majority
    let baseline = VQAAccuracy.evaluate(vqaItems.map { VQAItem(prediction: majority, answers: $0.answers) },
                                        normalizeReferences: true)
    if let directory {
      let lines = zip(questions, zip(vqaItems, otherImage)).map { pair, item -> [String: Any] in
        ["image_id": items[pair.0].id, "question": pair.1.question, "prediction": item.0.prediction,
         "normalized": VQAAccuracy.normalize(item.0.prediction), "answers": item.0.answers,
         "predictionForOtherImage": item.1.prediction]
      }
      try writeAtomically(try JSONSerialization.data(withJSONObject: lines, options: [.prettyPrinted, .sortedKeys]),
                          to: directory.appendingPathComponent("vqa-answers.json"))
    }
    var result: EvaluationResult = ["vqa.accuracy": scores.overall, "vqa.majorityBaseline": baseline.overall,
                                    "vqa.otherImage": otherScores.overall]
    for (type, value) in scores.perQuestionType { result["vqa.\(type)"] = value }
    return result
  }

  /// The most frequent (normalized) answer over the first 2,000 training examples; ties go to the
  /// alphabetically first.
  private func majorityTrainingAnswer() throws -> String {
    var raw: [String: Int] = [:]
    for index in 0..<min(2000, data.count(.train)) {
      for question in try data.text(.train, index).questions {
        for answer in question.answers { raw[answer, default: 0] += 1 }
      }
    }
    // Normalizing is costly and answers repeat: each distinct answer once.
    var counts: [String: Int] = [:]
    for (answer, count) in raw { counts[VQAAccuracy.normalize(answer), default: 0] += count }
    return counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key ?? ""
  }

}
