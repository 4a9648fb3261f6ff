// Noisy captions on purpose, as a stand-in for web alt-text: a chosen fraction of a dataset's captions is
// corrupted in known ways (a wrong colour, a wrong shape, a wrong relation, another image's caption), and
// every corruption is recorded, so a filter can be scored against the truth. Everything is a pure function of
// (seed, split, index, caption number): the same seed gives the same corruptions in any order of access.

import Foundation
import Tensor

/// How a caption was corrupted.
public enum CorruptionKind: String, Sendable, Codable, CaseIterable {
  /// One colour word replaced by a colour the image's captions never name.
  case colour
  /// One object word replaced by an object the image's captions never name.
  case shape
  /// One relation word replaced by its opposite ("left" / "right", "above" / "below").
  case relation
  /// The caption replaced by a caption of another image.
  case unrelated
}

/// One corrupted caption: what it was, what it became, and how.
public struct CaptionCorruption: Sendable, Equatable, Codable {
  /// The kind actually applied (a kind a caption offers no word for falls back to the next that applies).
  public var kind: CorruptionKind
  /// The clean caption.
  public var original: String
  /// The caption the dataset now gives.
  public var corrupted: String

  /// A record from its parts.
  public init(kind: CorruptionKind, original: String, corrupted: String) {
    self.kind = kind
    self.original = original
    self.corrupted = corrupted
  }
}

/// The words corruption swaps: colours and object names (replaced by ones the image's captions never use)
/// and pairs of opposite relation words.
public struct CorruptionVocabulary: Sendable, Equatable {
  /// Colour words.
  public var colours: [String]
  /// Object words ("circle", "dog").
  public var shapes: [String]
  /// Opposite relation words, each pair swapped both ways.
  public var relations: [[String]]

  /// A vocabulary from its parts.
  /// - Throws: `TrainingError.invalidSetting` for a relation that is not a pair of single words.
  public init(colours: [String], shapes: [String], relations: [[String]]) throws {
    for pair in relations where pair.count != 2 || pair.contains(where: { $0.isEmpty || $0.contains(" ") }) {
      throw TrainingError.invalidSetting("noisy captions: a relation must be a pair of single words such as "
        + "{ \"left\", \"right\" }, got \(pair)")
    }
    self.colours = colours.map { $0.lowercased() }
    self.shapes = shapes.map { $0.lowercased() }
    self.relations = relations.map { $0.map { $0.lowercased() } }
  }

  /// Common English colour words, a few object words and opposite spatial words: a default for datasets
  /// that do not say their own (`CorruptionVocabularyProviding`).
  public static let english = CorruptionVocabulary(
    unchecked: ["red", "green", "blue", "yellow", "purple", "orange", "white", "black", "brown", "pink", "grey"],
    ["circle", "square", "triangle", "star", "cross", "man", "woman", "dog", "cat", "car", "tree", "house"],
    [["left", "right"], ["above", "below"], ["top", "bottom"], ["on", "under"], ["inside", "outside"]])

  /// Lists known to be lowercased single words and pairs.
  private init(unchecked colours: [String], _ shapes: [String], _ relations: [[String]]) {
    (self.colours, self.shapes, self.relations) = (colours, shapes, relations)
  }
}

/// A dataset that knows which words its captions use for colours, objects and relations.
public protocol CorruptionVocabularyProviding {
  /// The words noisy captions of this dataset swap.
  var corruptionVocabulary: CorruptionVocabulary { get }
}

/// A dataset whose caption corruptions are known (to score a filter against).
public protocol CorruptionRecording: Dataset {
  /// For each caption of example `index` of `split` (in order), its corruption, or nil if it is clean.
  func corruptions(_ split: Split, _ index: Int) throws -> [CaptionCorruption?]
}

/// Decides and applies corruptions, deterministically per seed.
public struct CaptionCorrupter: Sendable, Equatable {
  /// The chance that each caption is corrupted (0...1).
  public var fraction: Double
  /// The seed of every choice.
  public var seed: UInt64
  /// The kinds drawn from, uniformly.
  public var kinds: [CorruptionKind]
  /// The words swapped.
  public var vocabulary: CorruptionVocabulary

  /// A corrupter.
  /// - Throws: `TrainingError.invalidSetting` for a fraction outside 0...1 or no kinds.
  public init(fraction: Double, seed: UInt64, kinds: [CorruptionKind] = CorruptionKind.allCases,
              vocabulary: CorruptionVocabulary = .english) throws {
    guard (0...1).contains(fraction) else {
      throw TrainingError.invalidSetting("noisy captions: the fraction must be in 0...1, got \(fraction)")
    }
    guard !kinds.isEmpty else {
      throw TrainingError.invalidSetting("noisy captions: give at least one kind of corruption ("
        + CorruptionKind.allCases.map(\.rawValue).joined(separator: ", ") + ")")
    }
    self.fraction = fraction
    self.seed = seed
    self.kinds = kinds
    self.vocabulary = vocabulary
  }

  /// E.g. `fraction 0.3, seed 1, colour/shape/relation/unrelated`.
  public var summary: String {
    "fraction \(fraction), seed \(seed), " + kinds.map(\.rawValue).joined(separator: "/")
  }

  /// The corruptions of the captions of one image (nil: clean). `unrelatedCaption` gives a caption of another
  /// image for a draw (nil if there is none).
  public func corruptions(of captions: [String], split: Split, index: Int,
                          unrelatedCaption: (inout RandomGenerator) throws -> String?) rethrows -> [CaptionCorruption?] {
    let used = Set(captions.flatMap { Self.words($0).map(\.core) })
    let splitCode = Split.allCases.firstIndex(of: split) ?? 0
    return try captions.enumerated().map { number, caption in
      var rng = RandomGenerator(seed: mixSeed(seed, 0xC0_44, splitCode, index, number))
      guard rng.nextDouble() < fraction else { return nil }
      let wanted = kinds[rng.nextInt(below: kinds.count)]
      // The kind drawn, then the others in order, until one applies to this caption.
      let order = [wanted] + CorruptionKind.allCases.filter { $0 != wanted }
      for kind in order {
        let text: String?
        switch kind {
        case .colour: text = Self.replaceWord(in: caption, from: vocabulary.colours, avoiding: used, rng: &rng)
        case .shape: text = Self.replaceWord(in: caption, from: vocabulary.shapes, avoiding: used, rng: &rng)
        case .relation: text = swapRelation(in: caption, rng: &rng)
        case .unrelated: text = try unrelated(captions, unrelatedCaption, rng: &rng)
        }
        if let text, text != caption { return CaptionCorruption(kind: kind, original: caption, corrupted: text) }
      }
      return nil
    }
  }

  private func unrelated(_ own: [String], _ draw: (inout RandomGenerator) throws -> String?,
                         rng: inout RandomGenerator) rethrows -> String? {
    for _ in 0..<8 {
      if let other = try draw(&rng), !own.contains(other) { return other }
    }
    return nil
  }

  /// A caption's words: the lowercased letters (`core`) and the token as written, split at spaces.
  static func words(_ caption: String) -> [(token: String, core: String)] {
    caption.split(separator: " ").map { token in
      let core = token.lowercased().trimmingCharacters(in: .punctuationCharacters)
      return (String(token), core)
    }
  }

  /// Replaces one word of `caption` found in `list` by a word of `list` not in `avoiding` (nil if the
  /// caption has no such word or every replacement is used).
  static func replaceWord(in caption: String, from list: [String], avoiding: Set<String>,
                          rng: inout RandomGenerator) -> String? {
    let words = Self.words(caption)
    let positions = words.indices.filter { list.contains(words[$0].core) }
    let replacements = list.filter { !avoiding.contains($0) }
    guard !positions.isEmpty, !replacements.isEmpty else { return nil }
    let position = positions[rng.nextInt(below: positions.count)]
    return rewrite(words, at: position, with: replacements[rng.nextInt(below: replacements.count)])
  }

  private func swapRelation(in caption: String, rng: inout RandomGenerator) -> String? {
    let words = Self.words(caption)
    let opposite = Dictionary(vocabulary.relations.flatMap { [($0[0], $0[1]), ($0[1], $0[0])] }) { first, _ in first }
    let positions = words.indices.filter { opposite[words[$0].core] != nil }
    guard !positions.isEmpty else { return nil }
    let position = positions[rng.nextInt(below: positions.count)]
    return opposite[words[position].core].map { Self.rewrite(words, at: position, with: $0) }
  }

  /// The words joined again, with the word at `position` replaced (its punctuation kept).
  private static func rewrite(_ words: [(token: String, core: String)], at position: Int, with word: String) -> String {
    var tokens = words.map(\.token)
    if let range = tokens[position].lowercased().range(of: words[position].core) {
      let token = tokens[position]
      let lower = token.lowercased()
      let start = lower.distance(from: lower.startIndex, to: range.lowerBound)
      let end = lower.distance(from: lower.startIndex, to: range.upperBound)
      tokens[position] = String(token.prefix(start)) + word + String(token.dropFirst(end))
    } else {
      tokens[position] = word
    }
    return tokens.joined(separator: " ")
  }
}

/// Any caption dataset with a fraction of its captions corrupted (in the training split, by default), the
/// corruptions recorded. Images, questions and example ids are the base's.
public final class NoisyCaptionDataset: CorruptionRecording, @unchecked Sendable {
  /// The clean data.
  public let base: any Dataset
  /// What is corrupted, how, with which seed.
  public let corrupter: CaptionCorrupter
  /// The splits corrupted (evaluation splits stay clean by default).
  public let splits: Set<Split>
  // Each example's corruptions, once drawn (they are a pure function of split, index and seed; drawing them parses
  // the captions' words, which cost a training step 40 ms a batch before this). Guarded by `lock`.
  private var drawn: [Split: [Int: [CaptionCorruption?]]] = [:]
  private let lock = NSLock()

  /// `base` with noisy captions in `splits`.
  public init(base: any Dataset, corrupter: CaptionCorrupter, splits: Set<Split> = [.train]) {
    self.base = base
    self.corrupter = corrupter
    self.splits = splits
  }

  /// The base's name with the noise (part of every cache key built on it).
  public var name: String {
    corrupter.fraction == 0 ? base.name
      : base.name + " + noisy captions (\(corrupter.summary), in " + splits.map(\.rawValue).sorted().joined(separator: "/") + ")"
  }

  /// The base's image size.
  public var imageSize: Int { base.imageSize }

  /// The base's count.
  public func count(_ split: Split) -> Int { base.count(split) }

  /// The base's example with the corrupted captions in place.
  public func example(_ split: Split, _ index: Int) throws -> Example {
    try noisyExample(split, index).example
  }

  /// The corruptions of example `index`'s captions (nil: clean), aligned with its captions.
  public func corruptions(_ split: Split, _ index: Int) throws -> [CaptionCorruption?] {
    try noisyExample(split, index).corruptions
  }

  /// The example with its corruptions.
  public func noisyExample(_ split: Split, _ index: Int) throws -> (example: Example, corruptions: [CaptionCorruption?]) {
    var example = try base.example(split, index)
    guard splits.contains(split), corrupter.fraction > 0 else {
      return (example, [CaptionCorruption?](repeating: nil, count: example.captions.count))
    }
    let records: [CaptionCorruption?]
    if let known = lock.withLock({ drawn[split]?[index] }) {
      records = known
    } else {
      let count = base.count(split)
      records = try corrupter.corruptions(of: example.captions, split: split, index: index) { rng in
        guard count > 1 else { return nil }
        let other = (index + 1 + rng.nextInt(below: count - 1)) % count
        let captions = try base.example(split, other).captions
        return captions.isEmpty ? nil : captions[rng.nextInt(below: captions.count)]
      }
      lock.withLock { drawn[split, default: [:]][index] = records }
    }
    for (number, record) in records.enumerated() {
      if let record { example.captions[number] = record.corrupted }
    }
    return (example, records)
  }
}
