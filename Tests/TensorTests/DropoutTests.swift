// Dropout's counter-based mask: the kept fraction, the scaling, determinism, and independence of the split.

import Foundation
import Testing

@testable import Tensor

@Suite("Dropout")
struct DropoutTests {
  @Test("keeps about 1 − p of the elements, scaled by 1/(1 − p); the same seed gives the same mask")
  func maskStatistics() {
    let n = 200_001  // odd: the last element uses the high half of its pair's bits alone
    let x = Tensor(shape: [n], data: (0..<n).map { Float($0 % 7) + 1 })
    for p: Float in [0.1, 0.5] {
      var rng = RandomGenerator(seed: 3), again = RandomGenerator(seed: 3)
      let y = x.dropout(p, training: true, rng: &rng), z = x.dropout(p, training: true, rng: &again)
      #expect(y.data == z.data && rng == again)
      var kept = 0
      for i in 0..<n where y.data[i] != 0 {
        kept += 1
        #expect(abs(y.data[i] - x.data[i] / (1 - p)) < 1e-5)
      }
      let fraction = Double(kept) / Double(n)
      #expect(abs(fraction - Double(1 - p)) < 0.005, "p = \(p): kept \(fraction)")
      // Neighbouring elements (the two halves of one draw) are not correlated.
      var both = 0
      for i in stride(from: 0, to: n - 1, by: 2) where y.data[i] != 0 && y.data[i + 1] != 0 { both += 1 }
      #expect(abs(Double(both) / Double(n / 2) - Double((1 - p) * (1 - p))) < 0.01)
    }
    var rng = RandomGenerator(seed: 3)
    let other = x.dropout(0.5, training: true, rng: &rng)
    let next = x.dropout(0.5, training: true, rng: &rng)
    #expect(other.data != next.data)  // successive calls draw new masks
  }

  @Test("a chunk of the mask is the same drawn alone or as part of a longer tensor")
  func maskIsCounterBased() {
    let long = Tensor(shape: [100_000], data: [Float](repeating: 1, count: 100_000))
    let short = Tensor(shape: [1_000], data: [Float](repeating: 1, count: 1_000))
    var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9)
    let whole = long.dropout(0.3, training: true, rng: &a), prefix = short.dropout(0.3, training: true, rng: &b)
    #expect(Array(whole.data.prefix(1_000)) == prefix.data)
  }
}
