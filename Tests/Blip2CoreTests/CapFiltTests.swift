// CapFilt: noisy captions are deterministic per seed and recorded; the filter keeps what its rule says on
// fixed scores; the pipeline's cache resumes an interrupted run to the same result and never takes a partial
// file for a finished one.

import Foundation
import Testing

@testable import Blip2Core

/// Captions of coloured things in relations; images are blank (the fake model reads only the text).
final class CaptionFixture: Dataset {
  let count: Int
  init(count: Int = 10) { self.count = count }
  var name: String { "caption fixture (\(count))" }
  var imageSize: Int { 2 }
  func count(_ split: Split) -> Int { split == .train || split == .test ? count : 0 }
  func example(_ split: Split, _ index: Int) throws -> Example {
    let colours = ["red", "blue", "green"], things = ["circle", "square", "star"]
    let colour = colours[index % 3], thing = things[(index / 3) % 3]
    return Example(id: "fixture-\(split.rawValue)-\(index)", image: Image(width: 2, height: 2, pixels: [Float](repeating: 0, count: 12)),
                   captions: ["a \(colour) \(thing)", "a \(colour) \(thing) left of a white cross", "one \(thing), \(colour)."])
  }
}

/// Captions "synthetic <image> <k>", with scores chosen by rule: ITC = the number in the text when it has
/// one (`#0.7`), else 0.5; ITM likewise. Counts its calls.
final class FakeCapFiltModel: CapFiltModel {
  var captionCalls = 0
  var fingerprint: String { "fake" }
  func captions(for examples: [Example], samples: Int, options: GenerationOptions, prompt: String,
                rng: inout RandomGenerator) throws -> [[String]] {
    captionCalls += 1
    return examples.map { example in (0..<samples).map { _ in "synthetic \(example.id) #0.\(rng.nextInt(below: 10))" } }
  }
  func scores(for examples: [Example], texts: [[String]]) throws -> (itc: [[Float]], itm: [[Float]]) {
    let score = { (text: String) -> Float in
      text.split(separator: "#").last.flatMap { Float($0) } ?? (text.contains("white") ? 0.9 : 0.2)
    }
    let values = texts.map { $0.map(score) }
    return (values, values)
  }
}

@Suite("Noisy captions")
struct NoisyCaptionTests {
  let vocabulary = try! CorruptionVocabulary(colours: ["red", "blue", "green", "white", "yellow"],
                                             shapes: ["circle", "square", "star", "cross", "triangle"],
                                             relations: [["left", "right"]])

  func noisy(seed: UInt64, fraction: Double = 0.5, kinds: [CorruptionKind] = CorruptionKind.allCases) throws -> NoisyCaptionDataset {
    NoisyCaptionDataset(base: CaptionFixture(count: 40),
                        corrupter: try CaptionCorrupter(fraction: fraction, seed: seed, kinds: kinds, vocabulary: vocabulary))
  }

  @Test func theSameSeedCorruptsTheSameCaptionsTheSameWayInAnyOrder() throws {
    let first = try noisy(seed: 7), second = try noisy(seed: 7)
    let forward = try (0..<40).map { try first.corruptions(.train, $0) }
    let backward = try (0..<40).reversed().map { try second.corruptions(.train, $0) }.reversed()
    #expect(forward == Array(backward))
    let other = try (0..<40).map { try noisy(seed: 8).corruptions(.train, $0) }
    #expect(forward != other, "another seed corrupts other captions")
  }

  @Test func everyCorruptionIsRecordedAndOnlyThoseCaptionsChange() throws {
    let data = try noisy(seed: 3)
    let base = CaptionFixture(count: 40)
    var corrupted = 0, total = 0
    for index in 0..<40 {
      let clean = try base.example(.train, index).captions
      let (example, records) = try data.noisyExample(.train, index)
      #expect(records.count == clean.count)
      for (number, record) in records.enumerated() {
        total += 1
        if let record {
          corrupted += 1
          #expect(record.original == clean[number])
          #expect(record.corrupted == example.captions[number] && record.corrupted != clean[number])
        } else {
          #expect(example.captions[number] == clean[number])
        }
      }
    }
    // 120 captions at 0.5: a binomial draw far from both ends.
    #expect(corrupted > 40 && corrupted < 80, "\(corrupted) of \(total) corrupted")
  }

  @Test func eachKindChangesWhatItSays() throws {
    let words = { (text: String) in Set(text.lowercased().split(whereSeparator: { " ,.".contains($0) }).map(String.init)) }
    for kind in CorruptionKind.allCases {
      let data = try noisy(seed: 5, fraction: 1, kinds: [kind])
      for index in 0..<12 {
        let clean = try CaptionFixture(count: 40).example(.train, index).captions
        for record in try data.corruptions(.train, index).compactMap({ $0 }) {
          let removed = words(record.original).subtracting(words(record.corrupted))
          let added = words(record.corrupted).subtracting(words(record.original))
          switch record.kind {
          case .colour:
            #expect(removed.count == 1 && added.count == 1 && added.isSubset(of: vocabulary.colours))
            #expect(!clean.contains { words($0).isSuperset(of: added) }, "a colour the image's captions never name")
          case .shape:
            #expect(removed.count == 1 && added.isSubset(of: vocabulary.shapes))
          case .relation:
            #expect(removed == ["left"] && added == ["right"])
          case .unrelated:
            #expect(!clean.contains(record.corrupted))
          }
          // A kind a caption offers no word for falls back to another, which is recorded.
          if record.kind != kind { #expect(kind == .relation, "only relation lacks words in some captions") }
        }
      }
    }
  }

  @Test func punctuationStaysAndEvaluationSplitsStayClean() throws {
    let data = try noisy(seed: 1, fraction: 1, kinds: [.colour])
    let records = try data.corruptions(.train, 0).compactMap { $0 }
    #expect(records.contains { $0.original.hasSuffix(".") && $0.corrupted.hasSuffix(".") })
    #expect(try data.corruptions(.test, 0).allSatisfy { $0 == nil })
    #expect(try data.example(.test, 0) == CaptionFixture(count: 40).example(.test, 0))
  }

  @Test func badSettingsAreErrorsThatSaySo() {
    #expect(throws: TrainingError.self) { _ = try CaptionCorrupter(fraction: 1.5, seed: 0) }
    #expect(throws: TrainingError.self) { _ = try CaptionCorrupter(fraction: 0.5, seed: 0, kinds: []) }
    #expect(throws: TrainingError.self) { _ = try CorruptionVocabulary(colours: [], shapes: [], relations: [["left"]]) }
  }
}

@Suite("CapFilt")
struct CapFiltTests {
  @Test func itcTopKKeepsTheBestNWithTiesToTheEarlierCandidate() {
    let itc: [Float] = [0.2, 0.9, 0.5, 0.9, 0.1]
    #expect(CaptionFilter.itcTopK(2).keeps(itc: itc, itm: itc.map { _ in 0 }) == [false, true, false, true, false])
    #expect(CaptionFilter.itcTopK(3).keeps(itc: itc, itm: itc) == [false, true, true, true, false])
    #expect(CaptionFilter.itcTopK(1).keeps(itc: [0.4, 0.4], itm: [0, 0]) == [true, false], "the original wins a tie")
    #expect(CaptionFilter.itcTopK(10).keeps(itc: itc, itm: itc) == [true, true, true, true, true])
  }

  @Test func itmKeepsWhatIsStrictlyAboveTheThresholdAndIgnoresITC() {
    let itm: [Float] = [0.51, 0.5, 0.49, 0.99]
    #expect(CaptionFilter.itmThreshold(0.5).keeps(itc: [9, 9, 9, 9], itm: itm) == [true, false, false, true])
    #expect(CaptionFilter.keepAll.keeps(itc: [0, 1], itm: [0, 0]) == [true, true])
  }

  @Test func theReportCountsDropsAndScoresTheFilterAgainstKnownCorruption() {
    // Image 0: a clean original (kept), a corrupted one (dropped), a synthetic one (kept).
    // Image 1: a clean original (dropped: a false alarm), a corrupted one (kept: a miss).
    let images = [
      CapFiltImage(index: 0, candidates: [
        CapFiltCandidate(text: "a", synthetic: false, itc: 0.9, itm: 0.9),
        CapFiltCandidate(text: "b", synthetic: false, corruption: .colour, itc: 0.1, itm: 0.1),
        CapFiltCandidate(text: "c", synthetic: true, itc: 0.8, itm: 0.8),
      ]),
      CapFiltImage(index: 1, candidates: [
        CapFiltCandidate(text: "d", synthetic: false, itc: 0.2, itm: 0.2),
        CapFiltCandidate(text: "e", synthetic: false, corruption: .shape, itc: 0.7, itm: 0.7),
      ]),
    ]
    var settings = CapFiltSettings()
    settings.filter = .itmThreshold(0.5)
    let result = CapFiltResult(key: "k", directory: nil, images: images, settings: settings, corruptionRecorded: true,
                               chunksComputed: 0)
    #expect(result.kept == [[true, false, true], [false, true]])
    let report = result.report
    #expect(report.originals == 4 && report.keptOriginals == 2 && report.synthetic == 1 && report.keptSynthetic == 1)
    #expect(report.dropped == 2 && report.corrupted == 2 && report.corruptedDropped == 1)
    #expect(report.precision == 0.5 && report.recall == 0.5)
    #expect(report.recallByKind == ["colour": 1, "shape": 0])
    #expect(result.keptCaptions == [CapFiltDataset.Entry(index: 0, captions: ["a", "c"]),
                                    CapFiltDataset.Entry(index: 1, captions: ["e"])])
    let unknown = CapFiltResult(key: "k", directory: nil, images: images, settings: settings, corruptionRecorded: false,
                                chunksComputed: 0)
    #expect(unknown.report.precision == nil && unknown.report.corrupted == nil)
  }

  @Test func theNewDatasetHoldsTheKeptCaptionsAndLeavesOutImagesWithNone() throws {
    var settings = CapFiltSettings()
    settings.samples = 0
    settings.filter = .itmThreshold(0.5)   // the fixture model scores only the "white cross" caption 0.9
    let result = try CapFilt(cacheDirectory: nil).run(model: FakeCapFiltModel(), data: CaptionFixture(count: 4),
                                                      settings: settings)
    let data = result.dataset(base: CaptionFixture(count: 4))
    #expect(data.count(.train) == 4 && data.count(.test) == 4)
    #expect(try data.example(.train, 1).captions == ["a blue circle left of a white cross"])
    #expect(try data.example(.test, 1) == CaptionFixture(count: 4).example(.test, 1))
    #expect(data.name != CaptionFixture(count: 4).name)
    #expect(throws: CapFiltError.self) { try data.example(.train, 4) }
    settings.filter = .itmThreshold(0.95)   // above every score: nothing left to train on is an error, not an empty set
    #expect(throws: CapFiltError.self) {
      _ = try CapFilt(cacheDirectory: nil).run(model: FakeCapFiltModel(), data: CaptionFixture(count: 4), settings: settings)
    }
  }

  @Test func anInterruptedRunResumesToTheSameResultAndLeavesNoFinishedFileBehind() throws {
    let data = CaptionFixture(count: 10)
    var settings = CapFiltSettings()
    settings.samples = 3
    settings.chunkSize = 3   // chunks [0,1,2] [3,4,5] [6,7,8] [9]
    let whole = temporaryRunDirectory(), interrupted = temporaryRunDirectory()
    defer { for url in [whole, interrupted] { try? FileManager.default.removeItem(at: url) } }

    let reference = try CapFilt(cacheDirectory: whole).run(model: FakeCapFiltModel(), data: data, settings: settings)
    #expect(reference.chunksComputed == 4)

    struct Interruption: Error {}
    var stopping = CapFilt(cacheDirectory: interrupted)
    stopping.onChunk = { done, _ in if done >= 6 { throw Interruption() } }
    #expect(throws: Interruption.self) { try stopping.run(model: FakeCapFiltModel(), data: data, settings: settings) }
    let key = CapFilt.candidateKey(model: FakeCapFiltModel(), data: data, settings: settings)
    let folder = interrupted.appendingPathComponent("capfilt-\(key)")
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("candidates.json").path))
    #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("partial/chunk-1.json").path))
    // A chunk cut short on disk (not by our writer, which renames whole files) is recomputed, not trusted.
    try Data("{\"key\":".utf8).write(to: folder.appendingPathComponent("partial/chunk-0.json"))

    let model = FakeCapFiltModel()
    let resumed = try CapFilt(cacheDirectory: interrupted).run(model: model, data: data, settings: settings)
    #expect(resumed.chunksComputed == 3 && model.captionCalls == 3, "chunk 1 read back; 0 (damaged), 2 and 3 computed")
    #expect(resumed.images == reference.images)
    #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("candidates.json").path))
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("partial").path))

    let again = FakeCapFiltModel()
    let reused = try CapFilt(cacheDirectory: interrupted).run(model: again, data: data, settings: settings)
    #expect(reused.chunksComputed == 0 && again.captionCalls == 0 && reused.images == reference.images)
    #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(reused.label)/report.json").path))
  }

  @Test func syntheticCaptionsAreDistinctAndFollowTheOriginals() throws {
    var settings = CapFiltSettings()
    settings.samples = 20
    settings.filter = .keepAll
    let result = try CapFilt(cacheDirectory: nil).run(model: FakeCapFiltModel(), data: CaptionFixture(count: 2),
                                                      settings: settings)
    for image in result.images {
      #expect(image.candidates.prefix(3).allSatisfy { !$0.synthetic })
      let synthetic = image.candidates.dropFirst(3)
      #expect(synthetic.allSatisfy(\.synthetic) && Set(synthetic.map(\.text)).count == synthetic.count)
      #expect(synthetic.count <= 10, "the fake writes at most 10 different captions per image")
    }
  }
}
