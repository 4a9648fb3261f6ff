// The `data.coco` dataset: COCO and Karpathy caption files, VQAv2 questions with their ten answers, images
// decoded and preprocessed to the dataset's size, and clear errors naming the file and the entry for malformed
// JSON, missing images, broken images and misspelt keys.

import Blip2Core
import Foundation
import ImageFolder
import ImageIO
import Testing

@Suite struct ImageFolderDatasetTests {
  /// `data.coco` built from `config` the way a script's `lab.data.coco{...}` is.
  static func make(_ config: [String: ConfigValue]) throws -> ImageFolderDataset {
    var registry = Registry()
    try ImageFolderPlugin.register(into: &registry)
    return try registry.make(.data, "coco", config: .table(config), as: ImageFolderDataset.self)
  }

  static func path(_ name: String) throws -> ConfigValue { .string(try fixture(name).path) }

  @Test("COCO captions: one example per image in file order, captions gathered, images at the dataset's size")
  func cocoCaptions() throws {
    let data = try Self.make(["images": try Self.path("images"), "test": try Self.path("captions.json"), "imageSize": .int(8)])
    #expect(data.count(.test) == 3 && data.count(.train) == 0)
    let first = try data.example(.test, 0)
    #expect(first.captions == ["a noisy little picture", "random coloured pixels"])
    #expect(first.image.width == 8 && first.image.height == 8)
    let reference = ImagePreprocessor(size: 8)(try ImageFile.read(try fixture("images/rgb8.png")))
    #expect(first.image == reference)
    #expect(try data.example(.test, 2).captions == ["a smooth gradient"])
    #expect(data.name.hasPrefix("coco(test 3; 8px bicubic crop;"))
  }

  @Test("Karpathy list: entries of the same image merge, a caption may be a string or a list")
  func karpathy() throws {
    let data = try Self.make(["images": try Self.path("images"), "train": try Self.path("karpathy.json"), "imageSize": .int(8)])
    #expect(data.count(.train) == 2)
    #expect(try data.example(.train, 0).captions == ["a noisy little picture", "random coloured pixels"])
    #expect(try data.example(.train, 1).captions == ["a grey gradient", "shades of grey"])
  }

  @Test("VQAv2: questions grouped by image, the ten answers and the question type kept, images named by id")
  func vqa() throws {
    let data = try Self.make([
      "images": try Self.path("images"), "imageSize": .int(8),
      "val": .table(["questions": try Self.path("vqa_questions.json"), "annotations": try Self.path("vqa_annotations.json")]),
    ])
    #expect(data.count(.val) == 2)
    let first = try data.example(.val, 0)
    #expect(try data.source(.val, 0).path == "COCO_val2014_000000000042.jpg")
    #expect(first.captions.isEmpty)
    #expect(first.questions.map(\.question) == ["what colour is it?", "how many pixels?"])
    #expect(first.questions[0].answers.count == 10 && first.questions[0].answers.filter { $0 == "red" }.count == 6)
    #expect(first.questions[1].questionType == "how many")
  }

  @Test("captions and questions of one split join on the image path")
  func joined() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("coco-join-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let captions = folder.appendingPathComponent("c.json")
    try Data(#"[{"image": "COCO_val2014_000000000007.jpg", "caption": "a gradient"}]"#.utf8).write(to: captions)
    let data = try Self.make([
      "images": try Self.path("images"), "imageSize": .int(8),
      "test": .table(["captions": .string(captions.path), "questions": try Self.path("vqa_questions.json"),
                      "annotations": try Self.path("vqa_annotations.json")]),
    ])
    #expect(data.count(.test) == 2)
    let first = try data.example(.test, 0)
    #expect(first.captions == ["a gradient"] && first.questions.map(\.question) == ["is it smooth?"])
  }

  @Test("a missing image fails when the dataset is made, naming the JSON file, the entry and the path")
  func missingImage() throws {
    #expect {
      _ = try Self.make(["images": try Self.path("images"), "train": try Self.path("missing_image.json")])
    } throws: { error in
      guard case let ImageFolderError.missingImage(file, entry, path)? = error as? ImageFolderError else { return false }
      return file.hasSuffix("missing_image.json") && entry == "images[1] (id 5)" && path.hasSuffix("images/nowhere.png")
    }
  }

  @Test("malformed JSON names the file and says it is not valid JSON")
  func malformed() throws {
    #expect {
      _ = try Self.make(["images": try Self.path("images"), "train": try Self.path("malformed.json")])
    } throws: { error in
      guard case let ImageFolderError.malformedFile(file, _, reason)? = error as? ImageFolderError else { return false }
      return file.hasSuffix("malformed.json") && reason.contains("not valid JSON")
    }
  }

  @Test("a caption file that is not there is named, with the reason")
  func missingFile() throws {
    #expect {
      _ = try Self.make(["images": try Self.path("images"), "train": try Self.path("absent.json")])
    } throws: { error in
      error.localizedDescription.hasSuffix("absent.json: cannot be read: no such file")
    }
  }

  @Test("a field of the wrong type names the entry: annotations[1].caption")
  func wrongType() throws {
    #expect {
      _ = try Self.make(["images": try Self.path("images"), "train": try Self.path("wrong_type.json")])
    } throws: { error in
      guard case let ImageFolderError.malformedFile(_, entry, reason)? = error as? ImageFolderError else { return false }
      return entry == "annotations[1].caption" && reason == "expected a string"
    }
  }

  @Test("a broken image fails when read, naming the JSON entry and the image file")
  func brokenImage() throws {
    let data = try Self.make(["images": try Self.path("images"), "train": try Self.path("broken_image.json")])
    #expect {
      _ = try data.example(.train, 0)
    } throws: { error in
      guard case let ImageFolderError.unreadableImage(file, entry, reason)? = error as? ImageFolderError else { return false }
      return file.hasSuffix("broken_image.json") && entry == "images[0] (id 9)" && reason.contains("truncated.png")
    }
  }

  @Test("annotations without questions, a split without text, unknown keys and no images folder are config errors")
  func configErrors() throws {
    let images = try Self.path("images")
    #expect(throws: ConfigError.self) { _ = try Self.make(["images": images, "val": .table(["annotations": try Self.path("vqa_annotations.json")])]) }
    #expect(throws: ConfigError.self) { _ = try Self.make(["images": images, "val": .table([:])]) }
    #expect(throws: ConfigError.self) { _ = try Self.make(["test": try Self.path("captions.json")]) }
    #expect(throws: ConfigError.self) { _ = try Self.make(["images": images]) }
    #expect {
      _ = try Self.make(["images": images, "test": .table(["caption": try Self.path("captions.json")])])
    } throws: { error in
      error.localizedDescription.contains("unknown key \"caption\" (did you mean \"captions\"?)")
    }
    #expect {
      _ = try Self.make(["images": images, "test": try Self.path("captions.json"), "resample": .string("lanczos")])
    } throws: { error in
      error.localizedDescription.contains("bicubic")
    }
  }
}
