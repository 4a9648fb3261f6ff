// Image-only pre-training of the ConvNet: masked patch reconstruction (SimMIM's recipe for CNNs). Each
// image is cut into the cells of the final feature map (totalStride × totalStride pixels); a random 60% of
// the cells are blanked (set to 0, the mean of normalized pixels), and a linear head predicts each blanked
// cell's per-cell standardized pixels from the feature vector of that cell. Same objective as the ViT
// plugin's `MaskedImageModeling`, so encoders pre-trained either way are compared fairly.

import Blip2Core
import Tensor

/// A ConvNet plus a linear pixel head for masked reconstruction. Optimize `parameters`, keep `encoder`.
public final class ConvNetMaskedImageModeling: Module, @unchecked Sendable {
  /// The encoder being pre-trained (shared by identity).
  public let encoder: ConvNet
  /// Final-map cell → the 3·s·s pixels of that cell (s = total stride).
  public let head: Linear
  /// Fraction of the cells blanked in each image.
  public let maskRatio: Float

  /// The objective around `encoder`; the head is N(0, 0.02²) from `seed`.
  public init(encoder: ConvNet, maskRatio: Float = 0.6, seed: UInt64 = 0) {
    precondition(maskRatio > 0 && maskRatio < 1, "ConvNetMaskedImageModeling: maskRatio must be in (0, 1)")
    var rng = RandomGenerator(seed: seed)
    let cell = encoder.configuration.totalStride
    self.encoder = encoder
    head = Linear(encoder.featureDim, 3 * cell * cell, std: 0.02, rng: &rng)
    self.maskRatio = maskRatio
    super.init()
  }

  public override func children() -> [(String, Module)] { [("encoder", encoder), ("head", head)] }

  /// The reconstruction loss (a scalar) of [B, 3, imageSize, imageSize] pixels, with fresh masks from `rng`.
  public func pretrainingLoss(_ pixels: Tensor, rng: inout RandomGenerator) -> Tensor {
    let c = encoder.configuration
    let (batch, grid, cell) = (pixels.shape[0], c.gridSize, c.totalStride)
    let cells = grid * grid
    let count = min(max(Int((maskRatio * Float(cells)).rounded()), 1), max(cells - 1, 1))
    var masked = [Bool](repeating: false, count: batch * cells)
    var order = Array(0..<cells)
    for b in 0..<batch {
      rng.shuffle(&order)
      for i in order.prefix(count) { masked[b * cells + i] = true }
    }
    // Keep-mask in pixel space: [B, 1, H, W], 0 inside blanked cells.
    let size = c.imageSize
    var keep = [Float](repeating: 1, count: batch * size * size)
    for b in 0..<batch {
      for y in 0..<size {
        for x in 0..<size where masked[b * cells + (y / cell) * grid + x / cell] { keep[(b * size + y) * size + x] = 0 }
      }
    }
    let input = pixels * Tensor(shape: [batch, 1, size, size], data: keep)  // [B, 3, H, W]
    let map = encoder.featureMap(input)  // [B, grid, grid, C]
    let prediction = head(map.reshaped([batch, cells, map.shape[3]]))  // [B, cells, 3·s·s]
    let target = cellTargets(pixels, cell: cell)  // [B, cells, 3·s·s]
    let difference = (prediction - target) * Tensor(
      shape: [batch, cells, 1], data: masked.map { $0 ? 1 : 0 })  // [B, cells, 3·s·s], 0 on visible cells
    return (difference * difference).sum() / Float(batch * count * 3 * cell * cell)
  }

  /// Each cell's pixels, standardized over its 3·s·s values: [B, cells, 3·s·s], no gradient.
  private func cellTargets(_ pixels: Tensor, cell: Int) -> Tensor {
    let (batch, size) = (pixels.shape[0], pixels.shape[2])
    let grid = size / cell
    let width = 3 * cell * cell
    var values = [Float](repeating: 0, count: batch * grid * grid * width)
    for b in 0..<batch {
      for gy in 0..<grid {
        for gx in 0..<grid {
          let start = ((b * grid + gy) * grid + gx) * width
          var j = 0
          for channel in 0..<3 {
            for y in 0..<cell {
              for x in 0..<cell {
                values[start + j] = pixels.data[((b * 3 + channel) * size + gy * cell + y) * size + gx * cell + x]
                j += 1
              }
            }
          }
          let mean = values[start..<(start + width)].reduce(0, +) / Float(width)
          let variance = values[start..<(start + width)].reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(width)
          let inverse = 1 / (variance + 1e-6).squareRoot()
          for k in start..<(start + width) { values[k] = (values[k] - mean) * inverse }
        }
      }
    }
    return Tensor(shape: [batch, grid * grid, width], data: values)
  }
}

extension ConvNetMaskedImageModeling: ImagePretrainingObjective {
  public var module: Module { self }
  public var summary: String { "masked cells \(Int((maskRatio * 100).rounded()))%, per-cell normalized pixel targets" }
}

extension ConvNet: SelfSupervisedImageEncoder {
  /// Masked-cell reconstruction (`ConvNetMaskedImageModeling`, 60% of the cells).
  public func pretrainingObjective(seed: UInt64) -> any ImagePretrainingObjective {
    ConvNetMaskedImageModeling(encoder: self, seed: seed)
  }
}
