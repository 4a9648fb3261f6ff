// ImageFolder: a Blip2Lab plugin. Registers `data.coco`, real images from a folder with COCO-style captions
// and/or VQAv2 questions and answers.

import Blip2Core
import Foundation
import ImageIO

/// Registration of the image-folder dataset.
public enum ImageFolderPlugin {
  /// Registers `data.coco`.
  ///
  /// Config keys: `images` (the image folder; a split's own `images` wins), one key per split present
  /// (`train`, `val`, `test`, `heldOut`): a caption file's path, or a table `{ captions = ..., questions = ...,
  /// annotations = ..., images = ... }` (captions and/or VQAv2 questions; annotations go with questions);
  /// `imageFile` (VQAv2 image names, default `COCO_{subtype}_{id}.jpg`), `imageSize` (default 64),
  /// `resample` (`bicubic`, default, or `bilinear`), `fit` (`crop`, default: shorter side then centre crop;
  /// `stretch`: both sides), `mean` / `std` (3 numbers each; default none: the encoders take [0, 1]), `cache`
  /// (images kept in memory, default 20000); or, instead of the five image keys, `preprocessor`: a checkpoint
  /// folder (or its `preprocessor_config.json`) whose processor to follow. Paths are relative to the current
  /// folder.
  public static func register(into registry: inout Registry) throws {
    let summary = "real images (PNG/JPEG folder) with COCO captions and/or VQAv2 questions"
    try registry.register(.data, "coco", summary: summary) { config, _ in
      try ImageFolderDataset(try configuration(config))
    }
  }

  /// Reads a configuration from the config keys listed in `register(into:)`.
  public static func configuration(_ config: ConfigReader) throws -> ImageFolderDataset.Configuration {
    var c = ImageFolderDataset.Configuration()
    let images = config.contains("images") ? try config.string("images") : nil
    for split in Split.allCases {
      guard let value = config.value(split.rawValue) else { continue }
      let path = config.path.isEmpty ? split.rawValue : "\(config.path).\(split.rawValue)"
      var folder = images, captions: URL?, questions: URL?, annotations: URL?
      if case let .string(file) = value {
        captions = URL(fileURLWithPath: file)
      } else {
        let table = try config.table(split.rawValue)
        func file(_ key: String) throws -> URL? {
          table.value(key) == nil ? nil : URL(fileURLWithPath: try table.string(key))  // value(_:) marks the key read
        }
        captions = try file("captions")
        questions = try file("questions")
        annotations = try file("annotations")
        if let own = try file("images") { folder = own.path }
        try table.finish()  // a misspelt key first, before what it leaves missing
        if annotations != nil && questions == nil {
          throw ConfigError.missingKey(path: path, key: "questions", expected: "the VQAv2 question file the annotations answer")
        }
        if captions == nil && questions == nil {
          throw ConfigError.missingKey(path: path, key: "captions", expected: "a caption file (or questions = a VQAv2 question file)")
        }
      }
      guard let folder else {
        throw ConfigError.missingKey(path: config.path, key: "images", expected: "the image folder (for the dataset or in each split's table)")
      }
      let source = ImageFolderDataset.SplitSource(images: URL(fileURLWithPath: folder), captions: captions,
                                                  questions: questions, annotations: annotations)
      c.splits[split] = source
    }
    if c.splits.isEmpty {
      throw ConfigError.missingKey(path: config.path, key: "train",
                                   expected: "at least one split (train, val, test or heldOut): a caption file or a table")
    }
    c.imageFile = try config.string("imageFile", default: c.imageFile)
    let own = ["imageSize", "resample", "fit", "mean", "std"]
    if config.contains("preprocessor") {
      if let clash = own.first(where: config.contains) {
        throw ConfigError.invalidAssignment(
          "\(config.path).\(clash)", reason: "the preprocessor file sets it; give one or the other")
      }
      do {
        c.preprocessor = try ImagePreprocessor.load(preprocessorConfig: URL(fileURLWithPath: try config.string("preprocessor")))
      } catch let error as PreprocessorConfigError {
        throw ConfigError.invalidAssignment("\(config.path).preprocessor", reason: error.localizedDescription)
      }
    } else {
      c.preprocessor = try preprocessor(config)
    }
    c.cacheLimit = try config.int("cache", default: c.cacheLimit, range: 0...10_000_000)
    return c
  }

  /// `imageSize`, `resample`, `fit`, `mean`, `std`.
  static func preprocessor(_ config: ConfigReader) throws -> ImagePreprocessor {
    let size = try config.int("imageSize", default: 64, range: 8...1024)
    let resample = try config.string("resample", default: "bicubic", allowed: Resampling.allCases.map(\.rawValue))
    let fit = try config.string("fit", default: "crop", allowed: ImagePreprocessor.Fit.allCases.map(\.rawValue))
    let mean = try config.doubleList("mean", default: [0, 0, 0]).map(Float.init)
    let std = try config.doubleList("std", default: [1, 1, 1]).map(Float.init)
    guard mean.count == 3 else {
      throw ConfigError.outOfRange(path: config.path, key: "mean", expected: "3 numbers (R, G, B)", got: .list(mean.map { .double(Double($0)) }))
    }
    guard std.count == 3, std.allSatisfy({ $0 > 0 }) else {
      throw ConfigError.outOfRange(path: config.path, key: "std", expected: "3 positive numbers (R, G, B)", got: .list(std.map { .double(Double($0)) }))
    }
    return ImagePreprocessor(size: size, resampling: Resampling(rawValue: resample) ?? .bicubic,
                             fit: ImagePreprocessor.Fit(rawValue: fit) ?? .crop, mean: mean, std: std)
  }
}
