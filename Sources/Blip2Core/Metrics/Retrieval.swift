// Image-text retrieval metrics the way BLIP / BLIP-2 (LAVIS) report them: recall at 1, 5 and 10 in both
// directions, in percent, over a similarity matrix where each image has several matching texts (COCO: five);
// plus BLIP-2's re-ranking: the top k candidates by ITC similarity re-scored with ITM.

/// A dense [rows x columns] matrix of scores, row-major.
public struct ScoreMatrix: Sendable, Equatable {
  /// Rows.
  public var rows: Int
  /// Columns.
  public var columns: Int
  /// [rows * columns] scores, row-major.
  public var values: [Float]

  /// A matrix from its parts.
  public init(rows: Int, columns: Int, values: [Float]) {
    precondition(values.count == rows * columns, "ScoreMatrix: \(values.count) values for \(rows)x\(columns)")
    self.rows = rows
    self.columns = columns
    self.values = values
  }

  /// Row `index`.
  public func row(_ index: Int) -> ArraySlice<Float> { values[(index * columns)..<((index + 1) * columns)] }

  /// The transpose ([columns x rows]).
  public var transposed: ScoreMatrix {
    var out = [Float](repeating: 0, count: values.count)
    for r in 0..<rows { for c in 0..<columns { out[c * rows + r] = values[r * columns + c] } }
    return ScoreMatrix(rows: columns, columns: rows, values: out)
  }
}

/// Recall at K, in percent, for K = 1, 5, 10.
public struct RecallAtK: Sendable, Equatable, Codable {
  /// R@1 (%).
  public var r1: Double
  /// R@5 (%).
  public var r5: Double
  /// R@10 (%).
  public var r10: Double
  /// Mean of the three.
  public var mean: Double { (r1 + r5 + r10) / 3 }
}

/// Retrieval scores in both directions.
public struct RetrievalScores: Sendable, Equatable, Codable {
  /// Image to text: a hit if any of the image's texts is in the top K.
  public var imageToText: RecallAtK
  /// Text to image: a hit if the text's image is in the top K.
  public var textToImage: RecallAtK
  /// Mean of the six recalls (LAVIS's `r_mean`).
  public var mean: Double { (imageToText.mean + textToImage.mean) / 2 }
}

/// Retrieval evaluation.
public enum Retrieval {
  /// Recalls from one [images x texts] similarity matrix, used in both directions. `textImages[t]` is the image
  /// of text `t`.
  public static func evaluate(similarity: ScoreMatrix, textImages: [Int]) -> RetrievalScores {
    evaluate(imageToText: similarity, textToImage: similarity.transposed, textImages: textImages)
  }

  /// Recalls from separate score matrices per direction (as re-ranking produces): `imageToText` is
  /// [images x texts], `textToImage` is [texts x images]; `textImages[t]` is the image of text `t`.
  ///
  /// Ranks are 0-based positions in a sort by descending score; equal scores keep index order (so a tie with
  /// a wrong candidate of lower index counts against the hit).
  public static func evaluate(imageToText: ScoreMatrix, textToImage: ScoreMatrix, textImages: [Int]) -> RetrievalScores {
    precondition(imageToText.columns == textImages.count && textToImage.rows == textImages.count
                 && textToImage.columns == imageToText.rows, "Retrieval: inconsistent matrix sizes")
    var textsOfImage = [[Int]](repeating: [], count: imageToText.rows)
    for (text, image) in textImages.enumerated() { textsOfImage[image].append(text) }
    let imageRanks = (0..<imageToText.rows).map { image in
      textsOfImage[image].map { rank(of: $0, in: imageToText.row(image)) }.min() ?? Int.max
    }
    let textRanks = (0..<textToImage.rows).map { text in rank(of: textImages[text], in: textToImage.row(text)) }
    return RetrievalScores(imageToText: recalls(imageRanks), textToImage: recalls(textRanks))
  }

  /// Position of `target` when `scores` is sorted by descending score, ties in index order.
  static func rank(of target: Int, in scores: ArraySlice<Float>) -> Int {
    let base = scores.startIndex
    let score = scores[base + target]
    var rank = 0
    for (offset, other) in scores.enumerated() where other > score || (other == score && offset < target) {
      rank += 1
    }
    return rank
  }

  private static func recalls(_ ranks: [Int]) -> RecallAtK {
    let count = Double(max(ranks.count, 1))
    let r = { (k: Int) in 100 * Double(ranks.filter { $0 < k }.count) / count }
    return RecallAtK(r1: r(1), r5: r(5), r10: r(10))
  }

  /// BLIP-2's re-ranking. For each image, its top `k` texts by ITC similarity (all of them if fewer) are scored
  /// `itm + itc`; for each text, likewise its top `k` images. Everything else scores -infinity.
  ///
  /// - Parameters:
  ///   - itc: [images x texts] ITC similarities.
  ///   - k: candidates per query (128 in BLIP-2).
  ///   - itm: the ITM scores of a batch of (image, text) pairs (e.g. the logit or probability of "match"), one per
  ///     pair, in order. Called once, with every distinct pair either direction ranks (a pair among an image's
  ///     top texts and its text's top images is scored once; its score depends on the pair alone).
  /// - Returns: `imageToText` [images x texts] and `textToImage` [texts x images], ready for `evaluate`.
  public static func rerank(
    itc: ScoreMatrix, k: Int = 128, itm: (_ pairs: [(image: Int, text: Int)]) throws -> [Float]
  ) rethrows -> (imageToText: ScoreMatrix, textToImage: ScoreMatrix) {
    // The top `k` columns of each row, best first (ties: the lower index).
    func topColumns(_ matrix: ScoreMatrix) -> [[Int]] {
      let keep = min(k, matrix.columns)
      return (0..<matrix.rows).map { row in
        let scores = matrix.row(row), base = scores.startIndex
        return Array(scores.indices.map { $0 - base }
          .sorted { scores[base + $0] > scores[base + $1] || (scores[base + $0] == scores[base + $1] && $0 < $1) }
          .prefix(keep))
      }
    }
    let textsOfImage = topColumns(itc), imagesOfText = topColumns(itc.transposed)
    var pairs: [(image: Int, text: Int)] = []
    var slot: [Int: Int] = [:]  // image · texts + text → index in `pairs`
    func index(_ image: Int, _ text: Int) -> Int {
      let key = image * itc.columns + text
      if let known = slot[key] { return known }
      slot[key] = pairs.count
      pairs.append((image, text))
      return pairs.count - 1
    }
    let imageSlots = textsOfImage.enumerated().map { image, texts in texts.map { index(image, $0) } }
    let textSlots = imagesOfText.enumerated().map { text, images in images.map { index($0, text) } }
    let itmScores = try itm(pairs)
    precondition(itmScores.count == pairs.count,
                 "Retrieval.rerank: itm returned \(itmScores.count) scores for \(pairs.count) pairs")
    func reranked(_ matrix: ScoreMatrix, _ top: [[Int]], _ slots: [[Int]]) -> ScoreMatrix {
      var out = [Float](repeating: -.infinity, count: matrix.values.count)
      for row in 0..<matrix.rows {
        for (candidate, slot) in zip(top[row], slots[row]) {
          out[row * matrix.columns + candidate] = itmScores[slot] + matrix.values[row * matrix.columns + candidate]
        }
      }
      return ScoreMatrix(rows: matrix.rows, columns: matrix.columns, values: out)
    }
    return (reranked(itc, textsOfImage, imageSlots), reranked(itc.transposed, imagesOfText, textSlots))
  }
}
