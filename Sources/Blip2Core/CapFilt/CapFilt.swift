// CapFilt (BLIP, section 3.3): a trained model writes synthetic captions for the training images (the
// captioner), then scores every original and synthetic caption against its image (the filter); the captions
// the filter keeps make a new training set.
//
// The expensive part, the candidates with their ITC similarities and ITM probabilities, is cached under
// `<cache>/capfilt-<key>/candidates.json`, keyed by a hash of the model's weights, the data and the captioning
// settings (not the filter rule: every rule is a cheap pass over the same scores). It is computed in chunks of
// images, each written atomically to `partial/` as it is done, with the captioner's randomness seeded per
// chunk: an interrupted CapFilt resumes at the first missing chunk and ends with exactly the captions an
// uninterrupted one writes; the final file is written atomically, and a partial or unreadable file is never
// taken for a finished one.

import Foundation
import Tensor

/// What CapFilt needs of a trained model.
public protocol CapFiltModel {
  /// Identifies the weights and everything that shapes the captions and scores (part of the cache key).
  var fingerprint: String { get }
  /// Up to `samples` captions for each image (duplicates allowed); randomness from `rng`.
  func captions(for examples: [Example], samples: Int, options: GenerationOptions, prompt: String,
                rng: inout RandomGenerator) throws -> [[String]]
  /// For each image, the ITC similarity and the ITM probability of "match" of each of its texts.
  func scores(for examples: [Example], texts: [[String]]) throws -> (itc: [[Float]], itm: [[Float]])
}

/// A bridge that gives ITM as a probability of "match" (what BLIP's filter thresholds).
public protocol MatchProbabilityScorer: RepresentationLearner {
  /// P(match) of aligned pairs (image i with text i).
  func matchProbabilities(imageFeatures: Tensor, text: TokenBatch) throws -> [Float]
  /// P(match) of `pairs` of an image of `imageFeatures` [I, N, D] and a text of `texts`, up to `batchSize` pairs
  /// per pass, in the pairs' order (the default runs `matchProbabilities` on the pairs' rows).
  func matchProbabilities(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                          batchSize: Int) throws -> [Float]
}

extension MatchProbabilityScorer {
  public func matchProbabilities(imageFeatures: Tensor, texts: TokenBatch, pairs: [(image: Int, text: Int)],
                                 batchSize: Int) throws -> [Float] {
    try scoreInChunks(pairs, batchSize: batchSize) {
      try matchProbabilities(imageFeatures: imageFeatures.rows($0.map(\.image)), text: texts.selecting($0.map(\.text)))
    }
  }
}

/// How CapFilt runs.
public struct CapFiltSettings: Sendable, Equatable {
  /// Synthetic captions asked per image (0: the filter alone). Deterministic decoding writes one.
  public var samples = 10
  /// How the captioner decodes (BLIP: nucleus sampling, p = 0.9, for diverse captions).
  public var generation = GenerationOptions(maxTokens: 30, topP: 0.9)
  /// The text after the soft prompt the captions continue (as evaluation's caption prompt).
  public var prompt = ""
  /// Which candidates to keep.
  public var filter = CaptionFilter.itcTopK(2)
  /// At most this many training images (nil: all).
  public var limit: Int?
  /// Images per chunk (the unit of resumption, and of the captioner's random stream).
  public var chunkSize = 64
  /// Seed of the captioner's sampling.
  public var seed: UInt64 = 0

  /// The defaults (BLIP-2's recipe: 10 nucleus samples, keep the top 2 by ITC).
  public init() {}

  /// Whether the captioner samples (so several captions per image differ).
  public var samplesCaptions: Bool { generation.topP != nil }

  /// Everything that shapes the candidates (not the filter), for the cache key.
  var candidateDescription: [String] {
    let g = generation
    let decoding = g.topP.map { "nucleus p \($0) t \(g.temperature)" } ?? (g.beams > 1 ? "beam \(g.beams)" : "greedy")
    return ["samples \(samples)", decoding, "max \(g.maxTokens)", "stops \(g.stopTokens)", "prompt \(prompt)",
            "limit \(limit.map(String.init) ?? "all")", "chunk \(chunkSize)", "seed \(seed)"]
  }
}

/// Errors of CapFilt.
public enum CapFiltError: Error, LocalizedError, Equatable {
  /// A setting or input that cannot work.
  case invalidSetting(String)
  /// The model returned something inconsistent.
  case inconsistentModel(String)

  /// What was wrong and what to do.
  public var errorDescription: String? {
    switch self {
    case let .invalidSetting(message): "capfilt: \(message)"
    case let .inconsistentModel(message): "capfilt: the model \(message)"
    }
  }
}

/// One candidate caption of an image, with its scores.
public struct CapFiltCandidate: Codable, Sendable, Equatable {
  /// The text.
  public var text: String
  /// Written by the captioner (false: the dataset's own caption).
  public var synthetic: Bool
  /// For an original caption of a dataset that records its corruptions: how it was corrupted (nil: clean).
  public var corruption: CorruptionKind?
  /// ITC similarity with the image.
  public var itc: Float
  /// ITM probability of "match" with the image.
  public var itm: Float

  /// A candidate from its parts.
  public init(text: String, synthetic: Bool, corruption: CorruptionKind? = nil, itc: Float, itm: Float) {
    self.text = text
    self.synthetic = synthetic
    self.corruption = corruption
    self.itc = itc
    self.itm = itm
  }
}

/// The candidates of one training image: its original captions first, then the distinct synthetic ones.
public struct CapFiltImage: Codable, Sendable, Equatable {
  /// The image's index in the training split.
  public var index: Int
  /// Its candidates.
  public var candidates: [CapFiltCandidate]

  /// An image's candidates.
  public init(index: Int, candidates: [CapFiltCandidate]) {
    self.index = index
    self.candidates = candidates
  }
}

/// The file of a chunk, or of all candidates: its key, so no file of another configuration is taken.
struct CandidateFile: Codable {
  var key: String
  var images: [CapFiltImage]
}

/// Runs CapFilt with a cache.
public struct CapFilt {
  /// Where candidates are cached (nil: in memory only, nothing resumable).
  public var cacheDirectory: URL?
  /// Where progress lines go.
  public var log: (String) -> Void = { print($0) }
  /// Called after each chunk is stored, with the images done and the total (a throw stops the run there,
  /// as an interruption would).
  public var onChunk: ((_ done: Int, _ total: Int) throws -> Void)?

  /// CapFilt caching under `cacheDirectory`.
  public init(cacheDirectory: URL?) { self.cacheDirectory = cacheDirectory }

  /// The cache key of the candidates of `data`'s training images under `model` and `settings`.
  public static func candidateKey(model: any CapFiltModel, data: any Dataset, settings: CapFiltSettings) -> String {
    stableHash(["capfilt", model.fingerprint, data.name] + settings.candidateDescription)
  }

  /// Captions and scores the training images of `data` (or reads them back), then applies the filter.
  /// - Throws: `CapFiltError` for unusable settings or an inconsistent model; the model's and the file
  ///   system's errors.
  /// The report also goes to `reportFile` when given (e.g. into the run's folder).
  public func run(model: any CapFiltModel, data: any Dataset, settings: CapFiltSettings,
                  reportFile: URL? = nil) throws -> CapFiltResult {
    let count = Swift.min(data.count(.train), settings.limit ?? Int.max)
    guard count > 0 else { throw CapFiltError.invalidSetting("the training split of \(data.name) is empty") }
    guard settings.chunkSize > 0, settings.samples >= 0 else {
      throw CapFiltError.invalidSetting("chunk size must be > 0 and samples ≥ 0")
    }
    if case let .itcTopK(keep) = settings.filter, keep < 1 {
      throw CapFiltError.invalidSetting("itc-topk must keep at least 1 caption, got \(keep)")
    }
    let key = Self.candidateKey(model: model, data: data, settings: settings)
    let directory = cacheDirectory?.appendingPathComponent("capfilt-\(key)")
    let final = directory?.appendingPathComponent("candidates.json")
    var computed = 0
    let images: [CapFiltImage]
    if let final, let stored = Self.read(final, key: key) {
      log("capfilt: \(count) images' candidates read back from \(final.path)")
      images = stored
    } else {
      let chunks = (count + settings.chunkSize - 1) / settings.chunkSize
      var gathered: [CapFiltImage] = []
      log("capfilt: captioning and scoring \(count) training images (\(settings.samples) samples each, "
        + "\(chunks) chunks)" + (directory.map { " in \($0.path)" } ?? ""))
      for chunk in 0..<chunks {
        let indices = Array((chunk * settings.chunkSize)..<Swift.min((chunk + 1) * settings.chunkSize, count))
        let part = directory?.appendingPathComponent("partial/chunk-\(chunk).json")
        if let part, let stored = Self.read(part, key: key), stored.map(\.index) == indices {
          gathered += stored
        } else {
          let done = try Self.candidates(indices, chunk: chunk, model: model, data: data, settings: settings)
          if let part { try Self.write(CandidateFile(key: key, images: done), to: part) }
          gathered += done
          computed += 1
        }
        try onChunk?(indices.last.map { $0 + 1 } ?? 0, count)
      }
      if let final, let directory {
        try Self.write(CandidateFile(key: key, images: gathered), to: final)
        try? FileManager.default.removeItem(at: directory.appendingPathComponent("partial"))
      }
      images = gathered
    }
    let result = CapFiltResult(key: key, directory: directory, images: images, settings: settings,
                               corruptionRecorded: data is any CorruptionRecording, chunksComputed: computed)
    try result.write(extraReport: reportFile)
    guard !result.keptCaptions.isEmpty else {
      let report = directory?.appendingPathComponent(result.label).appendingPathComponent("report.json").path
      throw CapFiltError.invalidSetting("the filter (\(settings.filter)) kept no caption of any of the \(count) images, "
        + "so there is nothing to train on; loosen it" + (report.map { " (the mean scores are in \($0))" } ?? ""))
    }
    return result
  }

  /// The candidates of the images at `indices` (chunk `chunk`): originals, then distinct synthetic captions.
  static func candidates(_ indices: [Int], chunk: Int, model: any CapFiltModel, data: any Dataset,
                         settings: CapFiltSettings) throws -> [CapFiltImage] {
    let examples = try indices.map { try data.example(.train, $0) }
    let recorded = data as? any CorruptionRecording
    let corruptions = try indices.map { try recorded?.corruptions(.train, $0) }
    var generated = [[String]](repeating: [], count: examples.count)
    if settings.samples > 0 {
      var rng = RandomGenerator(seed: mixSeed(settings.seed, 0xCAF, chunk))
      generated = try model.captions(for: examples, samples: settings.samples, options: settings.generation,
                                     prompt: settings.prompt, rng: &rng)
      guard generated.count == examples.count else {
        throw CapFiltError.inconsistentModel("wrote captions for \(generated.count) images of \(examples.count)")
      }
    }
    let texts = zip(examples, generated).map { example, synthetic in
      var texts = example.captions
      for caption in synthetic {
        let text = caption.trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty, !texts.contains(text) { texts.append(text) }
      }
      return texts
    }
    let (itc, itm) = try model.scores(for: examples, texts: texts)
    guard itc.map(\.count) == texts.map(\.count), itm.map(\.count) == texts.map(\.count) else {
      throw CapFiltError.inconsistentModel("returned scores for \(itc.map(\.count)) / \(itm.map(\.count)) texts "
        + "where the images have \(texts.map(\.count))")
    }
    return indices.indices.map { i in
      let originals = examples[i].captions.count
      return CapFiltImage(index: indices[i], candidates: texts[i].indices.map { t in
        CapFiltCandidate(text: texts[i][t], synthetic: t >= originals,
                         corruption: t < originals ? corruptions[i]?[t]?.kind : nil, itc: itc[i][t], itm: itm[i][t])
      })
    }
  }

  /// The images of a file of `key`, or nil when it is missing, unreadable or of another key.
  static func read(_ url: URL, key: String) -> [CapFiltImage]? {
    guard let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(CandidateFile.self, from: data),
          file.key == key else { return nil }
    return file.images
  }

  static func write<T: Encodable>(_ value: T, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    try writeAtomically(try encoder.encode(value), to: url)
  }
}
