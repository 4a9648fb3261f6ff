// A dataset of real images: a folder of PNG/JPEG files and, per split, a caption file (COCO or Karpathy form)
// and/or VQAv2 question + annotation files. The JSON files are read and every image path is checked when the
// dataset is made (so a missing image fails before training, naming the entry and the path); images are
// decoded, resized and cropped when first asked for, and kept in memory up to a limit.

import Blip2Core
import Foundation
import ImageIO

/// Images from a folder with captions and/or questions from JSON files, in splits.
public final class ImageFolderDataset: Dataset, @unchecked Sendable {
  /// Where one split's text and images come from.
  public struct SplitSource: Sendable, Equatable {
    /// The folder image paths are relative to.
    public var images: URL
    /// A COCO caption file or a Karpathy-split list, if any.
    public var captions: URL?
    /// A VQAv2 question file, if any.
    public var questions: URL?
    /// The VQAv2 annotation file of `questions` (without one, questions have no answers).
    public var annotations: URL?

    /// A split's sources.
    public init(images: URL, captions: URL? = nil, questions: URL? = nil, annotations: URL? = nil) {
      self.images = images
      self.captions = captions
      self.questions = questions
      self.annotations = annotations
    }
  }

  /// The settings (config keys of `data.coco`).
  public struct Configuration: Sendable, Equatable {
    /// The sources of each split present.
    public var splits: [Split: SplitSource] = [:]
    /// How a VQAv2 image id names its file, relative to the image folder: `{subtype}` is the question file's
    /// `data_subtype` (`val2014`), `{id}` the id zero-padded to 12 digits.
    public var imageFile = "COCO_{subtype}_{id}.jpg"
    /// Resizing and cropping to the encoder's square input.
    public var preprocessor = ImagePreprocessor(size: 64)
    /// At most this many preprocessed images are kept in memory.
    public var cacheLimit = 20_000

    /// No splits, 64-pixel bicubic centre crops.
    public init() {}
  }

  /// The settings it was made with.
  public let configuration: Configuration
  /// 8 hex digits (FNV-1a) of the splits' file paths, the image-name pattern and the preprocessing: part of the
  /// name and of example ids, so caches of differently made datasets do not mix.
  public let fingerprint: String
  private let records: [Split: [ImageRecord]]
  private let lock = NSLock()
  private var cache: [String: Image] = [:]

  /// Reads the JSON files of every split and checks that every image they name exists.
  /// - Throws: `ImageFolderError` naming the file and entry.
  public init(_ configuration: Configuration) throws {
    self.configuration = configuration
    var records = [Split: [ImageRecord]]()
    for (split, source) in configuration.splits {
      records[split] = try Self.records(source, imageFile: configuration.imageFile)
    }
    self.records = records
    self.fingerprint = Self.fingerprint(configuration)
  }

  private static func fingerprint(_ configuration: Configuration) -> String {
    var text = configuration.imageFile + configuration.preprocessor.summary
      + "\(configuration.preprocessor.mean)\(configuration.preprocessor.std)"
    for split in Split.allCases {
      guard let source = configuration.splits[split] else { continue }
      text += split.rawValue + [source.images, source.captions, source.questions, source.annotations]
        .map { $0?.standardizedFileURL.path ?? "-" }.joined(separator: "|")
    }
    var hash: UInt32 = 2_166_136_261
    for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 8 - hex.count) + hex
  }

  /// Captions and questions of one split, merged per image (captions' order first), every image checked.
  private static func records(_ source: SplitSource, imageFile: String) throws -> [ImageRecord] {
    var merged = try source.captions.map(AnnotationFiles.captions) ?? []
    if let questions = source.questions {
      var index = Dictionary(merged.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { first, _ in first })
      for record in try AnnotationFiles.questions(questions, annotations: source.annotations, imageFile: imageFile) {
        if let at = index[record.path] {
          merged[at].questions += record.questions
        } else {
          index[record.path] = merged.count
          merged.append(record)
        }
      }
    }
    for record in merged {
      let url = source.images.appendingPathComponent(record.path)
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
        throw ImageFolderError.missingImage(file: record.file, entry: record.entry, path: url.path)
      }
    }
    return merged
  }

  /// E.g. `coco(train 40, test 10; 64px bicubic crop; 1a2b3c4d)`: the sizes, the preprocessing and a hash of the
  /// files' paths, so caches of differently made datasets do not mix.
  public var name: String {
    let sizes = Split.allCases.compactMap { split in records[split].map { "\(split.rawValue) \($0.count)" } }
    return "coco(\(sizes.joined(separator: ", ")); \(configuration.preprocessor.summary); \(fingerprint))"
  }

  /// The side of the (square) images it gives.
  public var imageSize: Int { configuration.preprocessor.size }

  /// Images in `split`.
  public func count(_ split: Split) -> Int { records[split]?.count ?? 0 }

  /// The path of image `index` of `split` (relative to the split's image folder), and the JSON entry naming it.
  public func source(_ split: Split, _ index: Int) throws -> (path: String, entry: String) {
    let record = try self.record(split, index)
    return (record.path, "\(record.file): \(record.entry)")
  }

  /// Example `index` of `split`: the image decoded and preprocessed (or from memory), with its text.
  /// - Throws: `ImageFolderError` naming the JSON entry for an image that has gone or cannot be decoded.
  public func example(_ split: Split, _ index: Int) throws -> Example {
    let record = try self.record(split, index)
    let id = "coco-\(fingerprint)-\(split.rawValue)-\(record.path)"
    return Example(id: id, image: try image(record, split: split, id: id), captions: record.captions,
                   questions: record.questions)
  }

  private func record(_ split: Split, _ index: Int) throws -> ImageRecord {
    guard let records = records[split], records.indices.contains(index) else {
      throw ImageFolderError.indexOutOfRange(split: split.rawValue, index: index, count: count(split))
    }
    return records[index]
  }

  private func image(_ record: ImageRecord, split: Split, id: String) throws -> Image {
    if let cached = lock.withLock({ cache[id] }) { return cached }
    guard let folder = configuration.splits[split]?.images else {
      throw ImageFolderError.indexOutOfRange(split: split.rawValue, index: 0, count: 0)
    }
    let url = folder.appendingPathComponent(record.path)
    let decoded: Image
    do {
      decoded = try ImageFile.read(url)
    } catch ImageFileError.unreadable(let path, _) {
      throw ImageFolderError.missingImage(file: record.file, entry: record.entry, path: path)
    } catch {
      throw ImageFolderError.unreadableImage(file: record.file, entry: record.entry, reason: error.localizedDescription)
    }
    let image = configuration.preprocessor(decoded)
    lock.withLock { if cache.count < configuration.cacheLimit { cache[id] = image } }
    return image
  }
}
