// A seeded random generator whose stream is the same on every run and machine: xoshiro256** seeded
// through SplitMix64, with normals from the Box-Muller transform computed in Double.

import Foundation

/// A deterministic pseudo-random generator (xoshiro256**). Same seed, same numbers, everywhere.
/// Its whole state is four words, so a checkpoint can store and restore it exactly.
public struct RandomGenerator: Sendable, Equatable, Codable {
  // The four state words as stored properties (not an array: `next()` is on the hot path of dropout).
  private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
  private var spareNormal: Float?

  /// The generator state (four words); save it to resume a stream exactly.
  public var state: [UInt64] {
    get { [s0, s1, s2, s3] }
    set {
      precondition(newValue.count == 4, "RandomGenerator.state: needs 4 words, got \(newValue.count)")
      (s0, s1, s2, s3) = (newValue[0], newValue[1], newValue[2], newValue[3])
    }
  }

  /// Makes a generator from a seed.
  public init(seed: UInt64) {
    var splitMix = seed
    var words = [UInt64]()
    for _ in 0..<4 {
      splitMix &+= 0x9E37_79B9_7F4A_7C15
      var z = splitMix
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      words.append(z ^ (z >> 31))
    }
    (s0, s1, s2, s3) = (words[0], words[1], words[2], words[3])
  }

  private enum CodingKeys: String, CodingKey { case state, spareNormal }

  /// Decodes `{"state": [4 words], "spareNormal": ...}`; a state of another length is a decoding error.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let words = try container.decode([UInt64].self, forKey: .state)
    guard words.count == 4 else {
      throw DecodingError.dataCorruptedError(forKey: .state, in: container,
                                             debugDescription: "a generator state has 4 words, got \(words.count)")
    }
    (s0, s1, s2, s3) = (words[0], words[1], words[2], words[3])
    spareNormal = try container.decodeIfPresent(Float.self, forKey: .spareNormal)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(state, forKey: .state)
    try container.encodeIfPresent(spareNormal, forKey: .spareNormal)
  }

  /// The next 64 random bits.
  @inline(__always)
  public mutating func next() -> UInt64 {
    let result = rotateLeft(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotateLeft(s3, 45)
    return result
  }

  /// A uniform Float in [0, 1) with 24 random bits.
  @inline(__always)
  public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

  /// A uniform Double in [0, 1) with 53 random bits.
  public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

  /// A uniform integer in `0..<bound` (bound > 0), without modulo bias.
  public mutating func nextInt(below bound: Int) -> Int {
    precondition(bound > 0, "RandomGenerator.nextInt: bound must be positive, got \(bound)")
    let limit = UInt64(bound)
    let threshold = (0 &- limit) % limit
    while true {
      let value = next()
      if value >= threshold { return Int(value % limit) }
    }
  }

  /// A standard normal sample (Box-Muller; the second value of each pair is kept for the next call).
  public mutating func nextNormal() -> Float {
    if let spare = spareNormal {
      spareNormal = nil
      return spare
    }
    var u1 = nextDouble()
    while u1 <= Double.leastNormalMagnitude { u1 = nextDouble() }
    let u2 = nextDouble()
    let radius = (-2.0 * Foundation.log(u1)).squareRoot()
    let angle = 2.0 * Double.pi * u2
    spareNormal = Float(radius * Foundation.sin(angle))
    return Float(radius * Foundation.cos(angle))
  }

  /// Shuffles an array in place (Fisher-Yates).
  public mutating func shuffle<T>(_ values: inout [T]) {
    guard values.count > 1 else { return }
    for i in stride(from: values.count - 1, to: 0, by: -1) {
      values.swapAt(i, nextInt(below: i + 1))
    }
  }

  /// Samples an index with probability proportional to `weights` (non-negative; all-zero falls back to
  /// uniform, so a degenerate distribution never produces NaN or an out-of-range index).
  public mutating func sample(weights: [Float]) -> Int {
    precondition(!weights.isEmpty, "RandomGenerator.sample: no weights")
    var total: Double = 0
    for w in weights where w.isFinite && w > 0 { total += Double(w) }
    if total <= 0 { return nextInt(below: weights.count) }
    var target = nextDouble() * total
    for (i, w) in weights.enumerated() where w.isFinite && w > 0 {
      target -= Double(w)
      if target < 0 { return i }
    }
    return weights.lastIndex { $0.isFinite && $0 > 0 } ?? 0
  }

  @inline(__always)
  private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
