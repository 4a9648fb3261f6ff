// One value type for every option (DESIGN.md, "The Lua interface"): Lua tables, `--set key=value` overrides and
// config.json files all become a `ConfigValue`, and component factories read it through a `ConfigReader`.

import Foundation

/// An option value: a boolean, a number, a string, a list, or a table of named values.
///
/// Numbers compare by value: `.int(2) == .double(2.0)`, because Lua, JSON and the command line do not agree on
/// whether `2.0` is an integer (a config written to JSON and read back is equal to the original).
/// ```swift
/// let qformer: ConfigValue = ["queries": 32, "layers": 4, "lr": 1e-4, "losses": ["itc": 1, "itm": 1]]
/// ```
public enum ConfigValue: Sendable, CustomStringConvertible {
  /// `true` or `false`.
  case bool(Bool)
  /// A whole number.
  case int(Int)
  /// A floating-point number.
  case double(Double)
  /// Text.
  case string(String)
  /// An ordered list (a Lua sequence, a JSON array).
  case list([ConfigValue])
  /// Named values (a Lua table with string keys, a JSON object).
  case table([String: ConfigValue])

  /// The value of `key` if this is a table that has it.
  public subscript(key: String) -> ConfigValue? {
    if case let .table(table) = self { return table[key] }
    return nil
  }

  /// The kind of value with its article, for messages: "an integer", "a number", "a table", ...
  public var kindName: String {
    switch self {
    case .bool: "a boolean"
    case .int: "an integer"
    case .double: "a number"
    case .string: "a string"
    case .list: "a list"
    case .table: "a table"
    }
  }

  /// This value with `override` laid over it: tables merge key by key (recursively); anything else is
  /// replaced by the override.
  public func merging(_ override: ConfigValue) -> ConfigValue {
    guard case let .table(base) = self, case let .table(top) = override else { return override }
    return .table(base.merging(top) { old, new in old.merging(new) })
  }

  /// Lua-like text, keys sorted: `{ layers = 4, losses = { itc = 1 }, name = "full", sizes = { 1, 2 } }`.
  public var description: String {
    switch self {
    case let .bool(value): String(value)
    case let .int(value): String(value)
    case let .double(value): String(value)
    case let .string(value): Self.quoted(value)
    case let .list(values): values.isEmpty ? "{}" : "{ " + values.map(\.description).joined(separator: ", ") + " }"
    case let .table(table):
      table.isEmpty ? "{}"
        : "{ " + table.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: ", ") + " }"
    }
  }

  /// `"text"` with quotes and backslashes escaped.
  static func quoted(_ text: String) -> String {
    "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
  }
}

// MARK: - Equality by value

extension ConfigValue: Hashable {
  public static func == (lhs: ConfigValue, rhs: ConfigValue) -> Bool {
    switch (lhs, rhs) {
    case let (.bool(left), .bool(right)): left == right
    case let (.int(left), .int(right)): left == right
    case let (.double(left), .double(right)): left == right
    case let (.int(whole), .double(number)), let (.double(number), .int(whole)): Int(exactly: number) == whole
    case let (.string(left), .string(right)): left == right
    case let (.list(left), .list(right)): left == right
    case let (.table(left), .table(right)): left == right
    default: false
    }
  }

  public func hash(into hasher: inout Hasher) {
    switch self {
    case let .bool(value): hasher.combine(0); hasher.combine(value)
    case let .int(value): hasher.combine(1); hasher.combine(value)
    case let .double(value):
      // A whole number hashes as the integer it equals.
      if let whole = Int(exactly: value) { hasher.combine(1); hasher.combine(whole) }
      else { hasher.combine(2); hasher.combine(value) }
    case let .string(value): hasher.combine(3); hasher.combine(value)
    case let .list(values): hasher.combine(4); hasher.combine(values)
    case let .table(table): hasher.combine(5); hasher.combine(table)
    }
  }
}

// MARK: - Literals

extension ConfigValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
  ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(integerLiteral value: Int) { self = .int(value) }
  public init(floatLiteral value: Double) { self = .double(value) }
  public init(stringLiteral value: String) { self = .string(value) }
  public init(arrayLiteral elements: ConfigValue...) { self = .list(elements) }
  /// A table; a repeated key keeps its last value.
  public init(dictionaryLiteral elements: (String, ConfigValue)...) {
    self = .table(Dictionary(elements, uniquingKeysWith: { _, last in last }))
  }
}

// MARK: - JSON

extension ConfigValue: Codable {
  /// Reads any JSON value except `null`; a number without a fraction becomes `.int`.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let value = try? container.decode(Bool.self) { self = .bool(value) }
    else if let value = try? container.decode(Int.self) { self = .int(value) }
    else if let value = try? container.decode(Double.self) { self = .double(value) }
    else if let value = try? container.decode(String.self) { self = .string(value) }
    else if let value = try? container.decode([ConfigValue].self) { self = .list(value) }
    else if let value = try? container.decode([String: ConfigValue].self) { self = .table(value) }
    else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "A config value must be a boolean, number, string, list or table, not null.")
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case let .bool(value): try container.encode(value)
    case let .int(value): try container.encode(value)
    case let .double(value): try container.encode(value)
    case let .string(value): try container.encode(value)
    case let .list(values): try container.encode(values)
    case let .table(table): try container.encode(table)
    }
  }

  /// The value as JSON with keys sorted, so the same config always gives the same file (`config.json`).
  /// - Throws: `EncodingError` for a number JSON cannot hold (infinity, NaN).
  public func jsonString(pretty: Bool = true) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys]
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }

  /// The value a JSON text holds.
  /// - Throws: `DecodingError` for text that is not JSON or holds `null`.
  public init(json: String) throws {
    self = try JSONDecoder().decode(ConfigValue.self, from: Data(json.utf8))
  }
}
