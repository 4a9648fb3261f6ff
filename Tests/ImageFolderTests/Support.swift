// Fixture access for the image tests: Fixtures/ is made by make_fixtures.py (PIL + numpy).

import Blip2Core
import Foundation
import Testing

/// What make_fixtures.py wrote to Fixtures/expected.json.
struct Expected: Decodable {
  struct Decoded: Decodable {
    var width: Int
    var height: Int
    var bits: Int
    var rgb: [Int]
  }
  struct Resized: Decodable {
    var filter: String
    var width: Int
    var height: Int
    var crop: Bool?
    var stretch: Bool?
    var rgb: [Int]
  }
  var decode: [String: Decoded]
  var resize: [Resized]

  static func load() throws -> Expected {
    try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixture("expected.json")))
  }
}

/// The URL of `name` under Fixtures/.
func fixture(_ name: String) throws -> URL {
  let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
  return folder.appendingPathComponent(name)
}

/// Interleaved [H, W, 3] integers (numpy's layout) as channel-first floats scaled by `scale`.
func channelsFirst(_ rgb: [Int], width: Int, height: Int, scale: Float) -> [Float] {
  var out = [Float](repeating: 0, count: rgb.count)
  let plane = width * height
  for pixel in 0 ..< plane {
    for channel in 0 ..< 3 { out[channel * plane + pixel] = Float(rgb[pixel * 3 + channel]) / scale }
  }
  return out
}

/// The largest absolute difference between `pixels` and `expected` (both in [0, 1]), in 8-bit steps (1/255).
func maxStepError(_ pixels: [Float], _ expected: [Float]) -> Float {
  zip(pixels, expected).map { abs($0 - $1) * 255 }.max() ?? 0
}
