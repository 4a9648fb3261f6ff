// The engine behind `blip2lab run`: a Lua state with the `lab` module, the registry it builds components from,
// the `--set` overrides `lab.option` reads, and the dry-run flag.

import Blip2Core
import Foundation

/// Runs Blip2Lab experiment scripts.
///
/// ```swift
/// let engine = try ScriptEngine(registry: registry, settings: ["steps=10"], dryRun: true)
/// try engine.run(file: "Experiments/quickstart.lua")   // throws ScriptError: file:line: message
/// ```
/// An engine is single-threaded (it owns a Lua state); make one per script run. Values that call back into
/// the script (a `LossMix` with a Lua weight function, a `MaskSchedule` with a Lua mask) work while the engine
/// lives: releasing the engine closes its Lua state, after which they throw.
public final class ScriptEngine {
  /// One `lab.option` the script read.
  public struct Option: Sendable, Equatable {
    /// The option's name (camelCase, as on the command line).
    public let name: String
    /// The script's default.
    public let defaultValue: ConfigValue
    /// The value in effect (the default, or the `--set` override).
    public let value: ConfigValue
    /// The script's help text.
    public let help: String
  }

  /// The Lua state (for types and functions added by other parts of the lab module).
  public let lua: LuaState
  /// The components `lab.encoder.*`, `lab.bridge.*`, `lab.lm.*` and `lab.data.*` build.
  public let registry: Registry
  /// The seed and cache directory components are built with.
  public var buildContext: BuildContext
  /// Whether this is a `--dry-run` (scripts read it as `lab.dry_run`).
  public let dryRun: Bool
  /// Where `print` and `lab.help()` write (standard output unless replaced).
  public var output: (String) -> Void

  /// The `--set` overrides by key, in the order given (a later one wins), with the value text as typed.
  let overrides: [String: (value: ConfigValue, text: String)]
  /// The options read so far, in reading order.
  public private(set) var options: [Option] = []
  /// The option names the script's text passes to `lab.option` as literals (read before it runs), so that
  /// `lab.run` can refuse a misspelt `--set` before training without refusing options read later on.
  private(set) var declaredOptions: Set<String> = []
  /// How `lab.render` draws each Lua type (by type name).
  var renderers: [String: LabRenderer] = [:]

  /// Writes a line to standard output, unbuffered (so it interleaves in order with progress on standard error).
  public static func writeLine(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

  /// An engine with the `lab` module loaded.
  /// - Parameters:
  ///   - registry: the components scripts may build by name.
  ///   - settings: `--set` assignments, `key=value` (values as `ConfigValue.parse(commandLineValue:)` reads).
  ///   - dryRun: whether scripts should only check themselves (`lab.dry_run`).
  ///   - buildContext: the seed and cache directory for components.
  ///   - output: where `print` writes.
  /// - Throws: `ScriptError` (kind `.setup`) for a malformed `--set`, or if Lua fails to start.
  public init(registry: Registry = Registry(), settings: [String] = [], dryRun: Bool = false,
              buildContext: BuildContext = BuildContext(), output: @escaping (String) -> Void = ScriptEngine.writeLine) throws {
    var overrides = [String: (value: ConfigValue, text: String)]()
    for assignment in settings {
      do {
        _ = try ConfigValue.parse(commandLine: assignment)   // validates the key and the value
        let (key, text) = Self.split(assignment)
        overrides[key] = (try ConfigValue.parse(commandLineValue: text), Self.unquoted(text))
      } catch {
        throw ScriptError(kind: .setup, file: nil, line: nil, message: "--set \(assignment): \(error.sentence)")
      }
    }
    self.overrides = overrides
    self.registry = registry
    self.dryRun = dryRun
    self.buildContext = buildContext
    self.output = output
    lua = try LuaState()
    try loadLab()
  }

  deinit { lua.close() }

  // MARK: - Running

  /// Runs the script at `path`, then checks that every `--set` key was read by a `lab.option`.
  /// - Returns: the values the script returns.
  /// - Throws: `ScriptError` located in the script.
  @discardableResult
  public func run(file path: String) throws -> [LuaValue] {
    // `require "helpers"` finds helpers.lua next to the script.
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    try lua.runLibrary("local dir = ...; package.path = dir .. '/?.lua;' .. package.path", arguments: [.string(directory)])
    if let source = try? String(contentsOfFile: path, encoding: .utf8) { declaredOptions = Self.optionNames(in: source) }
    let results = try lua.run(file: path)
    try checkSettingsWereRead(file: path)
    return results
  }

  /// Runs `code` as the chunk `chunkName` (the settings are not checked: call `checkSettingsWereRead`).
  /// - Throws: `ScriptError` located in the chunk.
  @discardableResult
  public func run(_ code: String, chunkName: String) throws -> [LuaValue] {
    try lua.run(code, chunkName: chunkName)
  }

  /// Fails for a `--set` key no `lab.option` has read, suggesting the closest option read. With
  /// `orDeclared`, a key the script's text names in a `lab.option("...")` it has not reached yet passes too.
  /// - Throws: `ScriptError` (kind `.setup`) naming `file`.
  public func checkSettingsWereRead(file: String?, orDeclared: Bool = false) throws {
    let read = options.map(\.name) + (orDeclared ? declaredOptions.subtracting(options.map(\.name)).sorted() : [])
    guard let unknown = overrides.keys.filter({ !read.contains($0) }).sorted().first else { return }
    let known = read.isEmpty ? "it reads no options" : "the options it reads are " + read.joined(separator: ", ")
    throw ScriptError(
      kind: .setup, file: file, line: nil,
      message: "--set \(unknown): the script never reads an option '\(unknown)' with lab.option"
        + "\(Suggestions.hint(for: unknown, in: read)); \(known)")
  }

  // MARK: - lab.option

  /// `lab.option(name, default, help)`: the default, or the `--set` override of the same type.
  func option(_ arguments: LuaArguments) throws -> [LuaValue] {
    let name = try arguments.string(1, "the name")
    let defaultArgument = try arguments.value(2)
    if case .nil = defaultArgument { throw LabError("lab.option: give '\(name)' a default (its type is the option's type)") }
    let defaultValue = try defaultArgument.configValue(path: "lab.option '\(name)' default")
    let help: String
    switch try arguments.value(3) {
    case .nil: help = ""
    case let .string(text): help = text
    case let other: throw LabError("lab.option: the help of '\(name)' must be a string, got \(other.kindName)")
    }
    var value = defaultValue
    if let override = overrides[name] {
      value = try Self.coerce(override.value, text: override.text, like: defaultValue, name: name)
    }
    if !options.contains(where: { $0.name == name }) {
      options.append(Option(name: name, defaultValue: defaultValue, value: value, help: help))
    }
    return [LuaValue(value)]
  }

  /// `override` as the type of `defaultValue`: integers widen to numbers, whole numbers narrow to integers,
  /// a string option takes the text as typed (`--set name=12` is the string "12").
  static func coerce(_ override: ConfigValue, text: String, like defaultValue: ConfigValue, name: String) throws -> ConfigValue {
    switch (defaultValue, override) {
    case (.bool, .bool), (.int, .int), (.double, .double), (.list, .list), (.table, .table): return override
    case let (.int, .double(number)) where Int(exactly: number) != nil: return .int(Int(number))
    case let (.double, .int(number)): return .double(Double(number))
    case (.string, .string), (.string, .int), (.string, .double), (.string, .bool): return .string(text)
    default:
      throw LabError("lab.option: --set \(name)=\(text) gives \(override.kindName), but '\(name)' takes "
        + "\(defaultValue.kindName) (its default is \(defaultValue))")
    }
  }

  /// The names in `lab.option("name"` / `lab.option('name'` calls of `source`.
  static func optionNames(in source: String) -> Set<String> {
    let pattern = #/lab\s*\.\s*option\s*\(\s*["']([A-Za-z0-9_.\-]+)["']/#
    return Set(source.matches(of: pattern).map { String($0.output.1) })
  }

  private static func split(_ assignment: String) -> (key: String, value: String) {
    guard let equals = assignment.firstIndex(of: "=") else { return (assignment, "") }
    return (assignment[..<equals].trimmingCharacters(in: .whitespaces),
            assignment[assignment.index(after: equals)...].trimmingCharacters(in: .whitespaces))
  }

  private static func unquoted(_ text: String) -> String {
    for quote in ["\"", "'"] where text.count >= 2 && text.hasPrefix(quote) && text.hasSuffix(quote) {
      return String(text.dropFirst().dropLast())
    }
    return text
  }

  // MARK: - Extending the module

  /// Adds the function `lab.<path>` (a dotted path makes plain sub-tables: `pretrain.encoder`), for the parts
  /// of the module that live elsewhere (`lab.compose`, `lab.run`, `lab.sweep`). What `body` throws becomes a Lua
  /// error at the calling line, prefixed with `lab.<path>`. Call it before running the script.
  /// - Throws: `ScriptError` if the state is closed.
  public func addFunction(_ path: String, _ body: @escaping (ScriptEngine, LuaArguments) throws -> [LuaValue]) throws {
    let function = try native("lab.\(path)", body)
    try lua.runLibrary("""
      local path, f = ...
      local t = rawget(_G, "lab")
      local parts = {}
      for part in path:gmatch("[^.]+") do parts[#parts + 1] = part end
      for i = 1, #parts - 1 do
        local inner = rawget(t, parts[i])
        if inner == nil then inner = {}; rawset(t, parts[i], inner) end
        t = inner
      end
      rawset(t, parts[#parts], f)
      """, arguments: [.string(path), function])
  }

  // MARK: - Loading the module

  /// A native function whose body gets this engine (held weakly: Lua must not keep the engine alive).
  func native(_ name: String, _ body: @escaping (ScriptEngine, LuaArguments) throws -> [LuaValue]) throws -> LuaValue {
    try lua.function(named: name) { [weak self] arguments in
      guard let self else { throw LabError("\(name): the script engine has ended") }
      return try body(self, arguments)
    }
  }

  private func loadLab() throws {
    try defineMaskTypes()
    try defineTrainingTypes()
    try defineComponentTypes()
    try defineResultTypes()
    addStandardRenderers()
    var natives: [String: LuaValue] = [
      "option": try native("lab.option") { try $0.option($1) },
      "write": try native("print") { engine, arguments in
        engine.output(try arguments.string(1))
        return []
      },
      "hint": try lua.function(named: "lab", Suggestions.hintFunction),
    ]
    natives.merge(try maskFunctions()) { first, _ in first }
    natives.merge(try trainingFunctions()) { first, _ in first }
    natives.merge(try componentFunctions()) { first, _ in first }
    natives.merge(try resultFunctions()) { first, _ in first }
    natives.merge(try renderFunctions()) { first, _ in first }
    try lua.runLibrary(LabPrelude.source, arguments: [.table(natives), .bool(dryRun)])
  }
}
