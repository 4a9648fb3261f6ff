// An `ImagePreprocessor` from a Hugging Face `preprocessor_config.json`, so images reach a loaded checkpoint
// the way its own processor would send them:
// - CLIP (`CLIPImageProcessor`): `size: {"shortest_edge": 224}` (or `size: 224`) with `do_center_crop` and
//   `crop_size: 224` -> shorter side to 224, centre crop;
// - BLIP-2 (`BlipImageProcessor`), ViT: `size: {"height": 224, "width": 224}` (or `size: 224`) without a centre
//   crop -> both sides to 224;
// - `resample` 2 (bilinear) or 3 (bicubic, the default); `image_mean` / `image_std` unless `do_normalize` is
//   false. `do_rescale` / `rescale_factor` are not applied: decoded pixels are already in [0, 1].

import Foundation

/// A `preprocessor_config.json` this reader cannot follow.
public struct PreprocessorConfigError: Error, LocalizedError, Equatable, Sendable {
  /// The file.
  public var file: String
  /// The key at fault.
  public var key: String
  /// What is wrong with it.
  public var reason: String

  /// `<file>: "<key>" <reason>`.
  public var errorDescription: String? { "\(file): \"\(key)\" \(reason)" }
}

extension ImagePreprocessor {
  /// The preprocessing `preprocessor_config.json` describes; `url` is the file or the folder holding it.
  /// - Throws: `PreprocessorConfigError` naming the file and the key.
  public static func load(preprocessorConfig url: URL) throws(PreprocessorConfigError) -> ImagePreprocessor {
    var isDirectory: ObjCBool = false
    let file = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
      ? url.appendingPathComponent("preprocessor_config.json") : url
    func fail(_ key: String, _ reason: String) -> PreprocessorConfigError {
      PreprocessorConfigError(file: file.path, key: key, reason: reason)
    }
    let table: [String: Any]
    do {
      guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] else {
        throw fail("(file)", "must hold a JSON object")
      }
      table = object
    } catch let error as PreprocessorConfigError {
      throw error
    } catch {
      throw fail("(file)", "cannot be read as JSON: \(error.localizedDescription)")
    }
    func flag(_ key: String, default value: Bool) throws(PreprocessorConfigError) -> Bool {
      guard let given = table[key] else { return value }
      guard let flag = given as? Bool else { throw fail(key, "must be true or false") }
      return flag
    }
    /// An int `n` -> (n, n, isInt); `{"height", "width"}` (equal) -> square; `{"shortest_edge"}` -> shorter side.
    func side(_ key: String) throws(PreprocessorConfigError) -> (side: Int, shortestEdge: Bool, plain: Bool) {
      if let number = table[key] as? Int, number >= 1 { return (number, false, true) }
      if let sizes = table[key] as? [String: Any] {
        if let edge = sizes["shortest_edge"] as? Int, edge >= 1 { return (edge, true, false) }
        if let height = sizes["height"] as? Int, let width = sizes["width"] as? Int, height >= 1 {
          guard height == width else { throw fail(key, "must be square (height \(height) != width \(width))") }
          return (height, false, false)
        }
      }
      throw fail(key, "must be a positive integer, {\"shortest_edge\": n} or {\"height\": n, \"width\": n}")
    }
    guard try flag("do_resize", default: true) else { throw fail("do_resize", "false is not supported: images need resizing") }
    let resize = try side("size")
    let resampling: Resampling
    switch table["resample"] {
    case nil: resampling = .bicubic
    case let code as Int where code == 2: resampling = .bilinear
    case let code as Int where code == 3: resampling = .bicubic
    default: throw fail("resample", "must be 2 (bilinear) or 3 (bicubic), got \(String(describing: table["resample"] ?? "nothing"))")
    }
    var mean: [Float] = [0, 0, 0], std: [Float] = [1, 1, 1]
    if try flag("do_normalize", default: true) {
      func triple(_ key: String) throws(PreprocessorConfigError) -> [Float] {
        guard let values = table[key] as? [Double], values.count == 3 else { throw fail(key, "must be a list of 3 numbers") }
        return values.map(Float.init)
      }
      mean = try triple("image_mean")
      std = try triple("image_std")
      guard std.allSatisfy({ $0 > 0 }) else { throw fail("image_std", "must be positive") }
    }
    if try flag("do_center_crop", default: false) {
      let crop = table["crop_size"] == nil ? (side: resize.side, shortestEdge: false, plain: true) : try side("crop_size")
      guard crop.side <= resize.side else { throw fail("crop_size", "must not exceed the resized shorter side \(resize.side)") }
      return ImagePreprocessor(size: crop.side, resampling: resampling, fit: .crop, shorterSide: resize.side,
                               mean: mean, std: std)
    }
    guard !resize.shortestEdge else {
      throw fail("size", "{\"shortest_edge\"} without do_center_crop gives non-square images; Blip2Lab's encoders take squares")
    }
    return ImagePreprocessor(size: resize.side, resampling: resampling, fit: .stretch, mean: mean, std: std)
  }
}
