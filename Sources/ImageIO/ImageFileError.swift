import Foundation

/// What can go wrong reading an image file: every message names the file, says what was wrong and what to do.
public enum ImageFileError: Error, LocalizedError, Equatable, Sendable {
  /// The file could not be read at all (missing, a folder, no permission).
  case unreadable(path: String, reason: String)
  /// The file is neither a PNG nor a JPEG (by its first bytes).
  case notAnImage(path: String)
  /// A PNG or JPEG that the decoder rejected: truncated, bad checksum, corrupt data.
  case corrupt(path: String, format: String, reason: String)
  /// A well-formed file of a kind this reader does not decode (CMYK JPEG).
  case unsupported(path: String, format: String, reason: String)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .unreadable(path, reason):
      "cannot read the image \(path): \(reason)."
    case let .notAnImage(path):
      "\(path) is not a PNG or JPEG image (its first bytes are neither signature); give a .png or .jpg file."
    case let .corrupt(path, format, reason):
      "\(path): the \(format) data is broken (\(reason)); re-export or re-download the image."
    case let .unsupported(path, format, reason):
      "\(path): \(format): \(reason)."
    }
  }
}
