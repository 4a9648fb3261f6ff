// What CapFilt produced: the filter's decision on every candidate, a report (how many captions were
// dropped; where the corruption is known, the filter's precision and recall on corrupted captions), and the
// bootstrapped dataset made of the kept captions.

import Foundation

/// How the filter did.
public struct CapFiltReport: Codable, Sendable, Equatable {
  /// The rule (`itc-topk 2`, `itm > 0.5`, `none`).
  public var filter: String
  /// Synthetic captions asked per image.
  public var samples: Int
  /// Training images captioned and filtered.
  public var images = 0
  /// Images left with no caption (left out of the new dataset).
  public var imagesWithoutCaptions = 0
  /// Original captions, and those kept.
  public var originals = 0, keptOriginals = 0
  /// Distinct synthetic captions (different from each other and from the originals), and those kept.
  public var synthetic = 0, keptSynthetic = 0
  /// Originals known to be corrupted (nil: the data records no corruption), and those the filter dropped.
  public var corrupted: Int?, corruptedDropped: Int?
  /// Of the originals dropped, the fraction that was corrupted (nil when none was dropped or unknown).
  public var precision: Double?
  /// Of the corrupted originals, the fraction dropped (nil when unknown or none was corrupted).
  public var recall: Double?
  /// Recall per kind of corruption.
  public var recallByKind: [String: Double] = [:]
  /// Mean ITC similarity and ITM probability of clean originals, corrupted originals and synthetic
  /// captions (`clean`, `corrupted`, `synthetic`): whether the scores separate them at all.
  public var meanITC: [String: Double] = [:], meanITM: [String: Double] = [:]

  /// Captions dropped in all.
  public var dropped: Int { originals - keptOriginals + synthetic - keptSynthetic }

  /// The numbers by name, for scripts (`dropped`, `precision`, `recall.colour`, `meanITC.clean`, ...).
  public var metrics: [String: Double] {
    var out: [String: Double] = [
      "images": Double(images), "imagesWithoutCaptions": Double(imagesWithoutCaptions),
      "originals": Double(originals), "keptOriginals": Double(keptOriginals), "synthetic": Double(synthetic),
      "keptSynthetic": Double(keptSynthetic), "dropped": Double(dropped),
      "droppedOriginals": Double(originals - keptOriginals), "droppedSynthetic": Double(synthetic - keptSynthetic),
    ]
    out["corrupted"] = corrupted.map(Double.init)
    out["corruptedDropped"] = corruptedDropped.map(Double.init)
    out["precision"] = precision
    out["recall"] = recall
    for (kind, value) in recallByKind { out["recall.\(kind)"] = value }
    for (group, value) in meanITC { out["meanITC.\(group)"] = value }
    for (group, value) in meanITM { out["meanITM.\(group)"] = value }
    return out
  }

  /// A few lines for the terminal.
  public var summary: String {
    func percent(_ value: Double?) -> String { value.map { String(format: "%.1f%%", 100 * $0) } ?? "n/a" }
    var lines = [
      "capfilt (\(filter), \(samples) samples per image): \(images) images, \(imagesWithoutCaptions) left without a caption",
      "  originals: \(keptOriginals) of \(originals) kept; synthetic (distinct): \(keptSynthetic) of \(synthetic) kept; "
        + "\(dropped) captions dropped",
    ]
    if let corrupted, let corruptedDropped {
      lines.append("  corrupted originals: \(corrupted), \(corruptedDropped) dropped: precision \(percent(precision)), "
        + "recall \(percent(recall))" + (recallByKind.isEmpty ? "" : " ("
          + recallByKind.keys.sorted().map { "\($0) \(percent(recallByKind[$0]))" }.joined(separator: ", ") + ")"))
    }
    let groups = ["clean", "corrupted", "synthetic"].filter { meanITC[$0] != nil }
    if !groups.isEmpty {
      lines.append("  mean ITC / ITM: " + groups.map { group in
        group + String(format: " %.3f / %.3f", meanITC[group] ?? 0, meanITM[group] ?? 0)
      }.joined(separator: ", "))
    }
    return lines.joined(separator: "\n")
  }
}

/// The filter's decisions over cached candidates.
public struct CapFiltResult {
  /// The candidates' cache key.
  public let key: String
  /// Their cache folder (nil: in memory).
  public let directory: URL?
  /// Every image's candidates, in index order.
  public let images: [CapFiltImage]
  /// The settings.
  public let settings: CapFiltSettings
  /// Per image, per candidate: kept.
  public let kept: [[Bool]]
  /// The report.
  public let report: CapFiltReport
  /// Chunks computed by this call (0: everything read back).
  public let chunksComputed: Int

  /// Applies `settings.filter` to `images`.
  /// `corruptionRecorded`: the data records its corruptions, so precision and recall are known.
  public init(key: String, directory: URL?, images: [CapFiltImage], settings: CapFiltSettings,
              corruptionRecorded: Bool, chunksComputed: Int) {
    self.key = key
    self.directory = directory
    self.images = images
    self.settings = settings
    self.chunksComputed = chunksComputed
    kept = images.map { image in
      settings.filter.keeps(itc: image.candidates.map(\.itc), itm: image.candidates.map(\.itm))
    }
    report = Self.report(images, kept: kept, settings: settings, corruptionRecorded: corruptionRecorded)
  }

  /// The file-name form of the filter and sample count: `itc-topk-2-samples-10`.
  public var label: String {
    let rule: String = switch settings.filter {
    case .keepAll: "none"
    case let .itmThreshold(threshold): "itm-\(threshold)"
    case let .itcTopK(count): "itc-topk-\(count)"
    }
    return "\(rule)-samples-\(settings.samples)"
  }

  /// The kept captions of each image that keeps any: (training index, captions).
  public var keptCaptions: [CapFiltDataset.Entry] {
    zip(images, kept).compactMap { image, keeps in
      let captions = zip(image.candidates, keeps).filter(\.1).map(\.0.text)
      return captions.isEmpty ? nil : CapFiltDataset.Entry(index: image.index, captions: captions)
    }
  }

  /// The bootstrapped dataset: `base` with its training split replaced by the kept captions.
  public func dataset(base: any Dataset) -> CapFiltDataset {
    CapFiltDataset(base: base, entries: keptCaptions, label: "\(settings.filter), \(settings.samples) samples, \(key)")
  }

  /// Writes `<label>/report.json` and `<label>/captions.json` (the kept captions) into the cache folder, and
  /// the report to `extraReport` (e.g. in the run's folder), atomically.
  public func write(extraReport: URL? = nil) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let report = try encoder.encode(self.report)
    if let directory {
      let folder = directory.appendingPathComponent(label)
      try writeAtomically(report, to: folder.appendingPathComponent("report.json"))
      try writeAtomically(try encoder.encode(keptCaptions), to: folder.appendingPathComponent("captions.json"))
    }
    if let extraReport { try writeAtomically(report, to: extraReport) }
  }

  static func report(_ images: [CapFiltImage], kept: [[Bool]], settings: CapFiltSettings,
                     corruptionRecorded: Bool) -> CapFiltReport {
    var report = CapFiltReport(filter: settings.filter.description, samples: settings.samples)
    report.images = images.count
    var corruptedByKind: [String: (all: Int, dropped: Int)] = [:]
    var sums: [String: (itc: Double, itm: Double, n: Int)] = [:]
    var droppedCorrupted = 0
    for (image, keeps) in zip(images, kept) {
      if !keeps.contains(true) { report.imagesWithoutCaptions += 1 }
      for (candidate, keep) in zip(image.candidates, keeps) {
        let group = candidate.synthetic ? "synthetic" : (candidate.corruption == nil ? "clean" : "corrupted")
        let sum = sums[group] ?? (0, 0, 0)
        sums[group] = (sum.itc + Double(candidate.itc), sum.itm + Double(candidate.itm), sum.n + 1)
        if candidate.synthetic {
          report.synthetic += 1
          if keep { report.keptSynthetic += 1 }
          continue
        }
        report.originals += 1
        if keep { report.keptOriginals += 1 }
        if let kind = candidate.corruption {
          let counts = corruptedByKind[kind.rawValue] ?? (0, 0)
          corruptedByKind[kind.rawValue] = (counts.all + 1, counts.dropped + (keep ? 0 : 1))
          if !keep { droppedCorrupted += 1 }
        }
      }
    }
    for (group, sum) in sums where sum.n > 0 {
      report.meanITC[group] = sum.itc / Double(sum.n)
      report.meanITM[group] = sum.itm / Double(sum.n)
    }
    if corruptionRecorded {
      let corrupted = corruptedByKind.values.reduce(0) { $0 + $1.all }
      let droppedOriginals = report.originals - report.keptOriginals
      report.corrupted = corrupted
      report.corruptedDropped = droppedCorrupted
      report.precision = droppedOriginals > 0 ? Double(droppedCorrupted) / Double(droppedOriginals) : nil
      report.recall = corrupted > 0 ? Double(droppedCorrupted) / Double(corrupted) : nil
      report.recallByKind = corruptedByKind.mapValues { Double($0.dropped) / Double(max($0.all, 1)) }
    }
    return report
  }
}

/// A dataset whose training split is CapFilt's kept captions (images without any left out); the other splits
/// are the base's, untouched.
public final class CapFiltDataset: Dataset {
  /// One training image: its index in the base's training split and its kept captions.
  public struct Entry: Codable, Sendable, Equatable {
    /// Index in the base's training split.
    public var index: Int
    /// The captions kept.
    public var captions: [String]
  }

  /// The data CapFilt read.
  public let base: any Dataset
  /// The training images kept, in order.
  public let entries: [Entry]
  /// What made it (filter, samples, candidates' key).
  public let label: String

  /// `base` with the training split `entries`.
  public init(base: any Dataset, entries: [Entry], label: String) {
    self.base = base
    self.entries = entries
    self.label = label
  }

  /// The base's name with the CapFilt label (so runs on it are not taken for runs on the base).
  public var name: String { "\(base.name) + capfilt(\(label))" }

  /// The base's image size.
  public var imageSize: Int { base.imageSize }

  /// The kept images in train; the base's count elsewhere.
  public func count(_ split: Split) -> Int { split == .train ? entries.count : base.count(split) }

  /// Training example `index`: the base's image with the kept captions; other splits: the base's example.
  public func example(_ split: Split, _ index: Int) throws -> Example {
    guard split == .train else { return try base.example(split, index) }
    guard entries.indices.contains(index) else {
      throw CapFiltError.invalidSetting("example \(index) of the bootstrapped training split does not exist "
        + "(it has \(entries.count))")
    }
    var example = try base.example(.train, entries[index].index)
    example.captions = entries[index].captions
    return example
  }
}
