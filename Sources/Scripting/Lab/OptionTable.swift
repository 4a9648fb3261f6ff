// Strict option tables for `lab.*` constructors, in the manner of nanoGPT's configurator: an unknown key, a
// wrong type or an out-of-range value is an error naming the function, the key and what is allowed.

/// The option table a `lab.*` function received, checked against the keys it takes.
///
/// ```swift
/// let options = try OptionTable(try arguments.table(1), function: "lab.layout", keys: ["queries", "text"])
/// let queries = try options.int("queries", default: 32, range: 0 ... 4096)
/// ```
/// Errors read `lab.losses: unknown key 'itgg' (did you mean 'itg'?); known keys: itc, itm, itg`.
public struct OptionTable {
  /// The function the table was given to, first in every message.
  public let function: String
  /// The keys and values.
  public let values: [String: LuaValue]

  /// Checks `values` against the `keys` the function takes.
  /// - Throws: `LabError` naming the first unknown key (alphabetically) with the closest known one.
  public init(_ values: [String: LuaValue], function: String, keys: [String]) throws {
    self.function = function
    self.values = values
    if let unknown = values.keys.filter({ !keys.contains($0) }).sorted().first {
      let known = keys.isEmpty ? "it takes no keys" : "known keys: " + keys.joined(separator: ", ")
      throw LabError("\(function): unknown key '\(unknown)'\(Suggestions.hint(for: unknown, in: keys)); \(known)")
    }
  }

  /// The value of `key` (`.nil` when absent).
  public func value(_ key: String) -> LuaValue { values[key] ?? .nil }

  /// Whether the table has `key`.
  public func contains(_ key: String) -> Bool { values[key] != nil }

  /// The integer at `key` (a float without fraction counts), or `defaultValue` when absent.
  /// - Throws: `LabError` when absent without a default, not an integer, or outside `range`.
  public func int(_ key: String, default defaultValue: Int? = nil, range: ClosedRange<Int>? = nil) throws -> Int {
    let expected = "an integer" + Self.describe(range)
    let number: Int
    switch value(key) {
    case .nil: return try fallback(defaultValue, key, expected)
    case let .int(whole): number = whole
    case let .double(real) where Int(exactly: real) != nil: number = Int(real)
    case let other: throw mismatch(key, expected, other)
    }
    if let range, !range.contains(number) { throw outOfRange(key, expected, "\(number)") }
    return number
  }

  /// The number at `key`, or `defaultValue` when absent.
  /// - Throws: `LabError` when absent without a default, not a number (or not finite), or outside `range`.
  public func double(_ key: String, default defaultValue: Double? = nil, range: ClosedRange<Double>? = nil) throws -> Double {
    let expected = "a number" + Self.describe(range)
    let given = value(key)
    if case .nil = given { return try fallback(defaultValue, key, expected) }
    guard let number = given.number, number.isFinite else { throw mismatch(key, expected, given) }
    if let range, !range.contains(number) { throw outOfRange(key, expected, "\(number)") }
    return number
  }

  /// The boolean at `key`, or `defaultValue` when absent.
  /// - Throws: `LabError` when absent without a default or not a boolean.
  public func bool(_ key: String, default defaultValue: Bool? = nil) throws -> Bool {
    switch value(key) {
    case .nil: return try fallback(defaultValue, key, "true or false")
    case let .bool(flag): return flag
    case let other: throw mismatch(key, "true or false", other)
    }
  }

  /// The string at `key`, or `defaultValue` when absent; with `allowed`, one of those.
  /// - Throws: `LabError` when absent without a default, not a string, or not allowed.
  public func string(_ key: String, default defaultValue: String? = nil, allowed: [String]? = nil) throws -> String {
    let expected = allowed.map { "one of " + $0.map { "'\($0)'" }.joined(separator: ", ") } ?? "a string"
    switch value(key) {
    case .nil: return try fallback(defaultValue, key, expected)
    case let .string(text):
      if let allowed, !allowed.contains(text) {
        throw LabError("\(function): '\(key)' must be \(expected), got '\(text)'\(Suggestions.hint(for: text, in: allowed))")
      }
      return text
    case let other: throw mismatch(key, expected, other)
    }
  }

  /// The list of strings at `key` (a single string counts as a list of one), or `defaultValue` when absent.
  /// - Throws: `LabError` when absent without a default or not strings.
  public func strings(_ key: String, default defaultValue: [String]? = nil) throws -> [String] {
    switch value(key) {
    case .nil: return try fallback(defaultValue, key, "a list of strings")
    case let .string(text): return [text]
    case let .list(items):
      return try items.map { item in
        guard case let .string(text) = item else { throw mismatch(key, "a list of strings", item) }
        return text
      }
    case let other: throw mismatch(key, "a list of strings", other)
    }
  }

  // MARK: - Messages

  /// `lab.x: 'key' must be <expected>, got <kind>`.
  public func mismatch(_ key: String, _ expected: String, _ got: LuaValue) -> LabError {
    LabError("\(function): '\(key)' must be \(expected), got \(got.kindName)")
  }

  private func outOfRange(_ key: String, _ expected: String, _ got: String) -> LabError {
    LabError("\(function): '\(key)' must be \(expected), got \(got)")
  }

  private func fallback<Value>(_ defaultValue: Value?, _ key: String, _ expected: String) throws -> Value {
    guard let defaultValue else { throw LabError("\(function): '\(key)' is required: give \(expected)") }
    return defaultValue
  }

  private static func describe<Bound>(_ range: ClosedRange<Bound>?) -> String {
    range.map { " in \($0.lowerBound)...\($0.upperBound)" } ?? ""
  }
}
