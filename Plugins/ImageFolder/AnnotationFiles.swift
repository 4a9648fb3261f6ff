// The JSON files an image-folder dataset reads, each into image records (an image path with its text):
// - COCO captions (`captions_train2014.json`): `{"images": [{"id", "file_name"}], "annotations": [{"image_id",
//   "caption"}]}`;
// - the Karpathy-split list LAVIS uses (`coco_karpathy_train.json`): `[{"image": path, "caption": str | [str]}]`,
//   one entry per caption or per image;
// - VQAv2 questions (`v2_OpenEnded_mscoco_val2014_questions.json`: `{"data_subtype", "questions": [{"image_id",
//   "question", "question_id"}]}`) with their annotations (`v2_mscoco_val2014_annotations.json`: `{"annotations":
//   [{"question_id", "image_id", "question_type", "multiple_choice_answer", "answers": [{"answer"}] x 10}]}`).

import Blip2Core
import Foundation

/// One image of a dataset file, with its text and where in the file it was named (for error messages).
struct ImageRecord: Sendable, Equatable {
  /// The image's path relative to the image folder.
  var path: String
  /// The file that named the image.
  var file: String
  /// The entry that named it first (`images[3] (id 42)`).
  var entry: String
  /// Its captions.
  var captions: [String] = []
  /// Its questions with the annotators' answers.
  var questions: [QuestionAnswer] = []
}

enum AnnotationFiles {
  /// Reads and decodes `url` as `T`.
  static func decode<T: Decodable>(_ type: T.Type, _ url: URL) throws -> T {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      let reason = FileManager.default.fileExists(atPath: url.path) ? error.localizedDescription : "no such file"
      throw ImageFolderError.malformedFile(file: url.path, entry: nil, reason: "cannot be read: \(reason)")
    }
    do {
      return try JSONDecoder().decode(T.self, from: data)
    } catch {
      throw ImageFolderError.decoding(error, file: url.path)
    }
  }

  // MARK: - Captions

  private struct CocoFile: Decodable {
    struct ImageEntry: Decodable {
      let id: Int
      let fileName: String
      enum CodingKeys: String, CodingKey { case id, fileName = "file_name" }
    }
    struct Annotation: Decodable {
      let imageID: Int
      let caption: String
      enum CodingKeys: String, CodingKey { case imageID = "image_id", caption }
    }
    let images: [ImageEntry]
    let annotations: [Annotation]
  }

  private struct KarpathyEntry: Decodable {
    let image: String
    let captions: [String]
    enum CodingKeys: String, CodingKey { case image, caption }
    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      image = try container.decode(String.self, forKey: .image)
      if let one = try? container.decode(String.self, forKey: .caption) {
        captions = [one]
      } else {
        captions = try container.decode([String].self, forKey: .caption)
      }
    }
  }

  /// The images of a caption file (COCO form or Karpathy list), in the order the file names them.
  static func captions(_ url: URL) throws -> [ImageRecord] {
    let file = url.path
    let data = (try? Data(contentsOf: url)) ?? Data()
    let isList = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) } == UInt8(ascii: "[")
    var records = [ImageRecord]()
    if isList {
      var index = [String: Int]()
      for (number, entry) in try decode([KarpathyEntry].self, url).enumerated() {
        if let at = index[entry.image] {
          records[at].captions += entry.captions
        } else {
          index[entry.image] = records.count
          records.append(ImageRecord(path: entry.image, file: file, entry: "[\(number)]", captions: entry.captions))
        }
      }
      return records
    }
    let coco = try decode(CocoFile.self, url)
    var index = [Int: Int]()
    for (number, image) in coco.images.enumerated() {
      if index[image.id] != nil {
        throw ImageFolderError.mismatch(file: file, entry: "images[\(number)]", reason: "image id \(image.id) is listed twice")
      }
      index[image.id] = records.count
      records.append(ImageRecord(path: image.fileName, file: file, entry: "images[\(number)] (id \(image.id))"))
    }
    for (number, annotation) in coco.annotations.enumerated() {
      guard let at = index[annotation.imageID] else {
        throw ImageFolderError.mismatch(file: file, entry: "annotations[\(number)]",
                                        reason: "image_id \(annotation.imageID) is not in \"images\"")
      }
      records[at].captions.append(annotation.caption)
    }
    return records
  }

  // MARK: - VQAv2

  private struct QuestionFile: Decodable {
    struct Question: Decodable {
      let imageID: Int
      let question: String
      let questionID: Int
      enum CodingKeys: String, CodingKey { case imageID = "image_id", question, questionID = "question_id" }
    }
    let dataSubtype: String?
    let questions: [Question]
    enum CodingKeys: String, CodingKey { case dataSubtype = "data_subtype", questions }
  }

  private struct AnnotationFile: Decodable {
    struct Annotation: Decodable {
      struct Answer: Decodable { let answer: String }
      let questionID: Int
      let imageID: Int
      let questionType: String?
      let multipleChoiceAnswer: String
      let answers: [Answer]
      enum CodingKeys: String, CodingKey {
        case questionID = "question_id", imageID = "image_id", questionType = "question_type"
        case multipleChoiceAnswer = "multiple_choice_answer", answers
      }
    }
    let annotations: [Annotation]
  }

  /// The images of a VQAv2 question file with the answers of its annotation file (if any), in the order the
  /// questions name them. The image of question q is `imageFile` with `{subtype}` replaced by the question
  /// file's `data_subtype` and `{id}` by the image id padded to 12 digits (COCO's file names).
  static func questions(_ questionsURL: URL, annotations annotationsURL: URL?, imageFile: String) throws -> [ImageRecord] {
    let file = questionsURL.path
    let questions = try decode(QuestionFile.self, questionsURL)
    var answers = [Int: (index: Int, annotation: AnnotationFile.Annotation)]()
    if let annotationsURL {
      for (number, annotation) in try decode(AnnotationFile.self, annotationsURL).annotations.enumerated() {
        answers[annotation.questionID] = (number, annotation)
      }
    }
    if imageFile.contains("{subtype}") && questions.dataSubtype == nil {
      throw ImageFolderError.malformedFile(
        file: file, entry: nil,
        reason: "no field \"data_subtype\" to name the images with (imageFile \"\(imageFile)\"); give an imageFile without {subtype}")
    }
    var records = [ImageRecord]()
    var index = [Int: Int]()
    for (number, question) in questions.questions.enumerated() {
      let entry = "questions[\(number)] (question_id \(question.questionID))"
      var item = QuestionAnswer(question: question.question, answers: [])
      if let annotationsURL {
        guard let (at, annotation) = answers[question.questionID] else {
          throw ImageFolderError.mismatch(file: annotationsURL.path, entry: entry, reason: "the question has no annotation")
        }
        guard annotation.imageID == question.imageID else {
          throw ImageFolderError.mismatch(
            file: annotationsURL.path, entry: "annotations[\(at)] (question_id \(question.questionID))",
            reason: "image_id \(annotation.imageID) differs from the question's \(question.imageID)")
        }
        let given = annotation.answers.map(\.answer)
        item.answers = given.isEmpty ? [annotation.multipleChoiceAnswer] : given
        item.questionType = annotation.questionType
      }
      if let at = index[question.imageID] {
        records[at].questions.append(item)
      } else {
        index[question.imageID] = records.count
        let path = imagePath(imageFile, id: question.imageID, subtype: questions.dataSubtype ?? "")
        records.append(ImageRecord(path: path, file: file, entry: entry, questions: [item]))
      }
    }
    return records
  }

  /// `pattern` with `{subtype}` and `{id}` (12 digits, zero-padded) filled in.
  static func imagePath(_ pattern: String, id: Int, subtype: String) -> String {
    let digits = String(id)
    let padded = String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    return pattern.replacingOccurrences(of: "{subtype}", with: subtype).replacingOccurrences(of: "{id}", with: padded)
  }
}
