// Errors from reading a tokenizer.json: each names the file, and where it can the JSON path and what was found.

import Foundation

/// Why a `tokenizer.json` could not be loaded.
public enum HFTokenizerError: Error, LocalizedError, Equatable {
  /// The file could not be read.
  case unreadableFile(file: String, reason: String)
  /// The file is not valid JSON.
  case malformedJSON(file: String, line: Int, column: Int, reason: String)
  /// A value is missing, of the wrong JSON type, or out of range.
  case invalidValue(file: String, path: String, reason: String)
  /// A component `type` this implementation does not know.
  case unsupportedType(file: String, path: String, type: String, supported: [String])
  /// The model's unknown token is not in its vocabulary.
  case missingUnknownToken(file: String, path: String, token: String)

  /// What was wrong, where, and what to do.
  public var errorDescription: String? {
    switch self {
    case let .unreadableFile(file, reason):
      return "tokenizer file \(file): cannot be read (\(reason))"
    case let .malformedJSON(file, line, column, reason):
      return "tokenizer file \(file): not valid JSON at line \(line), column \(column): \(reason)"
    case let .invalidValue(file, path, reason):
      return "tokenizer file \(file): \(path) \(reason)"
    case let .unsupportedType(file, path, type, supported):
      return "tokenizer file \(file): \(path) \"\(type)\" is not supported; supported: "
        + supported.joined(separator: ", ")
    case let .missingUnknownToken(file, path, token):
      return "tokenizer file \(file): \(path) \"\(token)\" is not in the model's vocabulary; "
        + "add it to model.vocab or name a token that is there"
    }
  }
}
