// Pre-training of the frozen parts for the built-in default, so BLIP-2's premise holds in miniature: the
// language model learns from text only, the image encoder from images only or, as CLIP made BLIP-2's encoders,
// by matching images to their captions with a text tower of its own that is dropped afterwards; neither part
// ever sees the other. Both are cached: the phase's directory is named by a hash of the component's configuration,
// the data and the settings, and a finished phase is restored instead of recomputed.

import Foundation
import Tensor

/// An image encoder that can pre-train itself from images alone (e.g. masked-patch reconstruction).
public protocol SelfSupervisedImageEncoder: ImageEncoder {
  /// A fresh image-only objective around this encoder (its head, if any, initialized from `seed`). Training
  /// the objective's parameters trains the encoder; the head is dropped afterwards.
  func pretrainingObjective(seed: UInt64) -> any ImagePretrainingObjective
}

/// A training objective wrapped around an image encoder (masked reconstruction, say, or CLIP's image-text one).
public protocol ImagePretrainingObjective: AnyObject {
  /// The parameters trained: the encoder's and the objective's own (a head, a mask token).
  var module: Module { get }
  /// What the objective is, with its settings (part of the pre-training cache key).
  var summary: String { get }
  /// The loss (a scalar) of a batch of pixels [B, 3, H, W]; randomness (masking) from `rng`.
  func pretrainingLoss(_ pixels: Tensor, rng: inout RandomGenerator) throws -> Tensor
  /// Whether the objective reads the images' captions too (image-text contrastive); image-only ones do not.
  var needsCaptions: Bool { get }
  /// The loss of a batch of pixels and each image's captions (image-only objectives ignore them).
  func pretrainingLoss(_ pixels: Tensor, captions: [[String]], rng: inout RandomGenerator) throws -> Tensor
  /// Whether the objective reads each image's tags (`ImageTaggedDataset`, supervised tagging).
  var needsTags: Bool { get }
  /// The loss of a batch of pixels, their captions and each image's tags (positions in the dataset's tag
  /// vocabulary); objectives that need no tags ignore them.
  func pretrainingLoss(_ pixels: Tensor, captions: [[String]], tags: [[Int]], rng: inout RandomGenerator) throws -> Tensor
}

extension ImagePretrainingObjective {
  public var needsCaptions: Bool { false }
  public func pretrainingLoss(_ pixels: Tensor, captions: [[String]], rng: inout RandomGenerator) throws -> Tensor {
    try pretrainingLoss(pixels, rng: &rng)
  }
  public var needsTags: Bool { false }
  public func pretrainingLoss(_ pixels: Tensor, captions: [[String]], tags: [[Int]], rng: inout RandomGenerator) throws -> Tensor {
    try pretrainingLoss(pixels, captions: captions, rng: &rng)
  }
}

/// Which objective pre-trains a frozen encoder.
public enum ImagePretrainingMethod: String, CaseIterable, Sendable {
  /// The encoder's own masked-patch reconstruction (`SelfSupervisedImageEncoder`).
  case masked
  /// Two distorted views of each image told apart from the rest of the batch (`ContrastiveImagePretraining`).
  case contrastive
  /// Both, their losses summed (`MaskedAndContrastivePretraining`).
  case both
  /// Each image matched to its own caption among the batch's (`ImageTextContrastivePretraining`, CLIP): the way
  /// BLIP-2's frozen encoders were made. The only one that reads text; its text tower is dropped afterwards.
  case clip
  /// Multi-label classification of each image's tags (`TaggingPretraining`, the dataset's `ImageTaggedDataset`):
  /// supervised, as ImageNet-trained encoders were made; labels, no text.
  case tags

  /// Whether the method needs the encoder's own masked-patch objective (`SelfSupervisedImageEncoder`).
  public var needsMaskedObjective: Bool { self == .masked || self == .both }
}

/// A bridge whose text side can learn from text alone before stage 1, as BLIP-2 starts its Q-Former from
/// BERT-base's weights (self-attention, feed-forward, embeddings and the LM head; the cross-attention and the
/// queries stay random). Unlike the frozen parts, the bridge keeps training afterwards.
public protocol TextPretrainableBridge: Bridge {
  /// What the text-only objective is, with its settings (part of the pre-training cache key).
  var textPretrainingSummary: String { get }
  /// The loss (a scalar) of a batch of texts of at most `maxLength` tokens; randomness (masking) from `rng`.
  func textPretrainingLoss(_ texts: [String], maxLength: Int, rng: inout RandomGenerator) throws -> Tensor
}

/// A stable 64-bit FNV-1a hash of strings, as hex (cache keys).
public func stableHash(_ parts: [String]) -> String {
  var hash: UInt64 = 0xCBF2_9CE4_8422_2325
  for byte in parts.joined(separator: "\u{1F}").utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
  return String(hash, radix: 16)
}

/// Pre-trains the frozen parts and caches them under `cacheDirectory`.
public struct FrozenPartsPretraining {
  /// Where cached pre-trained parts live (e.g. `runs/cache`).
  public var cacheDirectory: URL?
  /// Where progress lines go.
  public var log: (String) -> Void = { print($0) }
  /// Called after every step.
  public var onStep: ((String, StepReport) -> Void)?

  /// A pre-training helper caching under `cacheDirectory` (nil: no cache).
  public init(cacheDirectory: URL?) { self.cacheDirectory = cacheDirectory }

  /// Trains `encoder` on the training images of `data` with `method` (or restores the cached result), then leaves
  /// it in evaluation mode. `hardNegatives` (CLIP only): a caption per image with one object word swapped joins the
  /// candidates (the words from the dataset's `CorruptionVocabularyProviding`, else `CorruptionVocabulary.english`).
  public func pretrainEncoder(_ encoder: any ImageEncoder, data: any Dataset, settings: TrainerSettings,
                              method: ImagePretrainingMethod = .masked, hardNegatives: Bool = true) throws -> TrainingState {
    let seed = mixSeed(settings.seed, 0x5EED)
    func maskedObjective() throws -> any ImagePretrainingObjective {
      guard let maskable = encoder as? any SelfSupervisedImageEncoder else {
        throw TrainingError.invalidSetting("\(encoder.kind) has no masked-patch objective; pre-train it with the contrastive one")
      }
      return maskable.pretrainingObjective(seed: seed)
    }
    let tagged = data as? any ImageTaggedDataset
    func taggedData() throws -> any ImageTaggedDataset {
      guard let tagged else {
        throw TrainingError.invalidSetting("\(data.name) gives no image tags to pre-train on; use the masked, contrastive or clip objective")
      }
      return tagged
    }
    let objective: any ImagePretrainingObjective = switch method {
    case .masked: try maskedObjective()
    case .contrastive: ContrastiveImagePretraining(encoder: encoder, seed: mixSeed(seed, 1))
    case .both: MaskedAndContrastivePretraining(masked: try maskedObjective(),
                                                contrastive: ContrastiveImagePretraining(encoder: encoder, seed: mixSeed(seed, 1)))
    case .clip: ImageTextContrastivePretraining(
      encoder: encoder, captions: try (0..<data.count(.train)).flatMap { try data.text(.train, $0).captions },
      hardNegativeWords: hardNegatives ? ((data as? any CorruptionVocabularyProviding)?.corruptionVocabulary ?? .english).shapes : nil,
      seed: mixSeed(seed, 2))
    case .tags: TaggingPretraining(encoder: encoder, vocabulary: try taggedData().tagVocabulary, seed: mixSeed(seed, 3))
    }
    let key = stableHash(["encoder", encoder.kind, encoder.summary, objective.summary, encoder.module.contentFingerprint,
                          data.name, "\(settings)"])
    let directory = cacheDirectory?.appendingPathComponent("encoder-\(encoder.kind)-\(key)")
    let trainer = try Trainer(phase: "pretrain", settings: settings, directory: directory, configurationHash: key,
                              parameters: objective.module.namedParameters())
    objective.module.train()
    defer { objective.module.eval() }
    let tagSource = objective.needsTags ? try taggedData() : nil
    let reads = objective.needsCaptions ? "images and their captions" : objective.needsTags ? "images and their tags" : "images only"
    log("pre-training the image encoder (\(encoder.summary)) on \(reads) (\(objective.summary)), \(settings.steps) steps"
      + (directory.map { " (cached in \($0.path))" } ?? ""))
    return try trainer.run(datasetCount: data.count(.train), report: { onStep?("encoder", $0) }) { input, rng in
      let size = encoder.imageSize
      let examples = try input.indices.map { try data.example(.train, $0) }
      let pixels = Tensor(shape: [examples.count, 3, size, size], data: examples.flatMap(\.image.pixels))
      // Image-only objectives ignore the captions (the protocol's default).
      let tags = try tagSource.map { source in try input.indices.map { try source.tags(.train, $0) } } ?? []
      let loss = try objective.pretrainingLoss(pixels, captions: examples.map(\.captions), tags: tags, rng: &rng)
      return ObjectiveLosses(total: loss, values: [method == .masked ? "reconstruction" : method.rawValue: loss.item])
    }
  }

  /// The text-only corpus the frozen LM learns from, made from the training split of `data`.
  ///
  /// A text may hold several documents separated by a line break; the LM reads them as one sequence with its
  /// end and begin tokens between them (`[BOS] first [EOS] [BOS] second [EOS]`, as OPT packs documents), and
  /// that is the shape of what it meets after stage 2: `[soft prompt] [BOS] text [EOS]`, the soft prompt
  /// standing where an earlier document stood. The corpus:
  /// - each caption alone;
  /// - each caption followed by another caption of the same image: the second is predictable only by reading
  ///   the first, so the LM learns to take a scene's content from the document before (real LMs learn that
  ///   from text that says the same thing twice); the soft prompt then only has to stand for a description;
  /// - each question in the zero-shot VQA format ("Question: {q} Answer: {a}"), alone and after one of the
  ///   image's captions: answering about what came before is the ability zero-shot VQA draws on. Without it a
  ///   small LM learns that "Question:" only ever starts a text, and after a soft prompt it goes on describing.
  public static func languageCorpus(_ data: any Dataset) throws -> [String] {
    var texts: [String] = []
    for index in 0..<data.count(.train) {
      let example = try data.text(.train, index)
      let captions = example.captions
      texts += captions
      for (number, caption) in captions.enumerated() {
        texts.append(caption + "\n" + captions[(number + 1) % captions.count])
      }
      for (number, question) in example.questions.enumerated() {
        let qa = ZeroShotPrompt.answered(question.question, question.answers.first ?? "")
        texts.append(qa)
        if !captions.isEmpty {
          texts.append(captions[number % captions.count] + "\n" + qa)
        }
      }
    }
    return texts
  }

  /// The ids the LM is pre-trained on for `text`: its documents (line-separated) joined by the end and begin
  /// tokens, at most `maxLength` ids (the LM adds the first begin and the last end token itself).
  static func documentIds(_ text: String, tokenizer: any Tokenizer, maxLength: Int) -> [Int] {
    let between = (tokenizer.eosId.map { [$0] } ?? []) + (tokenizer.bosId.map { [$0] } ?? [])
    var ids: [Int] = []
    for (number, document) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
      if number > 0 { ids += between }
      ids += tokenizer.encode(String(document))
    }
    return Array(ids.prefix(maxLength))
  }

  /// How `prefixLMPair` splits texts; part of the encoder-decoder cache key, so a changed rule retrains.
  static let prefixLMRule = "prefix-lm: answer after 'Answer:', last document after the others, else random split in the first half"

  /// The (encoder input, decoder target) ids an encoder-decoder LM is pre-trained on for `text`, each at most
  /// `maxLength` ids (the LM adds its end tokens itself). The split teaches what stage 2 and zero-shot VQA ask
  /// of the LM, as FLAN-T5's instruction data taught it to the paper's encoder-decoder:
  /// - a question in the zero-shot format ("... Question: q Answer: a", after the documents before it): the
  ///   encoder reads everything up to and including "Answer:", the decoder writes the answer;
  /// - several documents (a caption, then another caption of the same scene): the encoder reads the earlier
  ///   ones back to back, the decoder writes the last; after stage 2 the soft prompt stands where they stood;
  /// - one document: T5's prefix LM, split after a random token in the first half (as stage 2 splits).
  static func prefixLMPair(_ text: String, tokenizer: any Tokenizer, maxLength: Int,
                           rng: inout RandomGenerator) -> (input: [Int], target: [Int]) {
    let documents = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    // The encoder reads the earlier documents back to back, as it reads [soft prompt][text] after stage 2.
    func joined(_ parts: [String]) -> [Int] { parts.flatMap { tokenizer.encode($0) } }
    guard let last = documents.last else { return ([], []) }
    if let (prompt, answer) = ZeroShotPrompt.split(last) {
      let target = tokenizer.encode(answer)
      if !target.isEmpty {
        let input = joined(Array(documents.dropLast()) + [prompt])
        return (Array(input.suffix(maxLength)), Array(target.prefix(maxLength)))
      }
    }
    if documents.count > 1 {
      let input = joined(Array(documents.dropLast()))
      return (Array(input.suffix(maxLength)), Array(tokenizer.encode(last).prefix(maxLength)))
    }
    let sequence = Array(tokenizer.encode(last).prefix(maxLength))
    let split = sequence.count < 2 ? 0 : 1 + rng.nextInt(below: Swift.max(1, sequence.count / 2))
    return (Array(sequence.prefix(split)), Array(sequence.dropFirst(split)))
  }

  /// Trains the text side of `bridge` on `texts` only (or restores the cached result), as BERT was trained
  /// before BLIP-2 took it as the Q-Former's starting point; the bridge is left in training mode.
  public func pretrainBridgeText(_ bridge: any TextPretrainableBridge, texts: [String], corpusName: String,
                                 settings: TrainerSettings, maxLength: Int = 32) throws -> TrainingState {
    guard !texts.isEmpty else { throw TrainingError.invalidSetting("pre-training the bridge's text side: no texts") }
    let key = stableHash(["bridge-text", bridge.kind, bridge.summary, bridge.textPretrainingSummary,
                          bridge.module.contentFingerprint, corpusName, stableHash(texts), "\(settings)"])
    let directory = cacheDirectory?.appendingPathComponent("bridge-\(bridge.kind)-\(key)")
    let trainer = try Trainer(phase: "pretrain", settings: settings, directory: directory, configurationHash: key,
                              parameters: bridge.module.namedParameters(), randomSources: bridge.randomSources)
    bridge.module.train()
    log("pre-training the bridge's text side (\(bridge.summary)) on text only (\(bridge.textPretrainingSummary)), "
      + "\(settings.steps) steps" + (directory.map { " (cached in \($0.path))" } ?? ""))
    return try trainer.run(datasetCount: texts.count, report: { onStep?("bridge", $0) }) { input, rng in
      let loss = try bridge.textPretrainingLoss(input.indices.map { texts[$0] }, maxLength: maxLength, rng: &rng)
      return ObjectiveLosses(total: loss, values: ["mlm": loss.item])
    }
  }

  /// Trains `languageModel` on `texts` only (or restores the cached result), then leaves it in evaluation mode.
  public func pretrainLanguageModel(_ languageModel: any LanguageModel, texts: [String], corpusName: String,
                                    settings: TrainerSettings, maxLength: Int = 64) throws -> TrainingState {
    guard !texts.isEmpty else { throw TrainingError.invalidSetting("pre-training the LM: no texts") }
    var parts = ["lm", languageModel.kind, languageModel.summary, languageModel.module.contentFingerprint,
                 corpusName, stableHash(texts), "\(maxLength)", "\(settings)"]
    if languageModel.architecture == .encoderDecoder { parts.append(Self.prefixLMRule) }
    let key = stableHash(parts)
    let directory = cacheDirectory?.appendingPathComponent("lm-\(languageModel.kind)-\(key)")
    let trainer = try Trainer(phase: "pretrain", settings: settings, directory: directory, configurationHash: key,
                              parameters: languageModel.module.namedParameters())
    let tokenizer = languageModel.tokenizer
    languageModel.module.train()
    defer { languageModel.module.eval() }
    log("pre-training the language model (\(languageModel.summary)) on text only, \(settings.steps) steps"
      + (directory.map { " (cached in \($0.path))" } ?? ""))
    return try trainer.run(datasetCount: texts.count, report: { onStep?("lm", $0) }) { input, rng in
      // The LM's loss appends its end token itself.
      let batch = input.indices.count
      let noPrefix = Tensor.zeros([batch, 0, languageModel.embeddingDim])
      let loss: Tensor
      switch languageModel.architecture {
      case .decoderOnly:
        let sequences = input.indices.map { Self.documentIds(texts[$0], tokenizer: tokenizer, maxLength: maxLength) }
        loss = try languageModel.loss(prefix: noPrefix, input: .empty(batch: batch),
                                      target: TokenBatch(sequences, padId: tokenizer.padId))
      case .encoderDecoder:
        var inputs: [[Int]] = [], targets: [[Int]] = []
        for index in input.indices {
          let (encoderIds, decoderIds) = Self.prefixLMPair(texts[index], tokenizer: tokenizer, maxLength: maxLength, rng: &rng)
          inputs.append(encoderIds)
          targets.append(decoderIds)
        }
        loss = try languageModel.loss(prefix: noPrefix, input: TokenBatch(inputs, padId: tokenizer.padId),
                                      target: TokenBatch(targets, padId: tokenizer.padId))
      }
      return ObjectiveLosses(total: loss, values: ["lm": loss.item])
    }
  }
}
