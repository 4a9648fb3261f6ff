import Foundation

/// What can be wrong with a config. Every message names the full key path, the value given and what is allowed,
/// e.g. `bridge.qformer: "crossEvery" must be an integer in 1...12, got 0`.
public enum ConfigError: Error, LocalizedError, Equatable, Sendable {
  /// A key no reader asked for: a typo, or an option the component does not have.
  /// `known` lists the keys the reader asked for; `suggestion` is the closest of them, if any is close.
  case unknownKey(path: String, key: String, known: [String], suggestion: String?)
  /// A required key is absent. `expected` describes the value wanted ("an integer in 1...12").
  case missingKey(path: String, key: String, expected: String)
  /// A value of the wrong kind (a string for a number, a fraction for an integer, a list for a table).
  case typeMismatch(path: String, key: String, expected: String, got: ConfigValue)
  /// A number outside its allowed range. `expected` describes the value wanted ("a number in 0.0...1.0").
  case outOfRange(path: String, key: String, expected: String, got: ConfigValue)
  /// A string that is not one of the allowed choices.
  case notAllowed(path: String, key: String, allowed: [String], got: String)
  /// A `--set` assignment that could not be read.
  case invalidAssignment(String, reason: String)

  public var errorDescription: String? {
    switch self {
    case let .unknownKey(path, key, known, suggestion):
      let hint = suggestion.map { " (did you mean \"\($0)\"?)" } ?? ""
      let knownKeys = known.isEmpty ? "this table takes no keys" : "known keys: " + known.joined(separator: ", ")
      return "\(Self.prefix(path))unknown key \"\(key)\"\(hint); \(knownKeys). Fix the spelling or remove it."
    case let .missingKey(path, key, expected):
      return "\(Self.prefix(path))\"\(key)\" is required: give \(expected)."
    case let .typeMismatch(path, key, expected, got), let .outOfRange(path, key, expected, got):
      return "\(Self.prefix(path))\"\(key)\" must be \(expected), got \(got)"
    case let .notAllowed(path, key, allowed, got):
      let choices = allowed.map(ConfigValue.quoted).joined(separator: ", ")
      return "\(Self.prefix(path))\"\(key)\" must be one of \(choices), got \(ConfigValue.quoted(got))"
    case let .invalidAssignment(text, reason):
      return "Cannot read the setting \(ConfigValue.quoted(text)): \(reason)."
    }
  }

  /// `bridge.qformer: ` (nothing at the root).
  private static func prefix(_ path: String) -> String { path.isEmpty ? "" : "\(path): " }
}
