// `--set key=value` overrides: the command-line spelling of a config table.

import Foundation

extension ConfigValue {
  /// One `--set` assignment as a table to merge over a config. A dotted key makes nested tables:
  /// `stage1.lr=3e-4` gives `["stage1": ["lr": 0.0003]]`. See `parse(commandLineValue:)` for values.
  /// - Throws: `ConfigError.invalidAssignment` without `=`, with an empty or malformed key, or a bad value.
  public static func parse(commandLine assignment: String) throws -> ConfigValue {
    guard let equals = assignment.firstIndex(of: "=") else {
      throw ConfigError.invalidAssignment(assignment, reason: "write it as key=value, for example stage1.lr=3e-4")
    }
    let key = assignment[..<equals].trimmingCharacters(in: .whitespaces)
    let valueText = assignment[assignment.index(after: equals)...].trimmingCharacters(in: .whitespaces)
    let path = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard !key.isEmpty, path.allSatisfy(isValidKey) else {
      throw ConfigError.invalidAssignment(
        assignment, reason: "the key must be names of letters, digits and _ joined by dots, like stage1.lr")
    }
    let value = try parse(commandLineValue: valueText, in: assignment)
    return path.reversed().reduce(value) { inner, name in .table([name: inner]) }
  }

  /// Several `--set` assignments merged in order, so a later one wins.
  /// - Throws: as `parse(commandLine:)` for the first bad assignment.
  public static func parse(commandLine assignments: [String]) throws -> ConfigValue {
    try assignments.reduce(ConfigValue.table([:])) { merged, assignment in
      merged.merging(try parse(commandLine: assignment))
    }
  }

  /// The value of a command-line value text:
  /// - `true`, `false`: a boolean;
  /// - a decimal integer (`12`, `-3`): an integer; a decimal number (`3e-4`, `0.5`): a double;
  /// - text starting with `[` or `{`: JSON (`[1,2,3]`, `{"itc":1,"itg":0}`);
  /// - text in double or single quotes: the string inside (`"12"` is the string 12);
  /// - anything else: the text as a string (`adamw`).
  /// - Throws: `ConfigError.invalidAssignment` for an empty value or JSON that does not parse.
  public static func parse(commandLineValue text: String) throws -> ConfigValue {
    try parse(commandLineValue: text, in: text)
  }

  private static func parse(commandLineValue text: String, in assignment: String) throws -> ConfigValue {
    if text.isEmpty {
      throw ConfigError.invalidAssignment(assignment, reason: "give a value after =; write \"\" for an empty string")
    }
    if text == "true" { return .bool(true) }
    if text == "false" { return .bool(false) }
    if let whole = Int(text) { return .int(whole) }
    if text.allSatisfy({ "0123456789+-.eE".contains($0) }), let number = Double(text), number.isFinite {
      return .double(number)
    }
    if let first = text.first, first == "[" || first == "{" {
      do { return try ConfigValue(json: text) } catch {
        throw ConfigError.invalidAssignment(assignment, reason: "a value starting with \(first) must be JSON")
      }
    }
    for quote in ["\"", "'"] where text.count >= 2 && text.hasPrefix(quote) && text.hasSuffix(quote) {
      return .string(String(text.dropFirst().dropLast()))
    }
    return .string(text)
  }

  private static func isValidKey(_ name: String) -> Bool {
    !name.isEmpty && name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
  }
}
