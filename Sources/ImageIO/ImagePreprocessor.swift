// Turning an image of any size into the square input an image encoder takes, as the reference pipelines do:
// CLIP's processor and torchvision's `Resize(s) + CenterCrop(s)` (shorter side to s, then the centre), or
// LAVIS's evaluation transform and transformers' `BlipImageProcessor` (`Resize((s, s))`: both sides to s,
// the aspect ratio not kept). Both with bicubic resampling by default, as those processors use.

import Blip2Core

/// Resize + crop (+ optional per-channel normalization) to a square `size` x `size` image.
public struct ImagePreprocessor: Sendable, Equatable {
  /// How the image is fitted to the square.
  public enum Fit: String, Sendable, CaseIterable, Equatable {
    /// Shorter side to `size` (the longer one `Int(size * long / short)`, as torchvision), then the centre
    /// square: CLIP, torchvision `Resize(s)` + `CenterCrop(s)`.
    case crop
    /// Both sides to `size`, stretching: LAVIS `blip_image_eval`, transformers `BlipImageProcessor`.
    case stretch
  }

  /// The side of the output, in pixels.
  public var size: Int
  /// With `.crop`: the shorter side after resizing, before the centre `size` x `size` is cut (CLIP's
  /// `size.shortest_edge`; usually `size`).
  public var shorterSide: Int
  /// The resampling filter.
  public var resampling: Resampling
  /// How the image is fitted.
  public var fit: Fit
  /// Per-channel means subtracted after resizing (0: none).
  public var mean: [Float]
  /// Per-channel standard deviations divided by (1: none).
  public var std: [Float]

  /// A preprocessor to `size` x `size`. The default normalization is none: Blip2Lab's encoders take pixels in
  /// [0, 1] and normalize inside (`ImageNormalization` in the ViT plugin); give CLIP's mean and std to feed a
  /// network that expects normalized input.
  public init(size: Int, resampling: Resampling = .bicubic, fit: Fit = .crop, shorterSide: Int? = nil,
              mean: [Float] = [0, 0, 0], std: [Float] = [1, 1, 1]) {
    precondition(size >= 1 && (shorterSide ?? size) >= size, "ImagePreprocessor: size must be at least 1, shorterSide at least size")
    precondition(mean.count == 3 && std.count == 3 && std.allSatisfy { $0 > 0 },
                 "ImagePreprocessor: mean and std need 3 channels, std positive")
    self.size = size
    self.shorterSide = shorterSide ?? size
    self.resampling = resampling
    self.fit = fit
    self.mean = mean
    self.std = std
  }

  /// The size before cropping: both sides `size` (stretch), or the shorter side `size` (crop).
  public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
    switch fit {
    case .stretch:
      return (size, size)
    case .crop:
      let short = shorterSide
      if width <= height { return (short, max(short, Int(Double(short) * Double(height) / Double(width)))) }
      return (max(short, Int(Double(short) * Double(width) / Double(height))), short)
    }
  }

  /// `image` resized, cropped and normalized to `size` x `size`.
  public func callAsFunction(_ image: Image) -> Image {
    let target = resizedSize(width: image.width, height: image.height)
    var out = image.resized(width: target.width, height: target.height, filter: resampling)
      .centerCropped(width: size, height: size)
    if mean != [0, 0, 0] || std != [1, 1, 1] {
      let plane = size * size
      for channel in 0 ..< 3 {
        for index in channel * plane ..< (channel + 1) * plane {
          out.pixels[index] = (out.pixels[index] - mean[channel]) / std[channel]
        }
      }
    }
    return out
  }

  /// A short description: `64px bicubic crop` (`crop of 256` when the shorter side is resized to more than the
  /// crop, `normalized` when it normalizes).
  public var summary: String {
    let crop = fit == .crop && shorterSide != size ? " of \(shorterSide)" : ""
    return "\(size)px \(resampling.rawValue) \(fit.rawValue)\(crop)" + (mean != [0, 0, 0] || std != [1, 1, 1] ? " normalized" : "")
  }
}
