import Foundation

/// What can go wrong reading an image-folder dataset: each message names the file and, where there is one,
/// the JSON entry (`annotations[3]`, `questions[12] (question_id 4200)`).
public enum ImageFolderError: Error, LocalizedError, Equatable, Sendable {
  /// A JSON file that cannot be read or parsed, or whose entries lack a field or have the wrong type.
  case malformedFile(file: String, entry: String?, reason: String)
  /// An image a JSON entry names that is not in the image folder.
  case missingImage(file: String, entry: String, path: String)
  /// An image that exists but cannot be decoded.
  case unreadableImage(file: String, entry: String, reason: String)
  /// Annotations that do not match their questions.
  case mismatch(file: String, entry: String, reason: String)
  /// An index outside a split.
  case indexOutOfRange(split: String, index: Int, count: Int)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .malformedFile(file, entry, reason):
      "\(file)\(entry.map { ": \($0)" } ?? ""): \(reason)"
    case let .missingImage(file, entry, path):
      "\(file): \(entry) names the image \(path), which does not exist; check the dataset's `images` folder"
    case let .unreadableImage(file, entry, reason):
      "\(file): \(entry): \(reason)"
    case let .mismatch(file, entry, reason):
      "\(file): \(entry): \(reason)"
    case let .indexOutOfRange(split, index, count):
      "data.coco: example \(index) of split \(split) does not exist (it has \(count))"
    }
  }
}

extension ImageFolderError {
  /// A JSON decoding failure of `file` as a sentence naming the entry (`annotations[3].caption`).
  static func decoding(_ error: Error, file: String) -> ImageFolderError {
    func path(_ codingPath: [any CodingKey]) -> String? {
      guard !codingPath.isEmpty else { return nil }
      var text = ""
      for key in codingPath {
        if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
      }
      return text
    }
    switch error {
    case let DecodingError.keyNotFound(key, context):
      return .malformedFile(file: file, entry: path(context.codingPath), reason: "no field \"\(key.stringValue)\"")
    case let DecodingError.typeMismatch(type, context):
      return .malformedFile(file: file, entry: path(context.codingPath), reason: "expected \(describe(type))")
    case let DecodingError.valueNotFound(type, context):
      return .malformedFile(file: file, entry: path(context.codingPath), reason: "expected \(describe(type)), found null")
    case let DecodingError.dataCorrupted(context):
      let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
      let reason = underlying.map { "not valid JSON (\($0))" } ?? context.debugDescription
      return .malformedFile(file: file, entry: path(context.codingPath), reason: reason)
    default:
      return .malformedFile(file: file, entry: nil, reason: error.localizedDescription)
    }
  }

  private static func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Int.Type, is Double.Type: "a number"
    case is [Any].Type: "a list"
    default: "a \(type)"
    }
  }
}
