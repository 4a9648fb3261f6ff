// A linear probe of a frozen image encoder: what its features say about an image, read by the simplest
// classifier. BLIP-2's premise is that the frozen encoder already sees what the captions talk about and the
// Q-Former only has to fetch it; the probe checks that premise for each attribute a dataset can label (for
// Shapes: a lone shape's kind, colour and size, and how many shapes an image holds).
//
// Features: the encoder's output tokens (what the bridge reads), mean- and max-pooled over the tokens and
// concatenated, each dimension standardized on the probe's training part. Classifier: ridge regression onto
// one-hot targets (closed form, so the result is exact and needs no learning rate), the ridge strength picked on
// a validation part. Parts: the first 60% of the labelled images train, the next 20% pick the strength, the
// last 20% are scored (after refitting on the first 80%).

import Foundation
import Tensor

/// A dataset that can say what some of its images show, as attribute → value (e.g. "kind" → "circle").
public protocol ProbeLabelledDataset: Dataset {
  /// The attributes of example `index` of `split` a probe should be able to read from the image; an attribute
  /// left out is not scored on that image (Shapes labels a shape's kind only on images holding one shape).
  func probeLabels(_ split: Split, _ index: Int) throws -> [String: String]
}

/// What a linear probe read from one attribute.
public struct ProbeScore: Sendable, Equatable, Codable {
  /// The attribute ("kind").
  public var attribute: String
  /// Fraction of the scored images whose attribute the probe got right.
  public var accuracy: Double
  /// Fraction the most frequent value in the training part would get right (the floor to beat).
  public var majority: Double
  /// How many distinct values the attribute takes.
  public var classes: Int
  /// Images used to fit (training + validation parts) and to score.
  public var fitted: Int, scored: Int
}

/// Linear probes of frozen image features.
public enum LinearProbe {
  /// The probe's score for each attribute `data` labels on the first `examples` images of the training split.
  /// - Throws: when `data` labels nothing, or an attribute has fewer than 10 labelled images.
  public static func evaluate(_ encoder: any ImageEncoder, data: any ProbeLabelledDataset, examples: Int,
                              batch: Int = 64) throws -> [ProbeScore] {
    let count = min(examples, data.count(.train))
    var labels: [[String: String]] = []
    for index in 0..<count { labels.append(try data.probeLabels(.train, index)) }
    let attributes = Set(labels.flatMap(\.keys)).sorted()
    guard !attributes.isEmpty else {
      throw ProbeError("the dataset \(data.name) labels no attribute on its first \(count) training images")
    }
    let features = try pooledFeatures(encoder, data: data, indices: Array(0..<count), batch: batch)
    return try attributes.map { attribute in
      let rows = labels.indices.filter { labels[$0][attribute] != nil }
      guard rows.count >= 10 else {
        throw ProbeError("only \(rows.count) of the first \(count) training images label '\(attribute)'; "
          + "give the probe more examples")
      }
      return score(attribute: attribute, features: rows.map { features[$0] }, values: rows.map { labels[$0][attribute]! })
    }
  }

  /// Mean- and max-pooled encoder outputs, one vector of 2·featureDim per image.
  static func pooledFeatures(_ encoder: any ImageEncoder, data: any Dataset, indices: [Int],
                             batch: Int) throws -> [[Float]] {
    let size = encoder.imageSize
    var result: [[Float]] = []
    for start in stride(from: 0, to: indices.count, by: batch) {
      let chunk = indices[start..<min(start + batch, indices.count)]
      let images = try chunk.map { try data.example(.train, $0).image }
      guard images.allSatisfy({ $0.width == size && $0.height == size }) else {
        throw ProbeError("the encoder takes \(size)x\(size) images; \(data.name) has \(images[0].width)x\(images[0].height)")
      }
      let tokens = try GradMode.noGrad {
        try encoder.encode(Tensor(shape: [chunk.count, 3, size, size], data: images.flatMap(\.pixels)))
      }
      let (n, width) = (tokens.shape[1], tokens.shape[2])
      for b in 0..<chunk.count {
        var mean = [Float](repeating: 0, count: width), maximum = [Float](repeating: -.infinity, count: width)
        for t in 0..<n {
          let base = (b * n + t) * width
          for d in 0..<width {
            let v = tokens.data[base + d]
            mean[d] += v
            maximum[d] = max(maximum[d], v)
          }
        }
        result.append(mean.map { $0 / Float(n) } + maximum)
      }
    }
    return result
  }

  /// Fits and scores one attribute (see the file's header for the parts and the classifier).
  static func score(attribute: String, features: [[Float]], values: [String]) -> ProbeScore {
    let classes = Array(Set(values)).sorted()
    let target = values.map { classes.firstIndex(of: $0)! }
    let n = features.count
    let (trainEnd, validEnd) = (n * 6 / 10, n * 8 / 10)
    let candidates: [Double] = [1e-3, 1e-2, 1e-1, 1, 10, 100]
    let selection = Ridge(features, target, classes: classes.count, fit: 0..<trainEnd)
    var best = (strength: candidates[0], accuracy: -1.0)
    for strength in candidates {
      let accuracy = selection.accuracy(strength: strength, on: trainEnd..<validEnd)
      if accuracy > best.accuracy { best = (strength, accuracy) }
    }
    let accuracy = Ridge(features, target, classes: classes.count, fit: 0..<validEnd)
      .accuracy(strength: best.strength, on: validEnd..<n)
    var frequency = [Int](repeating: 0, count: classes.count)
    for i in 0..<validEnd { frequency[target[i]] += 1 }
    let majorityClass = frequency.indices.max { frequency[$0] < frequency[$1] }!
    let majority = Double((validEnd..<n).filter { target[$0] == majorityClass }.count) / Double(max(n - validEnd, 1))
    return ProbeScore(attribute: attribute, accuracy: accuracy, majority: majority, classes: classes.count,
                      fitted: validEnd, scored: n - validEnd)
  }

  /// Ridge regression onto one-hot targets, fitted on `fit` rows: features standardized on those rows, their
  /// Gram matrix and right-hand side made once, so each strength costs one solve.
  struct Ridge {
    let features: [[Float]], target: [Int], classes: Int, rows: Int
    let mean: [Double], scale: [Double]
    /// [d + 1, d + 1] and [d + 1, classes]; the last column is a constant (the bias, not penalized).
    let gram: [Double], rhs: [Double]

    init(_ features: [[Float]], _ target: [Int], classes: Int, fit: Range<Int>) {
      let d = features[0].count
      var mean = [Double](repeating: 0, count: d), scale = [Double](repeating: 0, count: d)
      for i in fit { for j in 0..<d { mean[j] += Double(features[i][j]) } }
      mean = mean.map { $0 / Double(fit.count) }
      for i in fit { for j in 0..<d { let c = Double(features[i][j]) - mean[j]; scale[j] += c * c } }
      scale = scale.map { let s = ($0 / Double(fit.count)).squareRoot(); return s > 1e-8 ? 1 / s : 0 }
      (self.features, self.target, self.classes, rows, self.mean, self.scale) = (features, target, classes, fit.count, mean, scale)
      let dim = d + 1
      var gram = [Double](repeating: 0, count: dim * dim), rhs = [Double](repeating: 0, count: dim * classes)
      for i in fit {
        let x = (0..<d).map { (Double(features[i][$0]) - mean[$0]) * scale[$0] } + [1]
        for a in 0..<dim where x[a] != 0 {
          for b in a..<dim { gram[a * dim + b] += x[a] * x[b] }
          rhs[a * classes + target[i]] += x[a]
        }
      }
      for a in 0..<dim { for b in 0..<a { gram[a * dim + b] = gram[b * dim + a] } }
      (self.gram, self.rhs) = (gram, rhs)
    }

    /// A standardized row with its constant.
    func row(_ i: Int) -> [Double] { (0..<mean.count).map { (Double(features[i][$0]) - mean[$0]) * scale[$0] } + [1] }

    /// Solves with penalty strength × (fitted rows) and returns the accuracy on `score` rows.
    func accuracy(strength: Double, on score: Range<Int>) -> Double {
      let d = mean.count, dim = d + 1
      var penalized = gram
      for a in 0..<d { penalized[a * dim + a] += strength * Double(rows) }
      penalized[d * dim + d] += 1e-9 * Double(rows)
      let weights = LinearProbe.choleskySolve(penalized, rhs, n: dim, columns: classes)
      var correct = 0
      for i in score {
        let x = row(i)
        var bestClass = 0, bestValue = -Double.infinity
        for c in 0..<classes {
          var value = 0.0
          for a in 0..<dim { value += x[a] * weights[a * classes + c] }
          if value > bestValue { (bestClass, bestValue) = (c, value) }
        }
        if bestClass == target[i] { correct += 1 }
      }
      return Double(correct) / Double(max(score.count, 1))
    }
  }

  /// Solves A·X = B for a symmetric positive-definite A [n, n] and B [n, columns] (row-major).
  static func choleskySolve(_ a: [Double], _ b: [Double], n: Int, columns: Int) -> [Double] {
    var l = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0...i {
        var sum = a[i * n + j]
        for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
        l[i * n + j] = i == j ? max(sum, 1e-12).squareRoot() : sum / l[j * n + j]
      }
    }
    var x = b
    for c in 0..<columns {
      for i in 0..<n {  // L·y = b
        var sum = x[i * columns + c]
        for k in 0..<i { sum -= l[i * n + k] * x[k * columns + c] }
        x[i * columns + c] = sum / l[i * n + i]
      }
      for i in stride(from: n - 1, through: 0, by: -1) {  // Lᵀ·x = y
        var sum = x[i * columns + c]
        for k in (i + 1)..<n { sum -= l[k * n + i] * x[k * columns + c] }
        x[i * columns + c] = sum / l[i * n + i]
      }
    }
    return x
  }
}

/// A probe that cannot run, and why.
public struct ProbeError: Error, LocalizedError, Equatable {
  /// What is wrong and what to do.
  public var message: String
  /// An error with its sentence.
  public init(_ message: String) { self.message = "probe: " + message }
  public var errorDescription: String? { message }
}
