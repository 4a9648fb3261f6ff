// `ImagePreprocessor.load(preprocessorConfig:)`: the Hugging Face processors' settings (CLIP's shortest edge +
// centre crop, BLIP-2's and ViT's square resize, the resample codes, normalization) read into the same
// preprocessing, and the settings it cannot follow refused naming the file and key.

import Blip2Core
import Foundation
import ImageFolder
import ImageIO
import Testing

@Suite struct PreprocessorConfigTests {
  /// Writes `json` as preprocessor_config.json in a fresh folder.
  static func folder(_ json: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("preprocessor-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    try Data(json.utf8).write(to: url.appendingPathComponent("preprocessor_config.json"))
    return url
  }

  @Test("CLIP: shortest edge then centre crop, bicubic, CLIP's mean and std")
  func clip() throws {
    let url = try Self.folder("""
      {"crop_size": {"height": 16, "width": 16}, "do_center_crop": true, "do_normalize": true, "do_resize": true,
       "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
       "resample": 3, "size": {"shortest_edge": 20}, "image_processor_type": "CLIPImageProcessor"}
      """)
    defer { try? FileManager.default.removeItem(at: url) }
    let preprocess = try ImagePreprocessor.load(preprocessorConfig: url)
    #expect(preprocess.size == 16 && preprocess.shorterSide == 20 && preprocess.fit == .crop && preprocess.resampling == .bicubic)
    #expect(preprocess.mean == [0.48145466, 0.4578275, 0.40821073])
    let photo = try ImageFile.read(try fixture("images/photo.png"))  // 23 x 17
    var expected = photo.resized(width: 27, height: 20).centerCropped(width: 16, height: 16)  // int(20 * 23 / 17) = 27
    for channel in 0 ..< 3 {
      for index in channel * 256 ..< (channel + 1) * 256 {
        expected.pixels[index] = (expected.pixels[index] - preprocess.mean[channel]) / preprocess.std[channel]
      }
    }
    #expect(preprocess(photo) == expected)
  }

  @Test("BLIP-2 and ViT: a square size without crop stretches; resample 2 is bilinear; do_normalize false is none")
  func square() throws {
    let blip = try Self.folder("""
      {"do_resize": true, "size": {"height": 24, "width": 24}, "resample": 3, "do_normalize": true,
       "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
      """)
    let vit = try Self.folder(#"{"size": 32, "resample": 2, "do_normalize": false}"#)
    defer { for url in [blip, vit] { try? FileManager.default.removeItem(at: url) } }
    #expect(try ImagePreprocessor.load(preprocessorConfig: blip)
      == ImagePreprocessor(size: 24, resampling: .bicubic, fit: .stretch, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]))
    #expect(try ImagePreprocessor.load(preprocessorConfig: vit.appendingPathComponent("preprocessor_config.json"))
      == ImagePreprocessor(size: 32, resampling: .bilinear, fit: .stretch))
  }

  @Test("what it cannot follow is an error naming the file and the key", arguments: [
    (#"{"size": 16, "resample": 1}"#, "resample"),
    (#"{"size": {"height": 16, "width": 12}}"#, "size"),
    (#"{"size": {"shortest_edge": 16}, "do_normalize": false}"#, "size"),
    (#"{"size": 16, "do_center_crop": true, "crop_size": 20, "do_normalize": false}"#, "crop_size"),
    (#"{"size": 16, "image_mean": [0.5, 0.5]}"#, "image_mean"),
    (#"{"size": 16, "do_resize": false}"#, "do_resize"),
    (#"[1, 2]"#, "(file)"),
  ])
  func refused(json: String, key: String) throws {
    let url = try Self.folder(json)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect {
      _ = try ImagePreprocessor.load(preprocessorConfig: url)
    } throws: { error in
      guard let error = error as? PreprocessorConfigError else { return false }
      return error.key == key && error.file.hasSuffix("preprocessor_config.json")
    }
  }

  @Test("data.coco follows a checkpoint's preprocessor, and refuses it together with its own image keys")
  func dataset() throws {
    let url = try Self.folder(#"{"size": {"height": 12, "width": 12}, "resample": 3, "do_normalize": false}"#)
    defer { try? FileManager.default.removeItem(at: url) }
    let base: [String: ConfigValue] = ["images": .string(try fixture("images").path),
                                       "test": .string(try fixture("captions.json").path), "preprocessor": .string(url.path)]
    let data = try ImageFolderDatasetTests.make(base)
    #expect(data.imageSize == 12 && data.configuration.preprocessor.fit == .stretch)
    #expect(try data.example(.test, 1).image.width == 12)
    var clash = base
    clash["imageSize"] = .int(12)
    #expect(throws: ConfigError.self) { _ = try ImageFolderDatasetTests.make(clash) }
  }
}
