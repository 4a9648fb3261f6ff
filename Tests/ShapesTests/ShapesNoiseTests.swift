// `data.shapes{ captionNoise = ... }`: noisy training captions whose corruptions are recorded and really
// wrong about the picture; evaluation splits stay clean.

import Foundation
import Testing

@testable import Blip2Core
@testable import Shapes

@Suite("Shapes caption noise")
struct ShapesNoiseTests {
  func make(_ options: [String: ConfigValue]) throws -> any Dataset {
    var registry = Registry()
    try ShapesPlugin.register(into: &registry)
    let base: [String: ConfigValue] = ["train": .int(200), "val": .int(10), "test": .int(10), "seed": .int(4)]
    return try registry.make(.data, "shapes", config: .table(base.merging(options) { $1 }), as: (any Dataset).self)
  }

  @Test func noNoiseIsThePlainDataset() throws {
    #expect(try make([:]) is ShapesDataset)
    #expect(try make(["captionNoise": .double(0)]) is ShapesDataset)
  }

  @Test func aWrongColourNamesAColourTheSceneDoesNotHave() throws {
    let data = try make(["captionNoise": .double(1), "captionNoiseKinds": .list([.string("colour")])])
    let noisy = try #require(data as? NoisyCaptionDataset)
    let shapes = try #require(noisy.base as? ShapesDataset)
    for index in 0..<40 {
      let colours = Set(try shapes.scene(.train, index).shapes.map(\.colour.rawValue))
      for record in try noisy.corruptions(.train, index) {
        let record = try #require(record, "fraction 1 corrupts every caption")
        #expect(record.kind == .colour)
        let named = Set(record.corrupted.split(separator: " ").map { $0.trimmingCharacters(in: .punctuationCharacters) })
          .intersection(ShapeColour.allCases.map(\.rawValue))
        #expect(!named.isSubset(of: colours), "\(record.corrupted) for a scene of \(colours)")
      }
    }
  }

  @Test func aFractionOfTrainingCaptionsIsCorruptedTheTestSplitNone() throws {
    let data = try make(["captionNoise": .double(0.3), "captionNoiseSeed": .int(9)])
    let noisy = try #require(data as? CorruptionRecording)
    let records = try (0..<200).flatMap { try noisy.corruptions(.train, $0) }
    let fraction = Double(records.compactMap { $0 }.count) / Double(records.count)
    #expect(abs(fraction - 0.3) < 0.05, "\(fraction) of \(records.count) captions")
    #expect(Set(records.compactMap { $0?.kind }) == Set(CorruptionKind.allCases))
    #expect(try (0..<10).allSatisfy { try noisy.corruptions(.test, $0).allSatisfy { $0 == nil } })
    #expect(data.name.contains("noisy captions (fraction 0.3, seed 9"))
  }

  @Test func aMisspeltOrUnknownKindIsAnError() {
    #expect(throws: ConfigError.self) { _ = try make(["captionNoize": .double(0.3)]) }
    #expect(throws: ConfigError.self) {
      _ = try make(["captionNoise": .double(0.3), "captionNoiseKinds": .list([.string("color")])])
    }
  }
}
