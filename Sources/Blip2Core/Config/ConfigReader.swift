// Typed, checked reading of a config table, in the manner of nanoGPT's configurator: every knob has a default,
// and a wrong type, a bad value or an unknown key is an error that says where and what is allowed.

/// Reads a config table with typed accessors and remembers which keys were asked for, so that `finish()` can
/// reject the keys nobody asked for (a typo such as `lossses` is an error, not silently ignored).
///
/// A component factory reads its options; whoever called it then calls `finish()` once on the root reader,
/// which also checks every nested reader made with `table(_:)`.
/// ```swift
/// let reader = try ConfigReader(config, path: "bridge.qformer")
/// let queries = try reader.int("queries", default: 32, range: 1...512)
/// let crossEvery = try reader.int("crossEvery", default: 2, range: 1...12)
/// let norm = try reader.string("norm", default: "layer", allowed: ["layer", "rms"])
/// try reader.finish()
/// ```
/// A reader is a reference (nested readers report to their parent) and is meant for one thread.
public final class ConfigReader {
  /// The dotted path of this table from the root (`bridge.qformer`), used in messages; empty at the root.
  public let path: String
  private let table: [String: ConfigValue]
  /// Every key asked for, whether or not the table has it: the keys this table may hold.
  private var requested = Set<String>()
  private var children = [String: ConfigReader]()

  /// A reader over `table`, whose keys sit at `path` (for messages).
  public init(_ table: [String: ConfigValue], path: String = "") {
    self.table = table
    self.path = path
  }

  /// A reader over `value`, which must be a table (an empty list counts as an empty table: Lua's `{}`).
  /// - Throws: `ConfigError.typeMismatch` for any other value.
  public convenience init(_ value: ConfigValue, path: String = "") throws {
    switch value {
    case let .table(table): self.init(table, path: path)
    case let .list(list) where list.isEmpty: self.init([:], path: path)
    default:
      let parent = path.split(separator: ".").dropLast().joined(separator: ".")
      let key = path.split(separator: ".").last.map(String.init) ?? "config"
      throw ConfigError.typeMismatch(path: parent, key: key, expected: "a table", got: value)
    }
  }

  /// The keys the table holds, sorted.
  public var keys: [String] { table.keys.sorted() }

  /// Whether the table holds `key` (does not count as reading it).
  public func contains(_ key: String) -> Bool { table[key] != nil }

  /// The raw value of `key`, or `nil` if absent; counts as reading it.
  public func value(_ key: String) -> ConfigValue? {
    requested.insert(key)
    return table[key]
  }

  // MARK: - Scalars

  /// The integer at `key`, or `defaultValue` if absent. A number with no fraction (`4.0`) counts as an integer.
  /// - Throws: `ConfigError.missingKey` if absent without a default, `.typeMismatch` for a non-integer,
  ///   `.outOfRange` for a value outside `range`.
  public func int(_ key: String, default defaultValue: Int? = nil, range: ClosedRange<Int>? = nil) throws -> Int {
    let expected = "an integer" + Self.describe(range)
    guard let value = value(key) else { return try fallback(defaultValue, key: key, expected: expected) }
    return try checkedInt(value, key: key, expected: expected, range: range)
  }

  /// The number at `key`, or `defaultValue` if absent. An integer is a number.
  /// - Throws: `ConfigError.missingKey` if absent without a default, `.typeMismatch` for a non-number,
  ///   `.outOfRange` for a value outside `range`.
  public func double(
    _ key: String, default defaultValue: Double? = nil, range: ClosedRange<Double>? = nil
  ) throws -> Double {
    let expected = "a number" + Self.describe(range)
    guard let value = value(key) else { return try fallback(defaultValue, key: key, expected: expected) }
    return try checkedDouble(value, key: key, expected: expected, range: range)
  }

  /// The boolean at `key`, or `defaultValue` if absent.
  /// - Throws: `ConfigError.missingKey` if absent without a default, `.typeMismatch` for a non-boolean.
  public func bool(_ key: String, default defaultValue: Bool? = nil) throws -> Bool {
    guard let value = value(key) else { return try fallback(defaultValue, key: key, expected: "true or false") }
    guard case let .bool(flag) = value else {
      throw ConfigError.typeMismatch(path: path, key: key, expected: "true or false", got: value)
    }
    return flag
  }

  /// The string at `key`, or `defaultValue` if absent; with `allowed`, it must be one of those.
  /// - Throws: `ConfigError.missingKey` if absent without a default, `.typeMismatch` for a non-string,
  ///   `.notAllowed` for a string not in `allowed`.
  public func string(_ key: String, default defaultValue: String? = nil, allowed: [String]? = nil) throws -> String {
    let expected = allowed.map { "one of " + $0.map(ConfigValue.quoted).joined(separator: ", ") } ?? "a string"
    guard let value = value(key) else { return try fallback(defaultValue, key: key, expected: expected) }
    return try checkedString(value, key: key, expected: expected, allowed: allowed)
  }

  // MARK: - Lists

  /// The list of integers at `key`, or `defaultValue` if absent; each element checked as `int` checks it.
  /// - Throws: as `int`, naming the element (`"sizes[2]"`), or `.typeMismatch` if the value is not a list.
  public func intList(
    _ key: String, default defaultValue: [Int]? = nil, range: ClosedRange<Int>? = nil
  ) throws -> [Int] {
    let expected = "an integer" + Self.describe(range)
    return try list(key, default: defaultValue, of: "integers") { element, name in
      try checkedInt(element, key: name, expected: expected, range: range)
    }
  }

  /// The list of numbers at `key`, or `defaultValue` if absent; each element checked as `double` checks it.
  /// - Throws: as `double`, naming the element (`"weights[0]"`), or `.typeMismatch` if the value is not a list.
  public func doubleList(
    _ key: String, default defaultValue: [Double]? = nil, range: ClosedRange<Double>? = nil
  ) throws -> [Double] {
    let expected = "a number" + Self.describe(range)
    return try list(key, default: defaultValue, of: "numbers") { element, name in
      try checkedDouble(element, key: name, expected: expected, range: range)
    }
  }

  /// The list of strings at `key`, or `defaultValue` if absent; with `allowed`, each must be one of those.
  /// - Throws: as `string`, naming the element (`"metrics[1]"`), or `.typeMismatch` if the value is not a list.
  public func stringList(
    _ key: String, default defaultValue: [String]? = nil, allowed: [String]? = nil
  ) throws -> [String] {
    let expected = allowed.map { "one of " + $0.map(ConfigValue.quoted).joined(separator: ", ") } ?? "a string"
    return try list(key, default: defaultValue, of: "strings") { element, name in
      try checkedString(element, key: name, expected: expected, allowed: allowed)
    }
  }

  // MARK: - Nested tables

  /// A reader for the table at `key` (path `path.key`); an empty one if absent, so its defaults apply.
  /// Asking twice gives the same reader. `finish()` on this reader also finishes the nested one.
  /// - Throws: `ConfigError.typeMismatch` if the value is not a table.
  public func table(_ key: String) throws -> ConfigReader {
    if let child = children[key] { return child }
    let childPath = path.isEmpty ? key : "\(path).\(key)"
    let child: ConfigReader
    switch value(key) {
    case nil: child = ConfigReader([:], path: childPath)
    case let .table(table)?: child = ConfigReader(table, path: childPath)
    case let .list(list)? where list.isEmpty: child = ConfigReader([:], path: childPath)
    case let other?: throw ConfigError.typeMismatch(path: path, key: key, expected: "a table", got: other)
    }
    children[key] = child
    return child
  }

  /// Checks that every key of this table and of every nested table read with `table(_:)` was asked for.
  /// - Throws: `ConfigError.unknownKey` for the first key (alphabetically) nobody asked for, with the keys that
  ///   were asked for and the closest of them as a suggestion.
  public func finish() throws {
    if let unknown = table.keys.filter({ !requested.contains($0) }).sorted().first {
      let known = requested.sorted()
      let suggestion = Self.closest(to: unknown, in: known)
      throw ConfigError.unknownKey(path: path, key: unknown, known: known, suggestion: suggestion)
    }
    for key in children.keys.sorted() {
      try children[key]?.finish()
    }
  }

  // MARK: - Checking values

  private func fallback<Value>(_ defaultValue: Value?, key: String, expected: String) throws -> Value {
    guard let defaultValue else { throw ConfigError.missingKey(path: path, key: key, expected: expected) }
    return defaultValue
  }

  private func checkedInt(_ value: ConfigValue, key: String, expected: String, range: ClosedRange<Int>?) throws -> Int {
    let whole: Int?
    switch value {
    case let .int(number): whole = number
    case let .double(number): whole = Int(exactly: number)
    default: whole = nil
    }
    guard let whole else { throw ConfigError.typeMismatch(path: path, key: key, expected: expected, got: value) }
    if let range, !range.contains(whole) {
      throw ConfigError.outOfRange(path: path, key: key, expected: expected, got: value)
    }
    return whole
  }

  private func checkedDouble(
    _ value: ConfigValue, key: String, expected: String, range: ClosedRange<Double>?
  ) throws -> Double {
    let number: Double
    switch value {
    case let .int(whole): number = Double(whole)
    case let .double(real): number = real
    default: throw ConfigError.typeMismatch(path: path, key: key, expected: expected, got: value)
    }
    if let range, !range.contains(number) {
      throw ConfigError.outOfRange(path: path, key: key, expected: expected, got: value)
    }
    return number
  }

  private func checkedString(_ value: ConfigValue, key: String, expected: String, allowed: [String]?) throws -> String {
    guard case let .string(text) = value else {
      throw ConfigError.typeMismatch(path: path, key: key, expected: expected, got: value)
    }
    if let allowed, !allowed.contains(text) {
      throw ConfigError.notAllowed(path: path, key: key, allowed: allowed, got: text)
    }
    return text
  }

  private func list<Element>(
    _ key: String, default defaultValue: [Element]?, of kind: String,
    element read: (ConfigValue, String) throws -> Element
  ) throws -> [Element] {
    guard let value = value(key) else { return try fallback(defaultValue, key: key, expected: "a list of \(kind)") }
    switch value {
    case let .list(elements): return try elements.enumerated().map { try read($1, "\(key)[\($0)]") }
    case let .table(table) where table.isEmpty: return []
    default: throw ConfigError.typeMismatch(path: path, key: key, expected: "a list of \(kind)", got: value)
    }
  }

  private static func describe<Bound>(_ range: ClosedRange<Bound>?) -> String {
    range.map { " in \($0.lowerBound)...\($0.upperBound)" } ?? ""
  }

  // MARK: - Suggestions

  /// The candidate closest to `key` by edit distance (ignoring case), if it is within a third of its length
  /// (at least 1 edit); ties go to the alphabetically first.
  static func closest(to key: String, in candidates: [String]) -> String? {
    let scored = candidates.map { (name: $0, distance: editDistance(key.lowercased(), $0.lowercased())) }
    return scored.filter { $0.distance <= max(1, $0.name.count / 3) }
      .min { ($0.distance, $0.name) < ($1.distance, $1.name) }?.name
  }

  /// The Levenshtein distance: the fewest single-character insertions, deletions and substitutions.
  static func editDistance(_ left: String, _ right: String) -> Int {
    let left = Array(left), right = Array(right)
    var previous = Array(0 ... right.count)
    for (i, leftCharacter) in left.enumerated() {
      var current = [i + 1]
      for (j, rightCharacter) in right.enumerated() {
        let substitution = previous[j] + (leftCharacter == rightCharacter ? 0 : 1)
        current.append(min(substitution, previous[j + 1] + 1, current[j] + 1))
      }
      previous = current
    }
    return previous[right.count]
  }
}
