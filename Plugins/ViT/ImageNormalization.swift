// The per-channel pixel normalization a vision tower was trained with, read from a Hugging Face
// `preprocessor_config.json` (`image_mean`, `image_std`, `rescale_factor`). Resizing and cropping are not
// done here: images must already have the encoder's size.

import Foundation
import Tensor

/// Per-channel normalization: x' = (x · rescale − mean[c]) / std[c] on [B, 3, H, W] pixels.
public struct ImageNormalization: Sendable, Equatable {
  /// Per-channel means (after rescaling).
  public var mean: [Float]
  /// Per-channel standard deviations.
  public var std: [Float]
  /// Applied first (1/255 for 8-bit values; 1 for pixels already in [0, 1]).
  public var rescale: Float

  /// A normalization from its parts (three channels).
  public init(mean: [Float], std: [Float], rescale: Float = 1) {
    precondition(mean.count == 3 && std.count == 3, "ImageNormalization: mean and std need 3 channels")
    self.mean = mean
    self.std = std
    self.rescale = rescale
  }

  /// CLIP's (OpenAI) statistics, for pixels in [0, 1]; BLIP-2 (LAVIS and transformers) uses them too.
  public static let clip = ImageNormalization(mean: [0.481_454_66, 0.457_827_5, 0.408_210_73],
                                              std: [0.268_629_54, 0.261_302_58, 0.275_777_11])
  /// ImageNet's statistics, for pixels in [0, 1].
  public static let imageNet = ImageNormalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
  /// Maps [0, 1] to [−1, 1] (the mean and std of 0.5 of Google's ViT checkpoints).
  public static let symmetric = ImageNormalization(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])

  /// Normalizes [B, 3, H, W] pixels (differentiable, so gradients reach raw pixels too).
  public func callAsFunction(_ pixels: Tensor) -> Tensor {
    let scale = Tensor(shape: [1, 3, 1, 1], data: std.map { rescale / $0 })  // [1, 3, 1, 1]
    let shift = Tensor(shape: [1, 3, 1, 1], data: zip(mean, std).map { $0 / $1 })  // [1, 3, 1, 1]
    return pixels * scale - shift  // [B, 3, H, W]
  }

  /// Reads `directory/preprocessor_config.json`, for pixels in [0, 1]: `image_mean` and `image_std` (three
  /// numbers each); `do_rescale`/`rescale_factor` are not applied (our pixels are already in [0, 1]), and
  /// `do_normalize: false` gives the identity.
  /// - Throws: `VisionTransformerError` naming the file and key when it is missing or malformed.
  public static func load(directory: URL) throws(VisionTransformerError) -> ImageNormalization {
    let url = directory.appendingPathComponent("preprocessor_config.json")
    let file = url.path
    let table = try JSONValue.readObject(url)
    if case .bool(false)? = table["do_normalize"] {
      return ImageNormalization(mean: [0, 0, 0], std: [1, 1, 1])
    }
    func triple(_ key: String) throws(VisionTransformerError) -> [Float] {
      guard case let .list(values)? = table[key], values.count == 3 else {
        throw .invalidConfigValue(file: file, key: key, reason: "must be a list of 3 numbers, got \(table[key]?.description ?? "nothing")")
      }
      var numbers: [Float] = []
      for value in values {
        guard case let .number(number) = value else {
          throw .invalidConfigValue(file: file, key: key, reason: "must be a list of 3 numbers, got \(value)")
        }
        numbers.append(Float(number))
      }
      return numbers
    }
    let std = try triple("image_std")
    guard std.allSatisfy({ $0 > 0 }) else {
      throw .invalidConfigValue(file: file, key: "image_std", reason: "must be positive, got \(std)")
    }
    return ImageNormalization(mean: try triple("image_mean"), std: std)
  }
}
