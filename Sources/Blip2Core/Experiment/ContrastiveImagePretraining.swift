// A second image-only pre-training objective for the sandbox's frozen encoders: contrastive learning between
// two augmented views of each image (SimCLR, Chen et al. 2020), on the features the bridge reads.
//
// Why: BLIP-2 takes its image encoder ready-made from CLIP / EVA, whose features already name what is in the
// image. Masked-patch reconstruction does not give that in miniature: on Shapes, a linear probe
// (`Experiments/probe_encoders.lua`) reads a lone shape's colour from the pre-trained ViT's features but its
// kind no better than chance, so the Q-Former had to learn shape recognition from the captions itself. Telling
// one image from the others of a batch under shifts, scaling, mirroring and swapped colour channels needs what
// those leave alone: the kinds of the shapes, their sizes, how many there are and how they lie to each other.
// Swapping channels is SimCLR's colour distortion in the form that fits flat-coloured shapes (without it,
// colour alone tells the images of a batch apart); colour itself is kept by pairing this objective with
// masked reconstruction (`ImagePretrainingMethod.both`).

import Foundation
import Tensor

/// SimCLR around any image encoder: two views of each image (random shift and scale), their features mean-pooled
/// over tokens, a two-layer projection head, and the NT-Xent loss (each view must pick its partner among the
/// 2B − 1 other views of the batch). Optimize `module`'s parameters; keep the encoder, drop the head.
public final class ContrastiveImagePretraining: Module, ImagePretrainingObjective, @unchecked Sendable {
  /// The encoder being pre-trained (shared by identity: training this trains it).
  public let encoder: any ImageEncoder
  /// Pooled features → hidden (ReLU) → `projectionDim`.
  public let hidden: Linear
  public let projection: Linear
  /// NT-Xent temperature (SimCLR: 0.1-0.5).
  public let temperature: Float
  /// Largest shift of a view, in pixels, along each axis (the image's edge pixels fill what is uncovered).
  public let maxShift: Int
  /// A view is scaled about the image centre by a factor in [1 − scaleJitter, 1 + scaleJitter].
  public let scaleJitter: Float
  /// Whether each view's colour channels are put in a random order.
  public let swapChannels: Bool

  /// The objective around `encoder`; the head's weights from `seed`.
  public init(encoder: any ImageEncoder, projectionDim: Int = 128, temperature: Float = 0.2, maxShift: Int? = nil,
              scaleJitter: Float = 0.15, swapChannels: Bool = true, seed: UInt64 = 0) {
    precondition(temperature > 0 && projectionDim > 0 && scaleJitter >= 0 && scaleJitter < 1,
                 "ContrastiveImagePretraining: temperature and projectionDim must be positive, scaleJitter in [0, 1)")
    var rng = RandomGenerator(seed: seed)
    self.encoder = encoder
    hidden = Linear(encoder.featureDim, encoder.featureDim, rng: &rng)
    projection = Linear(encoder.featureDim, projectionDim, rng: &rng)
    self.temperature = temperature
    self.maxShift = maxShift ?? max(1, encoder.imageSize / 8)
    self.scaleJitter = scaleJitter
    self.swapChannels = swapChannels
    super.init()
  }

  public override func children() -> [(String, Module)] {
    [("encoder", encoder.module), ("head.0", hidden), ("head.2", projection)]
  }

  public var module: Module { self }
  public var summary: String {
    "contrastive (SimCLR) on 2 views (shift ±\(maxShift) px, scale ±\(Int((scaleJitter * 100).rounded()))%, mirrored"
      + (swapChannels ? ", channels swapped" : "") + "), "
      + "temperature \(temperature), projection \(projection.outFeatures)"
  }

  /// The NT-Xent loss of two views of each image of [B, 3, H, W] pixels (B ≥ 2), the views drawn from `rng`.
  public func pretrainingLoss(_ pixels: Tensor, rng: inout RandomGenerator) throws -> Tensor {
    let batch = pixels.shape[0]
    guard pixels.rank == 4, batch >= 2 else {
      throw TrainingError.invalidSetting("contrastive image pre-training needs batches of 2 or more images [B, 3, H, W], got \(pixels.shape)")
    }
    let first = Self.augment(pixels, maxShift: maxShift, scaleJitter: scaleJitter, swapChannels: swapChannels, rng: &rng)
    let second = Self.augment(pixels, maxShift: maxShift, scaleJitter: scaleJitter, swapChannels: swapChannels, rng: &rng)
    let features = try encoder.encode(Tensor.concat([first, second], axis: 0))  // [2B, N, width]
    let embeddings = projection(hidden(features.mean(axis: 1)).relu()).l2Normalized()  // [2B, D]
    return Self.ntXent(embeddings, temperature: temperature)
  }

  /// NT-Xent of [2B, D] unit embeddings where row i and row i ± B are the two views of one image: the mean over
  /// rows of the cross-entropy of (similarities / temperature, own row excluded) against the partner row.
  public static func ntXent(_ embeddings: Tensor, temperature: Float) -> Tensor {
    let rows = embeddings.shape[0], batch = rows / 2
    var selfMask = [Float](repeating: 0, count: rows * rows)
    for i in 0..<rows { selfMask[i * rows + i] = -1e9 }
    let logits = embeddings.matmul(embeddings, transposeB: true) / temperature + Tensor(shape: [rows, rows], data: selfMask)
    return logits.crossEntropy(targets: (0..<rows).map { $0 < batch ? $0 + batch : $0 - batch })
  }

  /// A view of each image of [B, C, H, W] pixels: scaled about the centre by s ∈ [1 − scaleJitter, 1 + scaleJitter],
  /// shifted by whole pixels (dx, dy) ∈ [−maxShift, maxShift]², mirrored left-right with probability ½ (bilinear
  /// resampling, edge pixels repeated beyond the border), and, with `swapChannels`, its colour channels in one of
  /// their orders drawn uniformly. No gradient (an input).
  public static func augment(_ pixels: Tensor, maxShift: Int, scaleJitter: Float, swapChannels: Bool,
                             rng: inout RandomGenerator) -> Tensor {
    let (batch, channels, height, width) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], pixels.shape[3])
    let source = pixels.data
    var out = [Float](repeating: 0, count: source.count)
    let (cx, cy) = (Float(width - 1) / 2, Float(height - 1) / 2)
    for b in 0..<batch {
      let scale = 1 + scaleJitter * (2 * rng.nextFloat() - 1)
      let dx = Float(rng.nextInt(below: 2 * maxShift + 1) - maxShift)
      let dy = Float(rng.nextInt(below: 2 * maxShift + 1) - maxShift)
      let mirror = rng.nextInt(below: 2) == 1
      var order = Array(0..<channels)
      if swapChannels { rng.shuffle(&order) }
      for y in 0..<height {
        let sy = min(max((Float(y) - dy - cy) / scale + cy, 0), Float(height - 1))
        let y0 = Int(sy), y1 = min(y0 + 1, height - 1), fy = sy - Float(y0)
        for x in 0..<width {
          let tx = mirror ? Float(width - 1 - x) : Float(x)
          let sx = min(max((tx - dx - cx) / scale + cx, 0), Float(width - 1))
          let x0 = Int(sx), x1 = min(x0 + 1, width - 1), fx = sx - Float(x0)
          for c in 0..<channels {
            let plane = (b * channels + order[c]) * height * width, target = (b * channels + c) * height * width
            let top = source[plane + y0 * width + x0] * (1 - fx) + source[plane + y0 * width + x1] * fx
            let bottom = source[plane + y1 * width + x0] * (1 - fx) + source[plane + y1 * width + x1] * fx
            out[target + y * width + x] = top * (1 - fy) + bottom * fy
          }
        }
      }
    }
    return Tensor(shape: pixels.shape, data: out)
  }
}

/// Masked reconstruction and the contrastive objective on one encoder, their losses summed: reconstruction
/// keeps what each patch looks like (colour), the contrastive term adds what survives the views' distortions
/// (kind, size, count).
public final class MaskedAndContrastivePretraining: Module, ImagePretrainingObjective, @unchecked Sendable {
  /// The masked-reconstruction objective (it holds the encoder).
  public let masked: any ImagePretrainingObjective
  /// The contrastive objective around the same encoder.
  public let contrastive: ContrastiveImagePretraining
  /// The contrastive loss's weight.
  public let contrastiveWeight: Float

  /// Both objectives; `contrastive.encoder` must be the encoder inside `masked`.
  public init(masked: any ImagePretrainingObjective, contrastive: ContrastiveImagePretraining, contrastiveWeight: Float = 1) {
    self.masked = masked
    self.contrastive = contrastive
    self.contrastiveWeight = contrastiveWeight
    super.init()
  }

  /// The encoder's parameters once (under the masked objective), then the contrastive head's.
  public override func children() -> [(String, Module)] {
    [("masked", masked.module), ("contrastive.head.0", contrastive.hidden), ("contrastive.head.2", contrastive.projection)]
  }

  public var module: Module { self }
  public var summary: String { "\(masked.summary) + \(contrastiveWeight) × \(contrastive.summary)" }

  public func pretrainingLoss(_ pixels: Tensor, rng: inout RandomGenerator) throws -> Tensor {
    let reconstruction = try masked.pretrainingLoss(pixels, rng: &rng)
    return reconstruction + contrastiveWeight * (try contrastive.pretrainingLoss(pixels, rng: &rng))
  }
}
